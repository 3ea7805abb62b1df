"""Build the documentation site into _docs/ from the executed notebooks (run by scripts/docs.sh, which puts Quarto on
PATH first).

1. Execute the notebooks whose executed copy in _executed/ is missing, failed or made from other code, through the
   suite's own case (tests/test_notebooks.py), so the site and the suite share one execution.
2. Stage the site: every file of nbs/ except the notebooks (site configuration, sidebar, styles, images), plus the
   executed copies of the notebooks. Sidebar entries whose notebook does not exist are dropped with a warning.
3. nbdev's docs processors (nbdev.serve.proc_nbs: hide/export directives, show_doc) into _proc/, then
   `quarto render --no-cache` there, and the result moved to _docs/ (what nbdev_docs does, without regenerating
   README.md, nbs/nbdev.yml or ecgnb/_modidx.py, which are tracked files).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests'))
from executed import EXECUTED, NBS, code_stamp, executed_path, source_notebooks, stale_notebooks  # noqa: E402

STAGE = EXECUTED / '_site_src'
PROC, DOCS = ROOT / '_proc', ROOT / '_docs'


def execute_stale(force=False):
    "Run the suite's notebook case for every stale notebook; exit on failure."
    todo = source_notebooks() if force else stale_notebooks()
    if not todo:
        print(f'docs: all {len(source_notebooks())} executed notebooks are current (code {code_stamp()})')
        return
    print(f'docs: executing {len(todo)} notebook(s) through tests/test_notebooks.py: '
          + ', '.join(p.stem for p in todo), flush=True)
    ids = [f'tests/test_notebooks.py::test_notebook[{p.relative_to(NBS).with_suffix("")}]' for p in todo]
    r = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', *ids], cwd=ROOT)
    if r.returncode != 0:
        sys.exit(f'docs: notebook execution failed (pytest exit {r.returncode}); the site is not built')
    left = stale_notebooks()
    if left:
        sys.exit('docs: still stale after execution (did the code change meanwhile?): ' + ', '.join(p.name for p in left))


def _sidebar_without_missing(text, present):
    "Drop sidebar entries naming notebooks that do not exist (a chapter planned but not written yet)."
    import yaml
    sb = yaml.safe_load(text)

    def keep(node):
        if isinstance(node, str):
            return node if not node.endswith('.ipynb') or node in present else None
        if isinstance(node, dict):
            node = dict(node)
            if 'contents' in node:
                node['contents'] = [x for x in (keep(c) for c in node['contents']) if x is not None]
                if not node['contents']: return None
            return node
        return node
    contents = sb['website']['sidebar']['contents']
    kept = [x for x in (keep(c) for c in contents) if x is not None]
    sb['website']['sidebar']['contents'] = kept
    return yaml.safe_dump(sb, sort_keys=False)


WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'


def static_copy(src: Path, dest: Path):
    """Copy a notebook for the static site without live-widget views (progress bars, the record browser): a page
    has no kernel to drive them, and Quarto would load require.js and the widget manager from a CDN for them.
    Their text fallbacks are dropped with them; the figures and tables of the notebook stay."""
    nb = json.loads(src.read_text())
    nb.get('metadata', {}).pop('widgets', None)
    for c in nb['cells']:
        if c.get('outputs'):
            c['outputs'] = [o for o in c['outputs'] if WIDGET_VIEW not in o.get('data', {})]
    dest.write_text(json.dumps(nb, indent=1, ensure_ascii=False))


def stage(allow_unexecuted=False):
    "Site files of nbs/ + the executed notebooks (or, with `allow_unexecuted`, the source where none is), in STAGE."
    shutil.rmtree(STAGE, ignore_errors=True)
    STAGE.mkdir(parents=True)
    for p in NBS.rglob('*'):
        rel = p.relative_to(NBS)
        if p.is_dir() or p.suffix == '.ipynb' or any(q in ('_proc', '.ipynb_checkpoints') for q in rel.parts):
            continue
        dest = STAGE / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dest)  # follows symlinks (nbs/_quarto.yml -> ../_quarto.yml)
    present = set()
    for src in source_notebooks():
        rel = src.relative_to(NBS)
        (STAGE / rel).parent.mkdir(parents=True, exist_ok=True)
        ex = executed_path(src)
        if not ex.exists() and allow_unexecuted:
            print(f'docs: warning: {rel} has no executed copy; its page shows no outputs')
            ex = src
        static_copy(ex, STAGE / rel)
        present.add(str(rel))
    sb = STAGE / 'sidebar.yml'
    if sb.exists():
        import yaml
        listed = set()

        def walk(n):
            if isinstance(n, str) and n.endswith('.ipynb'): listed.add(n)
            elif isinstance(n, dict): [walk(v) for v in n.values()]
            elif isinstance(n, list): [walk(v) for v in n]
        walk(yaml.safe_load(sb.read_text()))
        missing = sorted(listed - present)
        if missing:
            print('docs: warning: sidebar.yml names notebooks that do not exist (left out): ' + ', '.join(missing))
            sb.write_text(_sidebar_without_missing(sb.read_text(), present))
    return len(present)


# What Quarto adds to the <head> of any page with an HTML output (for "JavaScript widgets" such as plotly or
# itables), loaded from a CDN: an offline reader gets "define is not defined". Pages whose outputs carry no script
# (our HTML outputs are pandas tables) do not need it, so it is removed from them after rendering.
_CDN_REQUIRE = re.compile(r'<script src="https://cdnjs\.cloudflare\.com/ajax/libs/(?:require\.js|jquery)/[^"]*"[^>]*>'
                          r'</script>\n?|<script type="application/javascript">define\(\'jquery\', \[\],'
                          r'function\(\) \{return window\.jQuery;\}\)</script>\n?')


def _needs_scripts(nb_path: Path) -> bool:
    "True if an output of the notebook is JavaScript or HTML with a <script> (then Quarto's CDN loaders stay)."
    for c in json.loads(nb_path.read_text())['cells']:
        for o in c.get('outputs', []):
            d = o.get('data', {})
            html = d.get('text/html', '')
            if 'application/javascript' in d or '<script' in (''.join(html) if isinstance(html, list) else html):
                return True
    return False


def strip_cdn_loaders():
    "Remove Quarto's require.js/jQuery CDN tags from the pages whose notebooks do not need them."
    from nbdev.doclinks import _nbpath2html
    n = 0
    for nb in STAGE.rglob('*.ipynb'):
        page = DOCS / _nbpath2html(nb.relative_to(STAGE))
        if page.exists() and not _needs_scripts(nb):
            html = page.read_text()
            new = _CDN_REQUIRE.sub('', html)
            if new != html:
                page.write_text(new)
                n += 1
    print(f'docs: removed the unused require.js/jQuery CDN loaders from {n} pages')


def render(n_workers):
    from nbdev.serve import proc_nbs
    t0 = time.time()
    cache = proc_nbs(str(STAGE), n_workers=n_workers, force=True)
    print(f'docs: nbdev processors {time.time() - t0:.0f}s', flush=True)
    t0 = time.time()
    r = subprocess.run(['quarto', 'render', '--no-cache'], cwd=cache)
    if r.returncode != 0:
        sys.exit(f'docs: quarto render failed (exit {r.returncode})')
    print(f'docs: quarto render {time.time() - t0:.0f}s', flush=True)
    shutil.rmtree(DOCS, ignore_errors=True)
    shutil.move(str(cache / DOCS.name), str(DOCS))
    strip_cdn_loaders()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--execute-all', action='store_true', help='execute every notebook again, even current ones')
    ap.add_argument('--no-execute', action='store_true',
                    help='a quick preview: render the executed copies there are (stale or not) and the sources of the rest')
    ap.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1), help='nbdev processor workers')
    a = ap.parse_args(argv)
    t0 = time.time()
    if shutil.which('quarto') is None:
        sys.exit('docs: quarto is not on PATH (run bash scripts/docs.sh, which installs or explains it)')
    if not a.no_execute: execute_stale(a.execute_all)
    n = stage(allow_unexecuted=a.no_execute)
    render(a.workers)
    pages = sorted(DOCS.rglob('*.html'))
    print(f'docs: {n} notebooks -> {len(pages)} pages in {DOCS.relative_to(ROOT)}/ ({time.time() - t0:.0f}s)')


if __name__ == '__main__':
    main()

"""The documentation site, built by `bash scripts/docs.sh` from the executed notebooks, loaded page by page in a
real browser (headless Chromium via Playwright).

This file sorts after tests/test_notebooks.py, so in a full run (`bash scripts/test.sh`) the notebooks have been
executed, and their executed copies saved, before the site is built: the build executes nothing again. Run alone,
the build executes whatever notebook has no current executed copy first.

Every page fails the test on: a JavaScript error (uncaught exception or console error), a failed request or an
HTTP error for a resource of the site, a broken internal link (file or #anchor; nbdev's links to the published
site are resolved against the local build), a broken image, maths left as raw TeX (or a page whose notebook has
maths but shows no MathML), a table with a header and no rows, an experiment page (a papermill notebook) without
figures, or any page showing fewer figures than its executed notebook made.
"""
import functools
import http.server
import json
import re
import resource
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from browser import chromium
from conftest import NBS, ROOT
from executed import code_stamp, executed_path, source_notebooks

DOCS = ROOT / '_docs'


def _page_of(nb: Path) -> Path:
    "The page nbdev names for notebook `nb` (numeric prefix dropped, lower case)."
    rel = nb.relative_to(NBS)
    return DOCS / rel.with_name(re.sub(r'^\d+[a-zA-Z0-9]*_', '', rel.name.lower())).with_suffix('.html')


def _directives(src: str):
    out = set()
    for line in src.splitlines():
        if not line.startswith('#|'): break
        out.add(line[2:].replace(' ', '').lower())
    return out


def _shown_figures(nb: dict) -> int:
    "Image outputs of the cells a page shows (not hidden, included, outputs not suppressed)."
    n = 0
    for c in nb['cells']:
        if c['cell_type'] != 'code': continue
        d = _directives(''.join(c['source']))
        if d & {'hide', 'include:false', 'output:false', 'eval:false'}: continue
        n += sum(1 for o in c.get('outputs', []) if any(k.startswith('image/') for k in o.get('data', {})))
    return n


def _has_maths(nb: dict) -> bool:
    "A markdown cell with `$...$` outside code (fenced blocks and inline code hold shell variables, not maths)."
    def prose(src: str) -> str:
        return re.sub(r'`[^`\n]*`', '', re.sub(r'```.*?```', '', src, flags=re.S))
    return any(c['cell_type'] == 'markdown' and re.search(r'\$[^$\s][^$]*\$', prose(''.join(c['source'])))
               for c in nb['cells'])


def _is_experiment(nb: dict) -> bool:
    return any('parameters' in c.get('metadata', {}).get('tags', []) for c in nb['cells'])


def _children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


@pytest.fixture(scope='module')
def site():
    "Build the site (executes only notebooks without a current executed copy)."
    stamp = code_stamp()
    failed = []
    for src in source_notebooks():
        p = executed_path(src)
        if p.exists():
            meta = json.loads(p.read_text())['metadata'].get('ecgnb_executed', {})
            if meta.get('code_stamp') == stamp and not meta.get('ok'):
                failed.append(src.name)
    if failed:
        pytest.fail('notebooks failed in tests/test_notebooks.py, so the site would show their errors: '
                    + ', '.join(failed))
    t0, c0 = time.time(), _children_cpu()
    r = subprocess.run(['bash', 'scripts/docs.sh'], cwd=ROOT, capture_output=True, text=True, timeout=2400)
    print(f'\nsite build (bash scripts/docs.sh): {time.time() - t0:.0f}s wall, {_children_cpu() - c0:.0f}s CPU')
    print('\n'.join(l for l in r.stdout.splitlines() if l.startswith('docs:')))
    assert r.returncode == 0, f'bash scripts/docs.sh failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}'
    assert (DOCS / 'index.html').exists()
    return DOCS


@pytest.fixture(scope='module')
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


def _site_host():
    "The published site's URL (nbdev links API names there); resolved against the local build."
    import yaml
    return yaml.safe_load((NBS / 'nbdev.yml').read_text())['website']['site-url'].rstrip('/')


_IDS = {}


def _ids(page: Path):
    if page not in _IDS:
        _IDS[page] = set(re.findall(r'\sid="([^"]+)"', page.read_text(errors='replace')))
    return _IDS[page]


def _check_link(href: str, base: str, host: str):
    """(problem, soft): problem is None if `href` is fine (external, or resolving in the build). nbdev's automatic
    API links (to the published site) must reach an existing page; their #anchor may be missing (soft), because
    nbdev links every exported name, methods included, while a page has a section only for the names it documents.
    Links written in the notebooks must reach the page and the anchor."""
    auto = href.startswith(host + '/') or href == host
    if auto: href = base + href[len(host):]
    if not href.startswith(base): return None, False  # external (github, mailto, ...)
    u = urlsplit(href)
    path = DOCS / unquote(u.path).lstrip('/')
    if path.is_dir(): path = path / 'index.html'
    if not path.exists(): return f'{href}: no such file in _docs/', False
    if u.fragment and path.suffix == '.html' and unquote(u.fragment) not in _ids(path):
        return f'{href}: no element with id "{u.fragment}"', auto
    return None, False


def _local_only(server, errs):
    "A route handler: serve requests for the site, refuse (and report) anything else: the site must work offline."
    def handle(route):
        url = route.request.url
        if url.startswith(server) or url.startswith(('data:', 'blob:')):
            route.continue_()
        else:
            errs.append(f'needs the network: {url}')
            route.abort('blockedbyclient')
    return handle


def _external_block(msg):
    "The console error Chromium logs for a request `_local_only` refused (already reported as such)."
    return 'ERR_BLOCKED_BY_CLIENT' in msg.text


# Raw TeX left in a page's text (outside code): $...$, \(...\), or a TeX command.
_RAW_TEX = re.compile(r'\$[^$\s][^$\n]*\$|\\\(|\\\[|\\(?:frac|sum|mathrm|mathbf|left|right|hat|cdot|sqrt|log|exp|'
                      r'alpha|beta|gamma|lambda|sigma|theta|mu|tau|max|min|in|le|ge|times)\b')

_PAGE_JS = """() => {
  const main = document.querySelector('main') || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, math, script, style, .sourceCode').forEach(e => e.remove());
  return {
    text: clone.innerText,
    maths: main.querySelectorAll('math').length,
    rawMathSpans: Array.from(main.querySelectorAll('span.math')).filter(s => !s.querySelector('math'))
                       .map(s => s.textContent.slice(0, 80)),
    images: Array.from(document.images).map(i => [i.currentSrc || i.src, i.complete, i.naturalWidth]),
    figures: Array.from(main.querySelectorAll('.cell-output-display img')).filter(i => i.naturalWidth > 0).length,
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    emptyTables: Array.from(main.querySelectorAll('table'))
                      .filter(t => t.querySelector('th') && !t.querySelector('td'))
                      .map(t => (t.querySelector('tr') || t).innerText.slice(0, 80)),
  };
}"""


def test_site_pages_in_a_browser(site, server):
    host = _site_host()
    sources = {_page_of(nb): nb for nb in source_notebooks()}
    pages = sorted(site.rglob('*.html'))
    missing = [str(p.relative_to(site)) for p in sources if p not in pages]
    assert not missing, f'notebooks without a page: {missing}'
    problems, counts, soft_anchors = [], {}, 0
    t0 = time.time()
    with chromium() as browser:
        ctx = browser.new_context()
        for path in pages:
            rel = str(path.relative_to(site))
            url = f'{server}/{rel}'
            page = ctx.new_page()
            errs = []
            page.route('**/*', _local_only(server, errs))
            page.on('pageerror', lambda e, errs=errs: errs.append(f'JavaScript error: {e}'))
            page.on('console', lambda m, errs=errs: errs.append(f'console error: {m.text} ({m.location.get("url")})')
                    if m.type == 'error' and not _external_block(m) else None)
            page.on('response', lambda r, errs=errs: errs.append(f'HTTP {r.status}: {r.url}')
                    if r.status >= 400 and r.url.startswith(server) else None)
            resp = page.goto(url, wait_until='load')
            assert resp is not None and resp.ok, f'{rel}: HTTP {resp.status if resp else "no response"}'
            page.wait_for_timeout(100)  # let the site's scripts (search, sidebar, toc) run
            info = page.evaluate(_PAGE_JS)
            page.close()
            errs += [f'broken image: {src}' for src, done, w in info['images'] if not (done and w > 0)]
            checked = {_check_link(h, server, host) for h in info['links']}
            errs += sorted(f'broken link: {msg}' for msg, soft in checked if msg and not soft)
            soft_anchors += sum(1 for msg, soft in checked if msg and soft)
            tex = sorted({m.group(0) for m in _RAW_TEX.finditer(info['text'])})
            if tex: errs.append(f'maths left as raw TeX: {tex[:5]}')
            if info['rawMathSpans']: errs.append(f'maths not converted to MathML: {info["rawMathSpans"][:3]}')
            errs += [f'table with a header and no rows: {h!r}' for h in info['emptyTables']]
            counts[rel] = info['figures']
            nb_path = sources.get(path)
            if nb_path is not None:
                nb = json.loads(executed_path(nb_path).read_text())
                want = _shown_figures(nb)
                if info['figures'] < want:
                    errs.append(f'shows {info["figures"]} figures, its executed notebook made {want}')
                if _is_experiment(nb) and info['figures'] == 0:
                    errs.append('experiment page without figures')
                if _has_maths(nb) and info['maths'] == 0:
                    errs.append('its notebook has maths, the page shows no MathML')
            problems += [f'{rel}: {e}' for e in errs]
    print(f'\nbrowser test: {len(pages)} pages in {time.time() - t0:.0f}s ({soft_anchors} API links to an undocumented '
          f'member land at the top of their page); figures per page:')
    for rel, n in counts.items(): print(f'  {rel}: {n}')
    assert not problems, f'{len(problems)} problem(s) on the site:\n' + '\n'.join(problems)

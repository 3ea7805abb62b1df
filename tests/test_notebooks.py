"""Execute every notebook in `nbs/`: one pytest case per notebook, each keeping its outputs for the site.

Library notebooks run with nbdev's test semantics (`nbdev.test.test_nb`: in-process execnb shell, cells flagged
with a `tst_flags` flag (`notest`, `slow`, `gpu`) or `#| eval: false` skipped, the `nbdev_export()` cell skipped,
`skip_exec` front matter honoured, `IN_TEST=1`), but the outputs are kept. Notebooks meant for papermill (they tag
one cell `parameters`) run through papermill with their default parameters, the small CPU run, exactly as a user
would run them headless. Either way the executed notebook (figures, tables, printed results) is saved to
`_executed/` (see tests/executed.py), which `bash scripts/docs.sh` renders into the site without executing again.
"""
import json
import os
import sys
import time
from pathlib import Path

import pytest

from conftest import NBS, ROOT
from executed import code_stamp, save_executed, source_notebooks

NOTEBOOKS = source_notebooks()
STAMP = code_stamp()  # taken once, before any notebook runs


def is_papermill(path: Path) -> bool:
    nb = json.loads(path.read_text())
    return any('parameters' in c.get('metadata', {}).get('tags', []) for c in nb['cells'])


def skip_flags():
    "The `tst_flags` of settings.ini, as nbdev_test reads them."
    from nbdev.config import get_config
    return get_config(path=ROOT).tst_flags.split()


def run_library_notebook(path: Path):
    """Run `path` as `nbdev.test.test_nb` does; return (ok, notebook with outputs as a dict, error text).

    The code is nbdev 2.4's `test_nb` with one change: the outputs the shell stores in each cell are copied back
    to the unprocessed notebook (directives and front matter intact), so nbdev's docs processors can render it."""
    from execnb.nbio import nb2dict, read_nb
    from execnb.shell import CaptureShell
    from fastcore.basics import str2bool
    from fastcore.xtras import working_directory
    from nbdev.frontmatter import FrontmatterProc
    from nbdev.process import NBProcessor, nb_lang
    os.environ['IN_TEST'] = '1'
    flags = set(skip_flags())
    raw = nb2dict(read_nb(path))
    nb = NBProcessor(path, procs=FrontmatterProc, process=True).nb
    fm = getattr(nb, 'frontmatter_', {})
    if str2bool(fm.get('skip_exec', False)) or nb_lang(nb) != 'python':
        return True, raw, ''

    def _no_eval(cell):
        if cell.cell_type != 'code': return True
        if 'nbdev_export' + '(' in cell.source: return True
        direc = getattr(cell, 'directives_', {}) or {}
        if direc.get('eval:', [''])[0].lower() == 'false': return True
        return flags & direc.keys()

    k = CaptureShell(path)
    ok, err = True, ''
    try:
        with working_directory(path.parent):
            k.run_all(nb, exc_stop=True, preproc=_no_eval)
    except Exception:
        ok, err = False, k.prettytb(fname=path)
    n = 0
    for cell in nb.cells:
        idx = getattr(cell, 'idx_', None)
        if cell.cell_type != 'code' or idx is None or not cell.get('outputs'): continue
        n += 1
        rc = raw['cells'][idx]
        rc['outputs'] = json.loads(json.dumps(cell.outputs))  # execnb's AttrDicts -> plain JSON
        rc['execution_count'] = n
        for o in rc['outputs']:
            if o.get('output_type') == 'execute_result': o['execution_count'] = n
    return ok, raw, err


def run_papermill_notebook(path: Path, out: Path, workdir: Path):
    "Run `path` through papermill with its defaults (`out_root` in `workdir`); return (ok, executed notebook, error)."
    import papermill as pm
    names = set(pm.inspect_notebook(str(path)))
    params = {'out_root': str(workdir / 'runs')} if 'out_root' in names else {}
    ok, err = True, ''
    backend = os.environ.get('MPLBACKEND')
    os.environ['MPLBACKEND'] = 'module://matplotlib_inline.backend_inline'  # the kernel shows figures (not Agg)
    try:
        pm.execute_notebook(str(path), str(out), parameters=params, cwd=str(path.parent), kernel_name='python3',
                            progress_bar=False, log_output=False)
    except pm.PapermillExecutionError as e:
        ok, err = False, f'{e.ename}: {e.evalue}\n' + ''.join(e.traceback[-3:])
    except Exception as e:  # papermill could not start or write: keep the source notebook, report the error
        if out.exists(): raise
        return False, json.loads(path.read_text()), f'{type(e).__name__}: {e}'
    finally:
        if backend is None: os.environ.pop('MPLBACKEND', None)
        else: os.environ['MPLBACKEND'] = backend
    return ok, json.loads(out.read_text()), err


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[str(p.relative_to(NBS).with_suffix('')) for p in NOTEBOOKS])
def test_notebook(path, tmp_path):
    os.environ.setdefault('MPLBACKEND', 'Agg')
    cwd = os.getcwd()
    t0 = time.time()
    try:
        os.chdir(path.parent)
        if is_papermill(path):
            ok, nb, err = run_papermill_notebook(path, tmp_path / path.name, tmp_path)
        else:
            ok, nb, err = run_library_notebook(path)
            if err: sys.stderr.write(err + '\n')
    finally:
        os.chdir(cwd)
    secs = time.time() - t0
    dest = save_executed(nb, path, ok, secs, stamp=STAMP)
    print(f'{path.name}: {secs:.1f}s -> {dest.relative_to(ROOT)}')
    how = 'papermill -k python3' if is_papermill(path) else 'nbdev_test --path'
    assert ok, f'{path.name} failed (rerun: {how} {path.relative_to(ROOT)}):\n{err}'

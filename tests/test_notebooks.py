"""Execute every notebook in `nbs/`: one pytest case per notebook.

Library notebooks run through nbdev's own test runner (`nbdev.test.test_nb`,
honouring `tst_flags`). Notebooks meant for papermill (they tag one cell
`parameters`) run through papermill with their default parameters, the small
CPU run, exactly as a user would run them headless.
"""
import json
import os
import time
from pathlib import Path

import pytest

from conftest import NBS, ROOT

NOTEBOOKS = sorted(p for p in NBS.rglob('*.ipynb')
                   if '.ipynb_checkpoints' not in p.parts and not p.name.startswith('_'))


def is_papermill(path: Path) -> bool:
    nb = json.loads(path.read_text())
    return any('parameters' in c.get('metadata', {}).get('tags', []) for c in nb['cells'])


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(path, tmp_path):
    os.environ.setdefault('MPLBACKEND', 'Agg')
    cwd = os.getcwd()
    t0 = time.time()
    try:
        os.chdir(path.parent)
        if is_papermill(path):
            import papermill as pm
            out = tmp_path / path.name
            names = set(pm.inspect_notebook(str(path)))
            params = {'out_root': str(tmp_path / 'runs')} if 'out_root' in names else {}
            pm.execute_notebook(str(path), str(out), parameters=params, cwd=str(path.parent), kernel_name='python3',
                                progress_bar=False, log_output=False)
        else:
            from nbdev.test import test_nb
            ok, _ = test_nb(path, skip_flags=['notest', 'slow', 'gpu'], do_print=False)
            assert ok, f'{path.name} failed (rerun: nbdev_test --path {path.relative_to(ROOT)})'
    finally:
        os.chdir(cwd)
    print(f'{path.name}: {time.time() - t0:.1f}s')

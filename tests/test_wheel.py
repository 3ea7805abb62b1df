"""A built (non-editable) wheel of ecgnb carries what `ecgnb-run` needs: the experiment notebooks (as
`ecgnb/notebooks/`) and the assets (presets, label spaces, dictionaries, embeddings). The wheel is built once from a
copy of the checkout (`pip wheel --no-deps`, no network), then installed into a throwaway virtual environment that
sees this interpreter's packages (torch, papermill, ...) but not the checkout, and `ecgnb-run` is run there."""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT

EXPERIMENTS = ['20_mrmnet_experiment', '21_mutual_ablation', '22_summary', '40_cross_modal_alignment',
               '41_transfer_experiments', '42_peace_ladder']
SOURCE = ['ecgnb', 'nbs', 'settings.ini', 'setup.py', 'pyproject.toml', 'MANIFEST.in', 'README.md', 'LICENSE']


def _copy_checkout(dest: Path) -> Path:
    "The files a build reads, copied (no build/ or egg-info of the checkout can leak into the wheel)."
    skip = shutil.ignore_patterns('__pycache__', '*.pyc', '.ipynb_checkpoints', '_proc', 'images', 'notebooks')
    for name in SOURCE:
        src = ROOT / name
        if src.is_dir(): shutil.copytree(src, dest / name, ignore=skip)
        else: shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp('wheel')
    src, out = _copy_checkout(tmp / 'src'), tmp / 'dist'
    r = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index',
                        '-w', str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Package 'ecgnb.assets' is absent" not in r.stdout + r.stderr      # assets are declared, not guessed
    (whl,) = out.glob('ecgnb-*.whl')
    return whl


def test_wheel_contains_notebooks_and_assets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for nb in EXPERIMENTS:
        assert f'ecgnb/notebooks/{nb}.ipynb' in names, sorted(n for n in names if 'notebooks' in n)
    assert not [n for n in names if n.startswith('ecgnb/notebooks/') and n[16:18] in ('00', '01', '13', '30')]
    for asset in (ROOT / 'ecgnb' / 'assets').iterdir():
        if asset.is_file(): assert f'ecgnb/assets/{asset.name}' in names
    # each shipped notebook is the checkout's, with its papermill parameters cell
    nb = json.loads(zipfile.ZipFile(wheel).read('ecgnb/notebooks/20_mrmnet_experiment.ipynb'))
    assert nb == json.loads((ROOT / 'nbs' / '20_mrmnet_experiment.ipynb').read_text())
    entry = zipfile.ZipFile(wheel).read(f'{wheel.name.split("-")[0]}-{wheel.name.split("-")[1]}.dist-info/'
                                        'entry_points.txt').decode()
    assert 'ecgnb-run = ecgnb.run:main' in entry


def test_installed_wheel_runs_ecgnb_run(wheel, tmp_path):
    """Installed (no deps, no network) into a target folder put first on PYTHONPATH, as the offline GPU bundle is;
    torch, papermill, ... come from this interpreter. Run away from the checkout, so only the wheel's files count."""
    site = tmp_path / 'site'
    r = subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '--no-index', '--target', str(site),
                        str(wheel)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k != 'ECGNB_NBS'}
    env['PYTHONPATH'] = str(site)
    run = lambda *a: subprocess.run([sys.executable, *a], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                                    env=env)
    where = run('-c', "import ecgnb, importlib.resources as r; print(ecgnb.__file__); "
                      "print(sorted(p.name for p in (r.files('ecgnb') / 'notebooks').iterdir()))")
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(str(site)), where.stdout              # the wheel's copy, not the checkout
    assert all(f'{nb}.ipynb' in where.stdout for nb in EXPERIMENTS)
    script = site / 'bin' / 'ecgnb-run'                                  # the console script pip wrote
    listed = run(str(script), 'list')
    assert listed.returncode == 0, listed.stderr
    assert 'cpu-smoke' in listed.stdout and 'gpu-paper-cpsc' in listed.stdout, listed.stdout
    params = run(str(script), 'params', '20_mrmnet_experiment.ipynb')   # reads the packaged notebook
    assert params.returncode == 0 and 'epochs' in params.stdout, params.stdout + params.stderr

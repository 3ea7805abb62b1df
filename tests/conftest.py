import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
SHARED = ROOT.parent / 'shared' / 'data' / 'real'

# Matplotlib must never try to open a window in tests or CI.
os.environ.setdefault('MPLBACKEND', 'Agg')
# Caches and the generated offline cohort go to a folder of this checkout (hash-keyed, reused between runs),
# so the suite never depends on, or writes into, the user's ~/.cache/ecgnb. Notebook kernels inherit it.
os.environ.setdefault('ECGNB_DATA', str(ROOT / '.cache' / 'ecgnb'))
# Progress bars: at most one redraw a minute in captured test output.
os.environ.setdefault('ECGNB_PROGRESS_INTERVAL', '60')


def in_ci() -> bool:
    "True on a CI runner (`CI=true`, as GitHub Actions, GitLab and most others set it)."
    return os.environ.get('CI', '').strip().lower() in ('1', 'true', 'yes')


def require_shared(path: Path = SHARED) -> Path:
    """`path` if it exists. Otherwise skip the test on a developer's machine, but FAIL in CI (`CI=true`): there the
    repository is cloned with `../shared` beside it, so a missing folder means the real-data tests silently stopped
    testing anything."""
    if path.exists(): return path
    msg = (f'real data not found at {path}: clone the repository with ../shared beside it '
           '(see shared/data/README.md)')
    if in_ci(): pytest.fail(f'CI=true and {msg}', pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope='session')
def real_samples():
    "Folder of real ECG samples shipped beside the repo (`../shared/data/real`); fails in CI when it is missing."
    return require_shared(SHARED)


def load_script(relpath: str):
    "Import a script of the repository that is not part of the package (e.g. `bench/bench_tstr.py`) as a module."
    path = ROOT / relpath
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod

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


@pytest.fixture(scope='session')
def real_samples():
    "Folder of real ECG samples shipped beside the repo (`../shared/data/real`)."
    if not SHARED.exists():
        pytest.skip(f'real samples not found at {SHARED}')
    return SHARED

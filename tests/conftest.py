import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
SHARED = ROOT.parent / 'shared' / 'data' / 'real'

# Matplotlib must never try to open a window in tests or CI.
os.environ.setdefault('MPLBACKEND', 'Agg')


@pytest.fixture(scope='session')
def real_samples():
    "Folder of real ECG samples shipped beside the repo (`../shared/data/real`)."
    if not SHARED.exists():
        pytest.skip(f'real samples not found at {SHARED}')
    return SHARED

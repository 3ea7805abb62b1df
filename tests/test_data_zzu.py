"""ZZU-pECG loader checks that a notebook cannot do well: a multi-process cache build (the reader must pickle),
a split of release size (speed and ratios), and split-file reuse from a fresh process."""
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from ecgnb.data.core import find_real_samples
from ecgnb.data.zzu import load_zzu, patient_split, LEADS12, ZZU_LEADS9
from zzu_sample import make_zzu_sample


@pytest.fixture(scope='module')
def zzu(tmp_path_factory):
    "The 12-record copy: real CinC 2021 waveforms when ../shared is present, synthetic ones otherwise (never skipped)."
    return make_zzu_sample(tmp_path_factory.mktemp('zzu') / 'ZZU-pECG', real=find_real_samples())['path']


def test_process_pool_build_matches_serial(zzu, tmp_path, monkeypatch):
    monkeypatch.setenv('ECGNB_DATA', str(tmp_path))
    a = load_zzu(zzu, fs=100, n_workers=1, cache_dir=tmp_path / 'c1')
    b = load_zzu(zzu, fs=100, n_workers=2, cache_dir=tmp_path / 'c2')
    assert np.array_equal(np.asarray(a.X), np.asarray(b.X))
    assert np.array_equal(a.mask, b.mask) and a.meta.split.tolist() == b.meta.split.tolist()
    i9 = int(np.where(a.meta.record == 'P00002_E01')[0][0])
    assert a.mask[i9].tolist() == [l in ZZU_LEADS9 for l in LEADS12]


def test_split_file_reused_by_a_fresh_process(zzu, tmp_path, monkeypatch):
    monkeypatch.setenv('ECGNB_DATA', str(tmp_path))
    sf = tmp_path / 'split.csv'
    code = (f"from ecgnb.data.zzu import load_zzu; d = load_zzu({str(zzu)!r}, split_file={str(sf)!r}, "
            f"cache_dir={str(tmp_path / 'c')!r}, n_workers=1, seed=SEED); print(','.join(d.meta.split))")
    env = {'ECGNB_DATA': str(tmp_path), 'ECGNB_PROGRESS': '0', 'PATH': '/usr/bin:/bin'}
    run = lambda seed: subprocess.run([sys.executable, '-c', code.replace('SEED', str(seed))], capture_output=True,
                                      text=True, env=env, check=True).stdout.strip()
    first = ','.join(load_zzu(zzu, split_file=sf, cache_dir=tmp_path / 'c', n_workers=1, seed=0).meta.split)
    assert sf.exists()
    assert run(123) == first                     # the saved split wins over a different seed


def test_release_sized_split_is_fast_and_balanced():
    rng = np.random.default_rng(0)
    n_pat = 11_643
    n_rec = rng.choice([1, 1, 1, 1, 1, 1, 2, 3], n_pat)
    patients = np.repeat([f'P{i:05d}' for i in range(n_pat)], n_rec)
    classes = [f'c{k}' for k in range(60)]
    p = 1 / np.arange(1, 61) ** 1.3
    labels = [list(rng.choice(classes, rng.integers(0, 4), replace=False, p=p / p.sum())) for _ in patients]
    t0 = time.time()
    sp = patient_split(patients, labels, seed=0)
    assert time.time() - t0 < 30
    assert pd.Series(patients).groupby(sp).nunique().sum() == n_pat          # each patient in one split
    per_pat = pd.Series(sp, index=patients).groupby(level=0).first().value_counts()
    assert abs(per_pat['train'] - 0.8 * n_pat) <= 1 and abs(per_pat['valid'] - 0.1 * n_pat) <= 1
    lab = pd.DataFrame({'split': sp, 'l': labels}).explode('l').dropna()
    ct = pd.crosstab(lab.l, lab.split)
    common = ct[ct.sum(axis=1) >= 100]
    frac = common.div(common.sum(axis=1), axis=0)
    assert (frac['train'].between(0.7, 0.9)).all() and (frac['test'] > 0.04).all(), frac
    assert (ct.loc[ct.sum(axis=1) >= 3, 'train'] > 0).all()

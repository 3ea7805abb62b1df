"""ecgnb.data.realism and bench/bench_tstr.py: the parts a notebook cannot test well (the benchmark script end to end)."""
import os

import numpy as np
import pytest

from conftest import SHARED, load_script


def _bench(): return load_script('bench/bench_tstr.py')


def test_real_samples_present_in_ci():
    "In CI the real samples must be there: the realism chapter and TSTR would otherwise measure nothing."
    from ecgnb.data.realism import real_root
    if os.environ.get('CI', '').lower() in ('1', 'true', 'yes'):
        assert real_root(required=True) is not None
    elif not SHARED.exists():
        pytest.skip(f'no real samples at {SHARED}')


def test_tstr_benchmark_runs_and_reports(tmp_path, monkeypatch):
    "A tiny TSTR/TRTR run: both arms are trained, tested on the evaluation half only, and the ratio is theirs."
    if not SHARED.exists(): pytest.skip(f'no real samples at {SHARED}')
    monkeypatch.setenv('ECGNB_REAL_SAMPLES', str(SHARED))
    b = _bench()
    r = b.run('superdiagnostic', n_syn=120, seeds=(0,), epochs_syn=1, epochs_real=1, inplanes=8, n_boot=30,
              threads=1, workdir=tmp_path, log=None)
    assert r['classes'] == ['CD', 'HYP', 'MI', 'NORM', 'STTC']
    assert 200 < r['n_eval'] < 260 and 200 < r['n_tune'] < 260           # odd / even ecg_id halves of 1-500
    for k in ('trtr', 'tstr', 'ratio'):
        point, lo, hi = r[k]
        assert lo <= point <= hi
    np.testing.assert_allclose(r['ratio'][0], r['tstr'][0] / r['trtr'][0], rtol=1e-9)
    np.testing.assert_allclose(r['tstr'][0], np.mean(r['seed_auc']['TSTR']), rtol=1e-9)
    assert 'TSTR' in b.report(r) and 'ratio' in b.report(r)


def test_halves_do_not_overlap():
    from ecgnb.data.realism import ptbxl_half
    ids = np.arange(1, 501)
    h = ptbxl_half(ids)
    assert set(ids[h == 'tune']) & set(ids[h == 'eval']) == set()
    assert (h == 'tune').sum() == (h == 'eval').sum() == 250

"""ecgnb.data.synthetic and the cohort writers (ecgnb.data.synth_cohorts, ecgnb.data.synth_zzu): things a notebook cannot test well (killed processes, worker pools)."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from ecgnb.data.synthetic import default_cohort
from ecgnb.data.synth_cohorts import make_ptbxl_cohort, make_cpsc2018_cohort
from ecgnb.data.synth_zzu import make_zzu_cohort, zzu_vocabulary


def _files(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*')) if p.is_file()}


def test_workers_do_not_change_the_cohort(tmp_path):
    "Chunks are seeded by their index, so 1 or 2 worker processes write byte-identical folders."
    a = make_ptbxl_cohort(tmp_path/'a', n=90, seed=3, chunk=40, n_workers=1)
    b = make_ptbxl_cohort(tmp_path/'b', n=90, seed=3, chunk=40, n_workers=2)
    fa, fb = _files(a), _files(b)
    assert len(fa) == 2 + 2 * 90
    assert fa == fb
    za = make_zzu_cohort(tmp_path/'za', n=12, seed=1, max_seconds=6, n_workers=1, chunk_samples=6000)
    zb = make_zzu_cohort(tmp_path/'zb', n=12, seed=1, max_seconds=6, n_workers=2, chunk_samples=6000)
    assert _files(za) == _files(zb)


def test_empty_cohort_is_an_error(tmp_path):
    for make in (make_ptbxl_cohort, make_zzu_cohort, make_cpsc2018_cohort):
        with pytest.raises(ValueError, match='n >= 1'):
            make(tmp_path/'x', n=0)


def test_killed_generation_leaves_nothing_complete(tmp_path):
    "SIGKILL during default_cohort: no folder looks complete; the next call cleans up and finishes."
    root = tmp_path/'cohorts'
    settings = dict(n_ptbxl=4000, n_zzu=20, n_cpsc=20, zzu_max_seconds=6, cpsc_max_seconds=7)
    code = textwrap.dedent(f"""
        from ecgnb.data.synthetic import default_cohort
        default_cohort({str(root)!r}, **{settings!r})
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, '-c', code], env=env)
    deadline = time.time() + 60
    # wait until the PTB-XL records are being written, then kill
    while time.time() < deadline and not list(root.glob('.tmp-cohort-*/ptbxl/records100/*/*.dat')):
        if proc.poll() is not None: pytest.fail('the generation finished before it could be killed; raise n_ptbxl')
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not list(root.glob('cohort-*')), 'a killed generation must not leave a complete-looking folder'
    assert list(root.glob('.tmp-cohort-*')), 'the killed run should have left its temporary folder'
    small = dict(settings, n_ptbxl=30)
    paths = default_cohort(root, **small)
    assert (paths['ptbxl'].parent/'COMPLETE.json').exists()
    assert not list(root.glob('.tmp-cohort-*')), 'stale temporary folders of dead processes are removed'


def test_zzu_cohort_follows_the_published_shape(tmp_path):
    "Ages in days (median about 8.6 y, a few percent infants), ~13% nine-lead records, findings parse with the loader's vocabulary."
    import pandas as pd
    p = make_zzu_cohort(tmp_path/'zzu', n=400, seed=2, max_seconds=5)
    cols = zzu_vocabulary()[0]
    att = pd.read_csv(p/'AttributesDictionary.csv', dtype=str, keep_default_na=False)
    age_y = att[cols['age']].str[:-1].astype(int) / 365.25
    assert 6.5 < age_y.median() < 10.5 and 0.01 < (age_y < 1).mean() < 0.09 and age_y.max() <= 15.01
    share9 = (att[cols['n_leads']] == '9').mean()
    assert 0.07 < share9 < 0.2
    assert att[cols['patient']].nunique() < len(att)                      # some children have several ECGs
    from ecgnb.data.zzu import read_zzu_metadata
    meta = read_zzu_metadata(p)                                           # raises on unknown findings
    assert len(meta) == 400 and set(meta.n_leads) == {9, 12}


def test_cpsc_lengths_and_labels_follow_the_public_set(tmp_path):
    "500 Hz, 6-60 s with about a third exactly 10 s; labels 1-9 with a few multi-label records."
    import pandas as pd
    import scipy.io
    p = make_cpsc2018_cohort(tmp_path/'cpsc', n=150, seed=4)
    n = np.array([scipy.io.loadmat(f)['ECG'][0, 0]['data'].shape[1] for f in sorted(p.glob('TrainingSet1/*.mat'))])
    assert len(n) == 150 and n.min() >= 6 * 500 and n.max() <= 60 * 500
    assert 0.2 < (n == 5000).mean() < 0.5
    ref = pd.read_csv(p/'REFERENCE.csv')
    assert set(ref.First_label) <= set(range(1, 10)) and ref.Second_label.notna().mean() < 0.2

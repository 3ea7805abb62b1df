"""The loaders on real, published ECG records (`../shared/data/real`, see its README): PTB-XL v1.0.1 records 1-500 in
PTB-XL's own layout, CPSC2018's real REFERENCE.csv and 150 of its records in the CinC 2020 form, and 23 ZZU-pECG
pediatric records. Every test here needs that folder: on a developer's machine without it they skip, in CI
(`CI=true`) they fail (see `conftest.require_shared`).

Reference values come from outside ecgnb where possible: wfdb.rdrecord for signals, a line-by-line port of the PTB-XL
benchmark's label code for the six tasks, the data README's published counts, REFERENCE.csv for the CinC #Dx lines."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb

from conftest import NBS, ROOT, require_shared
from zzu_sample import write_release_csvs

from ecgnb.core import RunDir
from ecgnb.data.core import LEADS12
from ecgnb.data.ptbxl import PTBXL_TASKS, aggregate_labels, load_ptbxl, read_ptbxl_database, read_scp_statements
from ecgnb.data import cpsc2018 as cp


@pytest.fixture(scope='module')
def real(real_samples):
    return real_samples


@pytest.fixture(scope='module')
def ptb(real):
    return require_shared(real / 'ptbxl-1.0.1-first500')


@pytest.fixture(scope='module')
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp('real-cache')


def test_missing_shared_data_fails_in_ci_and_skips_elsewhere(tmp_path, monkeypatch):
    "The guard every test here goes through: no silent skip in CI."
    missing = tmp_path / 'no-shared'
    monkeypatch.setenv('CI', 'true')
    with pytest.raises(pytest.fail.Exception, match='CI=true and real data not found'):
        require_shared(missing)
    monkeypatch.delenv('CI')
    with pytest.raises(pytest.skip.Exception, match='real data not found'):
        require_shared(missing)
    assert require_shared(tmp_path) == tmp_path


# ----------------------------------------------------------------------------------------------------------- PTB-XL
def benchmark_labels(df, agg, ctype, min_samples=0):
    "The PTB-XL benchmark's `compute_label_aggregations` + `select_data` (code/utils/utils.py), condensed."
    diag = agg[agg.diagnostic == 1.0]
    f = {'diagnostic': lambda d: [k for k in d if k in diag.index],
         'subdiagnostic': lambda d: [diag.loc[k].diagnostic_subclass for k in d
                                     if k in diag.index and str(diag.loc[k].diagnostic_subclass) != 'nan'],
         'superdiagnostic': lambda d: [diag.loc[k].diagnostic_class for k in d
                                       if k in diag.index and str(diag.loc[k].diagnostic_class) != 'nan'],
         'form': lambda d: [k for k in d if k in agg[agg.form == 1.0].index],
         'rhythm': lambda d: [k for k in d if k in agg[agg.rhythm == 1.0].index],
         'all': lambda d: list(d.keys())}[ctype]
    y = df.scp_codes.apply(lambda d: list(set(f(d))))
    if ctype != 'diagnostic':
        counts = pd.Series(np.concatenate(y.values)).value_counts()
        y = y.apply(lambda x: list(set(x).intersection(set(counts[counts > min_samples].index.values))))
    return {i: sorted(v) for i, v in y.items() if len(v)}


# Classes and labelled records of the six tasks on records 1-500 (the benchmark port above gives the same; checked
# in test_ptbxl_six_tasks). Whole database: 71 / 44 / 23 / 5 / 19 / 12 classes; 500 records hold fewer.
TASK_COUNTS = {'all': (57, 500), 'diagnostic': (36, 488), 'subdiagnostic': (22, 488), 'superdiagnostic': (5, 488),
               'form': (17, 126), 'rhythm': (8, 471)}
SUPERCLASS_COUNTS = {'NORM': 297, 'STTC': 96, 'CD': 78, 'MI': 73, 'HYP': 40}          # shared/data/README.md


def test_ptbxl_six_tasks(ptb):
    db, st = read_ptbxl_database(ptb), read_scp_statements(ptb)
    raw = pd.read_csv(ptb / 'scp_statements.csv', index_col=0)
    assert (len(db), len(st)) == (500, 71)
    got = {}
    for task in PTBXL_TASKS:
        lab, classes = aggregate_labels(db, st, task)
        mine = {i: v for i, v in lab.items() if len(v)}
        assert mine == benchmark_labels(db, raw, task), task
        got[task] = (len(classes), len(mine))
        for ms in (1, 5):
            if task == 'diagnostic': continue
            assert {i: v for i, v in aggregate_labels(db, st, task, ms)[0].items() if len(v)} == \
                benchmark_labels(db, raw, task, ms), (task, ms)
    assert got == TASK_COUNTS
    sup = pd.Series([l for ls in aggregate_labels(db, st, 'superdiagnostic')[0] for l in ls]).value_counts()
    assert sup.to_dict() == SUPERCLASS_COUNTS


@pytest.mark.parametrize('fs,suffix', [(100, 'lr'), (500, 'hr')])
def test_ptbxl_both_rates_and_folds(ptb, cache_root, fs, suffix):
    d = load_ptbxl(ptb, 'superdiagnostic', fs=fs, cache_dir=cache_root / f'ptb{fs}', n_workers=2)
    assert d.X.shape == (500, 12, 10 * fs) and d.fs == fs and d.mask.all()
    for r in (0, 137, 499):                                    # the cache holds what wfdb reads (int16 counts, 1 µV)
        rec = wfdb.rdrecord(str(ptb / d.meta[f'filename_{suffix}'][r]))
        assert rec.fs == fs and [s.upper() for s in rec.sig_name] == [l.upper() for l in LEADS12]
        np.testing.assert_allclose(d.X[r].astype(np.float32), rec.p_signal.T, atol=2e-3)
    assert d.class_counts()['total'].to_dict() == SUPERCLASS_COUNTS
    # folds: strat_fold 1-8 train, 9 valid, 10 test, over the 488 records with a superclass
    db = read_ptbxl_database(ptb)
    has = d.Y.sum(1) > 0
    for split, folds in (('train', range(1, 9)), ('valid', [9]), ('test', [10])):
        want = np.flatnonzero(db.strat_fold.isin(folds).to_numpy() & has)
        assert d.splits[split].tolist() == want.tolist(), split
    assert int(db.strat_fold.isin([9, 10]).sum()) == 147                               # data README
    assert {k: len(v) for k, v in d.splits.items()} == {'train': 352, 'valid': 72, 'test': 64}
    assert d.meta.ecg_id.tolist() == list(range(1, 501))


def test_ptbxl_cache_shared_and_invalidated(ptb, tmp_path):
    "One cache for the six tasks; reused untouched; rebuilt when a record file changes."
    root = tmp_path / 'ptbxl'
    root.mkdir()
    for f in ('ptbxl_database.csv', 'scp_statements.csv'): shutil.copy(ptb / f, root / f)
    shutil.copytree(ptb / 'records100', root / 'records100')
    cdir = tmp_path / 'cache'
    d = load_ptbxl(root, 'superdiagnostic', cache_dir=cdir, n_workers=1)
    mt = (cdir / 'X.npy').stat().st_mtime_ns
    for task in PTBXL_TASKS:
        t = load_ptbxl(root, task, cache_dir=cdir, n_workers=1)
        assert (cdir / 'X.npy').stat().st_mtime_ns == mt and t.X.shape == (500, 12, 1000)
        assert len(t.classes) == TASK_COUNTS[task][0]
        assert sum(len(v) for v in t.splits.values()) == TASK_COUNTS[task][1]
    # record 3 replaced by record 4's samples: the cache notices and rebuilds
    x4 = np.array(d.X[3], np.float32)
    shutil.copy(root / 'records100/00000/00004_lr.dat', root / 'records100/00000/00003_lr.dat')
    d2 = load_ptbxl(root, 'superdiagnostic', cache_dir=cdir, n_workers=1)
    assert (cdir / 'X.npy').stat().st_mtime_ns != mt
    np.testing.assert_allclose(np.asarray(d2.X[2], np.float32), x4, atol=1e-6)
    assert not list(tmp_path.glob('.cache.tmp-*'))


def test_experiment_notebook_on_real_ptbxl(ptb, tmp_path):
    "Real-data smoke run: the experiment notebook (papermill, as a user runs it) with data_dir on the real records."
    import papermill as pm
    out = tmp_path / 'runs'
    t0 = time.time()
    pm.execute_notebook(str(NBS / '20_mrmnet_experiment.ipynb'), str(tmp_path / 'real.ipynb'), kernel_name='python3',
                        parameters=dict(data_dir=str(ptb), task='superdiagnostic', epochs=1, batch_size=32,
                                        max_per_split=60, n_boot=20, out_root=str(out), device='cpu',
                                        min_valid_auc=0),   # a smoke run: no learning floor is known
                        cwd=str(NBS), progress_bar=False, log_output=False)
    runs = list(out.iterdir())
    assert len(runs) == 1
    run = RunDir(runs[0])
    m = run.metrics
    assert m['n_records'] == {'train': 60, 'valid': 60, 'test': 60}                   # real splits (352/72/64), capped
    assert 0 <= m['heads'][m['primary_head']]['macro_auc'] <= 1
    assert len(pd.read_csv(run.path / 'history.csv')) == 1
    table = pd.read_csv(run.path / 'results_table.csv')
    assert table.data[0] == str(ptb)
    pred = np.load(run.path / 'test_predictions.npz')
    assert pred['y'].shape[0] == 60 and set(pred['classes']) <= {'CD', 'HYP', 'MI', 'NORM', 'STTC'}
    for fig in ('class_counts', 'learning_curves', 'roc_pr', 'per_class_auc'):
        assert (run.path / 'figures' / f'{fig}.png').stat().st_size > 1000, fig
    print(f'real-data smoke run: {time.time() - t0:.1f}s')


# ---------------------------------------------------------------------------------------------------------- CPSC2018
def test_cpsc_split_asset_is_reproducible(real):
    ref_csv = real / 'cpsc2018_reference' / 'REFERENCE.csv'
    asset = cp.read_split_asset()
    again = cp.make_split_asset(ref_csv)
    pd.testing.assert_frame_equal(asset, again)                 # the shipped file is what the documented code makes
    import hashlib
    sha = hashlib.sha256(ref_csv.read_bytes()).hexdigest()
    assert f'sha256 {sha}' in cp.split_asset_path().read_text().splitlines()[3]
    ref = pd.read_csv(ref_csv, dtype=str)
    assert asset.record.tolist() == ref.Recording.tolist()
    per_fold = pd.DataFrame(cp.labels_matrix([l.split(';') for l in asset.labels]),
                            columns=cp.CPSC_CLASSES).groupby(asset.fold.values).sum()
    assert per_fold.sum().tolist() == [918, 1221, 722, 236, 1857, 616, 700, 869, 220]    # published totals
    assert (per_fold.max() - per_fold.min()).max() <= 1
    other = cp.make_split_asset(ref_csv, seed=1).fold                                    # the seed matters
    assert (other != asset.fold).mean() > 0.5


def dx_classes(hea: Path) -> list:
    "The #Dx line of a CinC header as class names (abbreviations or SNOMED codes), parsed without ecgnb."
    dx = [l.split(':', 1)[1] for l in hea.read_text().splitlines() if l.lower().startswith('#dx')][0]
    return sorted({cp.CPSC_ABBREV.get(c.strip()) or cp.CPSC_SNOMED[c.strip()] for c in dx.split(',')})


def test_cinc2020_dx_matches_reference(real, cache_root):
    ref = pd.read_csv(real / 'cpsc2018_reference' / 'REFERENCE.csv', dtype=str).set_index('Recording')
    heas = sorted((real / 'cpsc2018_cinc2020').glob('*.hea'))
    assert len(heas) == 150
    for h in heas:
        want = sorted(cp.CPSC_CLASSES[int(v) - 1] for v in ref.loc[h.stem].dropna())
        assert dx_classes(h) == want, h.name
    d = cp.load_cpsc2018(real / 'cpsc2018_cinc2020', cache_dir=cache_root / 'cinc', n_workers=2)
    assert len(d) == 150 and d.info['ignored_codes'] == {} and d.info['skipped_no_label'] == []
    assert [sorted(l) for l in d.meta.labels] == [dx_classes(h) for h in heas]
    fmap = dict(zip(*cp.read_split_asset()[['record', 'fold']].T.values))
    assert d.meta.fold.tolist() == [fmap[r] for r in d.meta.record]
    assert d.info['split'] == 'asset cpsc2018_folds.csv (150 records)' and d.info['split_file'] is None
    rec = wfdb.rdrecord(str(real / 'cpsc2018_cinc2020' / 'A0001'))
    assert rec.fs == 500 and d.meta.age[0] == 74 and d.meta.sex[0] == 'Male'


def test_cpsc_both_forms_get_the_same_folds(real, tmp_path):
    "Real CinC records A0001-A0012 rewritten in the original .mat form load with the same labels, signals and folds."
    import scipy.io
    src = real / 'cpsc2018_cinc2020'
    orig = tmp_path / 'CPSC2018'
    (orig / 'TrainingSet1').mkdir(parents=True)
    names = [f'A{i:04d}' for i in range(1, 13)]
    for n in names:
        r = wfdb.rdrecord(str(src / n))
        age = [c.split(':')[1].strip() for c in r.comments if c.startswith('Age')][0]
        sex = [c.split(':')[1].strip() for c in r.comments if c.startswith('Sex')][0]
        scipy.io.savemat(orig / 'TrainingSet1' / f'{n}.mat',
                         {'ECG': {'sex': sex, 'age': float(age), 'data': r.p_signal.T}})
    ref = pd.read_csv(real / 'cpsc2018_reference' / 'REFERENCE.csv', dtype=str)
    ref[ref.Recording.isin(names)].to_csv(orig / 'REFERENCE.csv', index=False)
    cinc = tmp_path / 'cinc'
    cinc.mkdir()
    for n in names:
        for e in ('.hea', '.mat'): shutil.copy(src / f'{n}{e}', cinc / f'{n}{e}')
    a = cp.load_cpsc2018(orig, cache_dir=tmp_path / 'c1', n_workers=1)
    b = cp.load_cpsc2018(cinc, cache_dir=tmp_path / 'c2', n_workers=1)
    assert a.meta.record.tolist() == b.meta.record.tolist() == names
    assert a.meta.fold.tolist() == b.meta.fold.tolist()
    assert (a.Y == b.Y).all()
    np.testing.assert_allclose(np.asarray(a.X, np.float32), np.asarray(b.X, np.float32), atol=2e-3)
    assert a.meta.age.tolist() == b.meta.age.tolist()


# ----------------------------------------------------------------------------------------------------------- ZZU-pECG
def test_zzu_pediatric_records_by_lead_name(real):
    "The 23 real pediatric records through ZZU's window reader, by lead name, against wfdb."
    from ecgnb.data.zzu import ZZUWindowReader
    root = real / 'zzu_pecg_23'
    recs = pd.read_csv(root / 'records.csv')
    assert len(recs) == 23
    order = ['V6', 'aVR', 'I', 'III', 'V1', 'II', 'aVL', 'aVF', 'V2', 'V3', 'V4', 'V5']      # any order, by name
    for _, r in recs.iterrows():
        seconds = r.n_samples / r.fs
        rec = wfdb.rdrecord(str(root / 'Child_ecg' / r.record))
        assert rec.fs == r.fs == 500 and rec.sig_len == r.n_samples
        want = {n: rec.p_signal[:, i] for i, n in enumerate(rec.sig_name)}
        x, mask = ZZUWindowReader(root, fs=500, seconds=seconds, leads=order)(f'Child_ecg/{r.record}|0|12')
        assert x.shape == (12, r.n_samples) and mask.all()
        np.testing.assert_allclose(x, np.stack([want[l] for l in order]), atol=1e-5, err_msg=r.record)
        x100, _ = ZZUWindowReader(root, fs=100, seconds=10)(f'Child_ecg/{r.record}|0|12')   # 10 s at 100 Hz
        assert x100.shape == (12, 1000) and np.isfinite(x100).all()
        # ages 3 months to 14.9 years, as the README says
    assert recs.age_days_approx.min() < 120 and recs.age_days_approx.max() < 15 * 366


def zzu_release_folder(real, dest: Path) -> Path:
    """The 23 records as a ZZU-pECG release folder: their own Child_ecg/ (linked, unchanged) plus the three CSV files
    the loader reads. AttributesDictionary.csv is written from the folder's records.csv (its columns renamed to the
    release's, values in the release's quoting); ECGCode.csv and DiseaseCode.csv are the release's dictionaries."""
    src = real / 'zzu_pecg_23'
    dest.mkdir(parents=True)
    (dest / 'Child_ecg').symlink_to(src / 'Child_ecg', target_is_directory=True)
    recs = pd.read_csv(src / 'records.csv', dtype=str)
    return write_release_csvs(recs, dest)


def test_zzu_pediatric_records_through_load_zzu(real, tmp_path):
    "The whole ZZU loader on the 23 real records: findings parsed, 10 s windows at 100 Hz equal to wfdb's, a split."
    from ecgnb.data.core import resample
    from ecgnb.data.zzu import load_zzu
    root = zzu_release_folder(real, tmp_path / 'ZZU-pECG')
    d = load_zzu(root, fs=100, seconds=10, task='findings', cache_dir=tmp_path / 'cache',
                 split_file=tmp_path / 'split.csv', n_workers=1)
    recs = pd.read_csv(real / 'zzu_pecg_23' / 'records.csv')
    assert len(d) == 23 and d.X.shape == (23, 12, 1000) and d.mask.all()
    assert sorted(d.meta.record) == sorted(recs.record.str.split('/').str[-1])
    m = d.meta.set_index('record')
    for r in recs.itertuples():
        rid = r.record.split('/')[-1]
        i = int(np.flatnonzero(d.meta.record.to_numpy() == rid)[0])
        rec = wfdb.rdrecord(str(real / 'zzu_pecg_23' / 'Child_ecg' / r.record))
        sig = rec.p_signal.T.astype(np.float32)[[rec.sig_name.index(l) for l in LEADS12], :5000]   # first 10 s, by name
        sig = np.pad(sig, ((0, 0), (0, 5000 - sig.shape[1])))                                   # short ones: zeros
        np.testing.assert_allclose(np.asarray(d.X[i], np.float32), resample(sig, 500, 100), atol=5e-3, rtol=1e-3,
                                   err_msg=rid)                                    # int16 cache, resampled
        assert m.age_days[rid] == r.age_days_approx and m.sex[rid] == r.sex
    assert set(d.meta.split) <= {'train', 'valid', 'test'}
    raw = pd.Series([t for v in recs.aha_codes for t in v.split(';')]).value_counts()      # findings as written
    got = d.class_counts()['total']
    for code in ('A1', 'A2', 'C21', 'C22', 'C23', 'K143', 'I105', 'Left ventricular high voltage'):
        assert got[code] == raw[code], code
    assert len(d.classes) == 19                     # unknown='raise' (the default): every token was recognised

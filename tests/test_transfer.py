"""Issue 11 (adult -> pediatric transfer): the bad inputs, the sampler's guarantees, no label leak, and the runner's
test-split discipline, on tiny hand-made data (seconds on CPU)."""
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from ecgnb.data.core import ECGDataError, LabeledECG, LEADS12, Standardizer
from ecgnb.data.zzu import AGE_GROUPS
from ecgnb.peace.transfer import (breakdown, check_domains, kshot_sample, lead_set, setting_splits, shared_label_space,
                            with_classes)
from ecgnb.peace.baselines import mk_mmd
from ecgnb.peace.methods import build_transfer_model

CLS = ['NORM', 'STACH', 'SBRAD']


def toy(Y, splits, leads=LEADS12, fs=100.0, T=64, mask=None, meta=None, seed=0, name='toy', classes=CLS):
    Y = np.asarray(Y, np.uint8)
    X = np.random.default_rng(seed).standard_normal((len(Y), len(leads), T)).astype(np.float32)
    meta = meta if meta is not None else pd.DataFrame({'record': [f'r{i}' for i in range(len(Y))]})
    return LabeledECG(X, Y, list(classes), meta, splits, fs=fs, leads=list(leads), mask=mask, name=name)


def test_kshot_class_without_positive_in_pool():
    Y = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    with pytest.raises(ECGDataError, match=r"\['SBRAD'\] have no positive record in the pool"):
        kshot_sample(Y, [0, 1, 2], 2, classes=CLS)
    with pytest.warns(UserWarning, match='no positive'):
        idx, rep = kshot_sample(Y, [0, 1, 2], 2, classes=CLS, on_missing='keep')
    assert rep.loc['SBRAD', 'missing'] and int(rep.missing.sum()) == 1       # counted
    assert set(idx) <= {0, 1, 2}


def test_validation_without_positive():
    Y = [[1, 0, 0], [0, 1, 1], [1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 1, 1]]
    t = toy(Y, dict(train=[0, 1], valid=[2, 3], test=[4, 5]))
    with pytest.raises(ECGDataError, match=r"\['SBRAD'\] have no positive in the validation rows"):
        setting_splits(t, 'full')
    with pytest.warns(UserWarning):
        sp = setting_splits(t, 'full', on_missing='keep')
    assert sp['valid_missing'] == ['SBRAD']


def test_label_missing_from_shared_space():
    s = toy([[1, 0, 0], [0, 1, 1], [1, 1, 0]], dict(train=[0, 1], valid=[2], test=[]))
    with pytest.raises(ECGDataError, match='not in the shared label space'):
        shared_label_space(s, s, ['NORM', 'NOT_A_LABEL'])
    with pytest.raises(ECGDataError, match='not in the shared label space'):
        with_classes(s, ['NORM', 'XYZ'])
    assert with_classes(s, ['NORM', 'LBBB']).Y[:, 1].sum() == 0               # known label, absent: zero column


def test_sampling_rate_and_lead_set_mismatch():
    a = toy([[1, 0, 0]], dict(train=[0]))
    with pytest.raises(ECGDataError, match='same rate'):
        check_domains(a, toy([[1, 0, 0]], dict(train=[0]), fs=500.0))
    with pytest.raises(ECGDataError, match='window'):
        check_domains(a, toy([[1, 0, 0]], dict(train=[0]), T=32))
    nine = ['I', 'II', 'III', 'aVR', 'aVL', 'aVF', 'V1', 'V3', 'V5', 'V2', 'V4', 'V6']
    with pytest.raises(ECGDataError, match='lead sets differ'):
        check_domains(a, toy([[1, 0, 0]], dict(train=[0]), leads=nine))


def test_lead_set_uses_names_not_positions():
    m = np.ones((2, 12), bool)
    m[1, [LEADS12.index(l) for l in ('V2', 'V4', 'V6')]] = False
    assert list(lead_set(m, LEADS12)) == ['12-lead', '9-lead']
    m2 = np.ones((1, 12), bool); m2[0, -3:] = False                             # last three positions, other names
    assert list(lead_set(m2, LEADS12)) == ['other']


def test_empty_age_group_is_counted_not_an_error():
    y = np.array([[1, 0], [0, 1], [1, 1]]); p = np.array([[.9, .2], [.1, .8], [.6, .7]])
    b = breakdown(y, p, [.5, .5], np.array(['child', 'child', 'child']), AGE_GROUPS)
    assert list(b.index) == list(AGE_GROUPS)
    assert (b.loc[['neonate', 'infant', 'adolescent'], 'n'] == 0).all()
    assert b.loc[['neonate', 'infant', 'adolescent'], 'auc'].isna().all()
    assert b.loc['child', 'n'] == 3 and b.loc['child', 'auc'] == 1.0


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 12), st.floats(0.05, 0.6))
def test_kshot_never_exceeds_k_and_is_seeded(seed, k, p):
    rng = np.random.default_rng(seed)
    Y = (rng.random((120, 4)) < p).astype(np.uint8)
    Y[:4] = np.eye(4, dtype=np.uint8)                                          # every class present in the pool
    pool = np.arange(100)
    idx, rep = kshot_sample(Y, pool, k, seed=seed)
    assert (Y[idx].sum(0) <= k).all()
    assert set(idx) <= set(pool)
    assert np.array_equal(idx, kshot_sample(Y, pool, k, seed=seed)[0])
    # greedy completeness: no unchosen pool record could still be added without breaking the cap while helping a class
    cnt = Y[idx].sum(0)
    for r in set(pool) - set(idx):
        helps = (Y[r] & (cnt < k)).any()
        assert not helps or (cnt + Y[r] > k).any()


@pytest.mark.parametrize('method', ['finetune', 'early_fusion', 'late_fusion', 'merl', 'peace', 'peace_fused_text'])
def test_no_label_leak_in_eval(method):
    torch.manual_seed(0)
    E = F.normalize(torch.randn(3, 3, 16), dim=-1)
    m = build_transfer_model(method, 3, E, width=8, d_model=16, d_proj=16).eval()
    x = torch.randn(4, 12, 128)
    y = torch.tensor([[1., 0, 0], [0, 1, 1], [0, 0, 1], [1, 0, 1]])
    with torch.no_grad():
        a, b, c = m(x).logits, m((x, y)).logits, m((x, y[[3, 2, 1, 0]])).logits
    assert torch.equal(a, b) and torch.equal(a, c)


def test_mmd_estimator_is_unbiased_near_zero():
    torch.manual_seed(1)
    vals = [mk_mmd(torch.randn(32, 3), torch.randn(32, 3)).item() for _ in range(20)]
    assert abs(np.mean(vals)) < 0.02                                           # biased estimator: clearly > 0


def test_runner_touches_test_split_once_per_run(monkeypatch):
    import ecgnb.peace.runner as tr
    rng = np.random.default_rng(0)
    n = 90
    Y = np.zeros((n, 3), np.uint8); Y[np.arange(n), rng.integers(0, 3, n)] = 1
    meta = pd.DataFrame({'record': [f'r{i}' for i in range(n)], 'age_group': rng.choice(list(AGE_GROUPS), n)})
    sp = dict(train=np.arange(0, 60), valid=np.arange(60, 75), test=np.arange(75, 90))
    src, tgt = toy(Y, sp, T=128, seed=1), toy(Y, sp, T=128, seed=2, meta=meta)
    data = tr.TransferData(src, tgt, CLS, pd.DataFrame(), Standardizer('global').fit(src.X, sp['train']),
                           F.normalize(torch.randn(3, 3, 16), dim=-1).numpy(), 0, True)
    seen = []
    orig = tr.predict_probabilities
    def spy(model, ds, *a, **k):
        seen.append((id(ds.X), tuple(ds.idx)))
        return orig(model, ds, *a, **k)
    monkeypatch.setattr(tr, 'predict_probabilities', spy)
    cfg = tr.TransferConfig(methods=('source_only', 'finetune', 'dann'), settings=('zero-shot', '5-shot', 'ptbxl'),
                            seeds=(0,), epochs_source=1, epochs_target=1, width=8, batch_size=16, n_boot=0, device='cpu')
    res = tr.run_transfer(cfg, data, progress=False, log=None)
    assert len(res.runs) == 3 + 2 + 3                      # source-only has no 5-shot run
    tgt_test = sum(1 for x, idx in seen if x == id(tgt.X) and idx == tuple(sp['test']))
    src_test = sum(1 for x, idx in seen if x == id(src.X) and idx == tuple(sp['test']))
    assert tgt_test == int((res.runs.kind != 'ptbxl').sum())   # the target test split: once per target run
    assert src_test == int((res.runs.kind == 'ptbxl').sum())
    assert np.isfinite(res.runs.auc).all()


# --- Issue 16: a grid killed with SIGKILL resumes cell by cell; the 23 scored children never train ---------------------
GRID_SCRIPT = '''
import json, os, sys, time
import numpy as np, pandas as pd, torch, torch.nn.functional as F
from ecgnb.core import headless_threads
headless_threads(1)
from ecgnb.data.core import LEADS12, LabeledECG, Standardizer
from ecgnb.peace import runner

cells, out = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
Y = np.zeros((90, 3), np.uint8); Y[np.arange(90), rng.integers(0, 3, 90)] = 1
sp = dict(train=np.arange(0, 60), valid=np.arange(60, 75), test=np.arange(75, 90))
def toy(seed):
    X = np.random.default_rng(seed).standard_normal((90, 12, 128)).astype(np.float32)
    X[:, 0] += 2 * Y[:, :1]                                   # something to learn
    meta = pd.DataFrame({'record': range(90), 'patient': [f'p{i // 2}' for i in range(90)]})
    return LabeledECG(X, Y.copy(), ['NORM', 'STACH', 'SBRAD'], meta, dict(sp), fs=100.0, leads=list(LEADS12),
                      mask=np.ones((90, 12), bool), name=f'toy{seed}')
src, tgt = toy(1), toy(2)
torch.manual_seed(0)
data = runner.TransferData(src, tgt, ['NORM', 'STACH', 'SBRAD'], pd.DataFrame(), Standardizer('global').fit(src.X, sp['train']),
                           F.normalize(torch.randn(3, 3, 16), dim=-1).numpy(), 0, True)
cfg = runner.TransferConfig(methods=('source_only', 'finetune', 'target_only'), settings=('zero-shot', '5-shot', 'full'),
                            seeds=(0, 1), epochs_source=1, epochs_target=2, width=8, batch_size=16, n_boot=50, device='cpu')
if os.environ.get('GRID_MODE') == 'in-cell':                  # one PEACE cell with a longer target stage, killed inside
    cfg = runner.TransferConfig(methods=('finetune', 'peace'), settings=('full',), seeds=(0,), epochs_source=1,
                                epochs_target=4, width=8, d_model=16, batch_size=16, n_boot=50, device='cpu')
import ecgnb.training.loop as loop
save_epoch = loop._save_epoch
def slow_save(*a, **k):                                       # `fit` writes last.pt, then sleeps: the kill lands inside a cell
    save_epoch(*a, **k)
    time.sleep(float(os.environ.get('TEST_EPOCH_SLEEP', 0)))
loop._save_epoch = slow_save
fits, train_stage = [], runner.train_stage
def recording(*a, **k):
    r = train_stage(*a, **k)
    fits.append(dict(run_dir=str(k.get('run_dir') or (a[8] if len(a) > 8 else None)), resumed_from=r.resumed_from))
    return r
runner.train_stage = recording
trained = []
orig = runner._one_run
def counting(method, setting, seed, *a, **k):
    trained.append([method, str(setting), seed])
    r = orig(method, setting, seed, *a, **k)
    time.sleep(float(os.environ.get('TEST_SLEEP', 0)))        # widen the window for the kill
    return r
runner._one_run = counting
res = runner.run_transfer(cfg, data, progress=False, log=print, cells_dir=cells if cells != '-' else None)
res.runs.drop(columns='train_s').to_csv(os.path.join(out, 'runs.csv'), index=False)
json.dump(dict(trained=trained, skipped=[list(c) for c in res.skipped], fits=fits), open(os.path.join(out, 'count.json'), 'w'))
'''


def _grid(tmp_path, name, cells, sleep=0.0, popen=False, mode='', epoch_sleep=0.0):
    import os, subprocess, sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    script = tmp_path / 'grid.py'
    script.write_text(GRID_SCRIPT)
    out = tmp_path / name
    out.mkdir(exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS='1', ECGNB_PROGRESS='0', PYTHONPATH=str(root), TEST_SLEEP=str(sleep),
               GRID_MODE=mode, TEST_EPOCH_SLEEP=str(epoch_sleep))
    args = [sys.executable, str(script), str(cells), str(out)]
    if popen: return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), out
    r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_grid_survives_sigkill(tmp_path):
    import json, signal, time
    ref = _grid(tmp_path, 'ref', '-')                                  # uninterrupted, no cells folder
    n_cells = len(json.loads((ref / 'count.json').read_text())['trained'])
    assert n_cells == 2 * 3 * 2        # 2 seeds x 3 settings x 2 methods (source-only has no target stage, target-only no zero-shot)
    cells = tmp_path / 'cells'
    proc, _ = _grid(tmp_path, 'killed', cells, sleep=1.0, popen=True)
    t0, done = time.time(), 0
    try:
        while time.time() - t0 < 300 and proc.poll() is None:
            done = len(list(cells.glob('*/row.json')))
            if done >= 3: break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f'the grid ended before the kill: {proc.stderr.read()[-2000:]}'
    finished = {p.parent.name for p in cells.glob('*/row.json')}
    assert 3 <= len(finished) < n_cells, finished
    assert list(cells.glob('_source/*/stage.json'))                    # seed 0's source stage was saved

    res = _grid(tmp_path, 'resumed', cells)                            # the same call again
    c = json.loads((res / 'count.json').read_text())
    assert len(c['skipped']) == len(finished)                          # every finished cell read back, not trained
    assert len(c['trained']) == n_cells - len(finished)                # only the unfinished ones trained
    assert {f'{m}__{s}__seed{k}' for m, s, k in c['skipped']} == finished
    a = pd.read_csv(ref / 'runs.csv'); b = pd.read_csv(res / 'runs.csv')
    pd.testing.assert_frame_equal(a, b)                                # the same table as the uninterrupted grid
    again = json.loads((_grid(tmp_path, 'again', cells) / 'count.json').read_text())
    assert again['trained'] == [] and len(again['skipped']) == n_cells


def test_cell_resumes_inside_after_sigkill(tmp_path):
    """Issue 16 item 8: a kill in the middle of a cell's training costs at most the epoch in flight. The PEACE cell is
    killed after its target stage wrote an epoch's checkpoint; the rerun resumes that stage from the checkpoint (not
    from scratch), with PEACE's gate state, and the grid ends with exactly the uninterrupted table."""
    import json, signal, time
    ref = _grid(tmp_path, 'ref', '-', mode='in-cell')
    cells = tmp_path / 'cells'
    last = cells / 'peace__full__seed0' / 'fit' / 'checkpoints' / 'last.pt'
    proc, _ = _grid(tmp_path, 'killed', cells, popen=True, mode='in-cell', epoch_sleep=1.5)
    t0 = time.time()
    try:
        while time.time() - t0 < 300 and proc.poll() is None and not last.exists(): time.sleep(0.05)
        time.sleep(0.3)                                                # inside the sleep after the epoch's checkpoint
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f'the grid ended before the kill: {proc.stderr.read()[-2000:]}'
    assert last.exists() and not (last.parent.parent.parent / 'row.json').exists()   # killed inside the PEACE cell
    assert (cells / 'finetune__full__seed0' / 'row.json').exists()
    assert not (cells / 'finetune__full__seed0' / 'fit').exists()                   # a finished cell drops its checkpoints
    res = _grid(tmp_path, 'resumed', cells, mode='in-cell')
    c = json.loads((res / 'count.json').read_text())
    assert c['skipped'] == [['finetune', 'full', 0]] and c['trained'] == [['peace', 'full', 0]]
    resumed = [f for f in c['fits'] if f['run_dir'].endswith('peace__full__seed0/fit')]
    assert len(resumed) == 1 and resumed[0]['resumed_from'] >= 1, c['fits']        # from the checkpoint, not epoch 0
    pd.testing.assert_frame_equal(pd.read_csv(ref / 'runs.csv'), pd.read_csv(res / 'runs.csv'))
    assert not list(cells.glob('**/fit'))                                          # no checkpoints left behind


def test_real23_children_never_train_on_real_target():
    from ecgnb.peace.transfer import exclude_patients, real23_patients
    real = real23_patients()
    assert len(real) == 23
    n = 40
    at = [0, 1, 2, 3, 4, 5, 6, 7, 30, 35]                                # 10 rows of real children, in every split
    pats = [real[at.index(i)] if i in at else f'Q{i:05d}' for i in range(n)]
    d = toy(np.eye(3, dtype=np.uint8)[np.arange(n) % 3], dict(train=np.arange(0, 30), valid=np.arange(30, 35), test=np.arange(35, 40)),
            meta=pd.DataFrame({'record': [f'r{i}' for i in range(n)], 'patient': pats}))
    with pytest.raises(ECGDataError, match='children it trained on'):
        exclude_patients(d, real, on_overlap='raise')
    ex = exclude_patients(d, real)
    for s, rows in ex.splits.items():
        assert not set(np.array(pats)[rows]) & set(real), s
    assert ex.info['excluded_patients'] == 10 and ex.info['excluded_rows'] == dict(train=8, valid=1, test=1)
    clean = toy(d.Y, dict(d.splits), meta=d.meta.assign(patient=[f'Q{i:05d}' for i in range(n)]))
    assert exclude_patients(clean, real, on_overlap='raise').info['excluded_patients'] == 0   # no overlap: no error
    with pytest.raises(ECGDataError, match='no patient id'):
        exclude_patients(toy(d.Y, dict(d.splits)), real)


def test_real23_ids_ship_with_the_package(monkeypatch, real_samples):
    "Without any real samples (a researcher's clone) the 23 children's ids still come from ecgnb/assets, and equal the records'."
    import ecgnb.peace.transfer as T
    from_records = T.real23_patients(real_samples / 'zzu_pecg_23')
    monkeypatch.setattr(T, 'find_real_samples', lambda *a, **k: None)
    assert T.real23_patients() == from_records and len(from_records) == 23
    assert T.find_real_zzu23() is None                                    # their records: not here, so not scored
    assert T.real23_ids_path().read_text().startswith('# ') and 'CC BY 4.0' in T.real23_ids_path().read_text()

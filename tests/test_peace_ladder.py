"""The PEACE ablation ladder (chapter 37) beyond the notebook's own tests: cross-validation splits of the real PTB-XL
records, pairing by seed in the table, pooled out-of-fold scoring, the rung specs and the residual head of chapter 32."""
import numpy as np
import pandas as pd
import pytest
import torch

from conftest import require_shared, SHARED
from ecgnb.data.core import ECGArrayDataset
from ecgnb.peace.ladder import (LADDER, LadderData, cv_aggregate, cv_fold_splits, ladder_rungs, ladder_table,
                                ladder_verdict, ptbxl_cv_splits, run_ladder)
from ecgnb.peace.methods import METHODS, Budget, build_transfer_model
from ecgnb.peace.text import label_embeddings


def _tiny(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 12, 250)).astype(np.float32)
    Y = (rng.random((n, 2)) < 0.4).astype(np.uint8)
    Y[:6] = [[1, 0], [0, 1], [1, 1], [0, 0], [1, 0], [0, 1]]
    X[:, 0] += 3 * Y[:, :1]
    E = np.asarray(label_embeddings(['NORM', 'AFIB']), np.float32)
    tr, va, te = np.arange(6, 26), np.r_[0, 1, 26:32], np.r_[2, 4, 5, 32:40]
    return LadderData(*(ECGArrayDataset(X, Y, i) for i in (tr, va, te)), ['NORM', 'AFIB'], E, 0, 12, 'tiny')


def test_rungs_are_one_switch_apart():
    specs = [METHODS[m] for _, m in LADDER]
    assert specs[0].family == 'classifier' and all(s.family == 'peace' for s in specs[1:])
    diffs = [{f for f in ('text', 'knowledge', 'lsbc', 'caf') if getattr(a, f) != getattr(b, f)}
             for a, b in zip(specs[1:], specs[2:])]
    assert diffs == [{'text'}, {'knowledge'}, {'lsbc'}, {'caf'}]
    assert all(s.residual_pool for s in specs[1:]) and not METHODS['lqn_desc_paper_head'].residual_pool


def test_residual_head_starts_as_plain_classifier():
    torch.manual_seed(0)
    E = label_embeddings(['NORM', 'AFIB', 'RBBB'])
    m = build_transfer_model('lqn_desc', 3, E, width=8, d_model=16).eval()
    x = torch.randn(3, 12, 500)
    with torch.no_grad():
        tok = m.backbone(x)
        torch.testing.assert_close(m(x).logits, m.lqn.pool_head(tok.mean(1)), rtol=0, atol=1e-6)
        old = build_transfer_model('lqn_desc_paper_head', 3, E, width=8, d_model=16).eval()
        assert old.lqn.pool_head is None and old.lqn.cls_w.abs().sum() > 0


def test_cv_splits_cover_every_record_once():
    folds = np.random.default_rng(0).integers(1, 11, 200)
    sp = cv_fold_splits(folds)
    tested = np.concatenate([s['test'] for s in sp])
    assert sorted(tested) == list(range(200))
    for k, s in enumerate(sp):
        assert set(folds[s['test']]) <= {2 * k + 1, 2 * k + 2} and set(folds[s['valid']]) == {(2 * k + 2) % 10 + 1}


def test_table_pairs_by_seed_and_verdict_follows_numbers():
    rows = [dict(rung=r, seed=s, valid_auc=0.7 + 0.05 * s + d) for s in range(5)
            for r, d in (('plain', 0.0), ('lqn_desc', -0.02), ('+caf', -0.02 + 0.001 * (-1) ** s))]
    t = ladder_table(pd.DataFrame(rows)).set_index('rung')
    assert t.loc['lqn_desc', 'd_below_hi'] < 0                        # constant -0.02 with seed offsets: a cost
    assert t.loc['+caf', 'd_below_lo'] < 0 < t.loc['+caf', 'd_below_hi']
    v = ladder_verdict(t.reset_index())
    assert 'lqn_desc vs plain: -0.020' in v and '(costs)' in v and '(is within noise)' in v
    # shuffling the seeds of one rung breaks the pairing: the interval widens
    shuf = pd.DataFrame(rows)
    m = shuf.rung == 'lqn_desc'
    shuf.loc[m, 'seed'] = shuf.loc[m, 'seed'].to_numpy()[::-1]
    t2 = ladder_table(shuf).set_index('rung')
    assert t2.loc['lqn_desc', 'd_below_hi'] - t2.loc['lqn_desc', 'd_below_lo'] > 10 * (t.loc['lqn_desc', 'd_below_hi'] - t.loc['lqn_desc', 'd_below_lo'])


def test_run_ladder_cv_pooling(tmp_path):
    d = _tiny()
    df, preds = run_ladder([d, d], 'plain,+lsbc_const', seeds=(0,), budget=Budget(1, 1e-2, 8, device='cpu'),
                           width=4, d_model=8, out=tmp_path/'r.jsonl', log=None)
    assert len(df) == 4 and len((tmp_path/'r.jsonl').read_text().splitlines()) == 4
    agg = cv_aggregate(df, preds).set_index('rung')
    assert agg.loc['plain', 'n_splits'] == 2 and agg.loc['+lsbc_const', 'lam_mean'] == 0.5
    y, p = preds[('plain', 0, 0)]
    assert y.shape == p.shape == (len(d.test), 2)


def test_ptbxl_cv_splits_real():
    root = require_shared(SHARED / 'ptbxl-1.0.1-first500')
    sp = ptbxl_cv_splits(root, n_splits=5, min_total=15)
    assert len(sp) == 5 and all(s.classes == sp[0].classes for s in sp)
    assert 'NORM' in sp[0].classes and sp[0].normal_index == sp[0].classes.index('NORM')
    tested = np.concatenate([s.test.idx for s in sp])
    assert len(tested) == len(set(tested)) == 500
    for s in sp:
        assert not set(s.test.idx) & set(s.train.idx) and not set(s.valid.idx) & set(s.train.idx)
        assert s.E.shape[:2] == (len(s.classes), 3)


def test_peace_results_script(tmp_path):
    """scripts/peace_results.py, which prints the numbers the docs quote: paired PEACE − fine-tune per setting, the
    transfer ladder, and notebook 40's zero-shot controls, on tables whose answers are known."""
    import subprocess, sys
    from conftest import ROOT
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(5):
        base = 0.6 + 0.05 * rng.standard_normal()                 # a seed effect shared by every method: pairing removes it
        for m, d in (('finetune', 0.0), ('dann', -0.02), ('lqn_desc', 0.01), ('peace_no_lsbc', 0.02), ('peace', 0.03)):
            for s in ('zero-shot', 'full'):
                rows.append(dict(method=m, setting=s, seed=seed, auc=base + d + 0.001 * seed))
    pd.DataFrame(rows).to_csv(tmp_path/'runs.csv', index=False)
    env = dict(__import__('os').environ, PYTHONPATH=str(ROOT))
    run = lambda *a: subprocess.run([sys.executable, str(ROOT/'scripts'/'peace_results.py'), *map(str, a)], env=env,
                                    capture_output=True, text=True, timeout=300)
    r = run('transfer', tmp_path/'runs.csv')
    assert r.returncode == 0, r.stderr[-2000:]
    assert '| zero-shot | +0.030 [+0.030, +0.030] | +0.050 [+0.050, +0.050] |' in r.stdout   # exact paired deltas
    assert '| full | +knowledge | ' in r.stdout
    res = pd.DataFrame([dict(arm=a, seed=s, valid_auc=0.7, test_auc=0.7 + (a == 'peace') * 0.01, zs_macro=z,
                             init_macro=0.5, near_macro=0.6, zs_RBBB=z, near_RBBB=0.6, lam_mean=0.1 * (a == 'peace'))
                        for s in range(3) for a, z in (('no_lsbc', 0.45), ('peace', 0.7))])
    res.to_csv(tmp_path/'results.csv', index=False)
    r = run('align', tmp_path/'results.csv')
    assert r.returncode == 0, r.stderr[-2000:]
    assert '| zero-shot − nearest label | +0.100 [+0.100, +0.100] |' in r.stdout
    assert '| peace − no_lsbc, zs_macro | +0.250 [+0.250, +0.250] |' in r.stdout
    assert run('nonsense').returncode != 0


def test_ptbxl_cv_splits_holdout_real():
    """Held-out labels (zero-shot on unseen ECGs): removed from training, their labels carried for each split's valid
    and test rows in dataset order, every record's held-out labels scored exactly once over the test folds."""
    from ecgnb.data.ptbxl import load_ptbxl
    from ecgnb.peace.transfer import to_shared
    root = require_shared(SHARED / 'ptbxl-1.0.1-first500')
    hold = ['RBBB', 'LVHV', 'SBRAD']
    sp = ptbxl_cv_splits(root, n_splits=5, min_total=8, holdout=','.join(hold))
    raw = to_shared(load_ptbxl(root, task='all'), 'ptbxl')
    Yh = raw.Y[:, [raw.classes.index(h) for h in hold]]
    assert not set(hold) & set(sp[0].classes) and 'LBBB' in sp[0].classes
    for s in sp:
        assert s.holdout == tuple(hold) and s.Eh.shape == (3, 3, s.E.shape[2])
        for part in ('valid', 'test'):
            np.testing.assert_array_equal(s.Yh[part], Yh[getattr(s, part).idx])
    np.testing.assert_array_equal(sum(s.Yh['test'].sum(0) for s in sp), Yh.sum(0))
    with pytest.raises(ValueError, match='no positive record'):
        ptbxl_cv_splits(root, holdout=['WPW', 'NOPE'])


def _script(*a):
    import subprocess, sys
    from conftest import ROOT
    env = dict(__import__('os').environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT/'scripts'/'peace_results.py'), *map(str, a)], env=env,
                          capture_output=True, text=True, timeout=300)


def test_peace_results_zeroshot_from_run_and_from_summary(tmp_path):
    """`peace_results.py zeroshot` pools a run's stored out-of-fold zero-shot scores, and prints the same table from
    the per-seed summary alone (what results/ keeps)."""
    import dataclasses
    from ecgnb.peace.ladder import cv_zero_shot, zero_shot_table
    d = _tiny()
    rng = np.random.default_rng(1)
    yh = {s: (rng.random((len(getattr(d, s)), 1)) < 0.5).astype(np.uint8) for s in ('valid', 'test')}
    for v in yh.values(): v[:2] = [[1], [0]]
    d = dataclasses.replace(d, holdout=('RBBB',), Eh=np.asarray(label_embeddings(['RBBB']), np.float32), Yh=yh)
    df, preds = run_ladder([d, d], '+knowledge,+caf', seeds=(0, 1), budget=Budget(1, 1e-2, 8, device='cpu'),
                           width=4, d_model=8, out=tmp_path/'run'/'runs.jsonl', log=None)
    per_seed = cv_zero_shot(df, preds)
    per_seed.to_csv(tmp_path/'zero_shot.csv', index=False)
    want = zero_shot_table(per_seed).loc['zero-shot − nearest label', '+caf']
    for where in (tmp_path/'run', tmp_path):
        r = _script('zeroshot', where, '+caf:+knowledge')
        assert r.returncode == 0, r.stderr[-2000:]
        assert want in r.stdout and f'RBBB ({2 * int(yh["test"].sum())} positives)' in r.stdout and '| +caf − +knowledge |' in r.stdout, r.stdout
    assert _script('zeroshot', tmp_path/'nothing').returncode != 0


def test_committed_real_zero_shot_reproduces_notebook_40():
    """results/zero_shot_real is the per-seed summary of the real-data zero-shot run (notebook 42, RBBB/LVHV/SBRAD held
    out, every record scored out of fold); `peace_results.py zeroshot` prints from it the numbers notebook 40 quotes."""
    import json
    from conftest import ROOT
    r = _script('zeroshot', ROOT/'results'/'zero_shot_real')
    assert r.returncode == 0, r.stderr[-2000:]
    assert '5 splits pooled, 5 seeds' in r.stdout and 'RBBB (8 positives), LVHV (12 positives), SBRAD (9 positives)' in r.stdout
    nb = json.loads((ROOT/'nbs'/'40_cross_modal_alignment.ipynb').read_text())
    md = '\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')
    quoted = {}
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) == 3 and cells[0] in ('PEACE zero-shot', 'untrained projection (control)',
                                           'nearest trained label\'s probability (control)', 'PEACE − untrained (paired)',
                                           'PEACE − nearest label (paired)'):
            quoted[cells[0]] = cells[2].replace('−', '-')
    assert len(quoted) == 5, quoted
    table = r.stdout.split('validation folds')[0]                 # the test-row table of the fused descriptors
    for name, v in quoted.items(): assert f'| {v} |' in table, (name, v)

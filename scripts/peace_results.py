"""Summaries of PEACE runs for the docs: every number the README and chapters 37/40/41 quote from a
5-seed run is printed by one of these commands from the run's own files.

  python scripts/peace_results.py transfer RUN/runs.csv [FIGURE.png]
      notebook 41 grid: test macro-AUC per method and setting (mean [95 % t] over seeds), PEACE − fine-tune / DANN
      paired by seed, and the transfer ladder (plain = fine-tune, lqn_desc, +knowledge = peace_no_lsbc, +caf = PEACE)
  python scripts/peace_results.py align RUN/results.csv [OTHER_RUN/results.csv]
      notebook 40 arms: paired deltas (peace − no_lsbc; zero-shot − its untrained and nearest-label controls); with a
      second run (e.g. centred descriptors) the paired difference second − first of the peace arm
  python scripts/peace_results.py ladder OUT_DIR [RUNG:RUNG ...]
      notebook 42 output folder: paired deltas (validation and test macro-AUC, mean [95 % t] over seeds) of any rung
      pairs, e.g. +caf:+knowledge (default: the default configuration's steps and the options chosen against)
  python scripts/peace_results.py zeroshot OUT_DIR [RUNG:RUNG ...]
      notebook 42 real-data output folder run with `holdout`: zero-shot macro-AUC of each text rung on the held-out
      labels, pooled out of fold (every record scored once by the model that did not train on it), with its untrained
      and nearest-label controls on the same rows and seeds, zero-shot − each control paired by seed, the same on the
      validation folds, for the fused descriptors and the axis ensemble, and paired zero-shot differences between
      rungs (e.g. +caf:+knowledge); OUT_DIR may also be a folder with only its zero_shot.csv (results/zero_shot_real)
  python scripts/peace_results.py boot OUT_DIR PTBXL_DIR [RUNG]
      notebook 42 real-data output folder: each seed's pooled out-of-fold test predictions of RUNG (default plain),
      with the 95 % bootstrap interval of the macro-AUC resampling records and resampling patients
  python scripts/peace_results.py strata RUN_DIR [LABEL] [BY]
      notebook 40 run folder: reloads each seed's trained PEACE model and scores the held-out LABEL (default RBBB)
      zero-shot among records without and with the finding BY (default AFIB): is the score carried by a co-occurring
      finding?
"""
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ecgnb.mrm.ablation_stats import markdown_table, paired_test, t_interval

ci = lambda v: '%.3f [%.3f, %.3f]' % t_interval(np.asarray(v, float))
dci = lambda v: '%+.3f [%+.3f, %+.3f]' % t_interval(np.asarray(v, float))
fmt_d = lambda t: '%+.3f [%+.3f, %+.3f]' % (t['diff'], t['diff_lo'], t['diff_hi'])   # a `paired_test` result
SETTINGS = ['zero-shot', '5-shot', '10-shot', '20-shot', '50-shot', 'full', 'ptbxl']


def transfer(runs_csv, figure=None):
    from ecgnb.peace.ladder import LADDER, ladder_table, plot_ladder
    from ecgnb.peace.report import paired_vs
    df = pd.read_csv(runs_csv)
    order = [s for s in SETTINGS if s in set(df.setting)]
    print(markdown_table(df.pivot_table(index='method', columns='setting', values='auc', aggfunc=ci)[order]), '\n')
    others = [m for m in ('finetune', 'dann') if m in set(df.method) and 'peace' in set(df.method)]
    if others:                               # chapter 36a's paired differences, PEACE − each other method
        pv = {o: paired_vs(df, ref=o).query("method == 'peace'").set_index('setting') for o in others}
        rows = {s: {f'PEACE − {o}': fmt_d(pv[o].loc[s]) for o in others} for s in order}
        print(markdown_table(pd.DataFrame(rows).T), '\n')
    rung = {m: r for r, m in LADDER}
    lad = df[df.method.isin(rung)].assign(rung=lambda d: d.method.map(rung), test_auc=lambda d: d.auc)
    if lad.rung.nunique() > 1:
        t = ladder_table(lad, 'test_auc', by='setting')
        cols = ['setting', 'rung', 'mean', 'd_below', 'd_below_lo', 'd_below_hi', 'd_plain', 'd_plain_lo', 'd_plain_hi']
        print(markdown_table(t[cols].round(3), index=False))
        if figure:
            plot_ladder(t, by='setting').savefig(figure, dpi=120, bbox_inches='tight'); print('figure:', figure)


def align(results_csv, other_csv=None):
    a = pd.read_csv(results_csv)
    p = a[a.arm == 'peace'].set_index('seed')
    out = {'peace zero-shot': ci(p.zs_macro), 'untrained control': ci(p.init_macro), 'nearest-label control': ci(p.near_macro),
           'zero-shot − untrained': dci(p.zs_macro - p.init_macro), 'zero-shot − nearest label': dci(p.zs_macro - p.near_macro)}
    for h in [c[3:] for c in a.columns if c.startswith('zs_') and c != 'zs_macro']:
        out[f'zero-shot {h} (nearest-label {h})'] = f'{ci(p[f"zs_{h}"])} ({ci(p[f"near_{h}"])})'
    if 'no_lsbc' in set(a.arm):
        n = a[a.arm == 'no_lsbc'].set_index('seed')
        for c in ('valid_auc', 'test_auc', 'zs_macro'): out[f'peace − no_lsbc, {c}'] = dci(p[c] - n[c])
    out['mean λ'] = ci(p.lam_mean)
    if other_csv:
        b = pd.read_csv(other_csv); q = b[b.arm == 'peace'].set_index('seed')
        for c in ('valid_auc', 'test_auc', 'zs_macro'): out[f'second − first run (peace), {c}'] = dci(q[c] - p[c])
    print(markdown_table(pd.Series(out, name='mean [95 % t over seeds]').to_frame()))


def ladder(out_dir, *pairs):
    from ecgnb.peace.ladder import cv_aggregate, load_ladder_runs
    runs, preds = load_ladder_runs(Path(out_dir)/'runs.jsonl')
    per_seed = cv_aggregate(runs, preds) if runs.split.nunique() > 1 else runs
    pairs = pairs or ('lqn_desc:plain', '+knowledge:lqn_desc', '+caf:+knowledge', '+caf:plain', 'lqn_desc:lqn_learned',
                      'lqn_desc_paper_head:lqn_desc', '+caf_freq:+caf', '+lsbc_const:+knowledge')
    rows = {}
    for pr in pairs:
        a, b = pr.split(':')
        if not {a, b} <= set(per_seed.rung): continue
        w = {c: per_seed.pivot_table(index='seed', columns='rung', values=c) for c in ('valid_auc', 'test_auc')}
        rows[f'{a} − {b}'] = {f'Δ {c}': fmt_d(paired_test(w[c][a], w[c][b])) for c in w}
    lam = per_seed.groupby('rung', sort=False).lam_mean.mean().round(3)
    print(markdown_table(pd.DataFrame(rows).T)); print('\nmean λ per rung:', lam.to_dict())


def zeroshot(out_dir, *pairs):
    from ecgnb.peace.ladder import cv_zero_shot, load_ladder_runs, zero_shot_table
    out_dir = Path(out_dir)
    if (out_dir/'runs_pred').is_dir():                   # a run folder: pool the stored out-of-fold scores
        per_seed = cv_zero_shot(*load_ladder_runs(out_dir/'runs.jsonl'))
    elif (out_dir/'zero_shot.csv').exists():             # the committed summary (results/): one pooled row per rung and seed
        per_seed = pd.read_csv(out_dir/'zero_shot.csv')
    else: raise SystemExit(f'{out_dir}: neither runs_pred/ nor zero_shot.csv (notebook 42 with -p data real -p holdout ... -p out_dir)')
    if per_seed.empty: raise SystemExit(f'{out_dir}: no zero-shot scores (run notebook 42 with -p data real -p holdout ...)')
    hold = [c[6:] for c in per_seed.columns if c.startswith('n_pos_') and not c.endswith('_valid')]
    pos = ', '.join('%s (%d positives)' % (h, per_seed[f'n_pos_{h}'].iloc[0]) for h in hold)
    print(f'{out_dir}: held-out {pos}; '
          f'{per_seed.n_splits.iloc[0]} splits pooled, {per_seed.seed.nunique()} seeds\n')
    for score, sname in (('zs', 'fused descriptors'), ('zsax', 'axis ensemble')):
        for suf, name in (('', 'test rows (reported)'), ('_valid', 'validation folds (selection)')):
            print(f'Zero-shot macro-AUC ({sname}), {name}, mean [95 % t over seeds]\n')
            print(markdown_table(zero_shot_table(per_seed, suf, score)), '\n')
    rows = {}
    for pr in pairs:
        a, b = pr.split(':')
        cols = ('zs_macro', 'zs_macro_valid', 'zsax_macro', 'zsax_macro_valid', 'valid_auc')
        w = per_seed.pivot_table(index='seed', columns='rung', values=list(cols))
        rows[f'{a} − {b}'] = {c: fmt_d(paired_test(w[c][a], w[c][b])) for c in cols}
    if rows: print(markdown_table(pd.DataFrame(rows).T))


def boot(out_dir, ptbxl_dir, rung='plain', n_boot=1000):
    from ecgnb.data.ptbxl import load_ptbxl
    from ecgnb.metrics import bootstrap_ci, macro_auc
    from ecgnb.peace.ladder import cv_fold_splits, load_ladder_runs
    from ecgnb.peace.transfer import patient_ids, to_shared
    runs, preds = load_ladder_runs(Path(out_dir)/'runs.jsonl')
    raw = to_shared(load_ptbxl(ptbxl_dir, task='all'), 'ptbxl')
    n_splits = runs.split.nunique()
    test = np.concatenate([sp['test'] for sp in cv_fold_splits(raw.meta.fold.to_numpy(), n_splits)])
    pid = np.asarray(patient_ids(raw))[test]
    y0 = np.concatenate([preds[(rung, runs.seed.iloc[0], k)][0] for k in range(n_splits)])
    keep = [c for c, n in zip(raw.classes, raw.Y.sum(0)) if n >= 15]          # notebook 42's min_total default
    if y0.shape != (len(test), len(keep)) or not np.array_equal(y0, raw.Y[test][:, [raw.classes.index(c) for c in keep]]):
        raise SystemExit(f'{out_dir}: its stored test labels do not line up with {ptbxl_dir} (another folder or min_total?)')
    print(f'{len(test)} test records of {len(set(pid))} patients ({n_splits} splits pooled); rung {rung}; {n_boot} resamples')
    rows = []
    for seed in sorted(runs[runs.rung == rung].seed.unique()):
        y, p = (np.concatenate(a) for a in zip(*(preds[(rung, seed, k)] for k in range(n_splits))))
        r = dict(seed=seed, auc=macro_auc(y, p, warn=False))
        for unit, g in (('records', None), ('patients', pid)):
            _, lo, hi = bootstrap_ci(lambda a, b: macro_auc(a, b, warn=False), y, p, n_boot, seed=seed, groups=g)
            r[f'{unit} lo'], r[f'{unit} hi'], r[f'{unit} width'] = lo, hi, hi - lo
        rows.append(r)
    df = pd.DataFrame(rows)
    df = pd.concat([df, df.mean().to_frame('mean').T]).round(4).astype({'seed': object})
    df.iloc[-1, 0] = 'mean'
    print(markdown_table(df, index=False))


def strata(run_dir, label='RBBB', by='AFIB'):
    import torch
    import yaml
    from sklearn.metrics import roc_auc_score
    from ecgnb.core import headless_threads
    from ecgnb.data.core import ECGArrayDataset
    from ecgnb.data.ptbxl import load_ptbxl
    from ecgnb.peace.alignment import embed_split, zero_shot_scores
    from ecgnb.peace.lqn import build_peace_model, labels_as_input
    from ecgnb.peace.text import label_embeddings
    from ecgnb.peace.transfer import to_shared
    from ecgnb.training.checkpoint import load_checkpoint
    headless_threads(1)
    run = Path(run_dir); P = yaml.safe_load((run/'params.yaml').read_text())
    path = P['data_dir']
    if path is None:
        from ecgnb.data.synthetic import default_cohort
        path = default_cohort()['ptbxl']
    full = to_shared(load_ptbxl(path, task=P['task'], fs=P.get('fs', 100)), 'ptbxl', min_train=P['min_train'])
    hold = P['holdout']; data = full.subset(classes=[c for c in full.classes if c not in hold])
    if label not in hold: raise SystemExit(f'{label} is not a held-out label of {run} ({hold})')
    E, Eh = (torch.as_tensor(label_embeddings(c, center=P['center'])) for c in (data.classes, hold))
    zs = {'test': ['test'], 'valid': ['valid'], 'valid+test': ['valid', 'test'], 'all': ['train', 'valid', 'test']}[P['zs_rows']]
    idx = np.concatenate([data.splits[s] for s in zs])
    y, f = full.Y[idx, full.classes.index(label)], full.Y[idx, full.classes.index(by)].astype(bool)
    print(f'{path}: {len(idx)} scored records; {label} {int(y.sum())} ({int((y * f).sum())} with {by}); '
          f'{by} among {label} {f[y == 1].mean():.2f} vs among the others {f[y == 0].mean():.2f}')
    dl = torch.utils.data.DataLoader(ECGArrayDataset(data.X, data.Y, idx, data.fit_standardizer('global'), data.mask), batch_size=128)
    rows = []
    for s in P['seeds']:
        m = build_peace_model(P['backbone'], label_emb=E, normal_index=data.classes.index('NORM'), knowledge_p=P['knowledge_p'],
                              total_steps=1, backbone_kwargs=P['backbone_kwargs'], d_model=P['d_model'], d_ff=2 * P['d_model'],
                              d_proj=P['d_proj'])
        load_checkpoint(run/f'peace-s{s}'/'checkpoints'/'best.pt', m); m.eval()
        emb = embed_split(m, labels_as_input(dl), torch.device('cpu'))
        with torch.no_grad(): S = zero_shot_scores(emb['ecg_emb'], m.label_text_emb(Eh).numpy())[:, hold.index(label)]
        r = {f'{label}, all': roc_auc_score(y, S), f'{label}, without {by}': roc_auc_score(y[~f], S[~f]),
             f'{by} ranked by the {label} score': roc_auc_score(f, S)}
        if 0 < y[f].sum() < f.sum(): r[f'{label}, within {by}'] = roc_auc_score(y[f], S[f])
        rows.append(r)
    print(markdown_table(pd.DataFrame(rows).apply(lambda c: ci(c.dropna())).rename('zero-shot AUC, mean [95 % t over seeds]').to_frame()))


if __name__ == '__main__':
    cmd, *args = sys.argv[1:] or ['-h']
    if cmd not in ('transfer', 'align', 'ladder', 'zeroshot', 'boot', 'strata'): raise SystemExit(__doc__)
    dict(transfer=transfer, align=align, ladder=ladder, zeroshot=zeroshot, boot=boot, strata=strata)[cmd](*args)

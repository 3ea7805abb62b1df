"""Train on synthetic, test on real (TSTR), against train on real, test on real (TRTR) as the ceiling.

    python bench/bench_tstr.py                        # superdiagnostic, 3 seeds, 2,000 synthetic records
    python bench/bench_tstr.py --task rhythm          # PTB-XL rhythm classes the generator draws (SR, AFIB, STACH, ...)
    python bench/bench_tstr.py --distances            # also print the feature distances of chapter 08 (eval half)

Real data: PTB-XL records 1-500 from ../shared (`ecgnb.data.realism.real_root`), split once by `ecg_id` parity:
even ids are the *tuning half* (the generator may be tuned on them; TRTR trains on them, 80/20 train/valid),
odd ids the *evaluation half* (both arms are tested on it, once). TSTR trains on a freshly generated PTB-XL-shaped
cohort (folds 1-8 train, fold 9 valid) and never sees a real label.

Same recipe on both arms: the PTB-XL benchmark's (resnet1d_wang at 100 Hz, random 2.5 s crops, AdamW one-cycle,
lr 1e-2, wd 1e-2, batch 128; test by sliding windows with max aggregation), the epoch with the best validation
macro-AUC of the arm's own validation set, global standardisation fitted on the arm's training set. The model is
narrowed (`--inplanes`, default 32 instead of 128) so that both arms and all seeds run on 2 CPU cores in minutes.

Prints macro-AUC per arm (mean over seeds, seed SD, 95% bootstrap CI of the seed mean over the test records) and the
TSTR/TRTR ratio with its paired bootstrap CI, per class too.
"""
import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn


def load_real(task: str, root=None, cache=None):
    "Real PTB-XL 1-500 at 100 Hz for `task`: (X float32 [N,12,1000], Y, classes, ecg_id), records without a label dropped."
    from ecgnb.data.ptbxl import load_ptbxl
    from ecgnb.data.realism import real_root
    base = Path(root or real_root(required=True))/'ptbxl-1.0.1-first500'
    ds = load_ptbxl(base, task=task, fs=100, cache_dir=cache, n_workers=1)
    keep = ds.Y.sum(1) > 0
    return np.asarray(ds.X, np.float32)[keep], ds.Y[keep], list(ds.classes), ds.meta.ecg_id.to_numpy()[keep]


def load_synthetic(task: str, n: int, seed: int, root: Path, classes, noise=1.0):
    "A fresh PTB-XL-shaped cohort of `n` records at 100 Hz: train (folds 1-8) and valid (fold 9), columns `classes`."
    from ecgnb.data.ptbxl import load_ptbxl
    from ecgnb.data.synth_cohorts import make_ptbxl_cohort
    p = make_ptbxl_cohort(root/f'syn-{n}-{seed}', n=n, seed=seed, noise=noise, n_workers=1)
    ds = load_ptbxl(p, task=task, fs=100, cache_dir=root/f'cache-{n}-{seed}', n_workers=1)
    Y = np.zeros((len(ds.Y), len(classes)), np.uint8)
    for j, c in enumerate(classes):
        if c in ds.classes: Y[:, j] = ds.Y[:, ds.classes.index(c)]
    X = np.asarray(ds.X, np.float32)
    has = Y.sum(1) > 0
    fold = ds.meta.fold.to_numpy()
    tr, va = np.flatnonzero(has & (fold <= 8)), np.flatnonzero(has & (fold == 9))
    return (X[tr], Y[tr]), (X[va], Y[va])


def split_tune(Y, seed: int, frac_valid: float = 0.2):
    "Train/valid rows of the tuning half: a seeded split, stratified on the label combination where possible."
    from sklearn.model_selection import train_test_split
    idx = np.arange(len(Y))
    key = np.array([''.join(map(str, y)) for y in Y])
    counts = {k: (key == k).sum() for k in set(key)}
    strat = np.array([k if counts[k] >= 2 else 'rare' for k in key])
    try: return train_test_split(idx, test_size=frac_valid, random_state=seed, stratify=strat)
    except ValueError: return train_test_split(idx, test_size=frac_valid, random_state=seed)


def make_model(n_classes: int, inplanes: int):
    from ecgnb.models.zoo import get_model
    return get_model('resnet1d_wang', n_classes, input_channels=12, inplanes=inplanes)


def predict(model, X, mu, sd, batch: int = 256):
    "Benchmark inference: sliding 2.5 s windows (stride 1.25 s), max over windows, sigmoid."
    from ecgnb.models.zoo import sliding_window_predict
    return sliding_window_predict(model, torch.from_numpy((X - mu) / sd), window=250, stride=125, agg='max',
                                  batch_size=batch).numpy()


def train(Xtr, Ytr, Xva, Yva, epochs: int, seed: int, inplanes: int = 64, lr: float = 1e-2, bs: int = 128,
          model=None, log=print):
    """Train with the benchmark recipe; keep the epoch with the best validation macro-AUC. `model` continues
    training a given network (fine-tuning); its standardisation is then refitted on this training set."""
    from ecgnb.core import seed_everything
    from ecgnb.metrics import macro_auc
    from ecgnb.models.zoo import benchmark_optimizer, random_crop
    g = seed_everything(seed)
    g = g if isinstance(g, torch.Generator) else torch.Generator().manual_seed(seed)
    mu, sd = float(Xtr.mean()), float(Xtr.std()) + 1e-8
    model = model or make_model(Ytr.shape[1], inplanes)
    Xt, Yt = torch.from_numpy((Xtr - mu) / sd), torch.from_numpy(Ytr.astype(np.float32))
    steps = int(np.ceil(len(Xt) / bs)) * epochs
    opt, sched = benchmark_optimizer(model, steps, lr=lr)
    best, best_state = -1.0, None
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(Xt), generator=g)
        for i in range(0, len(Xt), bs):
            b = perm[i:i + bs]
            loss = nn.functional.binary_cross_entropy_with_logits(model(random_crop(Xt[b], 250, g)), Yt[b])
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            auc = macro_auc(Yva, predict(model, Xva, mu, sd), warn=False)
        if auc > best: best, best_state = auc, {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    if log: log(f'    trained {epochs} epochs on {len(Xt)} records: best valid macro-AUC {best:.3f}')
    return model, (mu, sd)


def paired_bootstrap(Y, P_a, P_b, n_boot: int = 1000, seed: int = 0):
    """Seed-mean macro-AUC of two arms (`P_*`: [seeds, N, K]), their ratio b/a and difference b-a, each with a 95%
    percentile bootstrap CI over test records (the same resamples for both arms and all seeds)."""
    from ecgnb.metrics import bootstrap_indices, macro_auc
    def stat(idx):
        a = np.mean([macro_auc(Y[idx], p[idx], warn=False) for p in P_a])
        b = np.mean([macro_auc(Y[idx], p[idx], warn=False) for p in P_b])
        return a, b, b / a, b - a
    point = stat(np.arange(len(Y)))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        boots = np.array([stat(i) for i in bootstrap_indices(Y, n_boot, seed)])
    lo, hi = np.percentile(boots, [2.5, 97.5], axis=0)
    return {k: (float(point[j]), float(lo[j]), float(hi[j])) for j, k in enumerate(('a', 'b', 'ratio', 'diff'))}


def per_class(Y, P, classes):
    from ecgnb.metrics import per_class_auc
    return {c: float(v) for c, v in zip(classes, np.mean([per_class_auc(Y, p) for p in P], 0))}


def run(task='superdiagnostic', n_syn=2000, seeds=(0, 1, 2), epochs_syn=6, epochs_real=25, inplanes=32,
        n_boot=1000, threads=2, min_pos=5, syn_seed=100, noise=1.0, workdir=None, log=print) -> dict:
    "Both arms on `task`; returns AUCs, CIs, the ratio, per-class AUCs and timings."
    torch.set_num_threads(threads)
    log = log or (lambda *a, **k: None)
    work = Path(workdir or tempfile.mkdtemp(prefix='tstr-'))
    X, Y, classes, ecg_id = load_real(task, cache=work/'cache-real')
    ev, tu = ecg_id % 2 == 1, ecg_id % 2 == 0
    keep = [j for j, c in enumerate(classes) if Y[ev, j].sum() >= min_pos and Y[tu, j].sum() >= 2]
    classes = [classes[j] for j in keep]; Y = Y[:, keep]
    log(f'{task}: classes {classes}; real tuning half {tu.sum()} records, evaluation half {ev.sum()}')
    (Xs, Ys), (Xsv, Ysv) = load_synthetic(task, n_syn, syn_seed, work, classes, noise)
    log(f'synthetic cohort: {len(Xs)} train / {len(Xsv)} valid records; positives {dict(zip(classes, Ys.sum(0).tolist()))}')
    Xtu, Ytu, Xev, Yev = X[tu], Y[tu], X[ev], Y[ev]
    P = {'TRTR': [], 'TSTR': []}
    t0 = time.time()
    for s in seeds:
        tr, va = split_tune(Ytu, s)
        log(f'  seed {s}: TRTR'); m, (mu, sd) = train(Xtu[tr], Ytu[tr], Xtu[va], Ytu[va], epochs_real, s, inplanes, log=log)
        P['TRTR'].append(predict(m, Xev, mu, sd))
        log(f'  seed {s}: TSTR'); m, (mu, sd) = train(Xs, Ys, Xsv, Ysv, epochs_syn, s, inplanes, log=log)
        P['TSTR'].append(predict(m, Xev, mu, sd))
    bs = paired_bootstrap(Yev, P['TRTR'], P['TSTR'], n_boot)
    from ecgnb.metrics import macro_auc
    seed_auc = {k: [macro_auc(Yev, p, warn=False) for p in v] for k, v in P.items()}
    return dict(task=task, classes=classes, n_eval=int(ev.sum()), n_tune=int(tu.sum()), n_syn=n_syn, seeds=list(seeds),
                trtr=bs['a'], tstr=bs['b'], ratio=bs['ratio'], seed_auc=seed_auc,
                per_class={k: per_class(Yev, v, classes) for k, v in P.items()}, seconds=time.time() - t0,
                settings=dict(epochs_syn=epochs_syn, epochs_real=epochs_real, inplanes=inplanes, n_boot=n_boot,
                              syn_seed=syn_seed, noise=noise))


def report(r: dict) -> str:
    f = lambda t: f'{t[0]:.3f} [{t[1]:.3f}, {t[2]:.3f}]'
    sd = {k: np.std(v) for k, v in r['seed_auc'].items()}
    lines = [f"{r['task']} macro-AUC on the real evaluation half ({r['n_eval']} records, {len(r['classes'])} classes), "
             f"mean of {len(r['seeds'])} seeds [95% bootstrap CI]:",
             f"  TRTR (train on {r['n_tune']} real tuning-half records): {f(r['trtr'])}  seed SD {sd['TRTR']:.3f}",
             f"  TSTR (train on {r['n_syn']} synthetic records):        {f(r['tstr'])}  seed SD {sd['TSTR']:.3f}",
             f"  ratio TSTR/TRTR: {f(r['ratio'])}",
             '  per class (TRTR / TSTR): ' + ', '.join(f"{c} {r['per_class']['TRTR'][c]:.2f}/{r['per_class']['TSTR'][c]:.2f}"
                                                     for c in r['classes']),
             f"  ({r['seconds']:.0f} s; settings {r['settings']})"]
    return '\n'.join(lines)


def distances(n: int | None = None, workers: int = 2, half: str = 'eval', log=print):
    "Chapter 08's feature distances on one half (all of it unless `n`): summary and the table."
    import pandas as pd
    from ecgnb.data import realism as R
    from ecgnb.data.synthetic import COHORT_VERSION
    meta = R.real_ptbxl_meta(half=half, n=n)
    ids = [int(i) for i in meta.index]
    codes = [set(d) for d in meta.scp_codes]
    real = R.cached_features(dict(src='ptbxl-real', ids=ids, fs=500),
                             lambda: R.feature_frame(R.read_records(meta.path)[0], 500, workers, index=meta.index))
    syn = R.cached_features(dict(src='ptbxl-twins', ids=ids, fs=500, cohort_version=COHORT_VERSION, seed=0),
                            lambda: R.feature_frame(R.synthetic_twins(codes, meta.age, 500, seed=0), 500, workers, index=meta.index))
    d = R.feature_distances(real, syn)
    pd.set_option('display.max_rows', 200); pd.set_option('display.width', 200)
    log(f'feature distances, {half} half ({len(meta)} records), generator version {COHORT_VERSION}: '
        f'median |SMD| {d.smd.abs().median():.3f}, share |SMD|<0.2 {(d.smd.abs() < 0.2).mean():.2f}, '
        f'mean W/SD {d.w_over_sd.mean():.3f}')
    log(d[['mean_real', 'mean_syn', 'smd', 'w_over_sd']].round(3).to_string())
    return d


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--task', default='superdiagnostic', help="'superdiagnostic', 'rhythm' or 'both'")
    ap.add_argument('--n-syn', type=int, default=2000, help='synthetic training cohort size')
    ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--epochs-syn', type=int, default=6)
    ap.add_argument('--epochs-real', type=int, default=25)
    ap.add_argument('--inplanes', type=int, default=32, help='resnet1d_wang width (benchmark: 128)')
    ap.add_argument('--n-boot', type=int, default=1000)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--noise', type=float, default=1.0, help="the cohort's noise scale")
    ap.add_argument('--distances', action='store_true', help="also print chapter 08's feature distances")
    ap.add_argument('--half', default='eval', help="half for --distances: 'eval' (report) or 'tune' (tuning)")
    ap.add_argument('--no-train', action='store_true', help='only the distances, no TSTR/TRTR')
    ap.add_argument('--json', default=None, help='write the results here')
    a = ap.parse_args(argv)
    out = {}
    if a.distances:
        out['distances'] = distances(half=a.half).to_dict()
    if a.no_train: return out
    for task in (['superdiagnostic', 'rhythm'] if a.task == 'both' else [a.task]):
        r = run(task, a.n_syn, tuple(range(a.seeds)), a.epochs_syn, a.epochs_real, a.inplanes, a.n_boot, a.threads,
                noise=a.noise)
        print(report(r), flush=True)
        out[task] = r
    if a.json: Path(a.json).write_text(json.dumps(out, indent=1, default=float))
    return out


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()

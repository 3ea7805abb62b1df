"""Does pretraining on a large synthetic cohort help when the real training set is small?

    python bench/pretrain_synthetic.py                  # superdiagnostic, 3 seeds, 3,000 synthetic records
    python bench/pretrain_synthetic.py --seeds 5 --n-syn 8000 --epochs-pre 8   # a longer run

Two arms, trained and tested on the same real records (PTB-XL 1-500 from ../shared, split by `ecg_id` parity as in
bench/bench_tstr.py: the tuning half is the small real training set, 80/20 train/valid; the evaluation half is the
test set, touched once per model):

- **real only**: resnet1d_wang trained from scratch on the real training records;
- **synthetic pretraining + fine-tuning**: the same network first trained on a generated PTB-XL-shaped cohort (epoch
  chosen on the cohort's own validation fold, no real label involved), then fine-tuned on the same real records.

Both arms get the same real-data budget: the same epochs, optimiser, schedule, crops and batch size on the real
training set, and the epoch with the best real validation macro-AUC. Pretraining is extra compute, which is the
point. The recipe is bench_tstr's (the PTB-XL benchmark's, with a narrower network so it runs on 2 CPU cores).

Prints the test macro-AUC of each arm (mean over seeds [95% bootstrap CI over test records]), per seed, and the
paired difference (pretrained minus real only) with its bootstrap CI.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_tstr as B   # noqa: E402  (same folder)


def run(task='superdiagnostic', n_syn=3000, seeds=(0, 1, 2), epochs_pre=4, epochs_ft=25, inplanes=32, n_boot=1000,
        threads=2, syn_seed=200, workdir=None, log=print) -> dict:
    torch.set_num_threads(threads)
    log = log or (lambda *a, **k: None)
    work = Path(workdir or tempfile.mkdtemp(prefix='pretrain-'))
    X, Y, classes, ecg_id = B.load_real(task, cache=work/'cache-real')
    ev, tu = ecg_id % 2 == 1, ecg_id % 2 == 0
    (Xs, Ys), (Xsv, Ysv) = B.load_synthetic(task, n_syn, syn_seed, work, classes)
    log(f'{task}: {len(classes)} classes; real train+valid {tu.sum()} (tuning half), test {ev.sum()} (evaluation half); '
        f'synthetic pretraining {len(Xs)} train / {len(Xsv)} valid')
    Xtu, Ytu, Xev, Yev = X[tu], Y[tu], X[ev], Y[ev]
    P = {'real only': [], 'pretrained': []}
    t0 = time.time()
    for s in seeds:
        tr, va = B.split_tune(Ytu, s)
        log(f'  seed {s}: real only')
        m, (mu, sd) = B.train(Xtu[tr], Ytu[tr], Xtu[va], Ytu[va], epochs_ft, s, inplanes, log=log)
        P['real only'].append(B.predict(m, Xev, mu, sd))
        log(f'  seed {s}: pretraining on synthetic')
        m, _ = B.train(Xs, Ys, Xsv, Ysv, epochs_pre, s, inplanes, log=log)
        log(f'  seed {s}: fine-tuning on real')
        m, (mu, sd) = B.train(Xtu[tr], Ytu[tr], Xtu[va], Ytu[va], epochs_ft, s, inplanes, model=m, log=log)
        P['pretrained'].append(B.predict(m, Xev, mu, sd))
    bs = B.paired_bootstrap(Yev, P['real only'], P['pretrained'], n_boot)
    from ecgnb.metrics import macro_auc
    seed_auc = {k: [macro_auc(Yev, p, warn=False) for p in v] for k, v in P.items()}
    return dict(task=task, classes=classes, n_eval=int(ev.sum()), n_tune=int(tu.sum()), n_syn=n_syn, seeds=list(seeds),
                real_only=bs['a'], pretrained=bs['b'], diff=bs['diff'], seed_auc=seed_auc, seconds=time.time() - t0,
                settings=dict(epochs_pre=epochs_pre, epochs_ft=epochs_ft, inplanes=inplanes, n_boot=n_boot,
                              syn_seed=syn_seed))


def report(r: dict) -> str:
    f = lambda t: f'{t[0]:.3f} [{t[1]:.3f}, {t[2]:.3f}]'
    sa = r['seed_auc']
    return '\n'.join([
        f"{r['task']} macro-AUC on the real evaluation half ({r['n_eval']} records), mean of {len(r['seeds'])} seeds "
        f"[95% bootstrap CI]:",
        f"  real only (train on the {r['n_tune']}-record tuning half):   {f(r['real_only'])}  per seed "
        + ' '.join(f'{v:.3f}' for v in sa['real only']),
        f"  pretrained on {r['n_syn']} synthetic, then fine-tuned:  {f(r['pretrained'])}  per seed "
        + ' '.join(f'{v:.3f}' for v in sa['pretrained']),
        f"  difference (pretrained - real only): {f(r['diff'])}; better in "
        f"{sum(b > a for a, b in zip(sa['real only'], sa['pretrained']))} of {len(r['seeds'])} seeds",
        f"  ({r['seconds']:.0f} s; settings {r['settings']})"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--task', default='superdiagnostic')
    ap.add_argument('--n-syn', type=int, default=3000)
    ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--epochs-pre', type=int, default=4)
    ap.add_argument('--epochs-ft', type=int, default=25)
    ap.add_argument('--inplanes', type=int, default=32)
    ap.add_argument('--n-boot', type=int, default=1000)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--json', default=None)
    a = ap.parse_args(argv)
    r = run(a.task, a.n_syn, tuple(range(a.seeds)), a.epochs_pre, a.epochs_ft, a.inplanes, a.n_boot, a.threads)
    print(report(r), flush=True)
    if a.json: Path(a.json).write_text(json.dumps(r, indent=1, default=float))
    return r


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()

#!/usr/bin/env python
"""Training and inference speed of MRM-Net (and resnet1d_wang), and ecgnb's loop against the reference code's.

Prints figures; asserts nothing. Run from the repository root:

    python bench/bench_train.py                       # CPU, small sizes (a few minutes on 2 cores)
    python bench/bench_train.py --device cuda --amp   # on a GPU machine
    python bench/bench_train.py --n-train 2000 --epochs 2 --batch-size 96

What is compared (same machine, same model, same batch size, same data in memory):

* **reference loop**: what the released MRM-Net code (main_mul.py) does each epoch, re-implemented here from its
  description: train with per-record Python appends of outputs; then, for each of the two heads, sklearn AUC plus
  the sample-wise TPR/ACC/F1 computed record by record with one sklearn call per record (utils.compute_*), on the
  training outputs, the validation split and the **test split every epoch** (the test set drives model selection).
* The reference side runs the multi-kernel block as four convolutions (as released); ecgnb runs the
  mathematically identical fused 33-tap convolution (see the MRM-Net chapter).
* **ecgnb loop**: `ecgnb.train.fit`: train, then one vectorised validation pass (macro-AUC only, one sklearn call),
  checkpoints written each epoch; the test split is evaluated once after training (`ecgnb.train.test`), and that
  single test evaluation is included in the timing.
"""
import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score

from ecgnb.core import seed_everything, get_device
from ecgnb.models.mrmnet import MRMConfig, MRMNet, MultiKernelBlock, MutualLoss, mrm_logits
from ecgnb.models.baselines import get_model
from ecgnb.train import fit, test as test_split


# --- the reference code's per-record metrics, re-implemented from their description (papers.md §1.4) ----------------
def ref_tpr(y, p):
    s = 0.0
    for i in range(len(p)):
        yp = (p[i] >= 0.5).astype(int)
        x, t = confusion_matrix(y[i], yp, labels=[0, 1])[1]
        s += t / (x + t) if (x + t) else 0.0
    return s / len(p)


def ref_acc(y, p):
    c = tot = 0
    for i in range(len(p)):
        tn, fp, fn, tp = confusion_matrix(y[i], (p[i] >= 0.5).astype(int), labels=[0, 1]).ravel()
        c += tp + tn; tot += tn + fp + fn + tp
    return c / tot


def ref_f1(y, p):
    return float(np.mean([f1_score(y[i], (p[i] >= 0.5).astype(int), zero_division=0) for i in range(len(p))]))


def ref_metrics(targets, outs):
    y, p = np.array(targets), np.array(outs)
    return roc_auc_score(y, p), ref_tpr(y, p), ref_acc(y, p), ref_f1(y, p)


def ref_pass(model, dl, loss_fn, dev, opt=None):
    "One epoch (train if opt) the way the reference does it: per-record appends, then per-record metrics per head."
    model.train(opt is not None)
    o1, o2, ts = [], [], []
    with torch.set_grad_enabled(opt is not None):
        for xb, yb in dl:
            xb, yb = xb.to(dev), yb.to(dev)
            out = model(xb)
            if opt is not None:
                opt.zero_grad()
                loss, _ = loss_fn(out, yb)
                loss.backward(); opt.step()
            a, b = torch.sigmoid(out.logits_high), torch.sigmoid(out.logits_low)
            for i in range(len(yb)):
                o1.append(a[i].cpu().detach().numpy()); o2.append(b[i].cpu().detach().numpy())
                ts.append(yb[i].cpu().detach().numpy())
    return ref_metrics(ts, o1), ref_metrics(ts, o2)


def reference_loop(model, dls, epochs, lr, dev):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = MutualLoss()
    best = -1
    for _ in range(epochs):
        ref_pass(model, dls['train'], loss_fn, dev, opt)
        ref_pass(model, dls['valid'], loss_fn, dev)
        (a1, _, _, f1), (a2, _, _, f2) = ref_pass(model, dls['test'], loss_fn, dev)
        if max(a1 + f1, a2 + f2) > best:                     # selection on TEST, as released
            best = max(a1 + f1, a2 + f2)
            torch.save({'model_state_dict': model.state_dict()}, tempfile.mktemp(suffix='.pth'))


def ecgnb_loop(model, dls, epochs, lr, dev, run_dir):
    fit(model, MutualLoss(), dls['train'], dls['valid'], epochs=epochs, lr=lr, device=str(dev), run_dir=run_dir,
        predict_fn=mrm_logits, progress=False, log=None)
    test_split(model, dls['test'], dls['valid'], run_dir=run_dir, predict_fn=mrm_logits, device=str(dev))


def make_data(n_train, n_eval, K, T, batch_size, seed):
    g = torch.Generator().manual_seed(seed)
    def ds(n):
        y = (torch.rand(n, K, generator=g) < 0.3).float()
        x = torch.randn(n, 12, T, generator=g) + y[:, :1, None] * torch.sin(torch.arange(T) / 5.0)
        return TensorDataset(x, y)
    gen = torch.Generator().manual_seed(seed)
    return dict(train=DataLoader(ds(n_train), batch_size, shuffle=True, generator=gen),
                valid=DataLoader(ds(n_eval), batch_size), test=DataLoader(ds(n_eval), batch_size))


def unfuse(model):
    "Run the multi-kernel blocks as four convolutions, as the released code does (ecgnb fuses them; same function)."
    for m in model.modules():
        if isinstance(m, MultiKernelBlock): m.fused = False
    return model


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize()


def latency(model, dev, T, batch, amp, reps=10):
    x = torch.randn(batch, 12, T, device=dev)
    model.eval().to(dev)
    ctx = torch.autocast(dev.type, dtype=torch.bfloat16) if amp else torch.autocast(dev.type, enabled=False)
    with torch.no_grad(), ctx:
        for _ in range(2): model(x)
        sync(dev); t0 = time.perf_counter()
        for _ in range(reps): model(x)
        sync(dev)
    return (time.perf_counter() - t0) / reps / batch * 1000


def train_throughput(model, loss_fn, dev, T, K, batch, amp, steps=5):
    model.train().to(dev)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x, y = torch.randn(batch, 12, T, device=dev), (torch.rand(batch, K, device=dev) < .3).float()
    ctx = (lambda: torch.autocast(dev.type, dtype=torch.bfloat16)) if amp else (lambda: torch.autocast(dev.type, enabled=False))
    def step():
        with ctx():
            out = model(x)
            l = loss_fn(out, y)
            l = l[0] if isinstance(l, tuple) else l
        opt.zero_grad(); l.backward(); opt.step()
    step(); sync(dev)
    if dev.type == 'cuda': torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps): step()
    sync(dev)
    sps = steps * batch / (time.perf_counter() - t0)
    mem = torch.cuda.max_memory_allocated() / 2**20 if dev.type == 'cuda' else peak_rss_mb()
    return sps, mem


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--device', default='auto')
    ap.add_argument('--amp', action='store_true', help='bf16 autocast for the throughput/latency figures')
    ap.add_argument('--n-train', type=int, default=480)
    ap.add_argument('--n-eval', type=int, default=240, help='records in each of validation and test')
    ap.add_argument('--classes', type=int, default=71, help='71 = PTB-XL "all" task')
    ap.add_argument('--epochs', type=int, default=2)
    ap.add_argument('--batch-size', type=int, default=96)
    ap.add_argument('--T', type=int, default=1000, help='samples per record (1000 = 10 s at 100 Hz)')
    ap.add_argument('--threads', type=int, default=0, help='torch CPU threads (0 = default)')
    ap.add_argument('--skip-loops', action='store_true')
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    dev = get_device(a.device)
    print(f'device {dev} | torch {torch.__version__} | threads {torch.get_num_threads()} | batch {a.batch_size} | '
          f'T {a.T} | K {a.classes}')

    print('\n== per-model figures (synthetic input) ==')
    for name in ('mrmnet', 'mrmnet-unfused', 'resnet1d_wang'):
        seed_everything(0)
        model = get_model(name, a.classes) if name == 'resnet1d_wang' else MRMNet(MRMConfig.released(a.classes))
        if name == 'mrmnet-unfused': unfuse(model)
        loss = MutualLoss() if name.startswith('mrmnet') else (lambda out, y: nn.functional.binary_cross_entropy_with_logits(out, y))
        sps, mem = train_throughput(model, loss, dev, a.T, a.classes, a.batch_size, a.amp)
        lat1 = latency(model, dev, a.T, 1, a.amp)
        latb = latency(model, dev, a.T, a.batch_size, a.amp, reps=3)
        unit = 'peak GPU MiB' if dev.type == 'cuda' else 'peak RSS MiB'
        print(f'{name:14s} train {sps:8.1f} samples/s | inference {lat1:7.2f} ms/record (batch 1), '
              f'{latb:6.2f} ms/record (batch {a.batch_size}) | {unit} {mem:.0f}' + (' | bf16 autocast' if a.amp else ''))

    if a.skip_loops: return
    print(f'\n== end-to-end loop: {a.epochs} epochs, {a.n_train} train / {a.n_eval} valid / {a.n_eval} test records ==')
    times = {}
    for which in ('reference', 'ecgnb'):
        seed_everything(0)
        dls = make_data(a.n_train, a.n_eval, a.classes, a.T, a.batch_size, 0)
        model = MRMNet(MRMConfig.released(a.classes)).to(dev)
        if which == 'reference': unfuse(model)
        sync(dev); t0 = time.perf_counter()
        if which == 'reference': reference_loop(model, dls, a.epochs, 1e-3, dev)
        else:
            with tempfile.TemporaryDirectory() as d: ecgnb_loop(model, dls, a.epochs, 1e-3, dev, Path(d))
        sync(dev); times[which] = time.perf_counter() - t0
        n = a.epochs * a.n_train
        print(f'{which:9s} loop: {times[which]:7.1f} s  ({n / times[which]:.1f} training records/s end to end)')
    print(f"speed-up of ecgnb's loop over the reference loop: {times['reference'] / times['ecgnb']:.2f}x")


if __name__ == '__main__':
    sys.exit(main())

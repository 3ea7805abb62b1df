#!/usr/bin/env python
"""Training speed and memory of MRM-Net: ecgnb's loop against the reference code's, with the gains separated.

Prints figures; asserts nothing. Run from the repository root:

    python bench/bench_train.py                          # CPU, small sizes (several minutes on 2 busy cores)
    python bench/bench_train.py --repeats 3 --max-per-split 120 --epochs 1 --width 8   # quicker
    python bench/bench_train.py --device cuda --max-per-split 0 --epochs 2            # on a GPU machine
    python bench/bench_train.py --per-model --skip-loops --skip-memory               # model speed on random input
    python bench/bench_train.py --device cuda --gpu --amp --skip-loops --skip-memory  # GPU figures -> bench/gpu_measured.json

**Measured GPU figures.** `--gpu` (on CUDA) measures, for MRM-Net and every benchmark model at batch 96 and 128
(`--gpu-batches`), training samples/s, inference samples/s and peak GPU memory on random 10 s / 100 Hz input, and the
epoch time they imply at the paper's split sizes (data pipeline excluded), and writes them to `--gpu-json`
(default bench/gpu_measured.json, also written by scripts/gpu_smoke.sh), which `python -m ecgnb.run reproduce`
reads. Every run of this script prints those figures when the file exists, and says that the GPU times of the
reproduce table are estimates when it does not.

**Data.** Every side trains on the same split of the offline cohort (PTB-XL format, task 'all' = 71 classes by
default), read the way training reads it: `ecgnb.mrm.experiment.load_data` builds (once) and opens the on-disk
memory-mapped cache, and `LabeledECG.dataloaders` reads batches from it. So "end to end" includes reading data.

**Four timed configurations** (same model weights at start, same batches, same epochs):

| | loop | multi-kernel block |
|---|---|---|
| A | reference | four convolutions (as released) |
| B | reference | fused 33-tap convolution |
| C | ecgnb | four convolutions |
| D | ecgnb | fused 33-tap convolution (what ecgnb runs) |

* **reference loop**: what the released MRM-Net code (main_mul.py) does each epoch, re-implemented from its
  description: train with per-record Python appends of outputs; then, for each of the two heads, sklearn AUC plus
  the sample-wise TPR/ACC/F1 computed record by record (one sklearn call per record, `utils.compute_*`), on the
  training outputs, the validation split and the **test split every epoch** (the test set drives model selection,
  and a checkpoint is saved whenever the test score improves).
* **ecgnb loop**: `ecgnb.training.loop.fit` (train, one vectorised validation pass, checkpoints each epoch) followed by what
  `ecgnb.mrm.experiment.run_experiment` does once after training: `ecgnb.training.loop.evaluate_test` on the best checkpoint for each of
  the three heads (mean, high, low) with thresholds tuned on validation and a bootstrap CI (`--n-boot`, default
  1000 as in `ExperimentConfig`) for the primary head.

Figures: **loop-only gain** = A/C and B/D (same kernel on both sides), **fusion-only gain** = A/B and C/D (same
loop), **total** = A/D. Each configuration runs `--repeats` times in turn (A, B, C, D, A, B, ...) and the medians
are reported, with the spread.

**Memory.** Peak RSS of a fresh process that trains `--mem-steps` batches of MRM-Net, (i) reading batches from the
cache as ecgnb does, (ii) first loading every record of the same split into one float64 array in memory, as the
PTB-XL benchmark code (and the MRM-Net release, which reads its .npy arrays into memory) do. The difference between
the two peaks is the measured cost of the in-memory float64 copy; the README's "1/4 of a float64 array" was dtype
arithmetic, this is a measurement.
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score


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
    keep = (y.sum(0) > 0) & (y.sum(0) < len(y))          # sklearn refuses a class with one label value
    return roc_auc_score(y[:, keep], p[:, keep]), ref_tpr(y, p), ref_acc(y, p), ref_f1(y, p)


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


def reference_loop(model, dls, epochs, lr, dev, ckpt_dir: Path):
    from ecgnb.mrm.network import MutualLoss
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = MutualLoss()
    best = -1
    for _ in range(epochs):
        ref_pass(model, dls['train'], loss_fn, dev, opt)
        ref_pass(model, dls['valid'], loss_fn, dev)
        (a1, _, _, f1), (a2, _, _, f2) = ref_pass(model, dls['test'], loss_fn, dev)
        if max(a1 + f1, a2 + f2) > best:                     # selection on TEST, as released
            best = max(a1 + f1, a2 + f2)
            torch.save({'model_state_dict': model.state_dict()}, ckpt_dir/'best.pth')


def ecgnb_loop(model, dls, epochs, lr, dev, run_dir: Path, classes, n_boot: int):
    "`fit`, then the test evaluation `run_experiment` does: every head, thresholds from validation, bootstrap CI."
    from ecgnb.mrm.network import MutualLoss, mrm_logits
    from ecgnb.training.loop import fit, evaluate_test
    res = fit(model, MutualLoss(), dls['train'], dls['valid'], epochs=epochs, lr=lr, device=str(dev), run_dir=run_dir,
              predict_fn=mrm_logits, classes=classes, progress=False, log=None)
    for h in ('mean', 'high', 'low'):
        evaluate_test(model, dls['test'], dls['valid'], run_dir=run_dir if h == 'mean' else None,
                   checkpoint='best' if h == 'mean' else res.best_path, predict_fn=lambda o, h=h: mrm_logits(o, h),
                   classes=classes, n_boot=n_boot if h == 'mean' else 0, device=str(dev))


def unfuse(model):
    "Run the multi-kernel blocks as four convolutions, as the released code does (ecgnb fuses them; same function)."
    from ecgnb.mrm.network import MultiKernelBlock
    for m in model.modules():
        if isinstance(m, MultiKernelBlock): m.fused = False
    return model


def sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize()


def load(a):
    from ecgnb.mrm.experiment import ExperimentConfig, load_data
    cfg = ExperimentConfig(task=a.task, max_per_split=a.max_per_split or None, seed=0, device=a.device)
    return load_data(cfg, log=lambda *m: None)


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
            l = loss_fn(model(x), y)
            l = l[0] if isinstance(l, tuple) else l
        opt.zero_grad(); l.backward(); opt.step()
    step(); sync(dev)
    t0 = time.perf_counter()
    for _ in range(steps): step()
    sync(dev)
    return steps * batch / (time.perf_counter() - t0)


def per_model(a, dev):
    "Training samples/s and inference ms/record on random input (no data pipeline): MRM-Net fused/unfused, resnet1d_wang."
    from ecgnb.core import seed_everything
    from ecgnb.models.zoo import get_model
    from ecgnb.mrm.network import MRMConfig, MRMNet, MutualLoss
    print('\n== per-model figures (random input, no data pipeline) ==')
    for name in ('mrmnet', 'mrmnet-unfused', 'resnet1d_wang'):
        seed_everything(0)
        model = get_model(name, 71) if name == 'resnet1d_wang' else MRMNet(MRMConfig.released(71, width=a.width))
        if name == 'mrmnet-unfused': unfuse(model)
        loss = MutualLoss() if name.startswith('mrmnet') else torch.nn.BCEWithLogitsLoss()
        sps = train_throughput(model, loss, dev, 1000, 71, a.batch_size, a.amp)
        print(f'{name:14s} train {sps:8.1f} samples/s | inference {latency(model, dev, 1000, 1, a.amp):7.2f} ms/record '
              f'(batch 1), {latency(model, dev, 1000, a.batch_size, a.amp, reps=3):6.2f} ms/record (batch {a.batch_size})'
              + (' | bf16 autocast' if a.amp else ''))


CONFIGS = {'A': ('reference', False), 'B': ('reference', True), 'C': ('ecgnb', False), 'D': ('ecgnb', True)}


def time_config(name, a, data, dev, init_state):
    from ecgnb.core import seed_everything
    from ecgnb.mrm.network import MRMConfig, MRMNet
    loop, fused = CONFIGS[name]
    seed_everything(0)
    dls = data.dataloaders(batch_size=a.batch_size, seed=0, standardizer='global', check=False)
    model = MRMNet(MRMConfig.released(len(data.classes), width=a.width)).to(dev)
    model.load_state_dict(init_state)
    if not fused: unfuse(model)
    with tempfile.TemporaryDirectory() as d:                 # checkpoints of both loops are removed afterwards
        sync(dev); t0 = time.perf_counter()
        if loop == 'reference': reference_loop(model, dls, a.epochs, 1e-3, dev, Path(d))
        else: ecgnb_loop(model, dls, a.epochs, 1e-3, dev, Path(d), data.classes, a.n_boot)
        sync(dev)
        return time.perf_counter() - t0


def loops(a, dev):
    from ecgnb.core import seed_everything
    from ecgnb.mrm.network import MRMConfig, MRMNet
    data = load(a)
    n = {k: len(v) for k, v in data.splits.items()}
    print(f'\n== loops: {a.epochs} epoch(s), MRM-Net released config width {a.width}, K={len(data.classes)}, '
          f'records train/valid/test {n["train"]}/{n["valid"]}/{n["test"]}, batch {a.batch_size}, '
          f'data from the on-disk cache ({type(data.X).__name__}), {a.repeats} repeat(s) ==')
    seed_everything(0)
    init = MRMNet(MRMConfig.released(len(data.classes), width=a.width)).state_dict()
    times = {k: [] for k in CONFIGS}
    for r in range(a.repeats):
        for k in CONFIGS:
            times[k].append(time_config(k, a, data, dev, init))
            print(f'  repeat {r + 1} {k} ({CONFIGS[k][0]} loop, {"fused" if CONFIGS[k][1] else "4 convs"}): '
                  f'{times[k][-1]:.1f} s', flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, (loop, fused) in CONFIGS.items():
        print(f'{k}  {loop:9s} loop, {"fused 33-tap" if fused else "4 convolutions":14s}: median {med[k]:7.1f} s '
              f'(min {min(times[k]):.1f}, max {max(times[k]):.1f})')
    print(f"loop-only gain   (same kernel): {med['A'] / med['C']:.2f}x with 4 convolutions (A/C), "
          f"{med['B'] / med['D']:.2f}x fused (B/D)")
    print(f"fusion-only gain (same loop):   {med['A'] / med['B']:.2f}x in the reference loop (A/B), "
          f"{med['C'] / med['D']:.2f}x in ecgnb's loop (C/D)")
    print(f"total (reference as released -> ecgnb, A/D): {med['A'] / med['D']:.2f}x")
    return med


MEM_CHILD = r'''
import json, resource, sys, numpy as np, torch
a = json.loads(sys.argv[1])
torch.set_num_threads(1)
from ecgnb.mrm.experiment import ExperimentConfig, load_data
from ecgnb.mrm.network import MRMConfig, MRMNet, MutualLoss
data = load_data(ExperimentConfig(task=a['task'], max_per_split=a['max_per_split'] or None, seed=0), log=lambda *m: None)
torch.manual_seed(0)
model = MRMNet(MRMConfig.released(len(data.classes), width=a['width']))
opt, loss_fn = torch.optim.Adam(model.parameters(), 1e-3), MutualLoss()
if a['mode'] == 'float64':            # the whole split in memory as float64, then batches from it
    rows = data.splits['train']
    X = np.stack([np.asarray(data.X[r], np.float64) for r in rows]); Y = data.Y[rows].astype(np.float64)
    ds = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
    dl = torch.utils.data.DataLoader(ds, batch_size=a['batch_size'], shuffle=True)
    cast = lambda x, y: (x.float(), y.float())
else:                                 # ecgnb: batches read from the memory-mapped cache
    dl = data.dataloaders(batch_size=a['batch_size'], seed=0, check=False)['train']
    cast = lambda x, y: (x, y)
for i, (xb, yb) in enumerate(dl):
    if i >= a['steps']: break
    xb, yb = cast(xb, yb)
    opt.zero_grad(); loss_fn(model(xb), yb)[0].backward(); opt.step()
print(json.dumps(dict(peak_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      n_train=int(len(data.splits['train'])), cache=type(data.X).__name__)))
'''


def memory(a):
    print(f'\n== training-time peak RSS (fresh process each, {a.mem_steps} training step(s), width {a.width}, '
          f'batch {a.batch_size}) ==')
    out = {}
    for mode in ('ecgnb', 'float64'):
        args = json.dumps(dict(task=a.task, max_per_split=a.mem_max_per_split, width=a.width,
                               batch_size=a.batch_size, steps=a.mem_steps, mode=mode))
        r = subprocess.run([sys.executable, '-c', MEM_CHILD, args], capture_output=True, text=True, check=True)
        out[mode] = json.loads(r.stdout.strip().splitlines()[-1])
    n = out['ecgnb']['n_train']
    x64 = n * 12 * 1000 * 8 / 2**20
    print(f"ecgnb (batches from the {out['ecgnb']['cache']} cache): peak RSS {out['ecgnb']['peak_mib']:.0f} MiB")
    print(f"float64 in memory ({n} training records, {x64:.0f} MiB of float64 signals): "
          f"peak RSS {out['float64']['peak_mib']:.0f} MiB")
    print(f"measured difference: {out['float64']['peak_mib'] - out['ecgnb']['peak_mib']:.0f} MiB; "
          f"ecgnb peak / float64 peak = {out['ecgnb']['peak_mib'] / out['float64']['peak_mib']:.2f}")
    return out


GPU_MEASURED = Path(__file__).resolve().parent / 'gpu_measured.json'
GPU_MODELS = ('mrmnet', 'resnet1d_wang', 'xresnet1d101', 'inception1d', 'fcn_wang', 'lstm', 'lstm_bidir')
# training / validation records per epoch at paper size: PTB-XL strat_fold 1-8 / 9; CPSC2018 shipped folds 1-8 / 9
PAPER_SPLITS = {'ptbxl': (17418, 2183), 'cpsc2018': (5501, 688)}


def gpu_models(a, dev, batches) -> dict:
    "Per model and batch: train/inference samples/s, peak GPU memory, implied epoch time at paper size (random input)."
    from ecgnb.core import seed_everything
    from ecgnb.models.zoo import get_model
    from ecgnb.mrm.network import MRMConfig, MRMNet, MutualLoss
    out = {}
    for name in GPU_MODELS:
        out[name] = {}
        for b in batches:
            seed_everything(0)
            model = MRMNet(MRMConfig.released(71, width=16)) if name == 'mrmnet' else get_model(name, 71)
            loss = MutualLoss() if name == 'mrmnet' else torch.nn.BCEWithLogitsLoss()
            torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
            sps = train_throughput(model, loss, dev, 1000, 71, b, a.amp, steps=10)
            peak = torch.cuda.max_memory_allocated() / 2**20
            inf = 1000 / latency(model, dev, 1000, b, a.amp, reps=5)          # ms/record -> records/s
            out[name][str(b)] = dict(precision='bf16' if a.amp else 'fp32', batch_size=b,
                                     train_samples_per_s=round(sps, 1), infer_samples_per_s=round(inf, 1),
                                     peak_mib=round(peak, 1),
                                     epoch_s={d: round(nt / sps + nv / inf, 2) for d, (nt, nv) in PAPER_SPLITS.items()})
            print(f"{name:14s} batch {b:4d}: train {sps:8.0f} samples/s, inference {inf:8.0f} samples/s, peak "
                  f"{peak:7.0f} MiB, epoch {out[name][str(b)]['epoch_s']['ptbxl']:.1f} s (PTB-XL size)", flush=True)
            del model; torch.cuda.empty_cache()
    return out


def write_gpu_json(path: Path, models: dict, dev):
    doc = json.loads(path.read_text()) if path.exists() else {'schema': 1}
    doc.update(models=models, device=torch.cuda.get_device_name(dev), torch=torch.__version__, cuda=torch.version.cuda,
               models_command='python bench/bench_train.py ' + ' '.join(sys.argv[1:]))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.tmp'); tmp.write_text(json.dumps(doc, indent=1) + '\n'); tmp.replace(path)


def gpu_report(path: Path = GPU_MEASURED) -> str:
    "The measured GPU figures in `path`, or a line saying there are none (the reproduce table's GPU times are estimates)."
    if not path.exists():
        return (f'no measured GPU figures ({path.name} absent): the GPU times of `python -m ecgnb.run reproduce` are '
                'estimates; bash scripts/gpu_smoke.sh on a CUDA machine measures them')
    doc = json.loads(path.read_text())
    lines = [f"measured GPU figures ({path.name}: {doc.get('device')}, torch {doc.get('torch')}, "
             f"{doc.get('measured_at', '?')}):"]
    for name, per in sorted(doc.get('models', {}).items()):
        for b, m in sorted(per.items(), key=lambda kv: int(kv[0])):
            lines.append(f"  {name:14s} batch {b:>4s} {m.get('precision', '?'):4s}: train {m['train_samples_per_s']:8.0f} "
                         f"samples/s, peak {m['peak_mib']:7.0f} MiB, epoch {m['epoch_s']['ptbxl']:.1f} s PTB-XL / "
                         f"{m['epoch_s']['cpsc2018']:.1f} s CPSC2018 (measured)")
    for c in doc.get('checks', []):
        lines.append(f"  check {c['status']:4s} {c['name']:18s} {c['seconds']:7.1f} s  peak {c.get('peak_mib')} MiB")
    return '\n'.join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--task', default='all', help="PTB-XL task of the offline cohort ('all' = 71 classes)")
    ap.add_argument('--max-per-split', type=int, default=200, help='records per split (0 = the whole cohort split)')
    ap.add_argument('--epochs', type=int, default=1)
    ap.add_argument('--batch-size', type=int, default=32)
    ap.add_argument('--width', type=int, default=16, help='MRM-Net width (16 = as released)')
    ap.add_argument('--repeats', type=int, default=3, help='runs of each configuration (medians reported)')
    ap.add_argument('--n-boot', type=int, default=1000, help="bootstrap resamples of the test CI (ExperimentConfig's default)")
    ap.add_argument('--threads', type=int, default=1, help='torch CPU threads (0 = torch default)')
    ap.add_argument('--mem-steps', type=int, default=2, help='training steps in the memory measurement')
    ap.add_argument('--mem-max-per-split', type=int, default=0, help='records per split for the memory measurement (0 = all)')
    ap.add_argument('--per-model', action='store_true', help='also training/inference speed on random input')
    ap.add_argument('--amp', action='store_true', help='bf16 autocast for the --per-model figures')
    ap.add_argument('--skip-loops', action='store_true')
    ap.add_argument('--skip-memory', action='store_true')
    ap.add_argument('--gpu', action='store_true', help='measure per-model GPU figures at --gpu-batches (CUDA) into --gpu-json')
    ap.add_argument('--gpu-batches', default='96,128')
    ap.add_argument('--gpu-json', type=Path, default=GPU_MEASURED)
    a = ap.parse_args(argv)
    import warnings
    warnings.filterwarnings('ignore')        # tiny splits leave some classes without positives: expected here
    if a.threads: torch.set_num_threads(a.threads)
    from ecgnb.core import get_device
    dev = get_device(a.device)
    print(f'device {dev} | torch {torch.__version__} | threads {torch.get_num_threads()} | command: '
          f'python bench/bench_train.py {" ".join(argv if argv is not None else sys.argv[1:])}')
    if a.gpu:
        if dev.type != 'cuda': sys.exit('--gpu needs --device cuda on a machine with CUDA')
        print('\n== measured GPU figures per model (random input, 71 classes, 10 s at 100 Hz) ==')
        write_gpu_json(a.gpu_json, gpu_models(a, dev, [int(b) for b in a.gpu_batches.split(',')]), dev)
        print(f'written: {a.gpu_json}')
    else:
        print(gpu_report(a.gpu_json))
    if a.per_model: per_model(a, dev)
    if not a.skip_loops: loops(a, dev)
    if not a.skip_memory: memory(a)


if __name__ == '__main__':
    sys.exit(main())

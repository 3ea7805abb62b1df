#!/usr/bin/env python
"""The GPU checks of scripts/gpu_smoke.py that are Python processes (each run as its own subprocess, on CUDA):

    amp --precision bf16|fp16   MRM-Net trained 2 epochs by ecgnb's `fit` under autocast (fp16: with the GradScaler)
    ddp                         torchrun, NCCL, the trainer killed with SIGKILL after its first checkpoint, then resumed
    loaders --workers N         pinned-memory DataLoaders with worker processes vs the plain loader, samples/s
    compile                     torch.compile on MRM-Net vs eager, bf16 training steps/s (does it help?)

Each prints one line `GPU_SMOKE_RESULT {json}` (peak_mib, detail, data) and exits non-zero when the path fails.
ecgnb imports: ecgnb.training.loop (fit), ecgnb.training.predict (make_loader, dist_info), ecgnb.mrm.network (MRMConfig, MRMNet, MutualLoss,
mrm_logits).
"""
import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

MARK = 'GPU_SMOKE_RESULT '
ROOT = Path(__file__).resolve().parents[1]


def report(detail, **data):
    peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    print(MARK + json.dumps(dict(peak_mib=peak, detail=detail, data=data)), flush=True)


def toy(n, k=5, T=1000, seed=0):
    "Records with a label-dependent sine on the first leads (learnable), as CPU tensors."
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, k, generator=g) < 0.3).float()
    x = torch.randn(n, 12, T, generator=g)
    x[:, :k] += 1.5 * y[:, :, None] * torch.sin(torch.linspace(0, 20 * math.pi, T))
    return torch.utils.data.TensorDataset(x, y)


def mrmnet(k=5, width=8):
    from ecgnb.mrm.network import MRMConfig, MRMNet
    return MRMNet(MRMConfig.released(k, width=width))


def amp(a):
    from ecgnb.mrm.network import MutualLoss, mrm_logits
    from ecgnb.training.loop import fit
    from ecgnb.training.predict import make_loader
    torch.manual_seed(0)
    model = mrmnet()
    tr, va = make_loader(toy(512), 64, shuffle=True, seed=0), make_loader(toy(128, seed=1), 128)
    t0 = time.perf_counter()
    res = fit(model, MutualLoss(), tr, va, epochs=2, lr=3e-3, device='cuda', precision=a.precision, run_dir=a.out,
              predict_fn=mrm_logits, classes=list('ABCDE'), progress=False, log=None)
    secs = time.perf_counter() - t0
    losses = [h['train_loss'] for h in res.history]
    assert all(math.isfinite(l) for l in losses), f'non-finite training loss under {a.precision}: {losses}'
    assert next(model.parameters()).device.type == 'cuda'
    ck = torch.load(Path(a.out) / 'checkpoints' / 'last.pt', weights_only=True)
    scale = (ck.get('scaler') or {}).get('scale')
    if a.precision == 'fp16':
        assert scale, f'fp16 run saved no GradScaler state: {ck.get("scaler")}'
    report(f"{a.precision} autocast: loss {losses[0]:.3f} -> {losses[-1]:.3f}, valid AUC {res.history[-1]['valid_auc']:.3f}"
           + (f', GradScaler scale {scale:g}' if scale else '') + f', {2 * 512 / secs:.0f} samples/s incl. validation',
           precision=a.precision, seconds=secs)


DDP_TRAIN = r'''
import json, os, sys, time, torch
sys.path.insert(0, os.environ['GPU_SMOKE_DIR'])
from gpu_smoke_checks import toy, mrmnet
from ecgnb.mrm.network import MutualLoss, mrm_logits
from ecgnb.training.loop import fit
from ecgnb.training.predict import make_loader, dist_info
run_dir, epochs = sys.argv[1], int(sys.argv[2])
sleep = float(os.environ.get('SMOKE_SLEEP', 0))
base = MutualLoss()
def loss_fn(out, y):
    if sleep and torch.is_grad_enabled(): time.sleep(sleep)      # widen the window for the kill
    return base(out, y)
torch.manual_seed(0)
model = mrmnet()
tr, va = make_loader(toy(512), 32, shuffle=True, seed=0), make_loader(toy(101, seed=1), 64)
res = fit(model, loss_fn, tr, va, epochs=epochs, lr=3e-3, device='cuda', precision='bf16', run_dir=run_dir,
          predict_fn=mrm_logits, classes=list('ABCDE'), progress=False)
rank = dist_info()[0]
with open(os.path.join(run_dir, f'result_rank{rank}.json'), 'w') as f:
    json.dump(dict(history=res.history, resumed_from=res.resumed_from,
                   peak_mib=torch.cuda.max_memory_allocated() / 2**20, device=str(next(model.parameters()).device)), f)
'''


def ddp(a):
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    script = out / 'ddp_train.py'; script.write_text(DDP_TRAIN)
    n = min(2, torch.cuda.device_count())        # NCCL refuses two ranks on one GPU: one process per GPU
    torchrun = str(Path(sys.executable).parent / 'torchrun')
    cmd = [torchrun, '--standalone', f'--nproc_per_node={n}', str(script), str(out / 'run'), '3']
    env = dict(os.environ, GPU_SMOKE_DIR=str(Path(__file__).parent))
    env.pop('WORLD_SIZE', None)
    last = out / 'run' / 'checkpoints' / 'last.pt'
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=dict(env, SMOKE_SLEEP='0.3'), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    epoch = 0
    while time.perf_counter() - t0 < a.timeout and proc.poll() is None:
        if last.exists():
            epoch = torch.load(last, weights_only=True)['epoch']
            if epoch >= 1: break
        time.sleep(0.2)
    killed = proc.poll() is None
    if killed: os.killpg(proc.pid, signal.SIGKILL)
    first = proc.communicate()[0]
    assert killed, f'the first run ended before the kill (rc {proc.returncode}): {first[-1500:]}'
    assert 1 <= epoch < 3, f'killed at checkpoint epoch {epoch}: {first[-1500:]}'
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=a.timeout)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    assert 'resumed from' in r.stdout, r.stdout[-2000:]
    res = [json.loads((out / 'run' / f'result_rank{i}.json').read_text()) for i in range(n)]
    assert all(x['resumed_from'] >= 1 and len(x['history']) == 3 for x in res), res
    assert len({json.dumps([{k: v for k, v in h.items() if k != 'time'} for h in x['history']]) for x in res}) == 1
    ck = torch.load(last, weights_only=True)
    assert ck['epoch'] == 3 and len(ck['rng']) == n
    print(MARK + json.dumps(dict(peak_mib=max(x['peak_mib'] for x in res), detail=(
        f'torchrun {n} process(es), NCCL, bf16: killed at epoch {epoch}, resumed from {res[0]["resumed_from"]}, '
        f'3 epochs done, ranks agree' + ('' if n == 2 else ' (one GPU: 1 process; 2 need 2 GPUs)')), data=dict(nproc=n))))


def loaders(a):
    from ecgnb.training.predict import make_loader
    ds = toy(4096, T=1000)
    net = torch.nn.Conv1d(12, 32, 7, padding=3).cuda()
    out = {}
    for label, kw in (('plain', dict(num_workers=0)),
                      ('pinned', dict(num_workers=a.workers, pin_memory=True, persistent_workers=True))):
        dl = make_loader(ds, 128, shuffle=True, seed=0, **kw)
        for ep in range(2):                       # epoch 0 warms the workers; epoch 1 is timed
            torch.cuda.synchronize(); t0 = time.perf_counter(); n = 0
            for xb, yb in dl:
                xb, yb = xb.to('cuda', non_blocking=True), yb.to('cuda', non_blocking=True)
                net(xb).mean().item(); n += len(xb)
            torch.cuda.synchronize()
        assert n == len(ds)
        if kw.get('pin_memory'): assert next(iter(dl))[0].is_pinned(), 'pin_memory=True gave unpinned batches'
        out[label] = n / (time.perf_counter() - t0)
    report(f"pinned + {a.workers} workers {out['pinned']:.0f} samples/s vs plain {out['plain']:.0f} "
           f"({out['pinned'] / out['plain']:.2f}x)", samples_per_s=out)


def compile_check(a):
    from ecgnb.mrm.network import MutualLoss
    torch.manual_seed(0)
    x = torch.randn(a.batch, 12, 1000, device='cuda'); y = (torch.rand(a.batch, 71, device='cuda') < .3).float()
    loss_fn, res = MutualLoss(), {}
    for mode in ('eager', 'compiled'):
        torch.manual_seed(0)
        model = mrmnet(71, 16).cuda().train()
        fwd = torch.compile(model) if mode == 'compiled' else model
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        def step():
            with torch.autocast('cuda', dtype=torch.bfloat16):
                l = loss_fn(fwd(x), y)[0]
            opt.zero_grad(); l.backward(); opt.step()
            return l
        t0 = time.perf_counter(); step(); step(); torch.cuda.synchronize(); warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(a.steps): l = step()
        torch.cuda.synchronize()
        assert math.isfinite(l.item())
        res[mode] = dict(samples_per_s=a.steps * a.batch / (time.perf_counter() - t0), warmup_s=warm)
    sp = res['compiled']['samples_per_s'] / res['eager']['samples_per_s']
    report(f"compile {'helps' if sp > 1.05 else 'does not help'}: {sp:.2f}x ({res['eager']['samples_per_s']:.0f} -> "
           f"{res['compiled']['samples_per_s']:.0f} samples/s, batch {a.batch} bf16), compile warm-up "
           f"{res['compiled']['warmup_s']:.0f} s", speedup=sp, **res)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='check', required=True)
    p = sub.add_parser('amp'); p.add_argument('--precision', choices=['bf16', 'fp16'], required=True); p.add_argument('--out', required=True)
    p = sub.add_parser('ddp'); p.add_argument('--out', required=True); p.add_argument('--timeout', type=float, default=240)
    p = sub.add_parser('loaders'); p.add_argument('--workers', type=int, default=4)
    p = sub.add_parser('compile'); p.add_argument('--batch', type=int, default=96); p.add_argument('--steps', type=int, default=20)
    a = ap.parse_args(argv)
    if not torch.cuda.is_available(): sys.exit('no CUDA device')
    dict(amp=amp, ddp=ddp, loaders=loaders, compile=compile_check)[a.check](a)


if __name__ == '__main__':
    main()

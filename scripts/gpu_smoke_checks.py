#!/usr/bin/env python
"""The GPU checks of scripts/gpu_smoke.py that are Python processes (each run as its own subprocess, on CUDA):

    amp --precision bf16|fp16   MRM-Net trained 2 epochs by ecgnb's `fit` under autocast (fp16: with the GradScaler)
    ddp                         torchrun, NCCL: rank 0 SIGKILLs itself after the epoch-1 checkpoint, the rerun resumes
                                and must equal an uninterrupted run (1 GPU: SKIP, NCCL needs 2 processes)
    loaders --workers N         ecgnb's training loaders (cohort cache, pinned, persistent workers): N vs 0 workers, records/s
    compile                     torch.compile on MRM-Net vs eager, bf16 training steps/s (does it help?)

Each prints one line `GPU_SMOKE_RESULT {json}` (peak_mib, detail, data; status 'SKIP' when the path could not be
exercised here) and exits non-zero when the path fails.
ecgnb imports: ecgnb.training.loop (fit), ecgnb.training.predict (make_loader, dist_info), ecgnb.mrm.network (MRMConfig, MRMNet, MutualLoss,
mrm_logits).
"""
import argparse
import json
import math
import os
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
import json, os, signal, sys, time, torch
sys.path.insert(0, os.environ['GPU_SMOKE_DIR'])
from gpu_smoke_checks import toy, mrmnet
from ecgnb.mrm.network import MutualLoss, mrm_logits
from ecgnb.training.loop import fit
from ecgnb.training.predict import make_loader, dist_info
run_dir, epochs = sys.argv[1], int(sys.argv[2])
kill_after = int(os.environ.get('SMOKE_KILL_AFTER_EPOCH', 0))
def log(msg, *a, **k):                          # fit logs on rank 0 right after the epoch's checkpoint and barrier
    print(msg, *a, flush=True)
    if kill_after and msg.startswith('epoch') and int(msg.split()[1].split('/')[0]) == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)    # rank 0 dies for real; torchrun tears the other ranks down
torch.manual_seed(0)
model = mrmnet()
tr, va = make_loader(toy(512), 32, shuffle=True, seed=0), make_loader(toy(101, seed=1), 64)
res = fit(model, MutualLoss(), tr, va, epochs=epochs, lr=3e-3, device='cuda', precision='bf16', run_dir=run_dir,
          predict_fn=mrm_logits, classes=list('ABCDE'), progress=False, log=log, deterministic=True)
rank = dist_info()[0]
with open(os.path.join(run_dir, f'result_rank{rank}.json'), 'w') as f:
    json.dump(dict(history=res.history, resumed_from=res.resumed_from,
                   peak_mib=torch.cuda.max_memory_allocated() / 2**20, device=str(next(model.parameters()).device)), f)
'''


def _no_time(history):
    return [{k: v for k, v in h.items() if k != 'time'} for h in history]


def ddp_verdict(n, killed_rc, killed_epoch, results, ref, max_param_diff, tol=1e-2):
    "(status, detail) of the kill/resume check from what its runs left; raises AssertionError when resuming failed."
    assert killed_rc != 0, f'the run meant to be killed after epoch 1 finished (rc {killed_rc})'
    assert killed_epoch == 1, f'the killed run left a checkpoint of epoch {killed_epoch}, not 1'
    assert all(r['resumed_from'] == 1 for r in results), f"resumed_from {[r['resumed_from'] for r in results]}, not 1"
    assert all(len(r['history']) == len(ref['history']) for r in results), 'the resumed run did not train the remaining epochs'
    assert len({json.dumps(_no_time(r['history'])) for r in results}) == 1, 'the ranks disagree'
    la, lb = [h['train_loss'] for h in ref['history']], [h['train_loss'] for h in results[0]['history']]
    assert all(abs(a - b) <= tol * max(1.0, abs(a)) for a, b in zip(la, lb)), f'train losses {lb} vs uninterrupted {la}'
    assert max_param_diff <= tol, f'resumed weights differ from the uninterrupted run by {max_param_diff:.3g} (> {tol})'
    detail = (f'torchrun {n} process(es), bf16, deterministic: rank 0 SIGKILLed after epoch 1, resumed from 1, '
              f'{len(lb)} epochs, equal to an uninterrupted run (max weight diff {max_param_diff:.1e})')
    if n < 2: return 'SKIP', 'NCCL not exercised (1 GPU, WORLD_SIZE=1: no process group); ' + detail
    return 'PASS', 'NCCL ' + detail


def ddp(a):
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    script = out / 'ddp_train.py'; script.write_text(DDP_TRAIN)
    n = min(2, torch.cuda.device_count())        # NCCL refuses two ranks on one GPU: one process per GPU
    torchrun = str(Path(sys.executable).parent / 'torchrun')
    cmd = lambda run: [torchrun, '--standalone', f'--nproc_per_node={n}', str(script), str(run), '3']
    env = dict(os.environ, GPU_SMOKE_DIR=str(Path(__file__).parent))
    env.pop('WORLD_SIZE', None)
    run = lambda folder, **extra: subprocess.run(cmd(out / folder), env=dict(env, **extra), capture_output=True,
                                                 text=True, timeout=a.timeout)
    ref = run('ref')
    assert ref.returncode == 0, (ref.stdout + ref.stderr)[-3000:]
    first = run('run', SMOKE_KILL_AFTER_EPOCH='1')
    last = out / 'run' / 'checkpoints' / 'last.pt'
    epoch = torch.load(last, weights_only=True)['epoch'] if last.exists() else 0
    second = run('run')
    assert second.returncode == 0, (second.stdout + second.stderr)[-3000:]
    res = [json.loads((out / 'run' / f'result_rank{i}.json').read_text()) for i in range(n)]
    refres = json.loads((out / 'ref' / 'result_rank0.json').read_text())
    ca = torch.load(out / 'ref' / 'checkpoints' / 'last.pt', weights_only=True)['model']
    cb = torch.load(last, weights_only=True)['model']
    diff = max(float((ca[k].double() - cb[k].double()).abs().max()) for k in ca if ca[k].is_floating_point())
    status, detail = ddp_verdict(n, first.returncode, epoch, res, refres, diff)
    print(MARK + json.dumps(dict(peak_mib=max(x['peak_mib'] for x in res), status=status, detail=detail,
                                 data=dict(nproc=n, max_param_diff=diff))))


def loaders(a):
    "ecgnb's own training loader path (generated cohort, memory-mapped cache, `loader_kwargs`) on CUDA: 0 vs N workers."
    sys.path.insert(0, str(ROOT / 'bench'))
    from bench_loader import cohort, throughput
    from ecgnb.training.loop import loader_kwargs
    data = cohort(100)
    dl = data.dataloaders(batch_size=128, seed=0, **loader_kwargs('cuda', a.workers))['train']
    assert dl.pin_memory and dl.persistent_workers == (a.workers > 0), (dl.pin_memory, dl.persistent_workers)
    assert next(iter(dl))[0].is_pinned(), 'loader_kwargs(cuda) gave unpinned batches'
    plain, fast = (throughput(data, w, 128, 'cuda', epochs=1) for w in (0, a.workers))
    assert plain['records'] == fast['records'] == len(data.splits['train'])
    report(f"ecgnb loader, 100 Hz cohort, pinned: {a.workers} workers {fast['records_per_s']:.0f} records/s vs 0 workers "
           f"{plain['records_per_s']:.0f} ({fast['records_per_s'] / plain['records_per_s']:.2f}x)",
           records_per_s=dict(workers0=plain['records_per_s'], **{f'workers{a.workers}': fast['records_per_s']}))


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

"""ecgnb.training.loop end to end in real processes (things a notebook cannot test well).

* test_sigkill_resume_is_exact: a training process killed with SIGKILL after its epoch-2 checkpoint, then rerun with
  the same call, ends with exactly the history, weights and optimizer state of an uninterrupted run.
* test_ddp_rank_killed_then_resumed: under torchrun with 2 CPU processes (gloo), rank 0 SIGKILLs itself right after
  the epoch-1 checkpoint, torchrun tears the other rank down, the rerun resumes from epoch 1, trains the remaining
  epochs and ends with exactly the history and weights of an uninterrupted 2-process run.
* test_ddp_two_cpu_processes: `torchrun --nproc_per_node=2` on CPU (gloo): DistributedDataParallel, DistributedSampler,
  rank-0-only checkpoints, validation predictions gathered across processes (odd-sized validation set, so the sampler
  pads) give the same AUC as a single-process evaluation of the saved weights.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

COMMON = textwrap.dedent('''
    import math
    import torch
    from torch import nn
    from torch.utils.data import TensorDataset

    def toy(n, seed):
        g = torch.Generator().manual_seed(seed)
        y = (torch.rand(n, 3, generator=g) < 0.4).float()
        x = torch.randn(n, 12, 100, generator=g)
        x[:, :3] += 1.5 * y[:, :, None] * torch.sin(torch.linspace(0, 20 * math.pi, 100))
        return TensorDataset(x, y)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv1d(12, 8, 7, padding=3), nn.ReLU(), nn.Dropout(0.2),
                                      nn.AdaptiveAvgPool1d(1), nn.Flatten())
            self.head = nn.Linear(8, 3)
        def forward(self, x): return self.head(self.body(x))
''')

SCRIPT = COMMON + textwrap.dedent('''
    import json, os, signal, sys, time
    from ecgnb.core import headless_threads
    headless_threads(1)                         # bitwise reproducible CPU kernels
    from ecgnb.training.loop import fit, make_loader, dist_info

    run_dir, epochs, n_valid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sleep = float(os.environ.get('TEST_SLEEP', 0))
    bce = nn.BCEWithLogitsLoss()
    kill_after = int(os.environ.get('TEST_KILL_AFTER_EPOCH', 0))
    def log(msg, *a, **k):                      # fit logs (rank 0) right after the epoch's checkpoint and the barrier
        print(msg, *a, flush=True)
        if kill_after and msg.startswith('epoch') and int(msg.split()[1].split('/')[0]) == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)    # rank 0 dies for real; torchrun tears the other rank down
    def loss_fn(out, y):
        if sleep and torch.is_grad_enabled(): time.sleep(sleep)   # widen the window for the kill
        return bce(out, y)
    torch.manual_seed(0)
    model = Net()
    train_dl = make_loader(toy(256, 0), 32, shuffle=True, seed=0)
    valid_dl = make_loader(toy(n_valid, 1), 64)
    res = fit(model, loss_fn, train_dl, valid_dl, epochs=epochs, lr=1e-2, scheduler='cosine', seed=0,
              run_dir=run_dir, config={'test': 'resume'}, classes=['A', 'B', 'C'], progress=False, log=log)
    rank = dist_info()[0]
    with open(os.path.join(run_dir, f'result_rank{rank}.json'), 'w') as f:
        json.dump(dict(history=res.history, best_epoch=res.best_epoch, resumed_from=res.resumed_from), f)
''')

ROOT = Path(__file__).resolve().parents[1]


def _env(**extra):
    env = dict(os.environ, OMP_NUM_THREADS='1', ECGNB_PROGRESS='0', PYTHONPATH=str(ROOT), **extra)
    env.pop('WORLD_SIZE', None)
    return env


def _no_time(history):
    return [{k: v for k, v in row.items() if k != 'time'} for row in history]


def _load(path):
    return torch.load(path, weights_only=True)


def test_sigkill_resume_is_exact(tmp_path):
    script = tmp_path / 'train.py'
    script.write_text(SCRIPT)
    ref, killed = tmp_path / 'ref', tmp_path / 'killed'
    ref.mkdir(); killed.mkdir()

    out = subprocess.run([sys.executable, str(script), str(ref), '4', '128'], env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]

    # start the same run, kill -9 it once the epoch-2 checkpoint exists (while epoch 3 is running)
    last = killed / 'checkpoints' / 'last.pt'
    proc = subprocess.Popen([sys.executable, str(script), str(killed), '4', '128'], env=_env(TEST_SLEEP='0.05'),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0, epoch = time.time(), 0
    try:
        while time.time() - t0 < 240:
            if last.exists():
                epoch = _load(last)['epoch']          # atomic writes: always a complete file
                if epoch >= 2: break
            if proc.poll() is not None: break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f'process ended before the kill: {proc.stderr.read()[-2000:]}'
    assert 2 <= epoch < 4, epoch
    assert _load(last)['epoch'] < 4               # the kill interrupted training

    out = subprocess.run([sys.executable, str(script), str(killed), '4', '128'], env=_env(), capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'resumed from' in out.stdout, out.stdout
    a = json.loads((ref / 'result_rank0.json').read_text())
    b = json.loads((killed / 'result_rank0.json').read_text())
    assert b['resumed_from'] >= 2 and a['resumed_from'] == 0
    assert _no_time(b['history']) == _no_time(a['history'])          # exact, not approximate
    assert b['best_epoch'] == a['best_epoch']
    for name in ('last.pt', 'best.pt'):
        ca, cb = _load(ref / 'checkpoints' / name), _load(killed / 'checkpoints' / name)
        assert ca['epoch'] == cb['epoch']
        for k in ca['model']:
            assert torch.equal(ca['model'][k], cb['model'][k]), (name, k)
        for i, st in ca['optimizer']['state'].items():
            for k, v in st.items():
                assert torch.equal(v, cb['optimizer']['state'][i][k]), (name, i, k)
        assert ca['scheduler'] == cb['scheduler']
    assert not list((killed / 'checkpoints').glob('.*.tmp'))          # stale temp files were cleaned up


def test_ddp_two_cpu_processes(tmp_path):
    torchrun = shutil.which('torchrun') or str(Path(sys.executable).parent / 'torchrun')
    if not Path(torchrun).exists(): pytest.skip('torchrun not found')
    script = tmp_path / 'train.py'
    script.write_text(SCRIPT)
    run = tmp_path / 'ddp'
    run.mkdir()
    out = subprocess.run([torchrun, '--standalone', '--nproc_per_node=2', str(script), str(run), '2', '101'],
                         env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, (out.stdout[-2000:], out.stderr[-4000:])
    r0 = json.loads((run / 'result_rank0.json').read_text())
    r1 = json.loads((run / 'result_rank1.json').read_text())
    # both processes saw the same (gathered) validation metrics and took the same decisions
    assert _no_time(r0['history']) == _no_time(r1['history'])
    assert r0['best_epoch'] == r1['best_epoch']
    ck = _load(run / 'checkpoints' / 'last.pt')
    assert ck['epoch'] == 2 and len(ck['rng']) == 2                  # one random state per process
    assert sorted(p.name for p in (run / 'checkpoints').iterdir()) == ['best.pt', 'last.pt']
    # the gathered validation AUC equals a single-process evaluation of the saved weights on all 101 records
    from ecgnb.training.loop import evaluate_split, load_checkpoint, make_loader
    from ecgnb.metrics import macro_auc
    ns = {}
    exec(COMMON, ns)
    model = ns['Net']()
    load_checkpoint(run / 'checkpoints' / 'last.pt', model)
    y, p = evaluate_split(model, make_loader(ns['toy'](101, 1), 64, distributed=False))
    assert len(y) == 101
    assert abs(macro_auc(y, p) - ck['history'][-1]['valid_auc']) < 1e-9


def _torchrun():
    torchrun = shutil.which('torchrun') or str(Path(sys.executable).parent / 'torchrun')
    if not Path(torchrun).exists(): pytest.skip('torchrun not found')
    return torchrun


def test_ddp_rank_killed_then_resumed(tmp_path):
    script = tmp_path / 'train.py'
    script.write_text(SCRIPT)
    ref, killed = tmp_path / 'ref', tmp_path / 'killed'
    ref.mkdir(); killed.mkdir()
    cmd = lambda run: [_torchrun(), '--standalone', '--nproc_per_node=2', str(script), str(run), '3', '101']
    out = subprocess.run(cmd(ref), env=_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    first = subprocess.run(cmd(killed), env=_env(TEST_KILL_AFTER_EPOCH='1'), capture_output=True, text=True, timeout=300)
    assert first.returncode != 0, 'the killed run finished: ' + first.stdout[-2000:]
    assert _load(killed / 'checkpoints' / 'last.pt')['epoch'] == 1          # died right after the epoch-1 checkpoint
    assert not (killed / 'result_rank1.json').exists()                      # the other rank did not finish either
    second = subprocess.run(cmd(killed), env=_env(), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    res = [json.loads((killed / f'result_rank{i}.json').read_text()) for i in (0, 1)]
    a = json.loads((ref / 'result_rank0.json').read_text())
    assert [r['resumed_from'] for r in res] == [1, 1] and a['resumed_from'] == 0
    assert _no_time(res[0]['history']) == _no_time(res[1]['history']) == _no_time(a['history'])   # 2 more epochs, same numbers
    ca, cb = _load(ref / 'checkpoints' / 'last.pt'), _load(killed / 'checkpoints' / 'last.pt')
    assert ca['epoch'] == cb['epoch'] == 3 and len(cb['rng']) == 2
    for k in ca['model']: assert torch.equal(ca['model'][k], cb['model'][k]), k


# ---- fit on a GPU machine: device per rank, the loss on the device, determinism, TensorBoard (checked on CPU)
def _toy_loaders():
    ns = {}
    exec(COMMON, ns)
    from ecgnb.training.loop import make_loader
    return ns, make_loader(ns['toy'](64, 0), 32, shuffle=True, seed=0), make_loader(ns['toy'](40, 1), 64)


def test_resolve_device_gives_each_rank_its_gpu(monkeypatch):
    from ecgnb.training import loop
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setenv('WORLD_SIZE', '2'); monkeypatch.setenv('RANK', '1'); monkeypatch.setenv('LOCAL_RANK', '1')
    for asked in ('cuda:0', 'cuda', 'auto', torch.device('cuda', 0)):
        assert loop.resolve_device(asked) == torch.device('cuda', 1), asked
    assert loop.resolve_device('cpu') == torch.device('cpu')
    assert loop.resolve_device('cuda:0', distributed=False) == torch.device('cuda', 0)
    monkeypatch.setenv('WORLD_SIZE', '1'); monkeypatch.setenv('LOCAL_RANK', '0')
    assert loop.resolve_device('cuda:0') == torch.device('cuda', 0)


def test_loader_kwargs_pin_on_cuda_and_keep_workers(monkeypatch):
    from ecgnb.training.loop import loader_kwargs
    assert loader_kwargs('cpu', 0) == dict(num_workers=0, pin_memory=False, persistent_workers=False)
    assert loader_kwargs('cpu', 2)['persistent_workers'] is True
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert loader_kwargs('cuda', 4) == dict(num_workers=4, pin_memory=True, persistent_workers=True)
    with pytest.raises(ValueError, match='num_workers'): loader_kwargs('cpu', -1)


def test_fit_moves_the_loss_module_to_the_device():
    "A loss with a buffer (BCE pos_weight) follows the model to fit's device (here the CPU: the move is recorded)."
    from ecgnb.training.loop import fit
    ns, tr, va = _toy_loaders()
    moved = []
    class Spy(torch.nn.BCEWithLogitsLoss):
        def to(self, *a, **k):
            moved.append(a); return super().to(*a, **k)
    loss = Spy(pos_weight=torch.full((3,), 2.0))
    fit(ns['Net'](), loss, tr, va, epochs=1, device='cpu', progress=False, log=None)
    assert moved == [(torch.device('cpu'),)]
    from ecgnb.mrm.losses import MutualLoss
    assert MutualLoss(pos_weight=torch.ones(3)).double().bce.pos_weight.dtype == torch.float64   # a buffer: it moves


def test_fit_deterministic_switches_on_for_the_call_only():
    from ecgnb.training.loop import fit
    ns, tr, va = _toy_loaders()
    seen, bce = [], torch.nn.BCEWithLogitsLoss()
    def loss(out, y):
        seen.append((torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
                     os.environ.get('CUBLAS_WORKSPACE_CONFIG')))
        return bce(out, y)
    before = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark, os.environ.get('CUBLAS_WORKSPACE_CONFIG')
    fit(ns['Net'](), loss, tr, va, epochs=1, device='cpu', progress=False, log=None, deterministic=True)
    assert seen and all(s[0] and s[1] and s[2] for s in seen)
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
            os.environ.get('CUBLAS_WORKSPACE_CONFIG')) == before
    seen.clear()
    fit(ns['Net'](), loss, tr, va, epochs=1, device='cpu', progress=False, log=None)
    assert not any(s[0] for s in seen)


def test_fit_writes_tensorboard_events_beside_history(tmp_path):
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from ecgnb.training.loop import fit
    ns, tr, va = _toy_loaders()
    fit(ns['Net'](), torch.nn.BCEWithLogitsLoss(), tr, va, epochs=2, device='cpu', run_dir=tmp_path, progress=False, log=None)
    assert (tmp_path / 'history.csv').exists() and list((tmp_path / 'tensorboard').glob('events.out.tfevents.*'))
    ea = EventAccumulator(str(tmp_path / 'tensorboard')); ea.Reload()
    assert {'train_loss', 'valid_loss', 'valid_auc'} <= set(ea.Tags()['scalars'])
    assert [e.step for e in ea.Scalars('valid_auc')] == [1, 2]

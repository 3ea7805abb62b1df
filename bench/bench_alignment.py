#!/usr/bin/env python
"""Cost of PEACE's text side: step time and peak memory of aligned vs ECG-only training of the same backbone and batch.

Run from the repository root:

    python bench/bench_alignment.py                                   # resnet1d_wang, batch 64, 10 s at 100 Hz, CPU
    python bench/bench_alignment.py --backbone mrmnet --batch 32 --device cuda --reps 50

Configurations (same backbone, same random batch, same label density, one full training step each: forward, loss,
backward, Adam step):

* `zoo`       the backbone's own zoo model (concat-pooling head) with BCE: the published classifier, for reference;
* `ecg_only`  `PEACEModel` without a text branch (learned label queries), BCE: the ECG-only LQN;
* `aligned`   `PEACEModel` with descriptor embeddings: knowledge composed from the labels and injected into the LQN's
              memory (every record, the costly case), text projection, LSBC weighted by a constant λ.

Descriptor embeddings are the shipped asset (precomputed; no text encoder in the loop). The step times are measured
interleaved (zoo, ecg_only, aligned, zoo, ...) so that background load hits all configurations alike; the median is
reported. Peak memory is measured per configuration in a fresh subprocess: CUDA `max_memory_allocated`, or on CPU the
growth of the process's peak resident set (VmHWM) over its size before the first step, with glibc told to serve large
blocks by mmap and return them at once (so the figure tracks live tensors rather than allocator caching; still coarser
than the CUDA figure). The target of issue 10 is
aligned / ecg_only <= 1.25 in step time.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

CONFIGS = ('zoo', 'ecg_only', 'aligned')


def _rss_kb(field='VmRSS'):
    try:
        for line in open('/proc/self/status'):
            if line.startswith(field): return int(line.split()[1])
    except OSError: pass
    return 0


def build(config, a, classes):
    from ecgnb.models.zoo import get_model
    from ecgnb.peace.lqn import build_peace_model
    from ecgnb.peace.alignment import PEACELoss
    from ecgnb.peace.text import label_embeddings
    kw = json.loads(a.backbone_kwargs)
    K = len(classes)
    if config == 'zoo':
        model = get_model(a.backbone, K, **kw) if a.backbone != 'mrmnet' else None
        if model is None:
            from ecgnb.mrm.network import MRMNet, MRMConfig
            model = MRMNet(MRMConfig(n_classes=K, fusion='add', **kw))
            return model, (lambda out, y: torch.nn.functional.binary_cross_entropy_with_logits(out.logits_fused, y)), False
        return model, torch.nn.BCEWithLogitsLoss(), False
    if config == 'ecg_only':
        return build_peace_model(a.backbone, n_labels=K, backbone_kwargs=kw), PEACELoss(lam_max=0.0), False
    E = torch.as_tensor(label_embeddings(classes))
    model = build_peace_model(a.backbone, label_emb=E, knowledge_p=1.0, knowledge_schedule='constant',
                              normal_index=classes.index('NORM'), backbone_kwargs=kw, total_steps=10 ** 9)
    return model, PEACELoss(lam_max=0.5, mode='constant'), True


def batch(a, K, dev):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(a.batch, 12, a.n_samples, generator=g)
    y = (torch.rand(a.batch, K, generator=g) < a.density).float()
    return x.to(dev), y.to(dev)


def stepper(config, a, classes, dev):
    model, loss_fn, with_labels = build(config, a, classes)
    model.to(dev).train()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    x, y = batch(a, len(classes), dev)
    def step():
        out = model((x, y)) if with_labels else model(x)
        res = loss_fn(out, y)
        loss = res[0] if isinstance(res, tuple) else res
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model, step


def sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize()


def memory_probe(config, a, classes, dev):
    "Run in a fresh process: peak memory of training steps of one configuration (bytes)."
    model, step = stepper(config, a, classes, dev)
    if dev.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
        for _ in range(3): step()
        sync(dev)
        return dict(config=config, peak_bytes=torch.cuda.max_memory_allocated() - base, kind='cuda max_memory_allocated - before')
    base = _rss_kb('VmRSS')
    for _ in range(3): step()
    return dict(config=config, peak_bytes=(_rss_kb('VmHWM') - base) * 1024, kind='CPU peak RSS growth (VmHWM - RSS before)')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--backbone', default='resnet1d_wang')
    ap.add_argument('--backbone-kwargs', default='{}', help='JSON, e.g. \'{"inplanes": 64}\'')
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--n-samples', type=int, default=1000, help='samples per lead (1000 = 10 s at 100 Hz)')
    ap.add_argument('--n-classes', type=int, default=22, help='number of shared labels (the first K with NORM)')
    ap.add_argument('--density', type=float, default=0.12, help='fraction of positive labels per record')
    ap.add_argument('--reps', type=int, default=10, help='timed steps per configuration (after 2 warm-up steps)')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--threads', type=int, default=0, help='torch CPU threads (0 = torch default)')
    ap.add_argument('--no-memory', action='store_true', help='skip the memory subprocesses')
    ap.add_argument('--probe', default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    from ecgnb.data.labels import all_labels
    labels = all_labels()
    classes = ['NORM'] + [l for l in labels if l != 'NORM'][:a.n_classes - 1]
    dev = torch.device(a.device)
    if a.probe:
        print(json.dumps(memory_probe(a.probe, a, classes, dev)))
        return
    torch.manual_seed(0)
    steps = {c: stepper(c, a, classes, dev) for c in CONFIGS}
    params = {c: sum(p.numel() for p in m.parameters()) for c, (m, _) in steps.items()}
    for c in CONFIGS:
        for _ in range(2): steps[c][1]()
    times = {c: [] for c in CONFIGS}
    for _ in range(a.reps):
        for c in CONFIGS:
            sync(dev); t = time.perf_counter(); steps[c][1](); sync(dev)
            times[c].append(time.perf_counter() - t)
    med = {c: statistics.median(v) for c, v in times.items()}
    mem = {}
    if not a.no_memory:
        for c in CONFIGS:
            cmd = [sys.executable, __file__, '--probe', c] + [x for x in (argv if argv is not None else sys.argv[1:])]
            # large blocks straight from mmap and returned at once: the peak RSS then tracks live tensors, not allocator caching
            env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='65536', MALLOC_TRIM_THRESHOLD_='0')
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout.strip().splitlines()[-1]
            mem[c] = json.loads(out)
    print(f'backbone {a.backbone} {a.backbone_kwargs} | batch {a.batch} x 12 x {a.n_samples} | K {len(classes)} | '
          f'device {dev} | torch threads {torch.get_num_threads()} | cpus {os.cpu_count()} | reps {a.reps}')
    print(f'{"config":<10} {"params":>10} {"step ms (median)":>17} {"IQR ms":>14} {"vs ecg_only":>12} {"peak MB":>9}')
    for c in CONFIGS:
        q1, q3 = np.percentile(times[c], [25, 75]) * 1000
        pm = f'{mem[c]["peak_bytes"] / 2**20:9.1f}' if c in mem else f'{"-":>9}'
        print(f'{c:<10} {params[c]:>10,} {med[c] * 1000:>17.1f} {f"{q1:.0f}-{q3:.0f}":>14} {med[c] / med["ecg_only"]:>12.3f} {pm}')
    ratio = med['aligned'] / med['ecg_only']
    print(f'text side adds {100 * (ratio - 1):+.1f}% step time to the ECG-only LQN (target <= +25%): '
          f'{"PASS" if ratio <= 1.25 else "FAIL"}' + (f'; memory kind: {mem["aligned"]["kind"]}' if mem else ''))
    return dict(median_s=med, params=params, memory=mem, ratio=ratio)


if __name__ == '__main__':
    main()

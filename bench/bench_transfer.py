"""Cost of the adult -> pediatric transfer experiments (issue 11) on CPU.

1. One protocol cell at the CI size (one method, one setting, one seed; the defaults of notebook 41): wall time and
   peak resident memory, measured in a fresh child process per cell so the peaks do not mix.
2. Per-epoch time at paper size on CPU (resnet1d_wang at its full width 128, LQN d_model 128, batch 64, 10 s at
   100 Hz), extrapolated from timed training steps to PTB-XL's training split (17,441 records) and ZZU-pECG's
   (about 11,350 records = 80 % of 14,190).
3. Step-time overhead of DANN, MMD and PEACE over plain fine-tuning, same backbone and batch.

Prints figures; asserts nothing.  Usage:
    python bench/bench_transfer.py [--threads 2] [--steps 6] [--cells finetune:10-shot,peace:full] [--skip-cells]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

N_PTBXL_TRAIN, N_ZZU_TRAIN = 17441, 11352


def cell(method: str, setting: str, threads: int) -> dict:
    "Run one protocol cell in this process; return wall time and peak RSS."
    import torch
    torch.set_num_threads(threads)
    from ecgnb.peace.runner import TransferConfig, prepare_data, run_transfer
    cfg = TransferConfig(methods=(method,), settings=(setting,), seeds=(0,))     # notebook 41's defaults
    t0, c0 = time.time(), time.process_time()
    data = prepare_data(cfg, log=lambda *a: None)
    t_data = time.time() - t0
    res = run_transfer(cfg, data, progress=False, log=None)
    return dict(method=method, setting=setting, wall_s=round(time.time() - t0, 1), data_s=round(t_data, 1),
                cpu_s=round(time.process_time() - c0, 1),
                auc=round(float(res.runs.auc.iloc[0]), 3),
                peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))


def step_times(threads: int, steps: int, width: int = 128, d_model: int = 128, batch: int = 64, T: int = 1000) -> dict:
    "Seconds per training step of plain fine-tuning, DANN, MMD and PEACE at paper size (same backbone and batch)."
    import numpy as np
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    from ecgnb.peace.baselines import DomainHead, bce_loss, dann_loss, mk_mmd
    from ecgnb.peace.methods import build_transfer_model, stage_loss
    K = 9
    g = torch.Generator().manual_seed(0)
    E = F.normalize(torch.randn(K, 3, 384, generator=g), dim=-1)
    x = torch.randn(batch, 12, T, generator=g)
    y = (torch.rand(batch, K, generator=g) < 0.2).float()

    def timed(fn, model, params):
        opt = torch.optim.Adam(params, 1e-3)
        model.train()
        for i in range(steps + 1):
            if i == 1: t0, c0 = time.perf_counter(), time.process_time()
            loss = fn()
            opt.zero_grad(); loss.backward(); opt.step()
        return (time.perf_counter() - t0) / steps, (time.process_time() - c0) / steps

    out = {}
    torch.manual_seed(0)
    m = build_transfer_model('finetune', K, width=width)
    out['finetune'] = timed(lambda: bce_loss(m(x), y), m, m.parameters())
    head = DomainHead(m.backbone.dim)
    xs, xu = torch.randn_like(x), torch.randn_like(x)

    def joint(align):
        o = m(torch.cat([x, xs, xu]))
        cls = bce_loss(o.logits[:batch], y) + bce_loss(o.logits[batch:2 * batch], y)
        f_s, f_u = o.features[batch:2 * batch], o.features[2 * batch:]
        return cls + (dann_loss(head, f_s, f_u, 0.5) if align == 'dann' else mk_mmd(f_s, f_u))
    out['dann'] = timed(lambda: joint('dann'), m, list(m.parameters()) + list(head.parameters()))
    out['mmd'] = timed(lambda: joint('mmd'), m, m.parameters())
    p = build_transfer_model('peace', K, E, width=width, d_model=d_model, d_proj=128, normal_index=0)
    p.total_steps = 10 * steps
    loss = stage_loss('peace', 'source')
    out['peace'] = timed(lambda: loss(p((x, y)), y)[0], p, p.parameters())
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--steps', type=int, default=6, help='timed steps per method at paper size')
    ap.add_argument('--cells', default='finetune:10-shot,dann:10-shot,peace:full',
                    help='method:setting pairs timed at the CI size, each in its own process')
    ap.add_argument('--skip-cells', action='store_true')
    ap.add_argument('--child', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        method, setting = a.child.split(':')
        print(json.dumps(cell(method, setting, a.threads)))
        return
    import torch
    print(f'torch {torch.__version__}, {a.threads} thread(s), CPU')
    if not a.skip_cells:
        print('\n1. One protocol cell at the CI size (notebook 41 defaults: width 16, 6 + 5 epochs, batch 64)')
        for c in a.cells.split(','):
            r = subprocess.run([sys.executable, __file__, '--child', c, '--threads', str(a.threads)], capture_output=True,
                               text=True, env={**os.environ, 'ECGNB_PROGRESS': '0'})
            if r.returncode: print(f'   {c}: FAILED\n{r.stderr[-2000:]}'); continue
            d = json.loads(r.stdout.strip().splitlines()[-1])
            print(f"   {d['method']:>9} {d['setting']:>8}: {d['wall_s']:6.1f} s wall, {d['cpu_s']:6.1f} s CPU (data {d['data_s']} s wall), "
                  f"peak RSS {d['peak_rss_mb']:.0f} MB, test AUC {d['auc']}")
    print(f'\n2./3. Paper size on CPU: resnet1d_wang width 128, LQN d_model 128, batch 64, 12 x 1000 samples ({a.steps} timed steps)')
    st = step_times(a.threads, a.steps)
    base = st['finetune'][1]
    for k, (v, c) in st.items():
        ep_src, ep_tgt = c * N_PTBXL_TRAIN / 64, c * N_ZZU_TRAIN / 64
        print(f'   {k:>9}: {v * 1000:7.0f} ms/step wall, {c * 1000:7.0f} ms CPU ({c / base:4.2f}x fine-tune, CPU); one epoch '
              f'over PTB-XL train {ep_src / 60:5.1f} CPU-min, over ZZU-pECG train {ep_tgt / 60:5.1f} CPU-min')
    print('   (CPU time per step = wall time of an idle machine at 1 thread; wall time is shown to expose contention)')
    print('   (DANN/MMD steps forward 3 batches: target shots + source + unlabelled target; PEACE adds the LQN and LSBC)')


if __name__ == '__main__':
    main()

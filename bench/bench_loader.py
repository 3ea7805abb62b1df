#!/usr/bin/env python
"""Loader-only throughput of ecgnb's training data path: records/s from the on-disk cache, no model.

Run from the repository root:

    python bench/bench_loader.py                          # 100 Hz and 500 Hz, 0/2/4 workers, batch 96, CPU
    python bench/bench_loader.py --fs 100 --workers 0,4 --device cuda --json out.json

The data are the generated offline PTB-XL cohort (`ecgnb.data.synthetic.default_cohort`, 2,000 records of 10 s;
the 500 Hz cohort is generated on first use), read through `ecgnb.data.ptbxl.load_ptbxl`'s memory-mapped cache and
`LabeledECG.dataloaders` with `ecgnb.training.loop.loader_kwargs` (what `run_experiment` and the PEACE stages use:
pinned memory on CUDA, persistent workers). One warm-up epoch starts the workers and pages the cache in; the next
`--epochs` passes over the training split are timed (every batch is moved to `--device`, non-blocking when pinned).
An H100 trains MRM-Net at several thousand records/s at 100 Hz (see bench/bench_train.py), so a loader below that
figure would starve it.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def cohort(fs: int):
    "The generated PTB-XL cohort at `fs` as a `LabeledECG` (cache built on first use)."
    from ecgnb.data.ptbxl import load_ptbxl
    from ecgnb.data.synthetic import default_cohort
    return load_ptbxl(default_cohort(ptbxl_records500=fs == 500)['ptbxl'], 'superdiagnostic', fs=fs)


def throughput(data, workers: int, batch: int, device: str = 'cpu', epochs: int = 2) -> dict:
    "Records/s over `epochs` timed passes of the training loader (after one warm-up pass)."
    import torch
    from ecgnb.training.loop import loader_kwargs
    kw = loader_kwargs(device, workers)
    dl = data.dataloaders(batch_size=batch, seed=0, standardizer='global', **kw)['train']
    dev = torch.device(device)
    def one_pass():
        n = 0
        for xb, yb in dl:
            xb = xb.to(dev, non_blocking=kw['pin_memory']); n += len(xb)
        if dev.type == 'cuda': torch.cuda.synchronize()
        return n
    one_pass()                                            # warm-up: workers start, cache pages come in
    t0 = time.perf_counter(); n = sum(one_pass() for _ in range(epochs)); secs = time.perf_counter() - t0
    return dict(fs=data.fs, workers=workers, batch=batch, device=device, pinned=kw['pin_memory'],
                records=n, seconds=round(secs, 3), records_per_s=round(n / secs, 1))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--fs', default='100,500', help='sampling rates, comma-separated (100 and/or 500)')
    ap.add_argument('--workers', default='0,2,4', help='DataLoader worker counts, comma-separated')
    ap.add_argument('--batch', type=int, default=96)
    ap.add_argument('--epochs', type=int, default=2, help='timed passes over the training split')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--json', help='also write the rows to this JSON file')
    a = ap.parse_args(argv)
    rows = []
    for fs in [int(f) for f in a.fs.split(',')]:
        data = cohort(fs)
        for w in [int(w) for w in a.workers.split(',')]:
            r = throughput(data, w, a.batch, a.device, a.epochs)
            rows.append(r)
            print(f"{fs:>3} Hz  {w} workers  batch {a.batch}  {a.device}{' pinned' if r['pinned'] else ''}: "
                  f"{r['records_per_s']:>8.0f} records/s ({r['records']} records in {r['seconds']:.2f} s)", flush=True)
    if a.json: Path(a.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == '__main__':
    main()

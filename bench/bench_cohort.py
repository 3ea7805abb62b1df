"""Time the synthetic-cohort generator (ecgnb.data.synth_cohorts, ecgnb.data.synth_zzu) on a full-size cohort.

    python bench/bench_cohort.py                       # PTB-XL-sized: 21,837 records, records100 only, 2 workers
    python bench/bench_cohort.py --records500          # also records500 (100 Hz decimated from 500 Hz, as PTB-XL)
    python bench/bench_cohort.py --dataset zzu --n 14190 --workers 2
    python bench/bench_cohort.py --n 2000 --read       # then read it back through ecgnb.data.ptbxl.load_ptbxl

Prints generation + write time, records per second and the size on disk. The cohort is written to a temporary
folder that is deleted afterwards unless --out is given.
"""
import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob('*') if f.is_file())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--dataset', choices=['ptbxl', 'zzu', 'cpsc2018'], default='ptbxl')
    ap.add_argument('--n', type=int, default=None, help='records (default: the real dataset size)')
    ap.add_argument('--records500', action='store_true', help='PTB-XL: also write records500')
    ap.add_argument('--max-seconds', type=float, default=None, help='ZZU/CPSC: cap record length')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default=None, help='keep the cohort in this folder')
    ap.add_argument('--read', action='store_true', help='also time reading it back with the real loader')
    a = ap.parse_args(argv)
    from ecgnb.data.synth_cohorts import make_ptbxl_cohort, make_cpsc2018_cohort
    from ecgnb.data.synth_zzu import make_zzu_cohort
    n = a.n or dict(ptbxl=21837, zzu=14190, cpsc2018=6877)[a.dataset]
    root = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix='bench-cohort-'))
    dest = root/a.dataset
    if dest.exists(): shutil.rmtree(dest)
    cpu0 = os.times()
    t0 = time.perf_counter()
    if a.dataset == 'ptbxl':
        make_ptbxl_cohort(dest, n=n, seed=a.seed, records500=a.records500, n_workers=a.workers)
    elif a.dataset == 'zzu':
        make_zzu_cohort(dest, n=n, seed=a.seed, max_seconds=a.max_seconds, n_workers=a.workers)
    else:
        make_cpsc2018_cohort(dest, n=n, seed=a.seed, max_seconds=a.max_seconds, n_workers=a.workers)
    dt = time.perf_counter() - t0
    cpu1 = os.times()
    cpu = (cpu1.user - cpu0.user) + (cpu1.children_user - cpu0.children_user) + (cpu1.system - cpu0.system) \
        + (cpu1.children_system - cpu0.children_system)
    size = du(dest)
    extra = ' + records500' if a.records500 and a.dataset == 'ptbxl' else ''
    print(f'{a.dataset}{extra}: {n} records generated and written in {dt:.1f} s wall ({cpu:.1f} s CPU, '
          f'{a.workers} worker(s), {os.cpu_count()} cores visible): {n / dt:.0f} records/s, {size / 2**20:.0f} MiB')
    if a.read:
        t0 = time.perf_counter()
        if a.dataset == 'ptbxl':
            from ecgnb.data.ptbxl import load_ptbxl
            ds = load_ptbxl(dest, fs=100, cache_dir=root/'cache', n_workers=a.workers)
        elif a.dataset == 'zzu':
            from ecgnb.data.zzu import load_zzu
            ds = load_zzu(dest, fs=100, cache_dir=root/'cache', n_workers=a.workers)
        else:
            from ecgnb.data.cpsc2018 import load_cpsc2018
            ds = load_cpsc2018(dest, fs=100, cache_dir=root/'cache', n_workers=a.workers)
        print(f'read back with the real loader in {time.perf_counter() - t0:.1f} s: X {tuple(ds.X.shape)}, '
              f'classes {list(ds.classes)[:8]}{"..." if len(ds.classes) > 8 else ""}')
    if not a.out: shutil.rmtree(root, ignore_errors=True)
    return dt


if __name__ == '__main__':
    main()

"""Benchmark: the PTB-XL benchmark's loader vs ecgnb's memory-mapped cache (prints figures, asserts nothing).

    python bench/bench_cache.py                   # PTB-XL-sized synthetic corpus: 21,837 records x 12 leads x 1000 samples
    python bench/bench_cache.py --n 2000          # smaller
    python bench/bench_cache.py --ptbxl PATH      # a real PTB-XL folder (records100/ + ptbxl_database.csv)

Without --ptbxl a corpus in the PTB-XL layout (records100/NNNNN/NNNNN_lr.{hea,dat}, format 16, 1000 adu/mV,
ptbxl_database.csv, scp_statements.csv) is generated once under --workdir (records of the project's synthetic
generator, ecgnb.data.synth_signal.synth_ecg, with the five labels of the database below) and reused on later runs. The files are written by the project's WFDB writer
(ecgnb.data.synth_cohorts.write_wfdb), checked on every run to give the same bytes as wfdb.wrsamp (which itself takes
~50 ms per record here, 20 minutes for the full corpus).

Each measurement runs in its own subprocess so that its peak RSS (ru_maxrss of the process and of its worker
children) is its own:
  (a) benchmark  the reference loader (helme/ecg_ptbxl_benchmarking utils.load_raw_data_ptbxl): sequential
                 wfdb.rdsamp of every record into a float64 array, then pickle.dump to raw100.npy; and its re-open
  (b) build      ecgnb.data.ptbxl.load_ptbxl with a fresh cache (parallel, memmap of --dtype: int16 ADC counts by
                 default, manifest)
  (b') build-wfdb the same cache built through wfdb.rdrecord instead of ecgnb's fast format-16 reader (--wfdb-engine)
  (c) reopen     load_ptbxl again: fingerprint check + memory-map open
  (d) epoch      one pass of a DataLoader (batch 96) over the train split: the training-time footprint
  (e) precision  the same cache stored as int16 counts (gain 1000/mV) and as float16: size, build time, and the error
                 against the values in the files (wfdb.rdrecord, float64) over up to 300 records, in microvolts
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LEADS = ['I', 'II', 'III', 'AVR', 'AVL', 'AVF', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6']   # PTB-XL's spelling


def _status_kb(field):
    "A field of /proc/self/status in kB (Linux), else None."
    try:
        for line in open('/proc/self/status'):
            if line.startswith(field + ':'): return int(line.split()[1])
    except OSError: pass
    return None


def _peak_mb():
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(self_kb / 1024, 1), round(child_kb / 1024, 1)


# ---------------------------------------------------------------- corpus
CODES = [{'NORM', 'SR'}, {'IMI', 'SR'}, {'LVH'}, {'NDT', 'AFIB'}, {'CRBBB'}]   # as in ptbxl_database.csv below


def _signals(ids, seed):
    "10 s x 12 leads at 100 Hz per id [n, 1000, 12] from the project's generator (ecgnb.data.synth_signal.synth_ecg)."
    from ecgnb.data.synth_signal import synth_ecg
    return synth_ecg([CODES[i % 5] for i in ids], 60, fs=100, seconds=10, seed=seed).X.transpose(0, 2, 1)


def write_record(d: Path, name: str, x):
    "Write one record as wfdb.wrsamp(fmt='16', adc_gain=1000, baseline=0) does, with ecgnb.data.synth_cohorts.write_wfdb."
    from ecgnb.data.synth_cohorts import write_wfdb
    write_wfdb(d / name, x, 100, LEADS, gain=1000.0)


def _write_chunk(args):
    root, ids, seed = args
    for i, x in zip(ids, _signals(ids, seed)):
        d = Path(root) / 'records100' / f'{(i // 1000) * 1000:05d}'
        d.mkdir(parents=True, exist_ok=True)
        write_record(d, f'{i:05d}_lr', x)
    return len(ids)


def check_writer(tmp: Path):
    "The direct writer produces the same bytes as wfdb.wrsamp (which takes ~50 ms per record, too slow for 21,837)."
    import numpy as np
    import wfdb
    x = _signals([1], 0)[0]
    (tmp / 'a').mkdir(parents=True, exist_ok=True); (tmp / 'b').mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp('00001_lr', fs=100, units=['mV'] * 12, sig_name=LEADS, p_signal=x, fmt=['16'] * 12,
                adc_gain=[1000.] * 12, baseline=[0] * 12, write_dir=str(tmp / 'a'))
    write_record(tmp / 'b', '00001_lr', x)
    same = all((tmp / 'a' / f).read_bytes() == (tmp / 'b' / f).read_bytes() for f in ('00001_lr.hea', '00001_lr.dat'))
    return same


def make_corpus(root: Path, n: int, workers: int):
    "PTB-XL-layout corpus of n records (reused if already complete)."
    import numpy as np
    import pandas as pd
    marker = root / '.complete'
    if marker.exists() and marker.read_text() == f'{n} synth_ecg': return root
    if root.exists(): shutil.rmtree(root)
    root.mkdir(parents=True)
    ids = list(range(1, n + 1))
    chunks = [(str(root), ids[i:i + 500], i) for i in range(0, n, 500)]
    t0 = time.time()
    print(f'direct writer byte-identical to wfdb.wrsamp: {check_writer(root / ".check")}', flush=True)
    shutil.rmtree(root / '.check')
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(workers) as ex: done = sum(ex.map(_write_chunk, chunks))
    codes = ["{'NORM': 100.0, 'SR': 0.0}", "{'IMI': 80.0, 'SR': 0.0}", "{'LVH': 100.0}", "{'NDT': 50.0, 'AFIB': 0.0}",
             "{'CRBBB': 100.0}"]
    db = pd.DataFrame({'ecg_id': ids, 'patient_id': [float(i // 2) for i in ids], 'age': 60.0, 'sex': [i % 2 for i in ids],
                       'scp_codes': [codes[i % 5] for i in ids], 'strat_fold': [(i % 10) + 1 for i in ids],
                       'filename_lr': [f'records100/{(i // 1000) * 1000:05d}/{i:05d}_lr' for i in ids],
                       'filename_hr': [f'records500/{(i // 1000) * 1000:05d}/{i:05d}_hr' for i in ids]})
    db.to_csv(root / 'ptbxl_database.csv', index=False)
    (root / 'scp_statements.csv').write_text(
        ',description,diagnostic,form,rhythm,diagnostic_class,diagnostic_subclass\n'
        'NDT,non-diagnostic T abnormalities,1.0,1.0,,STTC,STTC\nNORM,normal ECG,1.0,,,NORM,NORM\n'
        'IMI,inferior myocardial infarction,1.0,,,MI,IMI\nLVH,left ventricular hypertrophy,1.0,,,HYP,LVH\n'
        'CRBBB,complete right bundle branch block,1.0,,,CD,CRBBB\nSR,sinus rhythm,,,1.0,,\nAFIB,atrial fibrillation,,,1.0,,\n')
    marker.write_text(f'{n} synth_ecg')
    print(f'generated {done} records in {time.time() - t0:.1f} s under {root}', flush=True)
    return root


# ---------------------------------------------------------------- measurements (run in subprocesses)
def measure(kind, path, work, workers, dtype='int16'):
    import numpy as np
    out = {}
    path = str(path).rstrip('/') + '/'
    if kind == 'benchmark':                       # helme utils.load_raw_data_ptbxl, sampling_rate=100, first call
        import pickle
        import pandas as pd
        import wfdb
        t0 = time.time()
        Y = pd.read_csv(path + 'ptbxl_database.csv', index_col='ecg_id')
        data = [wfdb.rdsamp(path + f) for f in Y.filename_lr]
        data = np.array([signal for signal, meta in data])
        out['read_s'] = time.time() - t0
        t1 = time.time()
        with open(Path(work) / 'raw100.npy', 'wb') as f: pickle.dump(data, f, protocol=4)
        out['save_s'] = time.time() - t1
        out['seconds'] = time.time() - t0
        out['n'], out['nbytes'], out['dtype'] = len(data), int(data.nbytes), str(data.dtype)
    elif kind == 'benchmark-reopen':              # later calls: np.load(raw100.npy, allow_pickle=True)
        t0 = time.time()
        data = np.load(Path(work) / 'raw100.npy', allow_pickle=True)
        out['seconds'] = time.time() - t0
        out['nbytes'] = int(data.nbytes)
    elif kind in ('build', 'reopen'):
        from ecgnb.data.ptbxl import load_ptbxl
        cache = Path(work) / 'ecgnb_cache'
        if kind == 'build' and cache.exists(): shutil.rmtree(cache)
        t0 = time.time()
        d = load_ptbxl(path, 'superdiagnostic', fs=100, cache_dir=cache, n_workers=workers, dtype=dtype)
        out['seconds'] = time.time() - t0
        out['n'] = len(d)
        out['file_bytes'] = (cache / 'X.npy').stat().st_size
    elif kind == 'build-wfdb':
        import functools
        import pandas as pd
        from ecgnb.data.core import build_cache, wfdb_reader
        cache = Path(work) / 'ecgnb_cache_wfdb'
        if cache.exists(): shutil.rmtree(cache)
        keys = [path + f for f in pd.read_csv(path + 'ptbxl_database.csv').filename_lr]
        t0 = time.time()
        c = build_cache(cache, keys, functools.partial(wfdb_reader, n_samples=1000, policy='crop', engine='wfdb'),
                        12, 1000, n_workers=workers, files=[k + e for k in keys for e in ('.hea', '.dat')], dtype=dtype)
        out['seconds'] = time.time() - t0
        out['n'] = len(c)
    elif kind == 'epoch':
        import warnings
        from ecgnb.data.ptbxl import load_ptbxl
        d = load_ptbxl(path, 'superdiagnostic', fs=100, cache_dir=Path(work) / 'ecgnb_cache', n_workers=workers,
                       dtype=dtype)
        anon0, file0 = _status_kb('RssAnon'), _status_kb('RssFile')
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            st = d.fit_standardizer()
            dl = d.dataloaders(batch_size=96, seed=0, standardizer=st)['train']
        t0 = time.time()
        nb = sum(1 for _ in dl)
        out['seconds'] = time.time() - t0
        out['batches'] = nb
        out['n_train'] = len(d.splits['train'])
        out['rss_anon_delta_mb'] = round((_status_kb('RssAnon') - anon0) / 1024, 1) if anon0 is not None else None
        out['rss_file_delta_mb'] = round((_status_kb('RssFile') - file0) / 1024, 1) if file0 is not None else None
        out['memmap_bytes'] = int(d.X.nbytes)
        out['float64_bytes'] = int(d.X.size * 8)
    elif kind == 'precision':
        out.update(_precision(path, work, workers))
    out['peak_rss_mb'], out['peak_rss_children_mb'] = _peak_mb()
    print('RESULT ' + json.dumps(out), flush=True)


def _precision(path, work, workers, n_check=300):
    "int16 vs float16 cache of the same corpus: bytes, build seconds, and |cache - file values| in microvolts."
    import numpy as np
    import wfdb
    from ecgnb.data.core import ECGCache, LEADS12, normalize_lead_name
    from ecgnb.data.ptbxl import load_ptbxl
    out = {}
    for dt in ('int16', 'float16'):
        cache = Path(work) / f'ecgnb_cache_{dt}'
        if cache.exists(): shutil.rmtree(cache)
        t0 = time.time()
        load_ptbxl(path, 'superdiagnostic', fs=100, cache_dir=cache, n_workers=workers, dtype=dt)
        c = ECGCache(cache)
        err = []
        for i in np.linspace(0, len(c) - 1, min(n_check, len(c))).astype(int):
            r = wfdb.rdrecord(str(Path(path) / c.keys[i]), return_res=64)
            names = [normalize_lead_name(n, strict=False) for n in r.sig_name]
            ref = r.p_signal[:1000, [names.index(l) for l in LEADS12]].T
            err.append(np.abs(np.asarray(c.X[i], np.float64)[:, :ref.shape[1]] - ref).ravel())
        err = np.concatenate(err) * 1000                           # mV -> microvolts
        out[dt] = dict(seconds=round(time.time() - t0, 2), file_bytes=(cache / 'X.npy').stat().st_size,
                       max_err_uv=float(err.max()), mean_err_uv=float(err.mean()), p99_err_uv=float(np.quantile(err, 0.99)))
    out['float16_step_uv'] = {f'{v:g} mV': float(np.spacing(np.float16(v))) * 1000 for v in (0.25, 1.0, 2.0, 4.0)}
    return out


def run_sub(kind, path, work, workers, dtype='int16'):
    r = subprocess.run([sys.executable, __file__, '--_measure', kind, '--ptbxl', str(path), '--workdir', str(work),
                        '--workers', str(workers), '--dtype', dtype], capture_output=True, text=True,
                       env={**os.environ, 'ECGNB_PROGRESS': '0'})
    for line in r.stdout.splitlines():
        if line.startswith('RESULT '): return json.loads(line[7:])
    raise RuntimeError(f'{kind} failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--ptbxl', help='a real PTB-XL folder (else a synthetic corpus is generated)')
    ap.add_argument('--n', type=int, default=21837, help='records in the synthetic corpus (PTB-XL v1.0.1: 21837)')
    ap.add_argument('--workdir', default=None, help='where the corpus and caches go (default: a temp folder)')
    ap.add_argument('--workers', type=int, default=min(4, os.cpu_count() or 1), help='cache-build workers')
    ap.add_argument('--wfdb-engine', action='store_true', help="also time the cache built through wfdb.rdrecord")
    ap.add_argument('--keep', action='store_true', help='keep the work folder')
    ap.add_argument('--dtype', default='int16', choices=['int16', 'float16', 'float32'],
                    help='cache storage of the build/reopen/epoch steps (default int16 ADC counts, gain 1000/mV)')
    ap.add_argument('--_measure', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._measure:
        return measure(a._measure, a.ptbxl, a.workdir, a.workers, a.dtype)

    work = Path(a.workdir or tempfile.mkdtemp(prefix='ecgnb_bench_'))
    work.mkdir(parents=True, exist_ok=True)
    path = Path(a.ptbxl) if a.ptbxl else make_corpus(work / 'ptbxl', a.n, a.workers)
    print(f'corpus: {path}  workers: {a.workers}  cpus: {os.cpu_count()}', flush=True)
    res = {}
    kinds = ['benchmark', 'benchmark-reopen', 'build', 'reopen', 'epoch', 'precision'] + (['build-wfdb'] if a.wfdb_engine else [])
    for k in kinds:
        res[k] = run_sub(k, path, work, a.workers, a.dtype)
        print(f'  {k:17s} {json.dumps(res[k])}', flush=True)

    b, c, ro, ep = res['benchmark'], res['build'], res['reopen'], res['epoch']
    n = c['n']
    print()
    print(f'{"step":44s} {"seconds":>9s} {"records/s":>10s} {"peak RSS MB (self / workers)":>30s}')
    rows = [('(a) benchmark: wfdb.rdsamp -> float64 array', b['read_s'], b),
            ('(a) benchmark: ... + pickle.dump raw100.npy', b['seconds'], b),
            ('(a) benchmark re-open: np.load(raw100.npy)', res['benchmark-reopen']['seconds'], res['benchmark-reopen']),
            ('(b) ecgnb build (load_ptbxl, fresh cache)', c['seconds'], c),
            ('(c) ecgnb re-open (load_ptbxl, cache valid)', ro['seconds'], ro)]
    if 'build-wfdb' in res: rows.insert(4, ("(b') ecgnb build via wfdb.rdrecord", res['build-wfdb']['seconds'], res['build-wfdb']))
    for name, s, r in rows:
        print(f'{name:44s} {s:9.2f} {n / s:10.0f} {r["peak_rss_mb"]:>14.0f} / {r["peak_rss_children_mb"]:<14.0f}')
    print()
    print(f'build speed-up, benchmark read+save vs ecgnb build : {b["seconds"] / c["seconds"]:.1f}x (target >= 2x)')
    print(f'build speed-up, benchmark read only vs ecgnb build : {b["read_s"] / c["seconds"]:.1f}x')
    if 'build-wfdb' in res:
        print(f"build speed-up with the wfdb engine (parallel only): {b['seconds'] / res['build-wfdb']['seconds']:.1f}x")
    print(f'data in memory/on disk: float64 array {b["nbytes"] / 2**20:.0f} MB, raw100.npy pickle '
          f'{(work / "raw100.npy").stat().st_size / 2**20:.0f} MB; ecgnb {a.dtype} memmap {c["file_bytes"] / 2**20:.0f} MB '
          f'= {c["file_bytes"] / b["nbytes"]:.3f} of float64 (target <= 0.25)')
    print(f'training epoch over {ep["n_train"]} train records ({ep["batches"]} batches of 96): {ep["seconds"]:.2f} s; '
          f'resident growth: anonymous {ep["rss_anon_delta_mb"]} MB, file-backed (memmap page cache, reclaimable) '
          f'{ep["rss_file_delta_mb"]} MB; peak RSS {ep["peak_rss_mb"]:.0f} MB vs float64 array alone '
          f'{ep["float64_bytes"] / 2**20:.0f} MB')
    pr = res['precision']
    print('cache storage (same corpus, load_ptbxl at 100 Hz), error against the files\' values (wfdb.rdrecord, float64):')
    for dt in ('int16', 'float16'):
        r = pr[dt]
        print(f'  {dt:8s} {r["file_bytes"] / 2**20:7.1f} MB  build {r["seconds"]:6.2f} s  |error| max {r["max_err_uv"]:.4f} uV, '
              f'p99 {r["p99_err_uv"]:.4f} uV, mean {r["mean_err_uv"]:.4f} uV')
    print('  float16 step (uV) at ' + ', '.join(f'{k}: {v:.2f}' for k, v in pr['float16_step_uv'].items())
          + '; int16 at gain 1000/mV: 1 uV everywhere within +-32.767 mV')
    if not a.keep and not a.workdir: shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()

#!/usr/bin/env python
"""One command that proves every GPU path of ecgnb on the first machine with a CUDA GPU, in a few minutes.

    bash scripts/gpu_smoke.sh                 # every check; one line per check; exit 1 if any failed
    bash scripts/gpu_smoke.sh --list          # the checks (works anywhere)
    bash scripts/gpu_smoke.sh --only amp-bf16,amp-fp16 --timeout 300
    bash scripts/gpu_smoke.sh --dry-run       # print each check's command, run nothing (works anywhere)

On a machine without CUDA it refuses (exit 3) and says why. A torch that already sees CUDA is never replaced. When the
interpreter has an NVIDIA driver but only a CPU build of torch (or none), it installs the CUDA build of the release the
project pins (settings.ini `torch_pin`) for the newest CUDA the driver supports, e.g. `torch==2.13.0+cu128` from
https://download.pytorch.org/whl/cu128 (`ECGNB_TORCH_INDEX` names another index), uninstalling nothing first, and
probes again; `--no-install` refuses instead.

With an interpreter that already has a CUDA torch (e.g. a machine's preinstalled python3, offline):

    bash scripts/gpu_smoke.sh --python python3 --no-install --site .site

installs ecgnb and the wheel bundle of `.whl/` (scripts/make_gpu_bundle.sh) into .site/ (git-ignored) with
`pip install --no-index --no-deps --target`, leaving that interpreter's torch untouched, and runs the checks with the
folder on PYTHONPATH.

Each check runs as its own subprocess with a timeout (`--timeout`); a failing check prints FAIL with its reason and
the rest still run. Peak GPU memory per check is what the check's process reports (torch.cuda.max_memory_allocated)
or, for notebooks run in a kernel, the peak of the device's used memory above the idle baseline (nvidia-smi, sampled
every 0.5 s). The measured figures (checks, and per-model training speed / epoch time / peak memory at batch 96 and
128) are written to bench/gpu_measured.json, which `python -m ecgnb.run reproduce` and `bench/bench_train.py --gpu`
read; without that file they show estimates, labelled as estimates.

This module imports nothing from ecgnb or torch itself (the checks do, in their own processes), so its CPU-side
logic is tested on any machine (tests/test_gpu_smoke.py).
"""

import argparse
import configparser
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEASURED = ROOT / 'bench' / 'gpu_measured.json'
SCHEMA = 1
REFUSED = 3                                   # exit code of the refusal on a machine without CUDA
MARK = 'GPU_SMOKE_RESULT '                    # a check's process prints one line: MARK + json (peak_mib, detail, ...)


@dataclass
class Result:
    name: str
    status: str                               # PASS | FAIL | SKIP
    seconds: float = 0.0
    peak_mib: float | None = None
    detail: str = ''
    data: dict = field(default_factory=dict)  # figures a check measured (e.g. per-model speed)


# --- summary -----------------------------------------------------------------------------------------------------------
def format_line(r: Result) -> str:
    "One line per check: status, name, wall time, peak GPU memory, detail (the reason when it failed)."
    mem = f'{r.peak_mib:8.0f} MiB' if r.peak_mib is not None else '       - MiB'
    return f'{r.status:4s}  {r.name:18s} {r.seconds:7.1f} s  peak {mem}  {r.detail}'.rstrip()


def summary(results: list[Result]) -> str:
    n = {s: sum(r.status == s for r in results) for s in ('PASS', 'FAIL', 'SKIP')}
    lines = [format_line(r) for r in results]
    lines.append(f"{n['PASS']} passed, {n['FAIL']} failed" + (f", {n['SKIP']} skipped" if n['SKIP'] else '')
                 + f' in {sum(r.seconds for r in results):.0f} s')
    return '\n'.join(lines)


def exit_code(results: list[Result]) -> int:
    return 1 if any(r.status == 'FAIL' for r in results) else 0


# --- CUDA: probe, refusal, install --------------------------------------------------------------------------------------
PROBE = ('import json, torch; c = torch.cuda.is_available(); print(json.dumps(dict(torch=torch.__version__, '
         'cuda_build=torch.version.cuda, available=c, count=torch.cuda.device_count() if c else 0, '
         'name=torch.cuda.get_device_name(0) if c else None)))')
TORCH_INDEX = 'https://download.pytorch.org/whl/{tag}'   # PyTorch's wheel index of one CUDA build
CUDA_TAGS = {(13, 0): 'cu130', (12, 8): 'cu128', (12, 6): 'cu126'}   # CUDA builds PyTorch publishes, newest first


def driver_cuda(smi: str | None) -> str | None:
    "The highest CUDA version the NVIDIA driver supports ('12.8'), from nvidia-smi's header; None without a driver."
    if not smi: return None
    try: r = subprocess.run([smi], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired): return None
    m = re.search(r'CUDA Version:\s*(\d+\.\d+)', r.stdout)
    return m.group(1) if m else None


def probe_cuda(python: str = sys.executable) -> dict:
    "What torch in `python` sees, and whether an NVIDIA driver is installed (nvidia-smi) and which CUDA it supports."
    smi = shutil.which('nvidia-smi')
    out = dict(python=python, nvidia_smi=smi, driver_cuda=driver_cuda(smi), torch=None, cuda_build=None,
               available=False, count=0, name=None)
    try:
        r = subprocess.run([python, '-c', PROBE], capture_output=True, text=True, timeout=120)
        out.update(json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else dict(error=r.stderr[-500:]))
    except (OSError, subprocess.TimeoutExpired, IndexError, json.JSONDecodeError) as e:
        out['error'] = f'{type(e).__name__}: {e}'
    return out


def refusal(p: dict) -> str | None:
    "None when the GPU checks can run; otherwise the message that says why not and what to do."
    if p.get('available'): return None
    if not p.get('nvidia_smi'):
        return ('gpu_smoke refuses to run: no CUDA GPU on this machine (no NVIDIA driver: nvidia-smi not found; '
                f"torch {p.get('torch') or '?'} sees no CUDA device). Run it on a machine with an NVIDIA GPU; "
                'the CPU paths are tested by bash scripts/test.sh.')
    if not p.get('cuda_build'):
        what = f"torch {p['torch']} is a CPU build" if p.get('torch') else f"{p.get('python', 'python')} has no torch"
        return (f'gpu_smoke refuses to run: an NVIDIA driver is present but {what}; rerun without --no-install to '
                'install the CUDA build of the pinned torch, or pass --python PY, an interpreter whose torch sees CUDA.')
    return (f"gpu_smoke refuses to run: torch {p.get('torch')} (CUDA {p.get('cuda_build')}) sees no usable CUDA "
            'device (check nvidia-smi, the driver version and CUDA_VISIBLE_DEVICES). ' + p.get('error', ''))


def pinned_torch(settings: Path = ROOT / 'settings.ini') -> str:
    "The torch release the project's own environment pins (settings.ini `torch_pin`, as 'torch==2.13.0')."
    cfg = configparser.ConfigParser(interpolation=None); cfg.read(settings)
    pin = cfg['DEFAULT'].get('torch_pin', '').strip()
    if not re.fullmatch(r'\d+(\.\d+)+', pin):
        raise ValueError(f'no torch_pin = X.Y.Z in {settings} (found {pin!r}); add the torch release scripts/install.sh '
                         'installs, e.g. torch_pin = 2.13.0')
    return f'torch=={pin}'


def cuda_build(p: dict, index: str | None = None, settings: Path = ROOT / 'settings.ini') -> tuple[str, str]:
    """(requirement, index URL) of the CUDA build to install: the pinned release with the local tag of the newest CUDA
    build the driver supports ('torch==2.13.0+cu128', from PyTorch's cu128 index). The exact local tag keeps pip from
    taking a '+cpu' wheel of the same release (`torch==2.13.0` alone matches it). `index` overrides the URL."""
    if not p.get('driver_cuda'):
        raise ValueError('nvidia-smi shows no "CUDA Version": cannot tell which CUDA build of torch the driver runs; '
                         'install one yourself and pass --python PY --no-install')
    have = tuple(int(x) for x in p['driver_cuda'].split('.')[:2])
    tags = [t for v, t in CUDA_TAGS.items() if v <= have]
    if not tags:
        raise ValueError(f"the NVIDIA driver supports CUDA {p.get('driver_cuda') or '?'}, older than every CUDA build "
                         f"of torch this script knows ({', '.join(CUDA_TAGS.values())}); update the driver, or install "
                         'a CUDA build of torch yourself and pass --python PY --no-install')
    return f'{pinned_torch(settings)}+{tags[0]}', index or TORCH_INDEX.format(tag=tags[0])


def install_commands(p: dict, python: str = sys.executable, index: str | None = None) -> list[list[str]]:
    """pip commands that put a CUDA build of the pinned torch into `python` ([] when not needed or not useful).
    Never when torch already sees CUDA, never over a CUDA build (a driver or device problem, which reinstalling does
    not fix), never without an NVIDIA driver. Nothing is uninstalled first: pip replaces a CPU build only once the
    CUDA wheel has been downloaded and installs, so a failed (e.g. offline) install leaves the old torch in place."""
    if p.get('available') or p.get('cuda_build') or not p.get('nvidia_smi'): return []
    req, url = cuda_build(p, index)
    return [[python, '-m', 'pip', 'install', '--no-cache-dir', req, '--index-url', url]]


def install_cuda_torch(p: dict, python: str, probe, index: str | None = None, run=None) -> dict:
    "Install the CUDA build (saying which, from where), then probe again; the new probe (or `p` when not installed)."
    run = run or subprocess.run
    try: cmds = install_commands(p, python=python, index=index)
    except ValueError as e:
        print(f'gpu_smoke: {e}', file=sys.stderr); return p
    if not cmds: return p
    was = f"torch {p['torch']} (a CPU build)" if p.get('torch') else 'no torch'
    print(f"gpu_smoke: {python} has {was} and the NVIDIA driver supports CUDA {p.get('driver_cuda') or '?'}: "
          f'installing {cmds[0][5]} from {cmds[0][-1]}', flush=True)
    for c in cmds:
        if run(c).returncode != 0:
            print(f"gpu_smoke: {' '.join(c)} failed (offline? the old torch is left as it was); install a CUDA build "
                  'of torch yourself, or pass --python PY --no-install with an interpreter whose torch sees CUDA',
                  file=sys.stderr)
            return p
    q = probe()
    print(f"gpu_smoke: after the install {python} has torch {q.get('torch')} (CUDA {q.get('cuda_build')}), "
          f"CUDA device seen: {bool(q.get('available'))}", flush=True)
    return q


# --- an interpreter that already has torch: ecgnb and the offline wheel bundle into a target folder ----------------------
BUNDLE = ROOT / '.whl'                        # built by scripts/make_gpu_bundle.sh


def bundle_command(python: str, wheels: Path, site: Path) -> list[str]:
    """pip command that installs every wheel of `wheels` (ecgnb's and its dependencies' that `python` lacks) into
    `site`, offline and without dependencies, so the interpreter's own packages (torch above all) stay untouched."""
    whls = sorted(wheels.glob('*.whl'))
    if not whls:
        raise ValueError(f'no wheels in {wheels}: build the bundle with bash scripts/make_gpu_bundle.sh '
                         '(on a machine with network), then copy the repository with it')
    bad = [w.name for w in whls if re.match(r'(torch|nvidia_|triton)[-_]', w.name, re.I)]
    if bad: raise ValueError(f"{wheels} holds {', '.join(bad)}: the bundle must not replace the interpreter's torch; "
                             'remove them (scripts/make_gpu_bundle.sh never adds them)')
    return [python, '-m', 'pip', 'install', '--no-index', '--no-deps', '--upgrade', '--target', str(site),
            *map(str, whls)]


def install_bundle(python: str, wheels: Path, site: Path, run=None) -> None:
    "Install the bundle into `site` unless the same wheels are there already (a stamp file lists them)."
    run = run or subprocess.run
    cmd = bundle_command(python, wheels, site)
    names = sorted(w.name for w in wheels.glob('*.whl'))
    stamp = site / '.ecgnb-bundle'
    if stamp.exists() and stamp.read_text() == '\n'.join(names): return
    print(f'gpu_smoke: installing the {len(names)} wheels of {wheels} into {site} (--no-index --no-deps; '
          f'{python} keeps its own torch)', flush=True)
    if run(cmd).returncode != 0: raise ValueError(f"{' '.join(cmd[:9])} ... failed")
    stamp.write_text('\n'.join(names))


def with_python(cmds: dict[str, list[str]], python: str) -> dict[str, list[str]]:
    "The checks' commands with this interpreter (what `checks` builds them with) replaced by `python`."
    return {n: [python if i == 0 and x == sys.executable else x for i, x in enumerate(c)] for n, c in cmds.items()}


def check_env(site: Path | None = None, environ=os.environ) -> dict:
    "The checks' environment: the checkout (and the bundle's target folder) first on PYTHONPATH."
    path = [str(ROOT), *([str(site)] if site else []), environ.get('PYTHONPATH')]
    return dict(environ, PYTHONPATH=os.pathsep.join(filter(None, path)), MPLBACKEND='Agg', ECGNB_PROGRESS='0')


# --- running one check --------------------------------------------------------------------------------------------------
class GpuMemSampler:
    "Peak of the device's used memory (MiB, nvidia-smi) above the baseline at start, sampled in a thread."
    def __init__(self, interval=0.5):
        self.interval, self.peak, self.base, self._stop = interval, None, None, threading.Event()

    @staticmethod
    def used() -> float | None:
        try:
            r = subprocess.run(['nvidia-smi', '--query-gpu=memory.used', '--format=csv,noheader,nounits'],
                               capture_output=True, text=True, timeout=10)
            return sum(float(x) for x in r.stdout.split()) if r.returncode == 0 else None
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return None

    def _loop(self):
        while not self._stop.wait(self.interval):
            u = self.used()
            if u is not None: self.peak = max(self.peak or 0, u)

    def __enter__(self):
        self.base = self.used()
        self._t = threading.Thread(target=self._loop, daemon=True); self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set(); self._t.join(timeout=15)

    def delta(self) -> float | None:
        return None if self.peak is None or self.base is None else max(0.0, self.peak - self.base)


def parse_child(stdout: str) -> dict:
    "The last MARK line a check's process printed, as a dict ({} if none)."
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARK):
            try: return json.loads(line[len(MARK):])
            except json.JSONDecodeError: return {}
    return {}


def _reason(stdout: str, stderr: str) -> str:
    "The most telling line of a failed process: the last exception line, else the last non-empty line."
    lines = [l.strip() for l in (stderr + '\n' + stdout).splitlines() if l.strip()]
    exc = [l for l in lines if re.match(r'^[\w.]*(Error|Exception|Interrupt)\b', l) or l.startswith('AssertionError')]
    return (exc or lines or ['no output'])[-1][:300]


def run_check(name: str, argv: list[str], timeout: float, log_dir: Path, env: dict | None = None,
              sample_memory: bool = True) -> Result:
    "Run one check's process with a timeout; PASS iff it exits 0. Its output goes to log_dir/<name>.log."
    log_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sampler = GpuMemSampler() if sample_memory else None
    try:
        if sampler: sampler.__enter__()
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            out, err = proc.communicate()
            rc = None
    except OSError as e:
        out, err, rc = '', f'{type(e).__name__}: {e}', -1
    finally:
        if sampler: sampler.__exit__()
    secs = time.perf_counter() - t0
    (log_dir / f'{name}.log').write_text(f'$ {" ".join(map(str, argv))}\n--- stdout\n{out}\n--- stderr\n{err}')
    child = parse_child(out or '')
    peak = child.get('peak_mib', sampler.delta() if sampler else None)
    if rc is None: status, detail = 'FAIL', f'timed out after {timeout:.0f} s (log: {log_dir / name}.log)'
    elif rc != 0: status, detail = 'FAIL', f'exit {rc}: {_reason(out or "", err or "")} (log: {log_dir / name}.log)'
    else: status, detail = ('SKIP' if child.get('status') == 'SKIP' else 'PASS'), child.get('detail', '')  # SKIP: not exercised here
    return Result(name, status, round(secs, 1), None if peak is None else round(float(peak), 1), detail,
                  child.get('data', {}))


# --- the checks ---------------------------------------------------------------------------------------------------------
def _papermill(nb: str, out_dir: Path, *params: str) -> list[str]:
    return [sys.executable, '-m', 'papermill', '-k', 'python3', '--cwd', 'nbs', f'nbs/{nb}.ipynb',
            str(out_dir / f'{nb}.ipynb'), *params]


NB21_VARIANTS, NB21_SEEDS = ('default', 'no_mutual'), (0,)
SMOKE_RUNS = 1 + len(NB21_VARIANTS) * len(NB21_SEEDS)   # run folders nb20 (one) and nb21 (variant x seed) write before nb22


def checks(out: Path, python: str = sys.executable, workers: int = 4) -> dict[str, list[str]]:
    "name -> the command of each check, in the order they run. `out` holds run folders, notebooks and logs."
    runs, child = out / 'runs', [python, str(ROOT / 'scripts' / 'gpu_smoke_checks.py')]
    return {
        'nb20-mrmnet': _papermill('20_mrmnet_experiment', out, '-p', 'device', 'cuda', '-p', 'precision', 'bf16',
                                  '-p', 'epochs', '1', '-p', 'max_per_split', '64', '-p', 'n_boot', '20',
                                  '-p', 'min_valid_auc', '0', '-p', 'num_workers', '2', '-p', 'out_root', str(runs)),
        'nb21-ablation': _papermill('21_mutual_ablation', out, '-y', f"variants: [{', '.join(NB21_VARIANTS)}]",
                                    '-y', f"seeds: [{', '.join(map(str, NB21_SEEDS))}]",
                                    '-p', 'epochs', '1', '-p', 'max_per_split', '60', '-p', 'width', '4',
                                    '-p', 'device', 'cuda', '-p', 'precision', 'bf16', '-p', 'n_boot', '20',
                                    '-p', 'min_valid_auc', '0', '-p', 'out_root', str(runs)),
        'nb22-summary': _papermill('22_summary', out, '-p', 'runs_root', str(runs), '-p', 'min_runs', str(SMOKE_RUNS),
                                   '-p', 'if_empty', 'None'),   # fails unless it summarises the runs nb20/nb21 wrote
        'nb40-alignment': _papermill('40_cross_modal_alignment', out, '-p', 'device', 'cuda', '-p', 'precision', 'bf16',
                                     '-p', 'epochs', '1',
                                     '-p', 'max_per_split', '120', '-y', 'seeds: [0]', '-p', 'n_boot', '20',
                                     '-p', 'min_valid_auc', '0', '-p', 'out_root', str(runs)),
        'nb41-transfer': _papermill('41_transfer_experiments', out, '-p', 'methods', 'finetune,peace',
                                    '-p', 'settings', '5-shot', '-p', 'seeds', '0', '-p', 'epochs_source', '1',
                                    '-p', 'epochs_target', '1', '-p', 'max_source_train', '300', '-p', 'n_boot', '20',
                                    '-p', 'device', 'cuda', '-p', 'precision', 'bf16', '-p', 'check', 'False',
                                    '-p', 'out_root', str(runs)),
        'amp-bf16': [*child, 'amp', '--precision', 'bf16', '--out', str(out / 'amp-bf16')],
        'amp-fp16': [*child, 'amp', '--precision', 'fp16', '--out', str(out / 'amp-fp16')],
        'ddp-nccl-resume': [*child, 'ddp', '--out', str(out / 'ddp')],
        'loaders-pinned': [*child, 'loaders', '--workers', str(workers)],
        'compile-mrmnet': [*child, 'compile'],
        'bench-models': [python, str(ROOT / 'bench' / 'bench_train.py'), '--device', 'cuda', '--per-model',
                         '--skip-loops', '--skip-memory', '--amp', '--gpu', '--gpu-batches', '96,128',
                         '--gpu-json', str(out / 'models.json')],
    }


CHECK_NAMES = list(checks(Path('out')))


def select(only: str | None, skip: str | None, names=CHECK_NAMES) -> list[str]:
    "The checks to run, in order; unknown names raise ValueError listing the valid ones."
    def split(s): return [x.strip() for x in (s or '').split(',') if x.strip()]
    bad = [x for x in split(only) + split(skip) if x not in names]
    if bad: raise ValueError(f"unknown check(s) {', '.join(bad)}; checks: {', '.join(names)}")
    want = split(only) or list(names)
    return [n for n in names if n in want and n not in split(skip)]


# --- measured figures ---------------------------------------------------------------------------------------------------
def measured_doc(p: dict, results: list[Result], models: dict, command: str) -> dict:
    "The JSON of measured GPU figures (device, torch, checks, models; see bench/bench_train.py --gpu)."
    return dict(schema=SCHEMA, measured_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds'),
                command=command, device=p.get('name'), device_count=p.get('count'), torch=p.get('torch'),
                cuda=p.get('cuda_build'),
                checks=[dict(name=r.name, status=r.status, seconds=r.seconds, peak_mib=r.peak_mib, detail=r.detail)
                        for r in results],
                models=models)


def write_json(path: Path, doc: dict):
    "Atomic write (a temporary file renamed into place)."
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.tmp')
    tmp.write_text(json.dumps(doc, indent=1) + '\n'); os.replace(tmp, path)


def main(argv=None, probe=probe_cuda, runner=run_check) -> int:
    ap = argparse.ArgumentParser(prog='bash scripts/gpu_smoke.sh', description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--list', action='store_true', help='list the checks and exit')
    ap.add_argument('--dry-run', action='store_true', help="print each check's command and exit")
    ap.add_argument('--only', help='comma-separated checks to run (default: all)')
    ap.add_argument('--skip', help='comma-separated checks to leave out')
    ap.add_argument('--timeout', type=float, default=600, help='seconds per check (default 600)')
    ap.add_argument('--out', type=Path, help='folder for logs, notebooks, run folders (default runs/gpu-smoke-<time>)')
    ap.add_argument('--measured', type=Path, default=MEASURED, help='JSON of measured figures to write')
    ap.add_argument('--no-measured', action='store_true', help='write no JSON of measured figures')
    ap.add_argument('--no-install', action='store_true', help='refuse instead of installing the CUDA build of torch')
    ap.add_argument('--python', default=sys.executable,
                    help='interpreter that runs the checks, e.g. python3 with a CUDA torch (default: this one)')
    ap.add_argument('--site', type=lambda s: Path(s).resolve(), help='install ecgnb and the wheels of --wheels into this folder (offline, '
                    "--no-deps: the interpreter's torch is not touched) and put it on the checks' PYTHONPATH")
    ap.add_argument('--wheels', type=Path, default=BUNDLE, help='the wheel bundle for --site (default .whl/, built by '
                    'bash scripts/make_gpu_bundle.sh)')
    ap.add_argument('--workers', type=int, default=4, help='DataLoader workers of the pinned-memory check')
    a = ap.parse_args(argv)
    try: names = select(a.only, a.skip)
    except ValueError as e:
        print(f'gpu_smoke: {e}', file=sys.stderr); return 2
    if a.timeout <= 0:
        print('gpu_smoke: --timeout must be positive', file=sys.stderr); return 2
    out = a.out or ROOT / 'runs' / f"gpu-smoke-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    cmds = with_python(checks(out, python=a.python, workers=a.workers), a.python)
    if a.list:
        print('\n'.join(names)); return 0
    try: bundle = bundle_command(a.python, a.wheels, a.site) if a.site else None
    except ValueError as e:
        print(f'gpu_smoke: {e}', file=sys.stderr); return 2
    if a.dry_run:
        if bundle: print(f'bundle: {" ".join(bundle)}')
        for n in names: print(f'{n}: {" ".join(cmds[n])}')
        return 0
    reprobe = (lambda: probe()) if a.python == sys.executable else (lambda: probe(a.python))
    p = reprobe()
    if not p.get('available') and not a.no_install:
        p = install_cuda_torch(p, a.python, reprobe, index=os.environ.get('ECGNB_TORCH_INDEX'))
    msg = refusal(p)
    if msg:
        print(msg, file=sys.stderr); return REFUSED
    if a.site:
        try: install_bundle(a.python, a.wheels, a.site)
        except ValueError as e:
            print(f'gpu_smoke: {e}', file=sys.stderr); return REFUSED
    print(f"gpu_smoke: {p.get('name')} x{p.get('count')}, torch {p.get('torch')} (CUDA {p.get('cuda_build')}); "
          f"{len(names)} check(s), up to {a.timeout:.0f} s each; logs in {out}", flush=True)
    env = check_env(a.site)
    results = []
    for n in names:
        r = runner(n, cmds[n], a.timeout, out / 'logs', env=env)
        results.append(r)
        print(format_line(r), flush=True)
    print('\n' + summary(results))
    if not a.no_measured:
        mf = out / 'models.json'                             # written by the bench-models check
        models = json.loads(mf.read_text()).get('models', {}) if mf.exists() else {}
        if not models and a.measured.exists():               # keep figures of an earlier run when not remeasured
            models = json.loads(a.measured.read_text()).get('models', {})
        write_json(a.measured, measured_doc(p, results, models, 'bash scripts/gpu_smoke.sh ' + ' '.join(argv or sys.argv[1:])))
        print(f'measured figures: {a.measured}')
    return exit_code(results)


if __name__ == '__main__':
    sys.exit(main())

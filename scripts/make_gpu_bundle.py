#!/usr/bin/env python
"""Build the offline wheel bundle for a GPU machine that has Python 3.12 and a CUDA torch but no network.

That machine is expected to have torch 2.11.0+cu130, numpy, pandas, scipy, scikit-learn, matplotlib, seaborn, tqdm,
pyyaml and tensorboard. Everything else ecgnb and its experiment notebooks import (wfdb, neurokit2, ipywidgets,
papermill and its kernel stack: ipykernel, jupyter_client, nbclient, nbformat, ...) goes into `.whl/` (git-ignored)
as cp312 manylinux x86_64 wheels, with ecgnb's own wheel, at most 60 MiB; copy the repository with it.

    python3 scripts/make_gpu_bundle.py                       # the wheels listed in scripts/gpu_bundle.txt, into .whl/
    python3 scripts/make_gpu_bundle.py --resolve-python /tmp/venv-gpu/bin/python    # re-resolve that list first

`--resolve-python` names a Python 3.12 that has only torch 2.11 and the preinstalled packages above (make one with
`python3.12 -m venv /tmp/venv-gpu && /tmp/venv-gpu/bin/pip install torch==2.11.0 numpy pandas scipy scikit-learn
matplotlib seaborn tqdm pyyaml tensorboard`): pip resolves ecgnb + papermill + ipykernel there (`--dry-run --report`)
and what it would install is the bundle (written back to scripts/gpu_bundle.txt). The wheels are then downloaded with
`pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux...`, so this
runs on any machine with network.

On the GPU machine (the repository copied there with .whl/ inside), one line:

    bash scripts/gpu_smoke.sh --python python3 --no-install --site .site

installs the bundle into .site/ (git-ignored) (`pip install --no-index --no-deps --target`, python3's torch untouched) and
runs every GPU check with it on PYTHONPATH.
"""
import argparse
import configparser
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIST = ROOT / 'scripts' / 'gpu_bundle.txt'
OUT = ROOT / '.whl'
SOURCES = ['ecgnb', 'nbs', 'settings.ini', 'setup.py', 'pyproject.toml', 'MANIFEST.in', 'README.md', 'LICENSE']
LIMIT_MIB = 60
PLATFORMS = ['manylinux_2_28_x86_64', 'manylinux_2_17_x86_64', 'manylinux2014_x86_64']
KERNEL_STACK = ('papermill', 'ipykernel', 'nbformat')       # dev requirements the experiment notebooks need to run
NEVER = re.compile(r'^(torch|triton|nvidia-.*|cuda-.*)$')   # the GPU machine's own torch stack: never bundled


def requirements(settings: Path = ROOT / 'settings.ini') -> list[str]:
    "ecgnb's install requirements and the kernel stack's dev requirements (as settings.ini writes them)."
    d = configparser.ConfigParser(interpolation=None); d.read(settings)
    d = d['DEFAULT']
    dev = [r for r in d.get('dev_requirements', '').split() if re.split(r'[<>=!~ ]', r)[0] in KERNEL_STACK]
    return d.get('requirements', '').split() + dev


def parse_report(report: dict, skip=('ecgnb',)) -> list[tuple[str, str]]:
    "(name, version) of every package a pip `--dry-run --report` would install, sorted, without `skip`."
    pins = sorted({(i['metadata']['name'].lower().replace('_', '-'), i['metadata']['version'])
                   for i in report.get('install', [])})
    pins = [(n, v) for n, v in pins if n not in skip]
    bad = [f'{n}=={v}' for n, v in pins if NEVER.match(n)]
    if bad: raise ValueError(f"resolving would install {', '.join(bad)}: the resolving interpreter lacks the GPU "
                             "machine's torch 2.11 (or a requirement wants another torch); it must not be bundled")
    return pins


def resolve(python: str, wheel: Path) -> list[tuple[str, str]]:
    "What `python` (torch + the preinstalled set only) would install for ecgnb's wheel and the kernel stack."
    with tempfile.TemporaryDirectory() as tmp:
        rep = Path(tmp) / 'report.json'
        reqs = [str(wheel)] + [r for r in requirements() if not r.startswith('torch')]
        r = subprocess.run([python, '-m', 'pip', 'install', '--dry-run', '--quiet', '--only-binary=:all:',
                            '--report', str(rep), *reqs], capture_output=True, text=True)
        if r.returncode != 0: raise ValueError(f'pip could not resolve the bundle in {python}:\n{r.stderr[-2000:]}')
        return parse_report(json.loads(rep.read_text()))


def read_list(path: Path = LIST) -> list[tuple[str, str]]:
    "The pinned list: one NAME==VERSION per line (# comments allowed)."
    pins = []
    for line in path.read_text().splitlines():
        line = line.split('#')[0].strip()
        if not line: continue
        m = re.fullmatch(r'([A-Za-z0-9._-]+)==([A-Za-z0-9._+!-]+)', line)
        if not m: raise ValueError(f'{path}: {line!r} is not NAME==VERSION')
        pins.append((m.group(1), m.group(2)))
    return pins


def write_list(pins, path: Path = LIST, python: str = '?'):
    "The pinned list, with a header saying how it was made (`python`: the resolving interpreter's version)."
    head = ('# Wheels of the offline GPU bundle (python3 scripts/make_gpu_bundle.py), resolved by pip (--resolve-python) in\n'
            f'# Python {python} with only torch 2.11 + numpy pandas scipy scikit-learn matplotlib seaborn tqdm pyyaml '
            'tensorboard.\n')
    path.write_text(head + ''.join(f'{n}=={v}\n' for n, v in pins))


def download_command(pins, dest: Path, python: str = sys.executable) -> list[str]:
    "One `pip download` for every pin: cp312 manylinux x86_64 (or pure-python) wheels only, no dependencies."
    plats = [x for p in PLATFORMS for x in ('--platform', p)]
    return [python, '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--python-version', '3.12',
            '--implementation', 'cp', *plats, '-d', str(dest), *(f'{n}=={v}' for n, v in pins)]


def build_wheel(dest: Path, python: str = sys.executable) -> Path:
    """ecgnb's own wheel (with its experiment notebooks and assets) into dest, built from a fresh copy of the sources
    (a stale build/ folder of the checkout cannot leak into it)."""
    for old in dest.glob('ecgnb-*.whl'): old.unlink()
    skip = shutil.ignore_patterns('__pycache__', '*.pyc', '.ipynb_checkpoints', '_proc', 'images', 'notebooks')
    with tempfile.TemporaryDirectory() as tmp:
        for name in SOURCES:
            src = ROOT / name
            if src.is_dir(): shutil.copytree(src, Path(tmp) / name, ignore=skip)
            else: shutil.copy2(src, Path(tmp) / name)
        r = subprocess.run([python, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--no-index',
                            '-w', str(dest.resolve()), tmp], capture_output=True, text=True)
    if r.returncode != 0: raise ValueError(f'building the ecgnb wheel failed:\n{r.stderr[-2000:]}')
    (whl,) = dest.glob('ecgnb-*.whl')
    return whl


def check_bundle(dest: Path, pins, limit_mib: float = LIMIT_MIB) -> float:
    "Size in MiB; ValueError when over the limit, when a pin has no wheel, or when a stray wheel is there."
    whls = list(dest.glob('*.whl'))
    norm = lambda s: re.sub(r'[-_.]+', '_', s).lower()
    have = {norm(w.name.split('-')[0]) for w in whls}
    missing = [n for n, _ in pins if norm(n) not in have]
    if missing: raise ValueError(f"no wheel in {dest} for {', '.join(missing)}")
    extra = sorted(have - {norm(n) for n, _ in pins} - {'ecgnb'})
    if extra: raise ValueError(f"{dest} holds wheels not in the list: {', '.join(extra)} (delete {dest} and rerun)")
    mib = sum(w.stat().st_size for w in whls) / 2**20
    if mib > limit_mib: raise ValueError(f'{dest} is {mib:.1f} MiB, over the {limit_mib} MiB the machine copy allows')
    return mib


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--resolve-python', help='a Python 3.12 with only torch 2.11 + the preinstalled set: re-resolve '
                    'the list there (and rewrite scripts/gpu_bundle.txt) before downloading')
    ap.add_argument('--out', type=Path, default=OUT, help='bundle folder (default .whl/)')
    ap.add_argument('--list', type=Path, default=LIST, help='pinned list (default scripts/gpu_bundle.txt)')
    ap.add_argument('--dry-run', action='store_true', help='print the download command, download nothing')
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    try:
        whl = build_wheel(a.out)
        if a.resolve_python:
            pins = resolve(a.resolve_python, whl)
            ver = subprocess.run([a.resolve_python, '-c', 'import platform; print(platform.python_version())'],
                                 capture_output=True, text=True).stdout.strip()
            write_list(pins, a.list, ver or '?')
            print(f'{len(pins)} packages resolved in {a.resolve_python}; list written to {a.list}')
        pins = read_list(a.list)
        cmd = download_command(pins, a.out)
        if a.dry_run:
            print(' '.join(cmd)); return 0
        if subprocess.run(cmd).returncode != 0: raise ValueError('pip download failed (network? see above)')
        mib = check_bundle(a.out, pins)
    except ValueError as e:
        print(f'make_gpu_bundle: {e}', file=sys.stderr); return 1
    print(f'{a.out}: {len(pins) + 1} wheels ({whl.name} and {len(pins)} dependencies), {mib:.1f} MiB')
    return 0


if __name__ == '__main__':
    sys.exit(main())

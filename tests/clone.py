"""A fresh `git clone` of this checkout, for the tests that run the project's scripts as a new user would.

In CI the checkout is itself a fresh clone, so the clone is the commit under test. On a developer's machine the
working tree's uncommitted changes (tracked files, and new files git does not ignore) are carried over, so the
tests run the scripts and notebooks as they are now. The clone's `.venv` is a link to this checkout's venv (no
reinstall), and `../shared` is linked beside it when this checkout has one."""
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _git(*args, **kw):
    return subprocess.run(['git', *args], capture_output=True, text=True, check=True, **kw)


def fresh_clone(dest: Path) -> Path:
    if subprocess.run(['git', 'rev-parse'], cwd=ROOT, capture_output=True).returncode != 0:
        raise RuntimeError(f'{ROOT} is not a git checkout: cannot clone it')
    _git('clone', '--quiet', '--no-hardlinks', str(ROOT), str(dest))
    diff = _git('diff', 'HEAD', '--binary', cwd=ROOT).stdout
    if diff.strip():
        subprocess.run(['git', 'apply', '--whitespace=nowarn', '-'], cwd=dest, input=diff, text=True, check=True)
    for rel in _git('ls-files', '--others', '--exclude-standard', '-z', cwd=ROOT).stdout.split('\0'):
        if rel and (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    venv = ROOT / '.venv'
    if not (venv / 'bin' / 'python').exists():
        raise RuntimeError(f'no {venv}: run `bash scripts/install.sh` first')
    (dest / '.venv').symlink_to(venv.resolve())
    shared = ROOT.parent / 'shared'
    if shared.exists() and not (dest.parent / 'shared').exists():
        (dest.parent / 'shared').symlink_to(shared.resolve())
    return dest

#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv and install ecgnb
# with its development tools (JupyterLab with widget support, papermill, nbdev, pytest, playwright, ...).
#
# ECGNB_REUSE_VENV=1 skips the pip steps when .venv already satisfies every requirement in settings.ini
# (checked package by package, not assumed) and has the `python3` kernel; otherwise it installs as usual.
# The test of the README's main command uses it to run scripts/run.sh as written in a fresh clone
# without reinstalling.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else 1)'; then
  echo "ecgnb needs Python >= 3.11 (found $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

venv_complete() {  # every requirement of settings.ini (install + dev) satisfied, and the python3 kernel registered
  [ -x .venv/bin/python ] || return 1
  .venv/bin/python - <<'PY'
import configparser, sys
from importlib.metadata import version, PackageNotFoundError
from packaging.requirements import Requirement
cfg = configparser.ConfigParser(interpolation=None); cfg.read('settings.ini')
d = cfg['DEFAULT']
missing = []
for spec in (d.get('requirements', '') + ' ' + d.get('dev_requirements', '') + ' ' + d.get('lib_name')
             + ' torch==' + d.get('torch_pin', '')).split():
    r = Requirement(spec)
    try: v = version(r.name)
    except PackageNotFoundError: missing.append(spec); continue
    if not r.specifier.contains(v, prereleases=True): missing.append(f'{spec} (found {v})')
from jupyter_client.kernelspec import KernelSpecManager
if 'python3' not in KernelSpecManager().find_kernel_specs(): missing.append('the python3 kernel')
if missing: print('.venv lacks: ' + ', '.join(missing), file=sys.stderr)
sys.exit(1 if missing else 0)
PY
}

if [ "${ECGNB_REUSE_VENV:-0}" = 1 ] && venv_complete; then
  echo "ecgnb: reusing the complete .venv (ECGNB_REUSE_VENV=1); ecgnb imported from" \
       "$(.venv/bin/python -c 'import ecgnb, pathlib; print(pathlib.Path(ecgnb.__file__).parent)')"
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel
# torch first and pinned exactly (settings.ini torch_pin; the package itself accepts a range), so that no dependency
# can pull a newer (CUDA, several GB) build.
TORCH_PIN=$(sed -n 's/^torch_pin *= *//p' settings.ini)
[ -n "$TORCH_PIN" ] || { echo 'settings.ini has no torch_pin = X.Y.Z' >&2; exit 1; }
.venv/bin/python -m pip install -q "torch==$TORCH_PIN"
.venv/bin/python -m pip install -q -e '.[dev]'
.venv/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
echo "ecgnb installed in $(pwd)/.venv ($(.venv/bin/python -c 'import torch, ecgnb; print("ecgnb", ecgnb.__version__, "torch", torch.__version__)'))"

#!/usr/bin/env bash
# Create (or update) the project's virtual environment in .venv and install ecgnb
# with its development tools. Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else 1)'; then
  echo "ecgnb needs Python >= 3.11 (found $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip setuptools wheel
# torch first and pinned, so that no dependency can pull a newer (CUDA, several GB) build.
.venv/bin/python -m pip install -q 'torch==2.13.0'
.venv/bin/python -m pip install -q -e '.[dev]'
.venv/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
echo "ecgnb installed in $(pwd)/.venv ($(.venv/bin/python -c 'import torch, ecgnb; print("ecgnb", ecgnb.__version__, "torch", torch.__version__)'))"

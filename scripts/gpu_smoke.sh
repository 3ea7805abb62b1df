#!/usr/bin/env bash
# One GPU smoke command: on a machine with CUDA, every GPU path of ecgnb in a few minutes (experiment notebooks 20, 21,
# 22, 40, 41 through papermill with device=cuda at tiny sizes; bf16 and fp16 autocast with the gradient scaler; a
# torchrun NCCL run of the trainer killed and resumed; pinned-memory loaders with workers; torch.compile on MRM-Net,
# measured; per-model speed and memory at batch 96/128), one line per check with its time and peak GPU memory.
# Refuses (exit 3) on a machine without CUDA. Exit 1 if any check failed. Options: --list, --only, --skip,
# --timeout, --dry-run, --no-install, --python, --site, --wheels (see python scripts/gpu_smoke.py --help).
#
# Without --python it runs in the project's .venv (made by scripts/install.sh when missing). With --python PY it runs
# with that interpreter instead (one that already has a CUDA torch) and creates no .venv; add --no-install so its
# torch is never touched, and --site DIR to install ecgnb + the offline wheel bundle (.whl/) into DIR:
#   bash scripts/gpu_smoke.sh --python python3 --no-install --site .site
set -euo pipefail
cd "$(dirname "$0")/.."
PY=
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --python) [ $# -ge 2 ] || { echo 'gpu_smoke: --python needs an interpreter, e.g. --python python3' >&2; exit 2; }
              PY=$2; shift 2 ;;
    --python=*) PY=${1#--python=}; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python
  elif printf '%s\n' ${ARGS[@]+"${ARGS[@]}"} | grep -qxE -- '--list|--dry-run|-h|--help'; then PY=python3  # runs nothing
  else bash scripts/install.sh; PY=.venv/bin/python
  fi
fi
command -v "$PY" >/dev/null || { echo "gpu_smoke: --python $PY: no such interpreter" >&2; exit 2; }
PY=$(command -v "$PY")
exec "$PY" scripts/gpu_smoke.py --python "$PY" ${ARGS[@]+"${ARGS[@]}"}

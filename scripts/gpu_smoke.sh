#!/usr/bin/env bash
# One GPU smoke command: on a machine with CUDA, every GPU path of ecgnb in a few minutes (experiment notebooks 20, 21,
# 22, 40, 41 through papermill with device=cuda at tiny sizes; bf16 and fp16 autocast with the gradient scaler; a
# torchrun NCCL run of the trainer killed and resumed; pinned-memory loaders with workers; torch.compile on MRM-Net,
# measured; per-model speed and memory at batch 96/128), one line per check with its time and peak GPU memory.
# Refuses (exit 3) on a machine without CUDA. Exit 1 if any check failed. Options: --list, --only, --skip,
# --timeout, --dry-run, --no-install (see python scripts/gpu_smoke.py --help).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/install.sh
exec .venv/bin/python scripts/gpu_smoke.py "$@"

#!/usr/bin/env bash
# Install everything into .venv, then run the main job: generate the offline default cohort (synthetic ECGs written
# in the real PTB-XL / CPSC2018 / ZZU-pECG formats), show it, and run the MRM-Net experiment notebook on it with its
# default (small, CPU) parameters. Executed notebooks, metrics and figures land in runs/.
# Extra arguments go to papermill, e.g.:  bash scripts/run.sh -p epochs 10 -p model resnet1d_wang
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
stamp=$(date +%Y%m%d-%H%M%S)
mkdir -p runs
# Figures go inline into the executed notebooks (Agg here would leave them without figures); no window opens.
export MPLBACKEND=module://matplotlib_inline.backend_inline
.venv/bin/papermill -k python3 --cwd nbs nbs/07_data.synthetic.ipynb "runs/${stamp}_cohort.ipynb"
.venv/bin/papermill -k python3 --cwd nbs nbs/20_mrmnet_experiment.ipynb "runs/${stamp}_mrmnet_experiment.ipynb" \
    -p out_root "$(pwd)/runs" "$@"
echo
echo "Done. Executed notebooks: runs/${stamp}_*.ipynb; run folders (metrics.json, figures/, checkpoints/): runs/"

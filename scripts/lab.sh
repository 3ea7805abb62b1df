#!/usr/bin/env bash
# Open the notebooks in JupyterLab, with live widgets (e.g. the record browser of nbs/06b_viz.browser.ipynb).
# Installs everything into .venv first if JupyterLab is not there yet. Extra arguments go to `jupyter lab`, e.g.
#   bash scripts/lab.sh --no-browser --port 8890       (on a remote machine: then ssh -L 8890:localhost:8890 ...)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/jupyter-lab ] || bash scripts/install.sh
args=(--ServerApp.root_dir="$(pwd)" --LabApp.default_url=/lab/tree/nbs/index.ipynb)
[ "$(id -u)" = 0 ] && args+=(--allow-root)   # e.g. in a container
exec .venv/bin/jupyter lab "${args[@]}" "$@"

#!/usr/bin/env bash
# Install everything into .venv, then run the whole test suite:
# every notebook (one pytest case each), the unit tests in tests/, and the
# check that nbdev_export / nbdev_clean leave the tracked files unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python -m pytest tests "$@"

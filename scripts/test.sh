#!/usr/bin/env bash
# Install everything into .venv, then run the whole test suite:
# every notebook (one pytest case each, its executed copy kept in _executed/), the unit tests in tests/,
# the check that nbdev_export / nbdev_clean leave the tracked files unchanged, the README's main command on a fresh
# clone, the documentation site built from the executed notebooks and loaded page by page in headless Chromium,
# and the record browser live in JupyterLab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
source scripts/tools.sh
# Quarto (site) and Chromium (browser tests) are installed when missing and possible; otherwise the tests that need
# them fail with the reason, and the rest of the suite still runs.
ensure_quarto || echo "warning: no Quarto, the site test will fail" >&2
ensure_chromium || echo "warning: no Chromium, the browser tests will fail" >&2
exec .venv/bin/python -m pytest tests "$@"

#!/usr/bin/env bash
# Build the documentation site into _docs/ with every notebook executed (default parameters, current code), so the
# pages show the figures, tables and printed results.
#
# The executed notebooks come from the test suite: tests/test_notebooks.py saves each notebook it runs, with its
# outputs, to _executed/ (stamped with a hash of the code). This script executes (through that same test) only the
# notebooks whose copy is missing, failed or stale, then renders the copies with nbdev's processors and Quarto.
# So `bash scripts/test.sh` followed by this command executes nothing twice. Maths renders as MathML (no network).
# Needs Quarto (installed from ../shared/tools/quarto when present, see scripts/tools.sh).
# Preview: python -m http.server -d _docs 8000   (then open http://localhost:8000)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/install.sh
source scripts/tools.sh
ensure_quarto
export MPLBACKEND=Agg PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
exec .venv/bin/python scripts/docs.py "$@"

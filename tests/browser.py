"""Headless Chromium for the browser tests: Debian's `chromium` driven by Playwright's Python package (pointed at that
executable, so no browser download). scripts/test.sh installs chromium with apt-get when it is missing."""
import os
import shutil
from contextlib import contextmanager

import pytest


def chromium_executable() -> str:
    for c in (os.environ.get('ECGNB_CHROMIUM'), 'chromium', 'chromium-browser', '/usr/bin/chromium'):
        if c and shutil.which(c):
            return shutil.which(c)
    pytest.fail('Chromium not found: the browser tests need it. `bash scripts/test.sh` installs it with apt-get; '
                'or `apt-get install chromium`, or set ECGNB_CHROMIUM=/path/to/chromium.')


@contextmanager
def chromium():
    "A headless Chromium browser (Playwright sync API)."
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail('playwright is not installed: pip install -e ".[dev]" (or bash scripts/install.sh)')
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_executable(), headless=True,
                              args=['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'])
        try:
            yield b
        finally:
            b.close()

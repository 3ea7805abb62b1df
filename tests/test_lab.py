"""JupyterLab, live: `bash scripts/lab.sh` serves the notebooks, a real browser (headless Chromium via Playwright) opens
the chapter with the record browser (`ecgnb.viz.plots.ECGBrowser`), runs it, moves the browser's record control and checks
that the plot changes.

JupyterLab runs from a fresh clone of this checkout (its `.venv` a link to this one), so that running the chapter,
whose last cell exports the library, and saving it touch nothing here. The test fails on any error output of a cell
(read from the notebook JupyterLab saves), a dead kernel, or a plot that does not change; JupyterLab is always shut
down.
"""
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from browser import chromium
from clone import fresh_clone
from conftest import NBS, ROOT

TIMEOUT_MS = 600_000  # upper bound for starting and running the whole chapter on a loaded 2-core machine


def _browser_chapter() -> Path:
    "The chapter that shows the record browser (found by content, not by name)."
    for p in sorted(NBS.glob('*.ipynb')):
        cells = json.loads(p.read_text())['cells']
        if any(c['cell_type'] == 'code' and re.search(r'display\(\s*ECGBrowser\(', ''.join(c['source'])) for c in cells):
            return p
    pytest.fail('no notebook displays ECGBrowser(...)')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    "JupyterLab started by scripts/lab.sh in a fresh clone, on a free localhost port with a random token."
    clone = fresh_clone(tmp_path / 'ecgnb')
    port, token = _free_port(), secrets.token_hex(16)
    home = tmp_path / 'jupyter'
    env = dict(os.environ, PYTHONPATH=str(clone), JUPYTER_CONFIG_DIR=str(home / 'config'),
               JUPYTER_RUNTIME_DIR=str(home / 'runtime'), JUPYTERLAB_WORKSPACES_DIR=str(home / 'workspaces'),
               MPLBACKEND='module://matplotlib_inline.backend_inline')
    log = open(tmp_path / 'lab.log', 'w')
    proc = subprocess.Popen(['bash', 'scripts/lab.sh', '--no-browser', '--ip=127.0.0.1', f'--port={port}',
                             '--ServerApp.port_retries=0', f'--IdentityProvider.token={token}',
                             '--LabApp.news_url=None', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate'],
                            cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f'http://127.0.0.1:{port}'
    try:
        deadline = time.time() + 300
        while True:
            if proc.poll() is not None:
                pytest.fail(f'JupyterLab exited ({proc.returncode}):\n{(tmp_path / "lab.log").read_text()[-3000:]}')
            try:
                urllib.request.urlopen(f'{base}/api/status?token={token}', timeout=5)
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail(f'JupyterLab did not answer on {base}:\n{(tmp_path / "lab.log").read_text()[-3000:]}')
                time.sleep(1)
        yield dict(base=base, token=token, clone=clone, log=tmp_path / 'lab.log')
    finally:
        _stop(proc)
        log.close()


def _stop(proc):
    "Stop JupyterLab and its kernels (started in their own process group): TERM, then KILL after 30 s."
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # the kernels it started share the group: make sure none is left
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _record_slider(page):
    return page.locator('.widget-slider', has=page.locator('.widget-label', has_text=re.compile(r'^record$'))).first


# JavaScript: the record browser's widget box (the VBox holding the 'record' slider), and what its plot shows.
_JS_BOX = """const box = Array.from(document.querySelectorAll('.jp-OutputArea-output .widget-vbox')).find(
    b => Array.from(b.querySelectorAll('.widget-slider .widget-label')).some(l => l.innerText.trim() === 'record'));"""
_JS_IMGS = """Array.from(box.querySelectorAll('img')).map(i => {
    let h = 0; for (let k = 0; k < i.src.length; k++) h = (h * 31 + i.src.charCodeAt(k)) | 0;
    return i.src.length + ':' + h; })"""


def _plot_state(page):
    "The image(s) the record browser shows (size and tail of each data URL)."
    return page.evaluate(f"() => {{ {_JS_BOX} return box ? {_JS_IMGS} : null; }}")


def test_record_browser_live_in_jupyterlab(lab, tmp_path):
    chapter = _browser_chapter()
    rel = chapter.relative_to(ROOT).as_posix()
    t0 = time.time()
    with chromium() as browser:
        page = browser.new_page(viewport={'width': 1400, 'height': 1000})
        js_errors = []
        page.on('pageerror', lambda e: js_errors.append(str(e)))
        try:
            page.goto(f'{lab["base"]}/lab/tree/{rel}?token={lab["token"]}', timeout=TIMEOUT_MS)
            run_all(page, lab)
            nb = save_and_read(page, lab['clone'] / rel)  # what the kernel produced, error outputs included
            errors = [f'cell {i}: {o["ename"]}: {o["evalue"]}' for i, c in enumerate(nb['cells'])
                      for o in c.get('outputs', []) if o.get('output_type') == 'error']
            assert not errors, 'kernel errors while running the chapter in JupyterLab:\n' + '\n'.join(errors)
            unrun = [i for i, c in enumerate(nb['cells']) if c['cell_type'] == 'code' and c['source']
                     and not c.get('execution_count')]
            assert not unrun, f'cells not executed in JupyterLab: {unrun}'
            views = [o for c in nb['cells'] for o in c.get('outputs', [])
                     if 'application/vnd.jupyter.widget-view+json' in o.get('data', {})]
            assert views, 'the record browser was shown without its widgets'
            value0, value1 = move_record_and_check_plot(page)
        except BaseException:
            shot = tmp_path / 'jupyterlab-failure.png'
            page.screenshot(path=str(shot), full_page=True)
            print(f'\nscreenshot of the failure: {shot}; JupyterLab log: {lab["log"]}')
            raise
    assert not js_errors, f'JavaScript errors in JupyterLab: {js_errors}'
    print(f'\nJupyterLab: {chapter.name} run, record {value0} -> {value1}, the plot changed ({time.time() - t0:.0f}s)')


def _menu(page, menu, item):
    "Click `menu` in the menu bar, then its item labelled `item` (a regular expression)."
    page.locator('.lm-MenuBar-item', has_text=menu).first.click()
    page.locator('.lm-Menu-item', has=page.locator('.lm-Menu-itemLabel', has_text=re.compile(item))).first.click()


def _kernel_states(lab):
    "Execution state of every kernel of the server's sessions (REST API)."
    with urllib.request.urlopen(f'{lab["base"]}/api/sessions?token={lab["token"]}', timeout=10) as r:
        return [s['kernel']['execution_state'] for s in json.load(r) if s.get('kernel')]


def run_all(page, lab):
    "Start the kernel (accepting the kernel dialog, as a user would), Run > Run All Cells, wait until all ran."
    page.wait_for_selector('.jp-NotebookPanel .jp-Cell', timeout=TIMEOUT_MS)
    deadline = time.time() + 300
    while _kernel_states(lab) != ['idle']:
        accept = page.locator('.jp-Dialog .jp-mod-accept')
        if accept.count() and accept.first.is_visible():  # "Select Kernel" (the notebook names none or another)
            accept.first.click()
        assert time.time() < deadline, f'the kernel did not start: {_kernel_states(lab)}'
        page.wait_for_timeout(1000)
    _menu(page, 'Run', r'^Run All Cells$')
    page.wait_for_function("""() => {
      const prompts = Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')).map(e => e.textContent);
      return prompts.length > 0 && !prompts.some(t => t.includes('*')) && prompts.some(t => /\\[\\d+\\]/.test(t));
    }""", timeout=TIMEOUT_MS, polling=1000)
    dead = page.locator('.jp-Dialog', has_text=re.compile('kernel.*(died|restart)', re.I))
    assert dead.count() == 0 and _kernel_states(lab) == ['idle'], \
        f'the kernel died while running the chapter: {_kernel_states(lab)}'


def move_record_and_check_plot(page):
    "Move the record slider one step (keyboard on its handle); the readout and the plotted image must change."
    slider = _record_slider(page)
    slider.scroll_into_view_if_needed(timeout=60_000)
    page.wait_for_function(f"() => {{ {_JS_BOX} return box && box.querySelector('img'); }}", timeout=60_000)
    before = _plot_state(page)
    readout = slider.locator('.widget-readout')
    value0 = readout.inner_text().strip()
    slider.locator('.noUi-handle').focus()
    page.keyboard.press('ArrowRight')
    page.wait_for_function(f"""() => {{
      {_JS_BOX}
      const s = Array.from(box.querySelectorAll('.widget-slider')).find(
          e => e.querySelector('.widget-label').innerText.trim() === 'record');
      return s.querySelector('.widget-readout').innerText.trim() !== {json.dumps(value0)};
    }}""", timeout=30_000)
    value1 = readout.inner_text().strip()
    try:
        page.wait_for_function(f"""(before) => {{
          {_JS_BOX}
          const imgs = {_JS_IMGS};
          return imgs.length > 0 && JSON.stringify(imgs) !== JSON.stringify(before);
        }}""", arg=before, timeout=60_000)
    except Exception:
        pytest.fail(f'the record moved ({value0} -> {value1}) but the plot did not change')
    assert _plot_state(page) != before
    return value0, value1


def save_and_read(page, saved: Path) -> dict:
    "File > Save Notebook, then read what JupyterLab wrote (in the clone)."
    mtime = saved.stat().st_mtime
    _menu(page, 'File', r'^Save( Notebook)?$')
    deadline = time.time() + 60
    while saved.stat().st_mtime == mtime:
        assert time.time() < deadline, 'JupyterLab did not save the executed notebook'
        time.sleep(0.5)
    time.sleep(0.5)
    return json.loads(saved.read_text())

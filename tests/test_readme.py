"""The README's commands, tested as written.

`test_main_command_on_a_fresh_clone` takes the main command from the README's "Two commands" block
(`bash scripts/run.sh`), runs it unchanged in a fresh `git clone` of this checkout with its default parameters, and
checks what the README promises: exit 0, the executed notebooks in `runs/`, and a run folder with params.yaml,
env.json, metrics.json, history.csv, checkpoints, test predictions and figures. To save the install, the clone's
`.venv` is a link to this checkout's and `ECGNB_REUSE_VENV=1` makes scripts/install.sh verify (not assume) that it
is complete instead of reinstalling; everything after the install is the script as written. In CI the checkout is
itself a fresh clone; on a developer's machine the working tree's uncommitted changes are carried over (see
tests/clone.py), so the test runs the scripts and notebooks as they are now.

`test_documented_papermill_calls_name_a_kernel`: nbdev_clean strips the kernelspec from the notebooks, so a
papermill call without `-k` fails ("No kernel name found in notebook"); every call the project documents names one.
"""
import json
import os
import re
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest

from clone import fresh_clone
from conftest import ROOT


def _two_commands():
    "The commands of the README's 'Two commands' code block, comments removed."
    text = (ROOT / 'README.md').read_text()
    sec = text.split('## Two commands', 1)[1]
    block = re.search(r'```bash\n(.*?)```', sec, re.S).group(1)
    return [l.split('#', 1)[0].strip() for l in block.splitlines() if l.split('#', 1)[0].strip()]


def _children_cpu():
    "CPU seconds (user + system) of the finished child processes and their descendants."
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run_in_own_group(cmd, timeout, **kw):
    "Run `cmd` in its own process group; on timeout kill the whole group (papermill and its kernels too)."
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail(f'`{" ".join(cmd)}` did not finish in {timeout}s:\n{out[-2000:]}\n{err[-3000:]}')
    return p.returncode, out, err


@pytest.fixture
def clone(tmp_path):
    return fresh_clone(tmp_path / 'ecgnb')


def test_main_command_on_a_fresh_clone(clone):
    cmds = _two_commands()
    assert cmds[0] == 'bash scripts/run.sh', f'README main command changed to {cmds[0]!r}: update this test'
    env = dict(os.environ, ECGNB_REUSE_VENV='1', PYTHONPATH=str(clone))  # kernels import the clone's ecgnb
    env.pop('MPLBACKEND', None)  # run.sh sets its own
    t0, c0 = time.time(), _children_cpu()
    rc, out, err = _run_in_own_group(['bash', '-c', cmds[0]], cwd=clone, env=env, timeout=1800)
    print(f'\n{cmds[0]} on a fresh clone: {time.time() - t0:.0f}s wall, {_children_cpu() - c0:.0f}s CPU')
    assert rc == 0, f'`{cmds[0]}` failed ({rc}):\n{out[-3000:]}\n{err[-6000:]}'
    assert 'reusing the complete .venv' in out, out[-2000:]

    runs = clone / 'runs'
    for stem in ('cohort', 'mrmnet_experiment'):
        found = sorted(runs.glob(f'*_{stem}.ipynb'))
        assert len(found) == 1, f'expected one executed runs/<time>_{stem}.ipynb, found {found}'
        nb = json.loads(found[0].read_text())
        code = [c for c in nb['cells'] if c['cell_type'] == 'code']
        assert code and all(c.get('execution_count') for c in code), f'{found[0].name}: not every cell executed'
        errors = [o for c in code for o in c.get('outputs', []) if o['output_type'] == 'error']
        assert not errors, f'{found[0].name}: {errors[0]["ename"]}: {errors[0]["evalue"]}'
        assert any(o['output_type'] == 'display_data' and 'image/png' in o.get('data', {})
                   for c in code for o in c.get('outputs', [])), f'{found[0].name} shows no figure'

    folders = [p for p in runs.iterdir() if p.is_dir() and (p / 'metrics.json').exists()]
    assert folders, f'no run folder with metrics.json under {runs}: {sorted(p.name for p in runs.iterdir())}'
    for run in folders:
        for f in ('params.yaml', 'env.json', 'history.csv'):
            assert (run / f).is_file() and (run / f).stat().st_size > 0, f'{run.name}/{f} missing or empty'
        metrics = json.loads((run / 'metrics.json').read_text())
        assert metrics, f'{run.name}/metrics.json is empty'
        history = (run / 'history.csv').read_text().strip().splitlines()
        assert len(history) >= 2, f'{run.name}/history.csv has no epoch row'
        ckpts = [p for p in (run / 'checkpoints').rglob('*') if p.is_file()] if (run / 'checkpoints').is_dir() else []
        assert ckpts, f'{run.name}/checkpoints/ is missing or empty'
        figs = [p for p in (run / 'figures').rglob('*') if p.suffix in ('.png', '.svg', '.pdf')] \
            if (run / 'figures').is_dir() else []
        assert figs, f'{run.name}/figures/ has no figure'
        preds = [p for p in run.rglob('*') if p.is_file() and 'pred' in p.name.lower()]
        assert preds, f'{run.name} has no test predictions file'


# Text the project documents: README, developer notes, scripts, notebooks (markdown and code), benchmarks.
def _documented_texts():
    for p in [ROOT / 'README.md', ROOT / 'DEVELOPING.md', *sorted((ROOT / 'scripts').glob('*')),
              *sorted((ROOT / 'bench').glob('*.py'))]:
        if p.is_file(): yield p.relative_to(ROOT), p.read_text()
    for p in sorted((ROOT / 'nbs').glob('*.ipynb')):
        for i, c in enumerate(json.loads(p.read_text())['cells']):
            yield f'{p.relative_to(ROOT)} cell {i}', ''.join(c['source'])


def _papermill_calls(text):
    "Each `papermill <notebook> ...` command line (with its backslash continuations)."
    text = text.replace('\\\n', ' ')
    for m in re.finditer(r'(?:^|[\s`(])((?:\S*/)?papermill\s+[^\n`]*)', text):
        call = m.group(1)
        args = call.split()[1:]
        if args and (args[0] in ('...', '…') or not any(a.endswith('.ipynb') for a in args)):
            continue  # "papermill ... -p x" (an abbreviation) or prose that names papermill
        yield call


def test_documented_papermill_calls_name_a_kernel():
    calls, bad = 0, []
    for where, text in _documented_texts():
        for call in _papermill_calls(text):
            calls += 1
            if not re.search(r'(?:^|\s)(?:-k|--kernel)(?:\s|=)\S', call):
                bad.append(f'{where}: {call.strip()}')
    assert calls >= 3, f'found only {calls} documented papermill calls: is the scan still right?'
    assert not bad, 'papermill calls without a kernel name (add `-k python3`):\n' + '\n'.join(bad)

"""Every command the README and the experiment notebooks' headers show is executed here in dry-run form: parsed and
resolved, never trained.

* `python -m ecgnb.run ...` (or `ecgnb-run ...`) lines go through the runner's own `main`: `run` with `--dry-run`
  added (preset found, every `-p` a parameter of its notebook with a value of the right type), `show`, `params`,
  `list` and `reproduce` as written. `VAR=value` prefixes and `export VAR=...` lines set the environment, as a shell
  would.
* `papermill ...` lines: the notebook exists in `nbs/`, every `-p`/`-r`/`-y` name is one of its parameters, and every
  value (read as papermill's CLI reads it) has the type of the parameter's default. A papermill line that runs on a
  GPU (`device cuda`) is a table's recipe, so it must be exactly one preset's parameters (apart from the output
  folders the runner sets itself): one recipe per table, in one place.
"""
import contextlib
import io
import json
import os
import re
import shlex

import pytest

from conftest import ROOT

from ecgnb.run import check_types, load_presets, main, notebook_params, papermill_params

HEADERS = ['16_run', '20_mrmnet_experiment', '21_mutual_ablation', '22_summary', '40_cross_modal_alignment',
           '41_transfer_experiments', '42_peace_ladder']
RUNNER_SET = {'out_root', 'out_dir', 'cells_dir', 'run_dir'}      # folders the runner fills in, not part of a recipe


def _texts():
    yield 'README.md', (ROOT / 'README.md').read_text()
    for stem in HEADERS:
        nb = json.loads((ROOT / 'nbs' / f'{stem}.ipynb').read_text())
        for i, c in enumerate(nb['cells']):
            if c['cell_type'] == 'markdown': yield f'nbs/{stem}.ipynb cell {i}', ''.join(c['source'])


def _commands(text):
    "(env, command) for every runner or papermill command in the fenced blocks and inline code of `text`."
    blocks = re.findall(r'```[a-z]*\n(.*?)```', text, re.S)
    inline = re.findall(r'`((?:python -m ecgnb\.run|papermill) [^`]+)`', re.sub(r'```.*?```', '', text, flags=re.S))
    for block in blocks + inline:
        env, shell = {}, {}
        for line in block.replace('\\\n', ' ').splitlines():
            try: words = shlex.split(line, comments=True)
            except ValueError: continue
            if words[:1] == ['export']:
                env.update(w.split('=', 1) for w in words[1:] if '=' in w); continue
            if len(words) == 1 and re.fullmatch(r'[A-Z_]+=.*', words[0]):       # COMMON="-p ..." for later lines
                shell.update([words[0].split('=', 1)]); continue
            pre = {}
            while words and re.fullmatch(r'[A-Z_]+=\S*', words[0]): pre.update([words.pop(0).split('=', 1)])
            if not (words[:3] == ['python', '-m', 'ecgnb.run'] or words[:1] in (['ecgnb-run'], ['papermill'])): continue
            if any(w in ('...', '…') or re.fullmatch(r'<[^>]*>|[A-Z][A-Z_]*', w) for w in words[1:]):
                continue                                # an abbreviation or a metavariable (run PRESET), not a command
            line = re.sub(r'\$([A-Z_]+)\b', lambda m: shell.get(m.group(1), m.group(0)), line)   # $COMMON
            yield {**env, **pre}, line


def _all_commands():
    out = []
    for where, text in _texts():
        out += [(where, env, cmd) for env, cmd in _commands(text)]
    return out


COMMANDS = _all_commands()


def test_the_scan_finds_the_documented_commands():
    runner = [c for _, _, c in COMMANDS if 'ecgnb.run' in c]
    pm = [c for _, _, c in COMMANDS if c.lstrip().startswith('papermill')]
    assert len(runner) >= 25 and len(pm) >= 10, (len(runner), len(pm))
    readme = ' '.join(c for w, _, c in COMMANDS if w == 'README.md')
    for n, p in load_presets().items():         # every table's preset (one per grid) is in the README
        if p['table'] and not n.startswith(('gpu-zoo-', 'gpu-paper-ptbxl-')):
            assert f'python -m ecgnb.run run {n}' in readme, n


def _runner_argv(cmd):
    words = shlex.split(cmd, comments=True)
    while words and re.fullmatch(r'[A-Z_]+=\S*', words[0]): words.pop(0)
    argv = words[3:] if words[0] == 'python' else words[1:]
    if argv[:1] == ['run'] and '--dry-run' not in argv: argv.append('--dry-run')
    return argv


@pytest.mark.parametrize('where,env,cmd', [c for c in COMMANDS if 'ecgnb.run' in c[2] or c[2].startswith('ecgnb-run')],
                         ids=lambda x: x if isinstance(x, str) and len(x) < 60 else None)
def test_runner_command_resolves(where, env, cmd, monkeypatch):
    for k, v in env.items(): monkeypatch.setenv(k, v)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(_runner_argv(cmd))
    assert rc == 0, f'{where}: `{cmd}` fails: {err.getvalue()}'


def _papermill_check(where, cmd, presets):
    nb, params = papermill_params(cmd)
    assert (ROOT / 'nbs' / nb).exists(), f'{where}: {nb} is not a notebook in nbs/'
    valid = notebook_params(nb)
    unknown = sorted(set(params) - set(valid))
    assert not unknown, f'{where}: {unknown} are not parameters of {nb}: `{cmd}`'
    check_types(params, valid, nb)                 # raises with the parameter, the type and the notebook
    if params.get('device') == 'cuda':
        recipe = {k: v for k, v in params.items() if k not in RUNNER_SET}
        same = [n for n, p in presets.items() if p['notebook'] == nb and p['params'] == recipe]
        assert same, (f'{where}: a GPU papermill recipe that is no preset (one recipe per table: document the preset, '
                      f'or its line from `python -m ecgnb.run show PRESET`): `{cmd}`')


@pytest.mark.parametrize('where,env,cmd', [c for c in COMMANDS if c[2].lstrip().startswith('papermill')],
                         ids=lambda x: x if isinstance(x, str) and len(x) < 60 else None)
def test_papermill_command_resolves(where, env, cmd):
    _papermill_check(where, cmd, load_presets())


def test_a_papermill_recipe_that_differs_from_its_preset_is_caught():
    "The check above can fail: the README's old CPSC2018 line (no window, fp32) is not the preset's recipe."
    old = ('papermill -k python3 nbs/20_mrmnet_experiment.ipynb runs/mrmnet-cpsc.ipynb -p dataset cpsc2018 '
           '-p data_dir /data/cpsc2018 -p epochs 40 -p batch_size 96 -p max_per_split 0 -p device cuda')
    with pytest.raises(AssertionError, match='a GPU papermill recipe that is no preset'):
        _papermill_check('old README', old, load_presets())
    with pytest.raises(ValueError, match='parameter epochs of 20_mrmnet_experiment.ipynb must be int'):
        _papermill_check('typo', 'papermill -k python3 nbs/20_mrmnet_experiment.ipynb o.ipynb -p epochs two', load_presets())
    with pytest.raises(AssertionError, match='not parameters of'):
        _papermill_check('typo', 'papermill -k python3 nbs/20_mrmnet_experiment.ipynb o.ipynb -p epoch 2', load_presets())

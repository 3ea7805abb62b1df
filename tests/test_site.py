"""Checks of the Quarto site that need no Quarto: configuration, sidebar, notebook front matter and papermill
parameters. The site itself (nbdev's processors and Quarto on the executed notebooks, then every page in a browser)
is built and tested by tests/test_site_browser.py."""
import json
from pathlib import Path

import pytest
import yaml

from conftest import NBS, ROOT

NOTEBOOKS = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith('_'))


def _cells(path):
    return json.loads(path.read_text())['cells']


def test_quarto_config_is_shared():
    top = yaml.safe_load((ROOT / '_quarto.yml').read_text())
    assert top['project']['type'] == 'website'
    assert (NBS / '_quarto.yml').resolve() == (ROOT / '_quarto.yml').resolve(), \
        'nbs/_quarto.yml must be a symlink to the top-level _quarto.yml (nbdev 2 renders from nbs/)'
    for f in top['metadata-files']:
        assert (NBS / f).exists(), f'{f} named in _quarto.yml is missing from nbs/'


def _sidebar_files(node):
    "Every notebook file named anywhere in a (nested) Quarto sidebar spec."
    if isinstance(node, str):
        if node.endswith('.ipynb'): yield node
    elif isinstance(node, dict):
        for v in node.values(): yield from _sidebar_files(v)
    elif isinstance(node, list):
        for v in node: yield from _sidebar_files(v)


def test_sidebar_lists_every_notebook_once():
    sb = yaml.safe_load((NBS / 'sidebar.yml').read_text())
    listed = [f for f in _sidebar_files(sb['website']['sidebar']['contents'])]
    assert sorted(listed) == sorted(p.name for p in NOTEBOOKS), 'update nbs/sidebar.yml'


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_front_matter(path):
    cells = _cells(path)
    md = next(c for c in cells if c['cell_type'] == 'markdown')
    src = ''.join(md['source'])
    assert src.lstrip().startswith('# '), f'{path.name}: first markdown cell must start with a "# Title"'
    assert '\n> ' in src, f'{path.name}: first markdown cell needs a "> one-line summary"'
    tagged = [c for c in cells if 'parameters' in c.get('metadata', {}).get('tags', [])]
    assert len(tagged) <= 1, f'{path.name}: tag at most one cell `parameters`'
    for c in tagged:
        assert '#| export' not in ''.join(c['source']), f'{path.name}: the parameters cell must not be exported'


@pytest.mark.parametrize('path', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_papermill_reads_every_parameter(path):
    "papermill must parse each line of the parameters cell (an '=' in a comment, for one, breaks its parser)."
    from papermill.translators import PythonTranslator
    for c in _cells(path):
        if 'parameters' not in c.get('metadata', {}).get('tags', []): continue
        src = ''.join(c['source'])
        names = [l.split('=')[0].strip() for l in src.splitlines() if l.strip() and not l.lstrip().startswith('#')]
        parsed = [p.name for p in PythonTranslator.inspect({'source': src})]
        assert parsed == names, f'{path.name}: papermill parsed {parsed}, the cell defines {names}'


def test_maths_render_without_network():
    "Maths is converted to MathML when the site is built: pages need no MathJax/KaTeX from a CDN."
    top = yaml.safe_load((ROOT / '_quarto.yml').read_text())
    assert top['format']['html'].get('html-math-method') == 'mathml'

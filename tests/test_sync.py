"""The library is generated from the notebooks: exporting or cleaning must change nothing."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT


def _git(*args):
    return subprocess.run(['git', *args], cwd=ROOT, capture_output=True, text=True)


def _bin(name):
    exe = Path(sys.executable).parent / name
    return str(exe) if exe.exists() else shutil.which(name)


@pytest.fixture
def git_tree():
    if _git('rev-parse', '--is-inside-work-tree').returncode != 0:
        pytest.skip('not a git checkout')
    before = _git('status', '--porcelain', '--untracked-files=no').stdout
    return before


@pytest.mark.parametrize('tool', ['nbdev_export', 'nbdev_clean'])
def test_tool_leaves_tree_unchanged(tool, git_tree):
    r = subprocess.run([_bin(tool)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    after = _git('status', '--porcelain', '--untracked-files=no').stdout
    diff = _git('diff', '--stat').stdout
    assert after == git_tree, (f'{tool} changed tracked files; run `{tool}` and commit the result.\n{diff}')


def test_every_exported_module_imports():
    import importlib
    import ecgnb._modidx as m
    for mod in sorted(m.d['syms']):  # keys are the exported module names
        importlib.import_module(mod)

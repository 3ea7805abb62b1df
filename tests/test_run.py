"""`python -m ecgnb.run` as a user types it: listing presets, the reproduction table, and refusing unknown presets,
unknown parameters and unfilled placeholders with the valid choices. (Executing presets is tested in nbs/16_run.ipynb
with a tiny notebook, and end to end by nbs/22_summary.ipynb, which runs the cpu-smoke preset when no runs exist.)"""
import os
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT

from ecgnb.run import load_presets, notebook_params, presets_path, reproduce_table, resolve_params


def cli(*args, env=None):
    e = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run([sys.executable, '-m', 'ecgnb.run', *args], capture_output=True, text=True, cwd=ROOT, env=e,
                          timeout=120)


def test_list_and_reproduce():
    r = cli('list')
    assert r.returncode == 0, r.stderr
    names = [l.split()[0] for l in r.stdout.splitlines()]
    assert names == list(load_presets())
    assert {'cpu-smoke', 'gpu-paper-cpsc', 'gpu-ablation-ptbxl-superdiagnostic'} <= set(names)
    assert {'gpu-paper-peace-align', 'gpu-paper-peace-transfer'} <= set(names)               # issue 16: PEACE as the paper runs it
    assert {f'gpu-paper-ptbxl-{t}' for t in ('all', 'diagnostic', 'subdiagnostic', 'superdiagnostic', 'form', 'rhythm')} <= set(names)
    r = cli('reproduce')
    assert r.returncode == 0, r.stderr
    for n in reproduce_table().preset:
        assert f'python -m ecgnb.run run {n} ' in r.stdout, n
    assert r.stdout.strip().splitlines()[-1].startswith('Total: 52 runs')
    md = cli('reproduce', '--markdown').stdout
    assert md.startswith('| table | command |') and md.count('`python -m ecgnb.run run ') == 52


def test_refusals_name_the_valid_choices():
    r = cli('run', 'gpu-paper-ptbxl-al')
    assert r.returncode == 2 and "unknown preset 'gpu-paper-ptbxl-al'; presets: [" in r.stderr and "'gpu-paper-ptbxl-all'" in r.stderr
    r = cli('run', 'cpu-smoke', '-p', 'epoch=2')
    assert r.returncode == 2
    assert "unknown parameter(s) ['epoch'] for 20_mrmnet_experiment.ipynb; valid parameters: [" in r.stderr
    assert "'epochs'" in r.stderr and "'max_per_split'" in r.stderr
    r = cli('run', 'gpu-paper-cpsc', env={'CPSC_DIR': ''})
    assert r.returncode == 2 and 'needs ${CPSC_DIR}; set the environment variable CPSC_DIR' in r.stderr
    r = cli('run', 'cpu-smoke', '-p', 'out_root=/tmp/x')
    assert r.returncode == 2 and 'out_root is set by the runner' in r.stderr
    assert not (ROOT / 'runs').exists() or not any('gpu-paper-cpsc' in p.name for p in (ROOT / 'runs').iterdir())


def test_params_command_reads_the_notebook():
    r = cli('params', '21_mutual_ablation.ipynb')
    assert r.returncode == 0, r.stderr
    assert [l.split()[0] for l in r.stdout.splitlines()] == list(notebook_params('21_mutual_ablation.ipynb'))


def test_every_preset_is_valid_for_its_notebook():
    for name, p in load_presets().items():
        params = resolve_params(p, env={'PTBXL_DIR': '/d', 'CPSC_DIR': '/d', 'ZZU_DIR': '/d', 'ECGNB_REAL_SAMPLES': '/d'})
        assert 'out_root' not in params, name
        assert (p['gpu_minutes'] > 0) if name.startswith('gpu-') else (p['gpu_minutes'] == 0), name
        if p['table']: assert params.get('device') == 'cuda' and params.get('epochs', 40) == 40, name   # 41: epochs_source/target


def test_preset_file_is_plain_data():
    spec = yaml.safe_load(presets_path().read_text())
    assert set(spec) == {'presets', 'grids'}

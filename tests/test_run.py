"""`python -m ecgnb.run` as a user types it: listing presets, the reproduction table, showing a preset, refusing
unknown presets, unknown parameters, values of the wrong type and unfilled placeholders with the valid choices, the
notebooks of a wheel install (no checkout), and a tiny preset run killed with SIGKILL and resumed to the result of
an uninterrupted run. (Executing presets is also tested in nbs/16_run.ipynb with tiny notebooks, and end to end by
nbs/22_summary.ipynb, which runs the cpu-smoke preset when no runs exist.)"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

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
    n = len(reproduce_table())
    assert n == 53 and r.stdout.strip().splitlines()[-1].startswith(f'Total: {n} runs')
    md = cli('reproduce', '--markdown').stdout
    assert md.startswith('| table | command |') and md.count('`python -m ecgnb.run run ') == n


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
        if p['table']: assert params.get('device') == 'cuda', name
        if p['table'] and p['notebook'][:3] in ('20_', '21_', '40_'): assert params['epochs'] == 40, name   # the released protocol


def test_one_preset_per_table_and_the_cpsc_protocol():
    P = load_presets()
    tables = {}
    for n, p in P.items():
        if p['table'] and not n.startswith(('gpu-zoo-', 'gpu-paper-ptbxl-')): tables.setdefault(p['table'], []).append(n)
    assert all(len(v) == 1 for v in tables.values()), tables            # grids: one preset per task / model
    # CPSC2018: the reference code's main route stretches short records to 10 s; the zoo runs on the same terms
    assert {P[n]['params'].get('window') for n in P if P[n]['params'].get('dataset') == 'cpsc2018'} == {'stretch'}


def test_show_prints_the_resolved_preset():
    r = cli('show', 'gpu-paper-cpsc', env={'CPSC_DIR': '/data/cpsc2018'})
    assert r.returncode == 0, r.stderr
    assert "  data_dir = '/data/cpsc2018'" in r.stdout and "  window = 'stretch'" in r.stdout
    assert 'python -m ecgnb.run run gpu-paper-cpsc' in r.stdout
    assert 'papermill -k python3 nbs/20_mrmnet_experiment.ipynb runs/gpu-paper-cpsc.ipynb' in r.stdout
    r = cli('params', 'gpu-paper-peace-transfer', env={'PTBXL_DIR': '', 'ZZU_DIR': ''})   # as notebook 41's header documents
    assert r.returncode == 0, r.stderr
    assert "source_dir = '${PTBXL_DIR}'   # set this environment variable" in r.stdout


def test_parameter_types_are_checked_before_anything_runs(tmp_path):
    t0 = time.time()
    r = cli('run', 'cpu-smoke', '-p', 'epochs=two', '--runs', str(tmp_path / 'runs'))
    assert r.returncode == 2
    assert 'parameter epochs of 20_mrmnet_experiment.ipynb must be int, like its default 4' in r.stderr, r.stderr
    assert time.time() - t0 < 60 and not (tmp_path / 'runs').exists()        # refused before a run folder or data
    r = cli('run', 'cpu-smoke', '-p', 'lr=1e-4', '--dry-run')
    assert r.returncode == 0, r.stderr
    assert '  lr = 0.0001' in r.stdout and 'python -m ecgnb.run run cpu-smoke -p lr=0.0001' in r.stdout


def test_notebooks_found_in_a_wheel_install(tmp_path):
    "A regular install has no nbs/ beside the package: the notebooks the wheel carries in ecgnb/notebooks are used."
    site = tmp_path / 'site-packages'
    shutil.copytree(ROOT / 'ecgnb', site / 'ecgnb', ignore=shutil.ignore_patterns('__pycache__'))
    (site / 'ecgnb' / 'notebooks').mkdir()
    shutil.copy2(ROOT / 'nbs' / '20_mrmnet_experiment.ipynb', site / 'ecgnb' / 'notebooks')
    env = {k: v for k, v in os.environ.items() if k != 'ECGNB_NBS'}
    env['PYTHONPATH'] = str(site)
    r = subprocess.run([sys.executable, '-m', 'ecgnb.run', 'params', '20_mrmnet_experiment.ipynb'], capture_output=True,
                       text=True, cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert [l.split()[0] for l in r.stdout.splitlines()] == list(notebook_params('20_mrmnet_experiment.ipynb'))
    r = subprocess.run([sys.executable, '-c', 'import ecgnb.run as r; print(r.nbs_dir())'], capture_output=True,
                       text=True, cwd=tmp_path, env=env, timeout=120)
    assert Path(r.stdout.strip()) == site / 'ecgnb' / 'notebooks', r.stderr
    r = subprocess.run([sys.executable, '-m', 'ecgnb.run', 'show', 'gpu-paper-peace-align'], capture_output=True,
                       text=True, cwd=tmp_path, env=env, timeout=120)
    assert r.returncode == 2 and '40_cross_modal_alignment.ipynb: notebook not found' in r.stderr     # not packaged here


TINY = """presets:
  tiny-transfer:
    notebook: 41_transfer_experiments.ipynb
    params: {methods: 'source_only,finetune', settings: 'zero-shot,full', seeds: '0', width: 4, d_model: 8,
             epochs_source: 1, epochs_target: 1, max_source_train: 100, n_boot: 20, device: cpu, check: false}
    gpu_minutes: 0
    description: a tiny PEACE transfer grid (3 cells; source-only has only zero-shot)
"""


def _runs_csv(run_folder: Path) -> pd.DataFrame:
    "The transfer grid's runs.csv written by the last (finished) execution in `run_folder`, without timings."
    f = sorted(run_folder.glob('*_transfer/runs.csv'))[-1]
    return pd.read_csv(f).drop(columns=['train_s'])


def test_killed_preset_run_resumes_to_the_uninterrupted_result(tmp_path):
    import psutil
    (tmp_path / 'p.yaml').write_text(TINY)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    base = [sys.executable, '-m', 'ecgnb.run', 'run', 'tiny-transfer', '--presets', str(tmp_path / 'p.yaml')]
    ref = subprocess.run(base + ['--runs', str(tmp_path / 'ref'), '--quiet'], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=600)
    assert ref.returncode == 0, ref.stderr[-3000:]
    # the same preset, killed (the runner, papermill and the kernel) once its first grid cell is written
    p = subprocess.Popen(base + ['--runs', str(tmp_path / 'runs')], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, env=env, cwd=tmp_path, start_new_session=True)
    t0, procs = time.time(), []
    while not list((tmp_path / 'runs').glob('*/cells/*/row.json')):
        assert p.poll() is None and time.time() - t0 < 600, 'the run ended before its first cell was written'
        procs = [psutil.Process(p.pid)] + psutil.Process(p.pid).children(recursive=True)
        time.sleep(0.2)
    for q in procs:
        try: q.kill()
        except psutil.NoSuchProcess: pass
    p.wait(timeout=60)
    run_folder, = (tmp_path / 'runs').iterdir()
    assert json.loads((run_folder / 'runner.json').read_text())['status'] == 'running'     # killed, not finished
    assert not list(run_folder.glob('*_transfer/runs.csv'))
    n_done = len(list(run_folder.glob('cells/*/row.json')))
    r = subprocess.run(base + ['--resume', str(run_folder)], capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'Executing' in r.stderr and 'resuming 41_transfer_experiments.ipynb' in r.stdout      # progress streamed
    info = json.loads((run_folder / 'runner.json').read_text())
    assert (info['status'], info['resumes']) == ('ok', 1)
    log = (run_folder / 'run.log').read_text()
    assert 'executing 41_transfer_experiments.ipynb' in log and 'resuming 41_transfer_experiments.ipynb' in log
    assert 'runs in' in log                                          # the notebook's own progress lines are logged
    ref_folder = next((tmp_path / 'ref').iterdir())
    n_cells = len(list(ref_folder.glob('cells/*/row.json')))
    assert 1 <= n_done < n_cells == len(list(run_folder.glob('cells/*/row.json'))) == 3, (n_done, n_cells)
    pd.testing.assert_frame_equal(_runs_csv(run_folder), _runs_csv(ref_folder))


def test_preset_file_is_plain_data():
    spec = yaml.safe_load(presets_path().read_text())
    assert set(spec) == {'presets', 'grids'}


def test_summary_counts_every_kind_of_run_folder_and_min_runs(tmp_path):
    "Notebook 22 summarises a PEACE transfer grid and a plain-papermill MRM-Net run, and fails below min_runs."
    runs = tmp_path / 'runs'
    tr = runs / '20260101-000000_transfer'; tr.mkdir(parents=True)
    (tr / 'params.yaml').write_text('methods: [peace]\nsettings: [full]\nseeds: [0]\nsource_dir: null\ntarget_dir: null\n')
    pd.DataFrame(dict(method=['peace'], label=['PEACE'], setting=['full'], kind=['full'], k=[None], seed=[0], auc=[0.7],
                      auc_lo=[0.6], auc_hi=[0.8], bacc=[0.6], f1=[0.5], n_test=[40])).to_csv(tr / 'runs.csv', index=False)

    def summary(*params):
        return subprocess.run([sys.executable, '-m', 'papermill', '-k', 'python3', '--no-progress-bar', '--cwd', str(ROOT / 'nbs'),
                               str(ROOT / 'nbs' / '22_summary.ipynb'), str(tmp_path / 'out.ipynb'), '-p', 'runs_root', str(runs),
                               '-p', 'if_empty', 'None', *params], capture_output=True, text=True, timeout=300,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
    r = summary('-p', 'min_runs', '1')
    assert r.returncode == 0, r.stderr[-3000:]
    out = (tmp_path / 'out.ipynb').read_text()
    assert '1 run folder(s) under' in out and '1 peace-transfer' in out
    r = summary('-p', 'min_runs', '2')
    assert r.returncode != 0 and 'fewer than min_runs=2' in r.stderr

"""scripts/gpu_smoke.py's CPU-side logic (no GPU needed): argument handling, the refusal without CUDA, the one line
per check summary and exit code, a failing or hanging check reported as FAIL while the rest still run, and the JSON of
measured figures read back by the reproduce table and bench/bench_train.py. The GPU checks themselves run only on a
CUDA machine (bash scripts/gpu_smoke.sh)."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT, load_script

gs = load_script('scripts/gpu_smoke.py')
NO_GPU = dict(nvidia_smi=None, torch='2.13.0+cpu', cuda_build=None, available=False, count=0, name=None)
GPU = dict(nvidia_smi='/usr/bin/nvidia-smi', torch='2.13.0+cu128', cuda_build='12.8', available=True, count=1,
           name='Fake GPU')


def test_refuses_without_cuda_on_this_machine():
    "The real command on this (CPU) machine: exit 3 with a message that says why and what to do."
    r = subprocess.run(['bash', str(ROOT / 'scripts/gpu_smoke.sh'), '--no-install'], capture_output=True, text=True,
                       timeout=300)
    probe = gs.probe_cuda()
    if probe['available']: pytest.skip('this machine has CUDA')
    assert r.returncode == gs.REFUSED, r.stdout + r.stderr
    assert 'gpu_smoke refuses to run' in r.stderr and 'CUDA' in r.stderr
    assert 'PASS' not in r.stdout and 'FAIL' not in r.stdout


@pytest.mark.parametrize('probe,expect', [
    (NO_GPU, 'no NVIDIA driver'),
    (dict(NO_GPU, nvidia_smi='/usr/bin/nvidia-smi'), 'is a CPU build'),
    (dict(NO_GPU, nvidia_smi='/usr/bin/nvidia-smi', cuda_build='12.8', torch='2.13.0'), 'sees no usable CUDA device'),
])
def test_refusal_messages(probe, expect):
    assert expect in gs.refusal(probe)
    assert gs.refusal(GPU) is None


def test_main_refuses_before_running_any_check(tmp_path):
    ran = []
    rc = gs.main(['--no-install', '--out', str(tmp_path), '--measured', str(tmp_path / 'm.json')],
                 probe=lambda: NO_GPU, runner=lambda *a, **k: ran.append(a))
    assert rc == gs.REFUSED and ran == [] and not (tmp_path / 'm.json').exists()


def test_install_commands_for_a_cpu_torch_with_a_driver():
    "Over a CPU build with a driver: one install of the exact CUDA build (never an uninstall first); nothing otherwise."
    assert gs.pinned_torch() == 'torch==2.13.0'
    cmds = gs.install_commands(dict(NO_GPU, nvidia_smi='/usr/bin/nvidia-smi', driver_cuda='12.8'), python='py',
                               index='https://idx')
    assert len(cmds) == 1 and cmds[0][-3:] == ['torch==2.13.0+cu128', '--index-url', 'https://idx']
    assert not any('uninstall' in c for c in cmds[0])
    assert gs.install_commands(NO_GPU) == [] and gs.install_commands(GPU) == []


def test_arguments(capsys):
    assert gs.main(['--list']) == 0
    names = capsys.readouterr().out.split()
    assert names == gs.CHECK_NAMES
    assert {'nb20-mrmnet', 'nb21-ablation', 'nb22-summary', 'nb40-alignment', 'nb41-transfer', 'amp-bf16', 'amp-fp16',
            'ddp-nccl-resume', 'loaders-pinned', 'compile-mrmnet', 'bench-models'} == set(names)
    assert gs.select('amp-fp16,amp-bf16', None) == ['amp-bf16', 'amp-fp16']          # run in the canonical order
    assert gs.select(None, 'bench-models') == gs.CHECK_NAMES[:-1]
    with pytest.raises(ValueError, match="unknown check.*amp-fp8.*checks: nb20-mrmnet"):
        gs.select('amp-fp8', None)
    assert gs.main(['--only', 'nope']) == 2 and 'unknown check(s) nope' in capsys.readouterr().err
    assert gs.main(['--timeout', '0']) == 2
    assert gs.main(['--dry-run', '--only', 'nb20-mrmnet,amp-fp16', '--out', '/o']) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith('nb20-mrmnet: ') and '-p device cuda' in out[0]
    assert 'gpu_smoke_checks.py amp --precision fp16 --out /o/amp-fp16' in out[1]


def test_every_notebook_check_runs_on_cuda_with_known_parameters():
    "Each papermill check names only parameters its notebook has (papermill would ignore a misspelt one)."
    from ecgnb.run import notebook_params
    for name, cmd in gs.checks(ROOT / 'o').items():
        if '-m' not in cmd or 'papermill' not in cmd: continue
        nb = next(c for c in cmd if c.endswith('.ipynb') and c.startswith('nbs/'))
        known = set(notebook_params(nb.split('/', 1)[1]))
        given = {cmd[i + 1] for i, c in enumerate(cmd) if c == '-p'}
        given |= {cmd[i + 1].split(':')[0] for i, c in enumerate(cmd) if c == '-y'}
        assert given <= known, (name, given - known)
        if 'device' in known: assert cmd[cmd.index('device') + 1] == 'cuda', name


def test_summary_lines_and_exit_code():
    rs = [gs.Result('amp-bf16', 'PASS', 12.34, 812.0, 'bf16 autocast: loss 0.7 -> 0.5'),
          gs.Result('ddp-nccl-resume', 'FAIL', 60.0, None, 'exit 1: RuntimeError: NCCL error'),
          gs.Result('compile-mrmnet', 'SKIP', 0.0, None, 'not selected')]
    lines = gs.summary(rs).splitlines()
    assert lines[0] == 'PASS  amp-bf16              12.3 s  peak      812 MiB  bf16 autocast: loss 0.7 -> 0.5'
    assert lines[1].startswith('FAIL  ddp-nccl-resume') and lines[1].endswith('RuntimeError: NCCL error')
    assert '       - MiB' in lines[1]
    assert lines[-1] == '1 passed, 1 failed, 1 skipped in 72 s'
    assert gs.exit_code(rs) == 1 and gs.exit_code(rs[:1]) == 0 and gs.exit_code([rs[0], rs[2]]) == 0


def test_run_check_reports_pass_fail_and_timeout(tmp_path):
    "Real subprocesses: a passing one with its reported figures, a failing one with its reason, a hanging one killed."
    py = sys.executable
    ok = gs.run_check('ok', [py, '-c', f"print('x'); print({gs.MARK!r} + '{{\"peak_mib\": 5, \"detail\": \"fine\"}}')"],
                      60, tmp_path, sample_memory=False)
    assert (ok.status, ok.peak_mib, ok.detail) == ('PASS', 5.0, 'fine')
    bad = gs.run_check('bad', [py, '-c', "raise RuntimeError('CUDA error: out of memory')"], 60, tmp_path,
                       sample_memory=False)
    assert bad.status == 'FAIL' and 'exit 1: RuntimeError: CUDA error: out of memory' in bad.detail
    assert 'Traceback' in (tmp_path / 'bad.log').read_text()
    slow = gs.run_check('slow', [py, '-c', 'import time; time.sleep(60)'], 1, tmp_path, sample_memory=False)
    assert slow.status == 'FAIL' and 'timed out after 1 s' in slow.detail and slow.seconds < 30


def test_main_runs_every_check_after_a_failure_and_writes_measured_figures(tmp_path, capsys):
    order = []
    def runner(name, argv, timeout, log_dir, env=None):
        order.append(name)
        if name == 'bench-models':                  # the bench writes the per-model figures into <out>/models.json
            (tmp_path / 'models.json').write_text(json.dumps({'models': {'mrmnet': {'96': {
                'epoch_s': {'ptbxl': 30.0, 'cpsc2018': 9.0}, 'train_samples_per_s': 600.0, 'peak_mib': 900.0,
                'precision': 'bf16'}}}}))
        return gs.Result(name, 'FAIL' if name == 'amp-fp16' else 'PASS', 1.0, 100.0, 'x')
    m = tmp_path / 'gpu_measured.json'
    rc = gs.main(['--out', str(tmp_path), '--measured', str(m)], probe=lambda: GPU, runner=runner)
    out = capsys.readouterr().out
    assert rc == 1 and order == gs.CHECK_NAMES                   # the failure did not stop the later checks
    assert 'FAIL  amp-fp16' in out and f'{len(order) - 1} passed, 1 failed' in out
    doc = json.loads(m.read_text())
    assert doc['device'] == 'Fake GPU' and [c['name'] for c in doc['checks']] == gs.CHECK_NAMES
    assert doc['models']['mrmnet']['96']['epoch_s']['ptbxl'] == 30.0
    # read back by the runner's reproduction table and by bench/bench_train.py
    from ecgnb.run import format_reproduce, reproduce_table
    rt = reproduce_table(measured=m).set_index('preset')
    assert (rt.gpu_minutes['gpu-paper-ptbxl-all'], rt.basis['gpu-paper-ptbxl-all']) == (20.0, 'measured')
    assert rt.basis['gpu-zoo-lstm-ptbxl-all'] == 'estimate'
    assert 'measured on Fake GPU' in format_reproduce(reproduce_table(measured=m))
    bt = load_script('bench/bench_train.py')
    rep = bt.gpu_report(m)
    assert 'Fake GPU' in rep and 'mrmnet' in rep and '30.0 s PTB-XL' in rep and '(measured)' in rep
    assert 'estimates' in bt.gpu_report(tmp_path / 'absent.json')


def _argv_params(cmd):
    return {cmd[i + 1]: cmd[i + 2] for i, c in enumerate(cmd) if c == '-p'}


def test_nb22_requires_the_runs_the_smoke_wrote():
    "nb22 must summarise at least the run folders nb20 (one) and nb21 (variants x seeds) wrote, and fail on none."
    cs = gs.checks(ROOT / 'o')
    p22 = _argv_params(cs['nb22-summary'])
    assert p22['if_empty'] == 'None' and '-y' not in cs['nb22-summary']      # never 'if_empty: null' (passes on zero runs)
    nb21 = cs['nb21-ablation']
    ys = dict(cmd.split(': ', 1) for c, cmd in zip(nb21, nb21[1:]) if c == '-y')
    n21 = len(ys['variants'].strip('[]').split(',')) * len(ys['seeds'].strip('[]').split(','))
    assert int(p22['min_runs']) == 1 + n21 == gs.SMOKE_RUNS == 3
    assert p22['runs_root'] == _argv_params(cs['nb20-mrmnet'])['out_root'] == _argv_params(nb21)['out_root']


def test_run_check_reports_skip_when_the_check_says_so(tmp_path):
    py = sys.executable
    line = gs.MARK + json.dumps(dict(status='SKIP', detail='NCCL not exercised (1 GPU)'))
    r = gs.run_check('ddp', [py, '-c', f'print({line!r})'], 60, tmp_path, sample_memory=False)
    assert (r.status, r.detail) == ('SKIP', 'NCCL not exercised (1 GPU)')
    bad = gs.run_check('ddp', [py, '-c', f'print({line!r}); raise SystemExit(1)'], 60, tmp_path, sample_memory=False)
    assert bad.status == 'FAIL'                                              # a failing process is never a SKIP


def test_ddp_verdict_fails_a_resume_that_did_not_happen():
    gc = load_script('scripts/gpu_smoke_checks.py')
    h = [dict(epoch=e, train_loss=1.0 / e, valid_auc=0.5 + e / 10, time=1.0) for e in (1, 2, 3)]
    ok = [dict(resumed_from=1, history=h), dict(resumed_from=1, history=h)]
    ref = dict(resumed_from=0, history=h)
    assert gc.ddp_verdict(2, -9, 1, ok, ref, 0.0)[0] == 'PASS'
    status, detail = gc.ddp_verdict(1, -9, 1, ok[:1], ref, 0.0)
    assert status == 'SKIP' and 'NCCL not exercised' in detail              # one GPU: no process group
    for args, msg in [((2, 0, 1, ok, ref, 0.0), 'finished'),                 # the kill never happened
                      ((2, -9, 3, ok, ref, 0.0), 'epoch 3'),                 # killed too late
                      ((2, -9, 1, [dict(ok[0], resumed_from=0)] * 2, ref, 0.0), 'resumed_from'),   # trained from scratch
                      ((2, -9, 1, [dict(ok[0], history=h[:1])] * 2, ref, 0.0), 'remaining epochs'),
                      ((2, -9, 1, [ok[0], dict(ok[0], history=h[::-1])], ref, 0.0), 'disagree'),
                      ((2, -9, 1, ok, ref, 0.5), 'weights differ')]:
        with pytest.raises(AssertionError, match=msg): gc.ddp_verdict(*args)

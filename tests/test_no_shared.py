"""Every user path works outside this repository's layout: a researcher's clone has no `../shared` beside it.

The repository's files (`git ls-files`, plus new files git does not ignore, as tests/clone.py carries them) are
copied to a temporary folder with no `shared/` above it, `ECGNB_REAL_SAMPLES` is unset, and the experiment notebooks
run there through papermill, their kernels importing the copy's ecgnb: notebook 42 at its defaults, 20 and 40 at
their defaults with `-p epochs 1`, 41 as a 3-cell grid (`TINY41`; every section of the notebook runs). The suite runs
them at full defaults in tests/test_notebooks.py; here only the paths matter, and the smaller runs keep this test
to a few minutes of CPU. Then notebook 41 runs on a small synthetic cohort written in ZZU-pECG's published layout
(`ecgnb.data.synth_zzu.make_zzu_cohort`) as a *real* target: the 23 real children are excluded from it by the ids
shipped in `ecgnb/assets/zzu_pecg_23_ids.csv`, and their scoring section says how to get their records and skips.
Caches and the generated offline cohort stay in `$ECGNB_DATA` (the checkout's `.cache/ecgnb`), which is not
`../shared`.
"""
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT


def _copy_repo(dest: Path) -> Path:
    "The tracked and new (not ignored) files of this checkout, copied to `dest`."
    out = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard', '-z'], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    for rel in out.split('\0'):
        if rel and (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    return dest


TINY41 = ('-p', 'methods', 'source_only,finetune', '-p', 'settings', 'zero-shot,full', '-p', 'seeds', '0', '-p', 'epochs_source', '1', '-p', 'epochs_target', '1', '-p', 'width', '4', '-p', 'd_model', '8', '-p', 'max_source_train', '100', '-p', 'n_boot', '20', '-p', 'check', 'False')   # a 3-cell grid: every section of the notebook, at a fraction of its defaults' time


@pytest.fixture(scope='module')
def outside(tmp_path_factory):
    base = tmp_path_factory.mktemp('outside')
    repo = _copy_repo(base / 'ecgnb')
    for d in [repo, *repo.parents]:                      # nothing to find: no shared/data/real anywhere above
        assert not (d / 'shared').exists() and not (d / 'data' / 'real').exists(), d
    env = {k: v for k, v in os.environ.items() if k != 'ECGNB_REAL_SAMPLES'}
    env.update(PYTHONPATH=str(repo), MPLBACKEND='Agg')
    return repo, env


def _cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _papermill(repo, env, nb, out, *params, timeout=1800):
    t0, c0 = time.time(), _cpu()
    r = subprocess.run([sys.executable, '-m', 'papermill', '-k', 'python3', '--cwd', str(repo / 'nbs'), '--no-progress-bar',
                        str(repo / 'nbs' / nb), str(out), *params], cwd=repo, env=env, capture_output=True, text=True,
                       timeout=timeout)
    print(f'{nb} {" ".join(params)}: {time.time() - t0:.0f} s wall, {_cpu() - c0:.0f} s CPU')
    assert r.returncode == 0, f'{nb} failed outside the repository layout:\n{r.stderr[-4000:]}'
    return out.read_text()


def test_the_copy_finds_no_shared(outside):
    repo, env = outside
    code = ('import ecgnb, ecgnb.data.core as c; from ecgnb.peace.transfer import real23_patients, find_real_zzu23; '
            'print(ecgnb.__file__, c.find_real_samples(), find_real_zzu23(), len(real23_patients()))')
    r = subprocess.run([sys.executable, '-c', code], cwd=repo / 'nbs', env=env, capture_output=True, text=True, check=True)
    f, real, zzu23, n = r.stdout.split()
    assert Path(f).is_relative_to(repo) and (real, zzu23, n) == ('None', 'None', '23')


@pytest.mark.parametrize('nb,params', [('20_mrmnet_experiment.ipynb', ('-p', 'epochs', '1', '-p', 'min_valid_auc', '0')),
                                       ('40_cross_modal_alignment.ipynb', ('-p', 'epochs', '1', '-p', 'min_valid_auc', '0')),
                                       ('41_transfer_experiments.ipynb', TINY41),
                                       ('42_peace_ladder.ipynb', ())])
def test_experiment_notebook_runs_without_shared(outside, nb, params, tmp_path):
    repo, env = outside
    p = (*params, '-p', 'out_root', str(tmp_path / 'runs')) if nb != '42_peace_ladder.ipynb' else params
    text = _papermill(repo, env, nb, tmp_path / nb, *p)
    if nb.startswith('41_'):
        assert 'the 23 real ZZU-pECG children are not here, so their section is skipped' in text


def test_transfer_on_a_real_format_zzu_target_without_shared(outside, tmp_path):
    repo, env = outside
    zzu = tmp_path / 'zzu-pecg'
    subprocess.run([sys.executable, '-c', f'from ecgnb.data.synth_zzu import make_zzu_cohort; make_zzu_cohort({str(zzu)!r}, n=400, max_seconds=10)'],
                   cwd=repo, env=env, check=True, timeout=600)
    text = _papermill(repo, env, '41_transfer_experiments.ipynb', tmp_path / 'nb41.ipynb', '-p', 'target_dir', str(zzu),
                      *TINY41, '-p', 'out_root', str(tmp_path / 'runs'))
    assert 'of the 23 children were in the target and were excluded from its splits' in text
    assert 'the 23 real ZZU-pECG children are not here, so their section is skipped' in text

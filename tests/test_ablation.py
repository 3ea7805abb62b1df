"""ecgnb.mrm.ablation: an ablation killed mid-training resumes to the same numbers as an uninterrupted one.

The notebook (nbs/15_mrm.ablation.ipynb) tests skipping finished pairs and picking up a pair whose row is missing;
killing a real process part-way through an epoch sequence needs a subprocess, so it lives here.
"""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

RUNNER = r'''
import sys
import numpy as np, pandas as pd
from pathlib import Path
from ecgnb.data.core import LabeledECG
from ecgnb.mrm.experiment import ExperimentConfig
from ecgnb.mrm.ablation import run_ablation

def tiny():
    rng = np.random.default_rng(0)
    N = 48
    Y = rng.integers(0, 2, (N, 3)).astype(np.uint8); Y[:4] = 1; Y[4:8] = 0
    X = (rng.normal(size=(N, 12, 100)) + 1.5 * Y[:, [0] * 6 + [1] * 6, None] * np.sin(np.arange(100) / 3)).astype(np.float32)
    meta = pd.DataFrame({'patient': np.arange(N)}, index=pd.Index([f'r{i}' for i in range(N)], name='record'))
    return LabeledECG(X=X, Y=Y, classes=['A', 'B', 'C'], meta=meta, fs=10, name='tiny',
                      splits={'train': np.r_[0:2, 4:6, 8:28], 'valid': np.r_[2, 6, 28:38], 'test': np.r_[3, 7, 38:48]})

BASE = ExperimentConfig(epochs=8, batch_size=8, n_boot=20, device='cpu', fs=10, model_kwargs=dict(width=4))

def ablate(root, log=None):
    import torch
    from ecgnb.core import headless_threads
    headless_threads(1)   # bitwise-reproducible CPU kernels, in this process and in the killed subprocess alike
    torch.use_deterministic_algorithms(False)
    return run_ablation(BASE, ['default', 'no_mutual'], [0], Path(root), data=tiny(), log=log)

if __name__ == '__main__':
    ablate(sys.argv[1], log=lambda *a, **k: print(*a, flush=True))
'''


@pytest.fixture(scope='module')
def runner(tmp_path_factory):
    d = tmp_path_factory.mktemp('ablation_runner')
    (d/'ablation_runner.py').write_text(RUNNER)
    sys.path.insert(0, str(d))
    import ablation_runner
    yield d/'ablation_runner.py', ablation_runner
    sys.path.remove(str(d))


def test_killed_ablation_resumes_to_same_numbers(runner, tmp_path):
    script, mod = runner
    killed = tmp_path/'killed'
    p = subprocess.Popen([sys.executable, str(script), str(killed)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    last = killed/'runs'/'default-s0'/'checkpoints'/'last.pt'
    t0 = time.time()
    try:
        while not last.exists():                     # kill after the first epoch's checkpoint, mid-training
            if p.poll() is not None: pytest.fail('runner exited before its first checkpoint:\n' + p.stdout.read().decode())
            if time.time() - t0 > 300: pytest.fail('no checkpoint after 300 s')
            time.sleep(0.02)
    finally:
        p.send_signal(signal.SIGKILL); p.wait()
    assert not (killed/'results.json').exists() or 'default-s0' not in json.loads((killed/'results.json').read_text())['rows']
    msgs = []
    resumed = mod.ablate(killed, log=msgs.append)
    assert any('default-s0: resuming an interrupted run' in m for m in msgs), msgs
    assert any('no_mutual-s0: training' in m for m in msgs), msgs
    fresh = mod.ablate(tmp_path/'fresh')
    assert list(resumed.variant) == list(fresh.variant) == ['default', 'no_mutual']
    for c in ('test_auc', 'test_fmax', 'auc_low', 'auc_high', 'valid_auc', 'best_epoch'):
        assert resumed[c].tolist() == pytest.approx(fresh[c].tolist(), abs=1e-9), c
    # a second call trains nothing
    msgs = []
    again = mod.ablate(killed, log=msgs.append)
    assert sum('skipped' in m for m in msgs) == 2 and again.test_auc.tolist() == resumed.test_auc.tolist()

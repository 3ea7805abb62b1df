"Checks of ecgnb.models.zoo that a notebook cell does not show well: pickling, checkpoints, kwargs pass-through."
import io
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from ecgnb.models.zoo import (MODELS, ZOO, REFERENCE_PARAMS, count_parameters, get_model, random_crop,
                                    sliding_window_predict, state_dict_signature)
from ecgnb.core import headless_threads

headless_threads(1)


def test_mrmnet_registers_itself_without_the_experiment():
    "MRM-Net registers itself from its own package: `import ecgnb.mrm.network` alone makes `get_model('mrmnet', ...)`"
    "work without the experiment module, and the generic zoo alone neither imports MRM-Net nor knows it (fresh processes)."
    code = ("import sys, ecgnb.mrm.network, ecgnb.models.zoo as z; m = z.get_model('mrmnet', 3, input_channels=9, width=4); "
            "assert type(m).__name__ == 'MRMNet' and m.config.in_channels == 9 and m.config.n_classes == 3; "
            "assert 'ecgnb.mrm.experiment' not in sys.modules, 'MRM-Net pulled in the experiment'")
    zoo_alone = ("import sys, ecgnb.models.zoo as z; assert 'ecgnb.mrm.network' not in sys.modules, 'the zoo imports MRM-Net'\n"
                 "try: z.get_model('mrmnet', 3)\nexcept KeyError as e: assert 'ecgnb.mrm.network' in str(e), e\n"
                 "else: raise AssertionError('mrmnet known without MRM-Net imported')")
    for c in (code, zoo_alone):
        r = subprocess.run([sys.executable, '-c', c], capture_output=True, text=True, timeout=300,
                           env={**os.environ, 'PYTHONPATH': os.pathsep.join(sys.path)})
        assert r.returncode == 0, r.stderr


@pytest.mark.parametrize('name', ZOO)
def test_pickle_and_checkpoint_roundtrip(name):
    "Whole models pickle (no lambdas, unlike the fastai reference) and state_dicts round-trip strictly."
    torch.manual_seed(0)
    m = get_model(name, 3).eval()
    x = torch.randn(2, 12, 250)
    with torch.no_grad(): ref = m(x)
    m2 = pickle.loads(pickle.dumps(m))
    buf = io.BytesIO(); torch.save(m.state_dict(), buf); buf.seek(0)
    torch.manual_seed(1)
    m3 = get_model(name, 3)
    m3.load_state_dict(torch.load(buf, weights_only=True), strict=True)
    m3.eval()
    with torch.no_grad():
        assert torch.equal(m2(x), ref)
        assert torch.equal(m3(x), ref)
    # a checkpoint for a different number of classes must not load silently
    with pytest.raises(RuntimeError):
        get_model(name, 4).load_state_dict(m.state_dict(), strict=True)


def test_kwargs_reach_the_factories():
    assert count_parameters(get_model('lstm', 5, hidden_dim=64)) < REFERENCE_PARAMS['lstm'][0]
    assert get_model('inception1d', 5, kernel_size=80).layers[0].im[0].convs[0].kernel_size == (79,)
    assert get_model('resnet1d_wang', 5, lin_ftrs_head=None)[-1][-1].in_features == 256
    assert state_dict_signature(get_model('fcn_wang', 5, bn_final_head=True)) != REFERENCE_PARAMS['fcn_wang'][2]
    with pytest.raises(TypeError):
        get_model('fcn_wang', 5, no_such_option=1)


def test_sliding_window_accepts_numpy_and_matches_manual_windows():
    torch.manual_seed(0)
    m = get_model('fcn_wang', 4).eval()
    x = np.random.default_rng(0).standard_normal((3, 12, 600))            # float64 numpy input
    got = sliding_window_predict(m, x, window=250, stride=125, agg='mean')
    xt = torch.as_tensor(x, dtype=torch.float32)
    with torch.no_grad():
        manual = torch.stack([torch.sigmoid(m(xt[..., s:s + 250])) for s in (0, 125, 250)], 1).mean(1)
    assert got.shape == (3, 4)
    torch.testing.assert_close(got, manual, rtol=1e-5, atol=1e-6)


def test_random_crop_is_seeded_and_per_record():
    x = torch.arange(1000.).repeat(64, 1, 1)
    a = random_crop(x, 250, generator=torch.Generator().manual_seed(3))
    b = random_crop(x, 250, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert len(set(a[:, 0, 0].tolist())) > 10                              # records get different starts
    assert torch.equal(a[:, 0, 1:] - a[:, 0, :-1], torch.ones(64, 249))   # contiguous windows

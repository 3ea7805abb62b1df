"""MRM-Net (released configuration) against the released code's own outputs.

`../shared/fixtures/mrm_reference/` (beside the checkout, as CI provides it) holds the release's `Dui1` weights for
5 classes and its eval-mode logits, fused features and training loss on a fixed input (see its README). A missing
fixture is a failure, not a skip: without it the equivalence is not checked.
"""
import numpy as np
import pytest
import torch

from conftest import ROOT
from ecgnb.mrm.network import MRMConfig, MRMNet, MultiKernelBlock, MutualLoss, load_released_weights

FIXTURE = ROOT.parent / 'shared' / 'fixtures' / 'mrm_reference'


@pytest.fixture(scope='module')
def ref():
    assert FIXTURE.exists(), (f'{FIXTURE} is missing: the reference-equivalence check needs ../shared beside the '
                              'repository (CI provides it).')
    io = dict(np.load(FIXTURE / 'dui1_K5_io.npz'))
    sd = torch.load(FIXTURE / 'dui1_K5_used_state_dict.pt', weights_only=True)
    torch.manual_seed(0)
    model = load_released_weights(MRMNet(MRMConfig.released(5)), sd).eval()
    with torch.no_grad(): out = model(torch.from_numpy(io['x']))
    return dict(io=io, sd=sd, model=model, out=out)


@pytest.mark.parametrize('key', ['logits_high', 'logits_low', 'feat_high', 'feat_low'])
def test_outputs_match_release(ref, key):
    ours, theirs = getattr(ref['out'], key).numpy(), ref['io'][key]
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_loss_matches_release(ref):
    loss, _ = MutualLoss()(ref['out'], torch.from_numpy(ref['io']['y']))
    np.testing.assert_allclose(loss.item(), float(ref['io']['mutual_loss_total']), rtol=1e-6)


def test_every_released_weight_is_used(ref):
    "Strict load: all 280 released entries land in the model and nothing of the model is left at its initial value."
    assert len(ref['sd']) == len(ref['model'].state_dict())
    assert sum(p.numel() for p in ref['model'].parameters()) == 1_779_722


def _forward_with(ref, change):
    "Eval-mode output on the fixture input of the released weights after `change(module)` on every module."
    model = load_released_weights(MRMNet(MRMConfig.released(5)), ref['sd']).eval()
    for m in model.modules(): change(m)
    with torch.no_grad(): return model(torch.from_numpy(ref['io']['x']))


def test_unfused_multikernel_block_matches_release(ref):
    "The fused 33-tap convolution and the release's four convolutions give the same outputs on the release's weights."
    out = _forward_with(ref, lambda m: setattr(m, 'fused', False) if isinstance(m, MultiKernelBlock) else None)
    np.testing.assert_allclose(out.logits_high.numpy(), ref['io']['logits_high'], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.feat_low.numpy(), ref['io']['feat_low'], rtol=1e-5, atol=1e-5)


def test_check_can_fail(ref):
    "The comparison is sensitive: the ECA gate as published (sigmoid) instead of the release's changes the logits."
    out = _forward_with(ref, lambda m: setattr(m, 'gate', 'sigmoid') if hasattr(m, 'gate') else None)
    assert np.abs(out.logits_high.numpy() - ref['io']['logits_high']).max() > 1e-3
    with pytest.raises(ValueError, match='without a weight'):
        load_released_weights(MRMNet(MRMConfig(n_classes=5)), ref['sd'])    # proper ECA has conv weights the release lacks

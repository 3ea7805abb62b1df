"""Every model ecgnb trains follows its module to another dtype/device: `.double()` then a float64 forward (train and
eval) and the method's loss + backward; nothing may stay float32 (a tensor that does not follow `.double()` does not
follow `.to('cuda')` either). Where the model allows it, a forward on the `meta` device as well."""
import numpy as np
import pytest
import torch

from ecgnb.models.recipe import ZOO
from ecgnb.models.zoo import get_model
from ecgnb.mrm.losses import MutualLoss
from ecgnb.mrm.network import MRMConfig, MRMNet
from ecgnb.peace.methods import METHODS, build_transfer_model, stage_loss

K, D, T = 5, 16, 256


def _E(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(K, 3, D, generator=g), dim=-1)


def _batch(dtype=torch.float64, B=6, C=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, C, T, generator=g).to(dtype)
    y = (torch.rand(B, K, generator=g) < 0.4).to(dtype)
    y[0] = 0; y[0, 0] = 1; y[1, 1] = 1                           # some positives, a shared label
    return x, y


def _all_float64(model):
    left = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.is_floating_point() and t.dtype != torch.float64]
    assert not left, f'left float32 after .double(): {left}'


def _check_tensors(out, dtype):
    "Every floating tensor of a model output has `dtype`."
    ts = [out] if torch.is_tensor(out) else [t for t in (out if isinstance(out, (tuple, list)) else []) if torch.is_tensor(t)]
    for t in ts:
        if t.is_floating_point(): assert t.dtype == dtype, t.dtype


@pytest.mark.parametrize('method', list(METHODS))
def test_every_method_follows_double(method):
    torch.manual_seed(0)
    model = build_transfer_model(method, K, E=_E(), width=4, normal_index=0).double()
    _all_float64(model)
    x, y = _batch()
    loss_fn = stage_loss(method, 'source', label_freq=y.mean(0).numpy())
    if isinstance(loss_fn, torch.nn.Module): loss_fn.double()
    model.train()
    out = model((x, y))
    _check_tensors(out, torch.float64)
    loss = loss_fn(out, y)
    loss = loss[0] if isinstance(loss, tuple) else loss
    assert loss.dtype == torch.float64 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.float64 for g in grads)
    model.eval()
    with torch.no_grad(): out = model((x, y))
    _check_tensors(out, torch.float64)
    assert out.logits.shape == (len(x), K)
    with torch.no_grad(): out = model(x)                           # scoring: ECG only
    assert out.logits.dtype == torch.float64
    _all_float64(model)


@pytest.mark.parametrize('method', list(METHODS))
def test_every_method_on_meta(method):
    "Built on CPU, moved to the `meta` device: every parameter and buffer moves, and a forward runs there."
    torch.manual_seed(0)
    model = build_transfer_model(method, K, E=_E(), width=4, normal_index=0).to('meta')
    left = [n for n, t in list(model.named_parameters()) + list(model.named_buffers()) if t.device.type != 'meta']
    assert not left, f'left on the CPU after .to(meta): {left}'
    x, y = _batch(torch.float32)
    model.eval()
    out = model((x.to('meta'), y.to('meta')))
    assert out.logits.device.type == 'meta' and out.logits.shape == (len(x), K)


@pytest.mark.parametrize('name', ZOO)
def test_zoo_follows_double(name):
    torch.manual_seed(0)
    m = get_model(name, K).double()
    _all_float64(m)
    x, y = _batch()
    for train in (True, False):
        m.train(train)
        out = m(x)
        assert out.dtype == torch.float64 and out.shape == (len(x), K)
    m.train()
    torch.nn.functional.binary_cross_entropy_with_logits(m(x), y).backward()
    assert all(p.grad.dtype == torch.float64 for p in m.parameters() if p.grad is not None)


@pytest.mark.parametrize('name', [n for n in ZOO if not n.startswith('lstm')])
def test_zoo_on_meta(name):
    m = get_model(name, K).to('meta').eval()
    assert m(torch.randn(2, 12, T, device='meta')).shape == (2, K)


MRM_VARIANTS = {'default': MRMConfig(n_classes=K, width=4), 'released': MRMConfig.released(K, width=4),
                'stages': MRMConfig(n_classes=K, width=4, mutual='stages', highres_eca_se=True),
                'high': MRMConfig(n_classes=K, width=4, branches='high'), 'low': MRMConfig(n_classes=K, width=4, branches='low'),
                'add': MRMConfig(n_classes=K, width=4, fusion='add'), 'concat': MRMConfig(n_classes=K, width=4, fusion='concat'),
                'plain': MRMConfig(n_classes=K, width=4, attention=False)}


@pytest.mark.parametrize('variant', list(MRM_VARIANTS))
def test_mrmnet_follows_double(variant):
    torch.manual_seed(0)
    net = MRMNet(MRM_VARIANTS[variant]).double()
    loss_fn = MutualLoss(pos_weight=torch.full((K,), 2.0)).double()
    _all_float64(net); _all_float64(loss_fn)
    x, y = _batch()
    for train in (True, False):
        net.train(train)
        out = net(x)
        assert net.predict_logits(out).dtype == torch.float64
    net.train()
    total, parts = loss_fn(net(x), y)
    assert total.dtype == torch.float64
    total.backward()
    assert all(p.grad.dtype == torch.float64 for p in net.parameters() if p.grad is not None)
    net_meta = MRMNet(MRM_VARIANTS[variant]).to('meta').eval()
    assert net_meta.predict_logits(net_meta(x.float().to('meta'))).shape == (len(x), K)


# ---- mixed precision: the contrastive similarities stay fp32 under bf16 autocast
from types import SimpleNamespace

from ecgnb.peace.alignment import PEACELoss, lsbc_loss
from ecgnb.peace.baselines import clip_loss


def _emb(B=16, d=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(B, d, generator=g), torch.randn(B, d, generator=g)
    Y = (torch.rand(B, K, generator=g) < 0.3).float()
    return a, b + 0.5 * a, Y


def test_lsbc_and_clip_loss_fp32_under_bf16_autocast():
    a, b, Y = _emb()
    keep = Y.any(1)
    ref_l, ref_c = lsbc_loss(a, b, Y, 0.07, keep=keep), clip_loss(a, b, 0.07)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        l, c = lsbc_loss(a, b, Y, 0.07, keep=keep), clip_loss(a, b, 0.07)
    assert l.dtype == torch.float32 and c.dtype == torch.float32
    assert abs(l.item() - ref_l.item()) < 1e-4 and abs(c.item() - ref_c.item()) < 1e-4


def test_peace_loss_fp32_under_bf16_autocast():
    a, b, Y = _emb()
    g = torch.Generator().manual_seed(1)
    out = SimpleNamespace(logits=torch.randn(len(Y), K, generator=g), ecg_emb=a, text_emb=b, progress=0.5,
                          logit_scale=torch.tensor(1 / 0.07))
    ref, parts_ref = PEACELoss(lam_max=0.5, mode='constant')(out, Y)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got, parts = PEACELoss(lam_max=0.5, mode='constant')(out, Y)
    assert abs(parts['lsbc'].item() - parts_ref['lsbc'].item()) < 1e-4
    assert abs(got.item() - ref.item()) < 1e-4


def test_lsbc_keep_masks_like_dropping_the_records():
    "Records outside `keep` are neither anchors nor negatives: the masked loss equals the loss on the kept rows only."
    a, b, Y = _emb(seed=3)
    keep = torch.zeros(len(Y), dtype=torch.bool); keep[::2] = True
    Y = Y.clone(); Y[keep, 0] = 1                          # kept rows share a label
    torch.testing.assert_close(lsbc_loss(a, b, Y, 0.1, keep=keep), lsbc_loss(a[keep], b[keep], Y[keep], 0.1))
    assert lsbc_loss(a, b, torch.zeros_like(Y), 0.1).item() == 0.0   # no positive anywhere: 0


# ---- the progress clock reads a Python counter (no .item() per forward), and resumes from the state dict
def test_progress_clock_needs_no_device_read_and_resumes():
    torch.manual_seed(0)
    m = build_transfer_model('peace', K, E=_E(), width=4, normal_index=0)
    m.reset_clock(10)
    m.to('meta').train()                                       # reading a meta tensor raises: progress must not read it
    x, y = _batch(torch.float32)
    for _ in range(3): out = m((x.to('meta'), y.to('meta')))
    assert out.progress == pytest.approx(0.2) and m.progress == pytest.approx(0.3)
    m2 = build_transfer_model('peace', K, E=_E(), width=4, normal_index=0)
    m2.reset_clock(10)
    sd = build_transfer_model('peace', K, E=_E(), width=4, normal_index=0).state_dict()
    sd['step'] = torch.tensor(4)
    m2.load_state_dict(sd)
    assert m2.progress == pytest.approx(0.4)
    m2.reset_clock()
    assert m2.progress == 0.0 and m2.step.item() == 0


# ---- a transfer grid made on a GPU is read on a CPU machine
def test_runner_loads_saved_models_onto_the_cpu(tmp_path, monkeypatch):
    from ecgnb.peace import runner
    from ecgnb.peace.methods import method_spec
    cfg = runner.TransferConfig(width=4)
    data = SimpleNamespace(classes=list('ABCDE'), E=_E().numpy(), source=SimpleNamespace(X=np.zeros((1, 12, T))),
                           normal_index=0)
    spec = method_spec('peace')
    torch.manual_seed(0)
    m = runner._build(spec, data, cfg)
    torch.save(m.state_dict(), tmp_path / 'model.pt')
    real_load = torch.load
    def load(f, *a, map_location=None, **k):   # what reading a CUDA-saved file does on a machine without CUDA
        if map_location is None:
            raise RuntimeError('Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False.')
        return real_load(f, *a, map_location=map_location, **k)
    monkeypatch.setattr(torch, 'load', load)
    m2 = runner._load_model(spec, data, cfg, tmp_path / 'model.pt')
    for k, v in m.state_dict().items(): assert torch.equal(v, m2.state_dict()[k]), k
    assert next(m2.parameters()).device.type == 'cpu'


# ---- ecgnb's own loaders: pinned memory on CUDA, persistent workers
class _Stop(Exception): pass


@pytest.mark.parametrize('device,workers,pinned', [('cpu', 2, False), ('cuda', 0, True), ('cuda', 3, True)])
def test_run_experiment_loaders_pin_and_keep_workers(tmp_path, monkeypatch, device, workers, pinned):
    from ecgnb.mrm import experiment as ex
    seen = {}
    def fake_fit(model, loss, train_dl, valid_dl, **kw):
        seen.update(train=train_dl, valid=valid_dl, device=kw['device']); raise _Stop
    monkeypatch.setattr(ex, 'fit', fake_fit)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)          # the loader settings only; nothing runs on CUDA
    cfg = ex.ExperimentConfig(epochs=1, max_per_split=16, num_workers=workers, device=device)
    data = ex.load_data(cfg, log=lambda *a: None)
    with pytest.raises(_Stop): ex.run_experiment(cfg, root=tmp_path, data=data, log=lambda *a: None, progress=False)
    for dl in (seen['train'], seen['valid']):
        assert (dl.num_workers, dl.pin_memory, dl.persistent_workers) == (workers, pinned, workers > 0)


def test_peace_stage_loaders_pin_and_keep_workers(monkeypatch):
    from ecgnb.peace import methods as pm
    from ecgnb.peace.methods import Budget, train_stage
    seen = {}
    def fake_fit(model, loss, tr, va, **kw):
        seen.update(tr=tr, va=va, precision=kw['precision']); raise _Stop
    monkeypatch.setattr(pm, 'fit', fake_fit)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    x, y = _batch(torch.float32)
    ds = torch.utils.data.TensorDataset(x, y)
    with pytest.raises(_Stop):
        train_stage(build_transfer_model('finetune', K, width=4), stage_loss('finetune', 'source'), ds, ds,
                    Budget(device='cuda', num_workers=2, precision='bf16'))
    assert seen['precision'] == 'bf16'
    for dl in (seen['tr'], seen['va']): assert (dl.num_workers, dl.pin_memory, dl.persistent_workers) == (2, True, True)


def test_bench_loader_times_ecgnb_loaders():
    from conftest import load_script
    bl = load_script('bench/bench_loader.py')
    data = bl.cohort(100)
    r = bl.throughput(data, 0, 256, 'cpu', epochs=1)
    assert r['records'] == len(data.splits['train']) and r['records_per_s'] > 0 and r['pinned'] is False

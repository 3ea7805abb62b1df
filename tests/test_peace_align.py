"""PEACE alignment (chapters 32-33) beyond the notebooks' own tests: the model and loss inside `ecgnb.training.loop.fit`
(progress clock, gate stepped only in training, resume), the no-leak property on every backbone, and the benchmark script."""
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from conftest import ROOT
from ecgnb.peace.lqn import build_peace_model, labels_as_input
from ecgnb.peace.alignment import (CAFGate, PEACELoss, label_frequency, lsbc_floor, lsbc_loss, nearest_labels, per_label_auc,
                                   positive_labels, positive_weights, retrieval_recall)
from ecgnb.peace.text import label_embeddings
from ecgnb.training.loop import fit

CLASSES = ['NORM', 'AFIB', 'LBBB', 'RBBB']


def _loaders(n=24, T=250, seed=0):
    g = torch.Generator().manual_seed(seed)
    Y = (torch.rand(n, len(CLASSES), generator=g) < 0.35).float()
    X = torch.randn(n, 12, T, generator=g) + 2 * Y[:, 1:2, None] * torch.sin(torch.arange(T) / 3.0)
    tr = DataLoader(TensorDataset(X, Y), batch_size=8, shuffle=True, generator=g)
    va = DataLoader(TensorDataset(X[:16], Y[:16]), batch_size=8)
    return labels_as_input(tr), labels_as_input(va)


def _model(steps, **kw):
    torch.manual_seed(0)
    E = torch.as_tensor(label_embeddings(CLASSES))
    return build_peace_model('resnet1d_wang', label_emb=E, normal_index=0, total_steps=steps,
                             backbone_kwargs=dict(inplanes=16), d_model=32, d_ff=64, d_proj=16, **kw)


def test_fit_steps_gate_in_training_only_and_resumes(tmp_path):
    tr, va = _loaders()
    def stop_after_first_epoch(msg, *a, **k):                   # `fit` logs after writing the epoch's checkpoint
        if msg.startswith('epoch') and '1/2' in msg: raise KeyboardInterrupt
    model, loss = _model(2 * len(tr)), PEACELoss(lam_max=0.5, mode='linear', warmup=0.5)
    with pytest.raises(KeyboardInterrupt):
        fit(model, loss, tr, va, epochs=2, run_dir=tmp_path, progress=False, log=stop_after_first_epoch)
    assert len(loss.gate.history) == len(tr)                     # validation passes did not step the gate
    assert model.step.item() == len(tr)
    model2, loss2 = _model(2 * len(tr)), PEACELoss(lam_max=0.5, mode='linear', warmup=0.5)
    res = fit(model2, loss2, tr, va, epochs=2, run_dir=tmp_path, progress=False, log=None)   # resumes after epoch 1
    # the gate and the running label prior came back with the checkpoint (PEACELoss.get_extra_state): the resumed
    # run's λ(t) is the uninterrupted run's, step for step
    assert res.resumed_from == 1 and len(loss2.gate.history) == 2 * len(tr)
    tr, va = _loaders()
    model3, loss3 = _model(2 * len(tr)), PEACELoss(lam_max=0.5, mode='linear', warmup=0.5)
    ref = fit(model3, loss3, tr, va, epochs=2, run_dir=tmp_path / 'uninterrupted', progress=False, log=None)
    assert [h['lam'] for h in loss2.gate.history] == pytest.approx([h['lam'] for h in loss3.gate.history], rel=1e-6)
    assert [h['loss_ema'] for h in loss2.gate.history] == pytest.approx([h['loss_ema'] for h in loss3.gate.history], rel=1e-6)
    assert res.history[-1]['valid_auc'] == pytest.approx(ref.history[-1]['valid_auc'])
    # the progress clock came back with the checkpoint and went on: the last checkpoint holds 2 epochs of steps (the
    # model itself ends with the best epoch's weights, which may be epoch 1)
    last = torch.load(tmp_path / 'checkpoints' / 'last.pt', weights_only=False)
    assert last['model']['step'].item() == 2 * len(tr)
    assert loss2.gate.history[len(tr)]['progress'] == pytest.approx(0.5)   # the first step after the resume
    assert {'train_bce', 'train_lsbc', 'train_lam', 'valid_lsbc'} <= set(res.history[0])


@pytest.mark.parametrize('backbone', ['xresnet1d101', 'mrmnet'])
def test_no_label_leak_at_inference(backbone):
    torch.manual_seed(0)
    E = torch.as_tensor(label_embeddings(CLASSES))
    m = build_peace_model(backbone, label_emb=E, knowledge_p=1.0, knowledge_schedule='constant', dropout=0.0)
    x = torch.randn(4, 12, 500)
    y = torch.tensor([[1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1], [0, 1, 0, 1]]).float()
    m.eval()
    with torch.no_grad():
        a, b = m(x), m((x, y[[3, 2, 1, 0]]))
    assert torch.equal(a.logits, b.logits) and torch.equal(a.ecg_emb, b.ecg_emb)
    m.train()
    for mod in m.modules():
        if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.Dropout)): mod.eval()
    # the residual head starts its query path at zero (chapter 32), so knowledge can only reach the logits once that
    # path has weights: give it some, as training would
    torch.nn.init.normal_(m.lqn.cls_w, std=0.5)
    with torch.no_grad():
        assert (m(x).logits - m((x, y)).logits).abs().max() > 1e-3   # absolute: untrained logits can be ~1e5


def test_lsbc_prefers_aligned_pairs():
    torch.manual_seed(0)
    z = torch.randn(16, 8)
    Y = torch.eye(16)[:, :16]
    assert lsbc_loss(z, z, Y) < lsbc_loss(z, torch.randn(16, 8), Y)
    r = retrieval_recall(z.numpy(), z.numpy(), Y.numpy().astype(int))
    assert r['ecg2text_R@1'] == 1.0 and r['text2ecg_R@1'] == 1.0


def test_bench_alignment_runs(capsys):
    sys.path.insert(0, str(ROOT/'bench'))
    import bench_alignment
    out = bench_alignment.main(['--batch', '4', '--n-samples', '250', '--reps', '1', '--no-memory', '--n-classes', '6',
                                '--backbone-kwargs', '{"inplanes": 16}'])
    assert set(out['median_s']) == {'zoo', 'ecg_only', 'aligned'} and out['ratio'] > 0
    assert 'target <= +25%' in capsys.readouterr().out


def test_freq_rule_floor_and_records_without_knowledge():
    "Hand-computed: SR on 90 % of training records makes no positives; the floor is the positive-distribution entropy."
    Ytr = np.array([[1, 1, 0]] * 2 + [[1, 0, 1]] + [[1, 0, 0]] * 7)
    m = positive_labels(label_frequency(Ytr), 0.3)
    assert m.tolist() == [False, True, True]
    Y = torch.tensor([[1, 1, 0], [1, 0, 0], [1, 1, 0], [0, 0, 0]])
    W = positive_weights(Y, 'freq', label_mask=m)
    assert W.tolist() == [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    assert abs(lsbc_floor(W) - np.log(2)) < 1e-9 and abs(lsbc_floor(positive_weights(Y)) - np.log(3)) < 1e-9
    # record 3 has no kept label: with keep it is not a negative either, so the loss equals the 3-record loss
    z = torch.randn(4, 5, generator=torch.Generator().manual_seed(0))
    full = lsbc_loss(z, z, Y, 0.5, 'freq', label_mask=m, keep=Y.bool().any(1))
    torch.testing.assert_close(full, lsbc_loss(z[:3], z[:3], Y[:3], 0.5, 'freq', label_mask=m))
    with pytest.raises(ValueError, match='needs label_freq'): PEACELoss(weighting='freq')


def test_caf_floor_keeps_lsbc_on_and_low_lambda_warns():
    "A BCE that never falls below the prior: no floor -> λ = 0 and a warning; floor 0.25 -> λ = 0.25 λ_max after warm-up."
    shut, floored = CAFGate(0.5, 'caf', warmup=0.2, floor=0.0), CAFGate(0.5, 'caf', warmup=0.2, floor=0.25)
    for t in range(50):
        shut.step(0.7, t / 50, 0.5); floored.step(0.7, t / 50, 0.5)
    assert shut.lam_mean == 0.0 and abs(floored.lam - 0.125) < 1e-12
    with pytest.warns(UserWarning, match='effectively off'): shut.check()
    assert floored.check() > 0.05


def test_zero_shot_controls():
    E_held = np.array([[[1., 0], [1, 0], [0, 1]]]); E_tr = np.array([[[0., 1]] * 3, [[1., 0]] * 3])
    assert nearest_labels(E_held, E_tr).tolist() == [1]
    r = per_label_auc(np.array([[1], [0], [1], [0]]), np.array([[.9], [.1], [.4], [.6]]), ['x'])
    assert r == {'x': 0.75}

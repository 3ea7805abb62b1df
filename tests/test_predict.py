"""`predict` on real records: a tiny MRM-Net run trained here on the shared PTB-XL records (1 epoch), applied to
PTB-XL WFDB records (100 and 500 Hz), a CinC-form CPSC2018 `.hea` + `.mat` record and an original-release CPSC2018
`.mat`, through `ecgnb.mrm.experiment_apply.main_predict` (what `python -m ecgnb.run predict` runs)."""
import numpy as np
import pandas as pd
import pytest

from ecgnb.mrm.experiment import ExperimentConfig, run_experiment
from ecgnb.mrm.experiment_apply import load_run, main_predict, predict_records
from ecgnb.training.checkpoint import CheckpointError


@pytest.fixture(scope='module')
def trained(real_samples, tmp_path_factory):
    "A 1-epoch run on 16 records per split of the shared PTB-XL sample (100 Hz, superdiagnostic)."
    root = tmp_path_factory.mktemp('runs')
    cfg = ExperimentConfig(data_dir=str(real_samples / 'ptbxl-1.0.1-first500'), fs=100, epochs=1, batch_size=16,
                           max_per_split=16, n_boot=0, device='cpu', model_kwargs=dict(width=4))
    res = run_experiment(cfg, root=root, progress=False, log=lambda *a, **k: None)
    return res['run_dir'], real_samples


def test_predict_real_records(trained, tmp_path, capsys):
    run_dir, real = trained
    ptb = real / 'ptbxl-1.0.1-first500'
    test = pd.read_csv(f'{run_dir}/test_predictions.csv')
    ids = test.record_id.astype(int).tolist()[:2]
    recs = [ptb / f'records100/00000/{i:05d}_lr' for i in ids] + [ptb / f'records500/00000/{ids[0]:05d}_hr.hea',
            real / 'cpsc2018_cinc2020/A0001.mat', real / 'cpsc2018_original/A1980.mat']
    out = tmp_path / 'pred'
    assert main_predict([run_dir, *map(str, recs), '--out', str(out)]) == 0
    assert 'predictions.csv' in capsys.readouterr().out
    df = pd.read_csv(out / 'predictions.csv')
    classes = load_run(run_dir).classes
    assert df.record.tolist() == [f'{ids[0]:05d}_lr', f'{ids[1]:05d}_lr', f'{ids[0]:05d}_hr', 'A0001', 'A1980']
    assert df.fs.tolist() == [100., 100., 500., 500., 500.]
    # the same record through `predict` and through the run's own test evaluation: the same probabilities
    p_cols = [f'p_{c}' for c in classes]
    np.testing.assert_allclose(df[p_cols].to_numpy()[:2], test[p_cols].to_numpy()[:2], atol=1e-4)
    # the 500 Hz file of the same ECG, resampled to the run's 100 Hz, lands close to it (not bit-equal: other filter)
    assert np.abs(df[p_cols].to_numpy()[2] - df[p_cols].to_numpy()[0]).max() < 0.05
    th = load_run(run_dir).thresholds
    assert (df[[f'pred_{c}' for c in classes]].to_numpy() == (df[p_cols].to_numpy() > th)).all()
    assert sorted(p.name for p in (out / 'figures').iterdir()) == sorted(f'{r}.png' for r in df.record)


def test_predict_refuses_bad_input(trained, tmp_path, capsys):
    run_dir, real = trained
    # params.yaml of another configuration (a wider network) beside the checkpoint
    import shutil, yaml
    other = tmp_path / 'other'; shutil.copytree(run_dir, other)
    p = yaml.safe_load((other / 'params.yaml').read_text()); p['model_kwargs'] = dict(width=8)
    (other / 'params.yaml').write_text(yaml.safe_dump(p))
    with pytest.raises(CheckpointError, match='another configuration'): load_run(other)
    assert main_predict([str(other), str(real / 'cinc2021/E07500'), '--out', str(tmp_path / 'o')]) == 2
    assert 'another configuration' in capsys.readouterr().err
    # a checkpoint of a run without params.yaml (e.g. copied out of its folder)
    lone = tmp_path / 'lone.pt'; shutil.copy(f'{run_dir}/checkpoints/best.pt', lone)
    with pytest.raises(CheckpointError, match='no params.yaml'): load_run(lone)
    # a record without the run's leads: a ZZU-pECG-like record written with 8 leads
    import wfdb
    x, _ = wfdb.rdsamp(str(real / 'cinc2021/E07500'))
    wfdb.wrsamp('eight', fs=500, units=['mV'] * 8, sig_name=['I', 'II', 'V1', 'V2', 'V3', 'V4', 'V5', 'V6'],
                p_signal=x[:, [0, 1, 6, 7, 8, 9, 10, 11]], fmt=['16'] * 8, adc_gain=[1000.] * 8, baseline=[0] * 8,
                write_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"eight.*lead\(s\) \['III', 'aVR', 'aVL', 'aVF'\]"):
        predict_records(run_dir, [tmp_path / 'eight'], tmp_path / 'o')
    # NaN samples
    x[100:150, 3] = np.nan
    wfdb.wrsamp('gap', fs=500, units=['mV'] * 12, sig_name=['I', 'II', 'III', 'aVR', 'aVL', 'aVF', 'V1', 'V2', 'V3', 'V4',
                'V5', 'V6'], p_signal=x, fmt=['16'] * 12, adc_gain=[1000.] * 12, baseline=[0] * 12, write_dir=str(tmp_path))
    with pytest.raises(ValueError, match='gap.*NaN'): predict_records(run_dir, [tmp_path / 'gap'], tmp_path / 'o')

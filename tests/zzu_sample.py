"""Test fixture (not library code): a 12-record copy of ZZU-pECG in its published layout, with the layout's quirks.

Used by tests/test_data_zzu.py and by the notebooks nbs/04a_data.zzu_meta.ipynb and nbs/04_data.zzu.ipynb (which add
this folder to `sys.path`). The waveforms are real 10 s, 500 Hz PhysioNet/CinC 2021 records from
`shared/data/real/cinc2021` when that folder exists, else records of the synthetic generator
`ecgnb.data.synth_signal.synth_ecg`; both are written with `ecgnb.data.synth_cohorts.write_wfdb` (format 16, 1000 adu/mV),
so there is one WFDB writer in the project. The CSV dictionaries are the package's copies in `ecgnb/assets/`.
"""
from pathlib import Path

import numpy as np
import pandas as pd

from ecgnb.data.records import LEADS12, find_real_samples, read_wfdb
from ecgnb.data.zzu_meta import ZZU_DISEASE_CODE_CSV, ZZU_ECG_CODE_CSV, ZZU_FS, ZZU_LEADS9, ZZU_SIGNAL_DIR

SAMPLE_ROWS = [  # record, age, sex, n_leads, seconds, AHA tokens, CHN tokens, ICD-10 codes
    ('P00001_E01', '572d', 'Female', 12, 10, "'Left ventricular high voltage'", "'J106'", "'Q21.0'"),
    ('P00001_E02', '600d', 'Female', 12, 10, "'C21';'L147'", "'C13';'L123'", "'Q21.0';'J18.0'"),
    ('P00002_E01', '4015d', 'Male', 9, 10, "'D31';'Left ventricular high voltage'", "'D22';'J106'", "'(FO) Q21.1'"),
    ('P00003_E01', '3150d', 'Male', 12, 30, "'A1'", "'A1'", "'J03.9';'J35.2'"),
    ('P00004_E01', '12d', 'Female', 12, 7, "'C21'", "'C13'", "'P07.3'"),
    ('P00005_E01', '200d', 'Male', 12, 10, "'I105';'L145+Modifier362'", "'I86';'L121+Depression'", "'(F) I40.0'"),
    ('P00006_E01', '4800d', 'Male', 12, 10, "'I106'", "'I87'", "'M30.3'"),
    ('P00006_E02', '4830d', 'Male', 12, 10, "'I106';'C23'", "'I87';'C15'", "'M30.3'"),
    ('P00007_E01', '2000d', 'Female', 12, 10, "'F60+Modifier310';'A2'", "'F55+Frequent';'A2'", "'I42.0'"),
    ('P00008_E01', '5474d', 'Female', 12, 10, "'K143';'C21'", "'K118';'C13'", "'Q21.3'"),
    ('P00009_E01', '900d', 'Male', 12, 10, "'A1'", "'A1'", ''),
    ('P00010_E01', '1500d', 'Female', 12, 10, "'Prolonged QTc interval';'C22'", "'L125';'C14'", "'I51.4'"),
]


def real_signals(real, n_needed):
    "Up to `n_needed` real 12-lead 10 s records [12, 5000] (mV) from the cinc2021 sample folder."
    out = []
    for h in sorted((Path(real)/'cinc2021').glob('*.hea')):
        try: x, mask, fs = read_wfdb(h, fs_expected=ZZU_FS)
        except ValueError: continue
        if mask.all() and x.shape[1] >= 5000: out.append(x[:, :5000])
        if len(out) == n_needed: break
    return out


def synthetic_signals(n, seed=0):
    "`n` synthetic pediatric 10 s, 500 Hz records [12, 5000] (mV) from `ecgnb.data.synth_signal.synth_ecg`."
    from ecgnb.data.synth_signal import synth_ecg
    return list(synth_ecg([{'NORM'}] * n, 8.0, fs=ZZU_FS, seconds=10, seed=seed).X.astype(np.float32))


def _sqi(leads):
    return ';'.join(f"'{l.upper() if l.startswith('a') else l}':" + (f'{0.9 + 0.01 * i:.3f}' if l in leads else 'Null')
                    for i, l in enumerate(LEADS12))


def make_zzu_sample(dest, real='auto', seed: int = 0) -> dict:
    "Write the 12-record ZZU-pECG copy under `dest`; returns dict(path, records, source ('real' or 'synthetic'))."
    from ecgnb.data.synth_cohorts import write_wfdb
    dest = Path(dest); dest.mkdir(parents=True, exist_ok=True)
    (dest/'ECGCode.csv').write_text(ZZU_ECG_CODE_CSV)
    (dest/'DiseaseCode.csv').write_text(ZZU_DISEASE_CODE_CSV)
    real = find_real_samples() if real == 'auto' else real
    n_sig = sum(3 if r[4] > 10 else 1 for r in SAMPLE_ROWS)
    sigs = real_signals(real, n_sig) if real is not None else []
    source = 'real' if len(sigs) >= n_sig else 'synthetic'
    if source == 'synthetic': sigs = synthetic_signals(n_sig, seed)
    rows, k = [], 0
    for j, (rid, age, sex, nl, sec, aha, chn, icd) in enumerate(SAMPLE_ROWS):
        n = 3 if sec > 10 else 1
        x = np.concatenate(sigs[k:k + n], 1)[:, :sec * ZZU_FS].copy(); k += n
        if rid == 'P00005_E01': x[1, 1000:1750] = 26.6           # a saturated stretch in lead II
        leads = LEADS12 if nl == 12 else ZZU_LEADS9
        x = x[[LEADS12.index(l) for l in leads]]
        pid = rid.split('_')[0]
        rel = f'{pid[:3]}/{pid}/{rid}'
        write_wfdb(dest/ZZU_SIGNAL_DIR/rel, x.T, ZZU_FS, [l.upper() if l.startswith('a') else l for l in leads])
        rows.append({'Filename': rel, 'ECG_ID': rid, 'Patient_ID': pid, 'Age': age, 'Gender': f"'{sex}'",
                     'Acquisition_date': f'2019-0{1 + j % 9}-1{j % 9} 10:46:08', 'Sampling_point': str(x.shape[1]),
                     'Lead': str(nl), 'AHA_code': aha, 'CHN_code': chn, 'ICD-10 code': icd,
                     'pSQI': _sqi(leads), 'basSQI': _sqi(leads), 'bSQI': _sqi(leads)})
    pd.DataFrame(rows).to_csv(dest/'AttributesDictionary.csv', index=False)
    return dict(path=dest, records=[r[0] for r in SAMPLE_ROWS], source=source)


def write_release_csvs(recs: pd.DataFrame, # rows of shared/data/real/zzu_pecg_23/records.csv (as str)
                       dest: Path,         # the release folder (its Child_ecg/ already in place)
                      ) -> Path:
    "The three CSVs the ZZU loader reads for `recs`: AttributesDictionary.csv in the release's columns and quoting, and the release's ECGCode/DiseaseCode dictionaries."
    from ecgnb.data.synth_zzu import zzu_vocabulary
    cols, ecg_code_csv, disease_csv, _, _ = zzu_vocabulary()
    quote = lambda v: ';'.join(f"'{t}'" for t in str(v).split(';')) if isinstance(v, str) and v else ''
    pd.DataFrame({cols['filename']: 'Child_ecg/' + recs.record, cols['record']: recs.record.str.split('/').str[-1],
                  cols['patient']: recs.patient, cols['age']: recs.age_days_approx + 'd',
                  cols['sex']: recs.sex.map({'M': 'Male', 'F': 'Female'}), cols['n_samples']: recs.n_samples,
                  cols['n_leads']: '12', cols['aha']: recs.aha_codes.map(quote),
                  cols['icd10']: recs.icd10.map(quote)}).to_csv(dest / 'AttributesDictionary.csv', index=False)
    (dest / 'ECGCode.csv').write_text(ecg_code_csv)
    (dest / 'DiseaseCode.csv').write_text(disease_csv)
    return dest

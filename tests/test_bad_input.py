"""Bad input is never silently wrong: each test damages a small copy (in tmp_path) of the real published records in
`../shared/data/real` the way a damaged or unusual download would, and requires a clear error or warning that names
the file and a fix that exists (never a wrong result without a word). The data chapter (nbs/01_data.core.ipynb) has
the table of these cases. Every test here needs the shared folder (skips on a developer's machine without it, fails
in CI, see `conftest.require_shared`)."""
import ast
import errno
import functools
import importlib
import inspect
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from conftest import ROOT
from zzu_sample import write_release_csvs

from ecgnb.data.records import ECGDataError, LEADS12, read_wfdb, wfdb_reader


# ------------------------------------------------------------------------------------------- small damaged copies
def ptb_copy(real, dest: Path, n: int = 6) -> Path:
    "PTB-XL records 1..n in PTB-XL's layout (100 Hz files only), copied so that they can be damaged."
    src = real / 'ptbxl-1.0.1-first500'
    dest.mkdir(parents=True)
    db = pd.read_csv(src / 'ptbxl_database.csv')
    db = db[db.ecg_id <= n]
    db.to_csv(dest / 'ptbxl_database.csv', index=False)
    shutil.copy(src / 'scp_statements.csv', dest)
    for f in db.filename_lr:
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        for e in ('.hea', '.dat'): shutil.copy(src / (f + e), dest / (f + e))
    return dest


def zzu_copy(real, dest: Path, n: int = 4) -> Path:
    "The first n of the 23 real ZZU-pECG records as a release folder (files copied, CSVs in the release's form)."
    src = real / 'zzu_pecg_23'
    recs = pd.read_csv(src / 'records.csv', dtype=str).iloc[:n]
    for r in recs.record:
        d = dest / 'Child_ecg' / Path(r).parent
        d.mkdir(parents=True, exist_ok=True)
        for e in ('.hea', '.dat'): shutil.copy(src / 'Child_ecg' / (r + e), d)
    return write_release_csvs(recs, dest)


def cinc_copy(real, dest: Path, n: int = 6) -> Path:
    "CPSC2018 records A0001..A000n in the CinC 2020 form."
    dest.mkdir(parents=True)
    for i in range(1, n + 1):
        for e in ('.hea', '.mat'): shutil.copy(real / 'cpsc2018_cinc2020' / f'A{i:04d}{e}', dest)
    return dest


def load_zzu_(root, tmp_path, tag='c', **kw):
    from ecgnb.data.zzu import load_zzu
    return load_zzu(root, cache_dir=tmp_path / f'cache-{tag}', split_file=tmp_path / f'split-{tag}.csv', n_workers=1,
                    **kw)


def set_header(hea: Path, **fields):
    "Rewrite fields of a header's record line: n_sig (1), fs (2), sig_len (3)."
    lines = hea.read_text().splitlines()
    f = lines[0].split()
    for k, v in fields.items(): f[{'n_sig': 1, 'fs': 2, 'sig_len': 3}[k]] = str(v)
    hea.write_text('\n'.join([' '.join(f)] + lines[1:]) + '\n')


# --------------------------------------------------------------------- 1. caches notice every changed input file
def first_zzu(root: Path) -> Path:
    return sorted((root / 'Child_ecg').rglob('*.hea'))[0].with_suffix('')


def test_zzu_cache_sees_changed_and_deleted_dat(real_samples, tmp_path):
    root = zzu_copy(real_samples, tmp_path / 'zzu')
    rec = first_zzu(root)
    d0 = load_zzu_(root, tmp_path)
    i = int(np.flatnonzero(d0.meta.record.to_numpy() == rec.name)[0])
    x0 = np.asarray(d0.X[i])
    dat = rec.with_suffix('.dat')
    raw = np.fromfile(dat, '<i2')
    (raw // 2).astype('<i2').tofile(dat)                                    # same size, new content, new mtime
    d1 = load_zzu_(root, tmp_path)
    np.testing.assert_allclose(np.asarray(d1.X[i]), x0 / 2, atol=2e-3)      # rebuilt from the new file
    dat.write_bytes(dat.read_bytes()[:dat.stat().st_size // 2])              # halved: the header no longer fits
    with pytest.raises(ECGDataError, match=re.escape(rec.name) + r'\.hea.*truncated'):
        load_zzu_(root, tmp_path)
    dat.unlink()
    with pytest.raises(ECGDataError, match=re.escape(str(dat)) + ': input file listed for the cache does not exist'):
        load_zzu_(root, tmp_path)


def damaged_loader(real, tmp_path, dataset):
    "(signal file of one record, load(**kw) -> (LabeledECG, that record's row)) on a fresh copy of `dataset`."
    from ecgnb.data.cpsc2018 import load_cpsc2018
    from ecgnb.data.ptbxl import load_ptbxl
    if dataset == 'ptbxl':
        root = ptb_copy(real, tmp_path / 'ptb', n=3)
        return root / 'records100/00000/00001_lr.dat', lambda **k: (load_ptbxl(root, cache_dir=tmp_path / 'c',
                                                                              n_workers=1, **k), 0)
    if dataset == 'cpsc2018':
        root = cinc_copy(real, tmp_path / 'cinc', n=3)
        return root / 'A0001.mat', lambda **k: (load_cpsc2018(root, cache_dir=tmp_path / 'c', n_workers=1,
                                                              split='stratify', split_file=tmp_path / 's.csv', **k), 0)
    root = zzu_copy(real, tmp_path / 'zzu', n=3)
    rec = first_zzu(root)
    def load(**k):
        d = load_zzu_(root, tmp_path, **k)
        return d, int(np.flatnonzero(d.meta.record.to_numpy() == rec.name)[0])
    return rec.with_suffix('.dat'), load


@pytest.mark.parametrize('verify', ['stat', 'hash'])
@pytest.mark.parametrize('dataset', ['ptbxl', 'cpsc2018', 'zzu'])
def test_hash_mode_sees_a_same_size_edit_with_the_mtime_set_back(real_samples, tmp_path, dataset, verify):
    "verify='stat' (size + mtime) is fooled by such an edit, as the cache chapter says; verify='hash' is not."
    sigf, load = damaged_loader(real_samples, tmp_path, dataset)
    d, row = load(verify=verify)
    x0 = np.asarray(d.X[row])
    st, b = os.stat(sigf), sigf.read_bytes()
    keep = 24 if dataset == 'cpsc2018' else 0                                 # the .mat preamble stays
    sigf.write_bytes(b[:keep] + bytes(len(b) - keep))                         # zeros, same size ...
    os.utime(sigf, ns=(st.st_atime_ns, st.st_mtime_ns))                       # ... and the old mtime
    d, row = load(verify=verify)
    x1 = np.asarray(d.X[row])
    if verify == 'stat': np.testing.assert_array_equal(x1, x0)               # fooled: the documented limit
    else: assert np.abs(x0).max() > 0 and np.abs(x1).max() == 0             # rebuilt from the zeroed file


# ------------------------------------------------------------ 2. a .dat larger than the header describes
def test_header_listing_fewer_signals_than_the_dat_holds(real_samples, tmp_path):
    root = ptb_copy(real_samples, tmp_path / 'ptb', n=3)
    hea = root / 'records100/00000/00001_lr.hea'
    lines = hea.read_text().splitlines()
    hea.write_text('\n'.join([lines[0].replace(' 12 ', ' 11 ', 1)] + lines[1:12]) + '\n')   # 11 signals, 12-lead .dat
    for engine in ('auto', 'fast', 'wfdb'):
        with pytest.raises(ECGDataError, match=r'00001_lr\.hea.*more than the header describes'):
            read_wfdb(hea, engine=engine)
    from ecgnb.data.ptbxl import load_ptbxl
    with pytest.raises(ECGDataError, match=r'00001_lr\.hea'):
        load_ptbxl(root, cache_dir=tmp_path / 'c', n_workers=1)


# --------------------------------------------------------------------------------------- 3. PTB-XL strat_fold
@pytest.mark.parametrize('value', [0, -1, 11, 9.5, '', 'two'])
def test_ptbxl_strat_fold_is_validated(real_samples, tmp_path, value):
    from ecgnb.data.ptbxl import read_ptbxl_database
    src = real_samples / 'ptbxl-1.0.1-first500' / 'ptbxl_database.csv'
    db = pd.read_csv(src)
    db['strat_fold'] = db.strat_fold.astype(object)
    db.loc[db.ecg_id == 17, 'strat_fold'] = value
    db.to_csv(tmp_path / 'ptbxl_database.csv', index=False)
    with pytest.raises(ECGDataError, match=re.escape(str(tmp_path / 'ptbxl_database.csv')) +
                       r': ecg_id 17: strat_fold is .*not an integer fold 1-10'):
        read_ptbxl_database(tmp_path)


# ---------------------------------------------------------------------- 4. ZZU Sampling_point against the header
def test_zzu_sampling_point_is_checked_against_the_header(real_samples, tmp_path):
    root = zzu_copy(real_samples, tmp_path / 'zzu')
    recs = pd.read_csv(root / 'AttributesDictionary.csv')
    r = recs[recs.Sampling_point == 10000].iloc[0]
    rec = root / (r.Filename)
    set_header(rec.with_suffix('.hea'), sig_len=2000)                        # a 4 s record ...
    dat = rec.with_suffix('.dat'); dat.write_bytes(dat.read_bytes()[:2000 * 12 * 2])
    with pytest.raises(ECGDataError, match=re.escape(rec.name) + r'\.hea: the record has 2000 samples \(4 s\) but '
                       r'AttributesDictionary\.csv gives Sampling_point 10000'):
        load_zzu_(root, tmp_path, min_seconds=5)                              # ... whose CSV still says 10,000


def test_zzu_patient_ids_are_case_insensitive(real_samples, tmp_path):
    root = zzu_copy(real_samples, tmp_path / 'zzu')
    a = pd.read_csv(root / 'AttributesDictionary.csv', dtype=str)
    a.loc[1, 'Patient_ID'] = a.Patient_ID[0].lower()                          # 'p00073' and 'P00073': one child
    a.to_csv(root / 'AttributesDictionary.csv', index=False)
    d = load_zzu_(root, tmp_path)
    m = d.meta.set_index('record')
    r0, r1 = a.ECG_ID[0], a.ECG_ID[1]
    assert m.patient[r0] == m.patient[r1] == a.Patient_ID[0].upper()
    assert m.split[r0] == m.split[r1]


# ------------------------------------------------------------------------------------------- 5. a full disk
def ptb_keys(real):
    root = real / 'ptbxl-1.0.1-first500'
    return [str(root / f'records100/00000/{i:05d}_lr') for i in range(1, 5)]


def test_full_disk_is_refused_before_building(real_samples, tmp_path, monkeypatch):
    from ecgnb.data import cache as cache_mod
    real_du = shutil.disk_usage
    monkeypatch.setattr(shutil, 'disk_usage', lambda p: real_du(p)._replace(free=50_000))
    reader = functools.partial(wfdb_reader, n_samples=1000)
    with pytest.raises(ECGDataError, match=r'cache needs 0\.00 GiB but .* has only 0\.00 GiB free') as e:
        cache_mod.build_cache(tmp_path / 'c', ptb_keys(real_samples), reader, 12, 1000, n_workers=1)
    assert str(tmp_path) in str(e.value) and 'cache_dir=' in str(e.value)
    assert list(tmp_path.iterdir()) == []                                    # no temporary folder left


def test_disk_filling_up_during_a_build_is_a_clear_error(real_samples, tmp_path, monkeypatch):
    from ecgnb.data import cache as cache_mod
    real_save = np.save
    def full(path, *a, **k):
        if str(path).endswith('mask.npy'): raise OSError(errno.ENOSPC, 'No space left on device', str(path))
        return real_save(path, *a, **k)
    monkeypatch.setattr(np, 'save', full)
    reader = functools.partial(wfdb_reader, n_samples=1000)
    with pytest.raises(ECGDataError, match=r'c: the disk filled up while the cache was written.*partial cache was deleted'):
        cache_mod.build_cache(tmp_path / 'c', ptb_keys(real_samples), reader, 12, 1000, n_workers=1)
    assert list(tmp_path.iterdir()) == []


def test_space_is_reserved_not_sparse(real_samples, tmp_path, monkeypatch):
    "X.npy's blocks are reserved before the workers write (a sparse memory map on a full disk dies of SIGBUS)."
    from ecgnb.data import cache as cache_mod
    seen = {}
    real_fill = cache_mod._fill_all
    def spy(tmp, *a, **k):
        st = os.stat(tmp / 'X.npy'); seen['alloc'], seen['size'] = st.st_blocks * 512, st.st_size
        return real_fill(tmp, *a, **k)
    monkeypatch.setattr(cache_mod, '_fill_all', spy)
    cache_mod.build_cache(tmp_path / 'c', ptb_keys(real_samples), functools.partial(wfdb_reader, n_samples=1000),
                          12, 1000, n_workers=1)
    assert seen['alloc'] >= seen['size'] - 4096


# ----------------------------------------------------------------------------------------------------- 7. CPSC2018
def test_cpsc_one_sample_record_and_a_typo_among_known_codes(real_samples, tmp_path):
    from ecgnb.data.cpsc2018 import load_cpsc2018
    root = cinc_copy(real_samples, tmp_path / 'cinc')
    set_header(root / 'A0002.hea', sig_len=1)                                  # a record of one sample
    m = root / 'A0002.mat'; m.write_bytes(m.read_bytes()[:24 + 12 * 2])
    h = root / 'A0001.hea'; h.write_text(h.read_text().replace('#Dx: RBBB', '#Dx: RBBB,PVCC'))   # a typo
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        d = load_cpsc2018(root, cache_dir=tmp_path / 'c', n_workers=1, split='stratify', split_file=tmp_path / 's.csv')
    msgs = ' | '.join(str(x.message) for x in w)
    assert "shorter than min_seconds=6 s" in msgs and "A0002 (0.002 s)" in msgs
    assert 'A0001 (PVCC)' in msgs and 'strict=True' in msgs
    i = d.meta.record.tolist().index('A0002')
    assert all(i not in v for v in d.splits.values()) and d.info['dropped_short'] == ['A0002']
    kept = load_cpsc2018(root, cache_dir=tmp_path / 'c', n_workers=1, split='stratify', split_file=tmp_path / 's.csv',
                         min_seconds=None)
    assert sum(len(v) for v in kept.splits.values()) == 6


def test_cpsc_reference_rows_listed_twice(real_samples, tmp_path):
    from ecgnb.data.cpsc2018 import read_reference
    ref = pd.read_csv(real_samples / 'cpsc2018_reference' / 'REFERENCE.csv', dtype=str).iloc[:20]
    pd.concat([ref, ref.iloc[[3]]]).to_csv(tmp_path / 'REFERENCE.csv', index=False)
    with pytest.warns(UserWarning, match=r'REFERENCE\.csv: 1 recording\(s\) are listed more than once.*' + ref.Recording[3]):
        assert len(read_reference(tmp_path / 'REFERENCE.csv')) == 20
    other = ref.iloc[[3]].assign(First_label='9' if ref.First_label[3] != '9' else '8')
    pd.concat([ref, other]).to_csv(tmp_path / 'REFERENCE.csv', index=False)
    with pytest.raises(ECGDataError, match=r'REFERENCE\.csv: 1 recording\(s\) are listed more than once with '
                       r'different labels, e.g. ' + ref.Recording[3]):
        read_reference(tmp_path / 'REFERENCE.csv')


# ------------------------------------------------------------------------------- 8. messages that lead the way
def test_short_ptbxl_record_names_the_file_and_no_foreign_parameter(real_samples, tmp_path):
    from ecgnb.data.ptbxl import load_ptbxl
    root = ptb_copy(real_samples, tmp_path / 'ptb', n=3)
    hea = root / 'records100/00000/00002_lr.hea'
    set_header(hea, sig_len=600)
    dat = hea.with_suffix('.dat'); dat.write_bytes(dat.read_bytes()[:600 * 12 * 2])
    with pytest.raises(ECGDataError) as e:
        load_ptbxl(root, cache_dir=tmp_path / 'c', n_workers=1)
    assert str(hea) in str(e.value) and '600 samples' in str(e.value) and 'policy=' not in str(e.value)


def test_wrong_rate_hint_does_not_suggest_fs_for_cpsc(real_samples, tmp_path):
    from ecgnb.data.cpsc2018 import load_cpsc2018
    root = cinc_copy(real_samples, tmp_path / 'cinc', n=3)
    set_header(root / 'A0003.hea', fs=250)
    with pytest.raises(ECGDataError) as e:
        load_cpsc2018(root, cache_dir=tmp_path / 'c', n_workers=1, split='stratify', split_file=tmp_path / 's.csv')
    assert 'A0003.hea: sampling rate is 250 Hz' in str(e.value) and 'fs' not in str(e.value).split('Hz.')[-1]


def test_out_of_range_hint_names_a_loader_option(real_samples, tmp_path):
    "A record in µV overflows the int16 cache; the hint must be an option the loaders take (dtype=), not overflow=."
    from ecgnb.data.ptbxl import load_ptbxl
    root = ptb_copy(real_samples, tmp_path / 'ptb', n=3)
    hea = root / 'records100/00000/00003_lr.hea'
    hea.write_text(hea.read_text().replace('1000.0(0)/mV', '1.0(0)/mV'))      # gain 1 adu/mV: values x1000
    with pytest.raises(ECGDataError) as e:
        load_ptbxl(root, cache_dir=tmp_path / 'c', n_workers=1)
    msg = str(e.value)
    assert 'exceed' in msg and "dtype='float32'" in msg and 'overflow=' not in msg
    hints = re.findall(r"\b([a-z_]+)='", msg)
    assert set(hints) <= set(inspect.signature(load_ptbxl).parameters), hints


MESSAGE_CALLS = ('ECGDataError', 'ValueError', 'TypeError', 'FileNotFoundError', 'warn', 'RuntimeError',
                 'KeyError', 'SystemExit', 'print', 'error', 'exit')
HINT = re.compile(r"(?<![\w.=])([a-z_][a-z0-9_]*)=(?!=)")


def message_hints(path: Path) -> list:
    "(line, name) of every `name=` inside the string constants of a raise/warn/print call's message."
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call): continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, 'id', '')
        if name not in MESSAGE_CALLS: continue
        for arg in node.args:
            for s in ast.walk(arg):
                if isinstance(s, ast.Constant) and isinstance(s.value, str):
                    out += [(s.lineno, m) for m in HINT.findall(s.value)]
    return out


def accepted_names(modules) -> set:
    "Every parameter name of every public function, class and method of `modules`."
    names = set()
    for mod in modules:
        for n, obj in vars(mod).items():
            if n.startswith('_') or getattr(obj, '__module__', None) != mod.__name__: continue
            objs = [obj] + ([v for k, v in vars(obj).items() if not k.startswith('_') or k == '__init__']
                            if inspect.isclass(obj) else [])
            for o in objs:
                try: names |= set(inspect.signature(o).parameters)
                except (TypeError, ValueError): pass
    return names


@pytest.mark.parametrize('package', ['ecgnb/data', 'ecgnb/run.py'])
def test_message_hints_name_parameters_that_exist(package):
    """Every `name=` a message suggests is a parameter of a public function of the same module (ecgnb/run.py) or of
    the module's package (ecgnb/data: the loaders pass their options to the reader and the cache)."""
    files = sorted((ROOT / package).glob('*.py')) if (ROOT / package).is_dir() else [ROOT / package]
    mods = [importlib.import_module('.'.join(f.relative_to(ROOT).with_suffix('').parts)) for f in files]
    ok = accepted_names(mods)
    bad = [(f.name, line, n) for f in files for line, n in message_hints(f) if n not in ok]
    assert bad == [], f'messages suggest arguments no public function takes: {bad}'


def test_message_hint_scanner_finds_a_foreign_argument(tmp_path):
    "The scanner itself: it finds `policy=` and `a=` in a raise and ignores `==` and f-string fields."
    p = tmp_path / 'm.py'
    p.write_text('def f(a):\n    if a == 1: raise ValueError("use policy=\'pad\' or a=2")\n'
                 '    raise ValueError(f"{a!r} b == c {a}=")\n')
    assert [n for _, n in sorted(message_hints(p))] == ['a', 'policy']


# ------------------------------------------------------------------------------- 9. workers die with their parent
BUILD = textwrap.dedent('''
    import sys, time
    import numpy as np
    from ecgnb.data.cache import build_cache

    def slow_reader(key):
        time.sleep(0.2)
        return np.zeros((2, 50), np.float32), np.ones(2, bool)

    if __name__ == '__main__':
        build_cache(sys.argv[1], [str(i) for i in range(400)], slow_reader, 2, 50, n_workers=2, executor='process',
                    chunksize=4)
''')


def test_pool_workers_die_with_a_killed_build(tmp_path):
    script = tmp_path / 'build.py'
    script.write_text(BUILD)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / 'cache')], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        parent, t0 = psutil.Process(proc.pid), time.time()
        while len(parent.children()) < 2 and time.time() - t0 < 60: time.sleep(0.1)
        workers = parent.children()
        assert len(workers) >= 2, proc.stderr.read().decode()[-2000:] if proc.poll() is not None else 'no workers'
        time.sleep(0.5)
        os.kill(proc.pid, signal.SIGKILL)                                    # the parent only, not its group
        proc.wait(timeout=10)
        gone_by = time.time() + 5
        def alive(w):
            try: return w.is_running() and w.status() != psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess: return False
        while any(alive(w) for w in workers) and time.time() < gone_by: time.sleep(0.1)
        assert not any(alive(w) for w in workers), 'pool workers outlived the killed build'
    finally:
        try: os.killpg(proc.pid, signal.SIGKILL)                               # whatever is left of the group
        except ProcessLookupError: pass


# ------------------------------------------------------------------------ 10. a missing or renamed PTB-XL lead
def test_missing_ptbxl_lead_warns_and_can_be_an_error(real_samples, tmp_path):
    from ecgnb.data.ptbxl import load_ptbxl
    root = ptb_copy(real_samples, tmp_path / 'ptb', n=4)
    hea = root / 'records100/00000/00003_lr.hea'
    lines = hea.read_text().splitlines()
    lines[7] = lines[7].rsplit(' ', 1)[0] + ' V7'                              # V1 renamed
    hea.write_text('\n'.join(lines) + '\n')
    with pytest.warns(UserWarning, match=r'1 of 4 record\(s\) lack requested lead\(s\).*00003_lr\.hea has no '
                      r"\['V1'\].*require_leads=True"):
        d = load_ptbxl(root, cache_dir=tmp_path / 'c', n_workers=1)
    assert d.mask[2].tolist() == [l != 'V1' for l in LEADS12]
    with pytest.raises(ECGDataError, match=r'00003_lr\.hea has no \[\'V1\'\]'):
        load_ptbxl(root, cache_dir=tmp_path / 'c', n_workers=1, require_leads=True)


# ----------------------------------------------------------------------- one name per loader parameter (old names warn)
def test_old_loader_parameter_names_still_work_with_a_warning(real_samples, tmp_path):
    from ecgnb.data.ptbxl import load_ptbxl
    root = ptb_copy(real_samples, tmp_path / 'ptb', n=20)
    new = load_ptbxl(root, 'rhythm', min_count=3, cache_dir=tmp_path / 'c', n_workers=1)
    with pytest.warns(DeprecationWarning, match=r'load_ptbxl\(min_samples=\) is deprecated.*load_ptbxl\(min_count=\)'):
        old = load_ptbxl(root, 'rhythm', min_samples=2, cache_dir=tmp_path / 'c', n_workers=1)
    assert old.classes == new.classes and old.info['min_count'] == 3
    z = zzu_copy(real_samples, tmp_path / 'zzu', n=3)
    a = load_zzu_(z, tmp_path, task='disease', window='all')
    with pytest.warns(DeprecationWarning, match=r'load_zzu\(labels=\)'):
        b = load_zzu_(z, tmp_path, labels='disease', window='all')
    assert a.classes == b.classes and len(a) == len(b) and b.name == 'zzu-pecg/disease'
    with pytest.raises(TypeError, match="unexpected keyword argument 'label'"):
        load_zzu_(z, tmp_path, label='disease')
    for f in (load_ptbxl, ):
        assert inspect.signature(f).parameters['fs'].annotation in (float, 'float')

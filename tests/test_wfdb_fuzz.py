"""Property-based test of the fast WFDB reader (`ecgnb.data.records`).

`read_wfdb` reads simple records (one format-16 signal file, no skew, one sample per frame) with its own header
parser and `np.fromfile`, and hands everything else to `wfdb.rdrecord`. Here hypothesis writes many random records
with `wfdb.wrsamp` (storage formats, gains, baselines, lengths, sampling rates, lead orders and spellings) and makes
their headers odd in ways WFDB allows (comment lines, blank lines, trailing spaces, a byte offset before the samples
as in the CinC `.mat` files, a counter frequency, no signal length), then checks:

* `read_wfdb` (engine 'auto') returns exactly what `wfdb.rdrecord` returns, lead by lead (by name), mask included;
* `engine='fast'` returns the same, or says it hands the record over to wfdb, and it never hands over a record that
  is one format-16 file (the fast path is really taken);
* invalid samples (-32768 in format 16) and corrupt files (truncated signal, missing signal file, garbage header)
  give an `ECGDataError` that names the header file.

Examples are derandomized (the same ones each run), so the test is reproducible; about 10-20 s on one core.
"""
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import wfdb
from hypothesis import HealthCheck, given, settings, strategies as st

from ecgnb.data.records import LEADS12, ECGDataError, normalize_lead_name, read_wfdb

FORMATS = ['16', '16', '16', '212', '80', '24', '32']   # what wfdb.wrsamp writes; format 16 drawn most often (the fast path)
RANGE = {'80': 100, '212': 2000}                                       # digital ranges that fit every format drawn
SPELLINGS = {'aVR': ['aVR', 'AVR', 'avr'], 'aVL': ['aVL', 'AVL'], 'aVF': ['aVF', 'AVF'], 'I': ['I', 'i'], 'II': ['II', 'ii']}
FUZZ = settings(max_examples=60, deadline=5000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def records(draw):
    "A random record: signal names, digital samples [T, C], format, gains, baselines, fs and header oddities."
    leads = draw(st.lists(st.sampled_from(LEADS12), min_size=1, max_size=8, unique=True))
    names = [draw(st.sampled_from(SPELLINGS.get(l, [l]))) for l in leads]
    if draw(st.booleans()): names.insert(draw(st.integers(0, len(names))), 'MLII')   # a lead that is not asked for
    C, T = len(names), draw(st.integers(1, 400))
    fmt = draw(st.sampled_from(FORMATS))
    lim = RANGE.get(fmt, 30000)
    d = np.asarray(draw(st.lists(st.integers(-lim, lim), min_size=C * T, max_size=C * T)), np.int64).reshape(T, C)
    gains = draw(st.lists(st.sampled_from([1.0, 100.0, 200.0, 1000.0, 1234.5, 2000.0, 0.5]), min_size=C, max_size=C))
    base = draw(st.lists(st.integers(-lim // 2, lim // 2), min_size=C, max_size=C))
    fs = draw(st.sampled_from([100, 250, 257, 360, 500, 1000, 128.5]))
    odd = draw(st.sets(st.sampled_from(['comments', 'blank', 'spaces', 'offset', 'counter', 'no_len'])))
    return dict(names=names, d=d, fmt=fmt, gains=gains, base=base, fs=fs, odd=odd)


def write(folder: Path, r: dict, name='rec') -> Path:
    "Write the record with wfdb.wrsamp, then make its header odd as `r['odd']` asks."
    C = len(r['names'])
    wfdb.wrsamp(name, fs=r['fs'], units=['mV'] * C, sig_name=r['names'], d_signal=r['d'], fmt=[r['fmt']] * C,
                adc_gain=r['gains'], baseline=r['base'], write_dir=str(folder))
    hea = folder / f'{name}.hea'
    lines = hea.read_text().splitlines()
    head = lines[0].split()
    if 'counter' in r['odd']: head[2] = f'{head[2]}/{float(r["fs"]) * 2:g}'
    if 'no_len' in r['odd'] and len(head) > 3: head = head[:3]
    lines[0] = ' '.join(head)
    if 'offset' in r['odd'] and r['fmt'] == '16':                       # samples behind a 24-byte preamble
        dat = folder / f'{name}.dat'
        dat.write_bytes(b'\x00' * 24 + dat.read_bytes())
        lines = [lines[0]] + [re.sub(r'^(\S+) 16 ', r'\1 16+24 ', l) for l in lines[1:]]
    if 'spaces' in r['odd']: lines = [l + '   ' for l in lines]
    if 'comments' in r['odd']: lines = ['# written by a fuzzer'] + lines[:1] + ['#Age: 52'] + lines[1:] + ['# the end']
    if 'blank' in r['odd']: lines = lines[:1] + [''] + lines[1:] + ['']
    hea.write_text('\n'.join(lines) + '\n')
    return folder / name


def expected(rec: Path):
    "What read_wfdb must return, computed from wfdb.rdrecord: (sig [12, T] float64, mask [12], fs)."
    r = wfdb.rdrecord(str(rec), return_res=64)
    names = [normalize_lead_name(n, strict=False) for n in r.sig_name]
    out, mask = np.zeros((12, r.sig_len)), np.zeros(12, bool)
    for i, l in enumerate(LEADS12):
        if l in names: out[i], mask[i] = r.p_signal[:, names.index(l)], True
    return out, mask, float(r.fs)


@pytest.fixture
def folder():
    d = Path(tempfile.mkdtemp())
    yield d
    shutil.rmtree(d, ignore_errors=True)


@FUZZ
@given(r=records())
def test_fast_reader_matches_wfdb(r):
    d = Path(tempfile.mkdtemp())
    try:
        rec = write(d, r)
        want, wmask, wfs = expected(rec)
        got, gmask, gfs = read_wfdb(rec)                                 # engine 'auto'
        np.testing.assert_array_equal(gmask, wmask)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * np.abs(want).max(initial=1))
        assert gfs == wfs and got.dtype == np.float32 and got.shape == want.shape
        simple = r['fmt'] == '16' and r['d'].shape[0] > 0 and not ('no_len' in r['odd'])
        if simple:                                                      # the fast path must take it ...
            fast = read_wfdb(rec, engine='fast')
            np.testing.assert_array_equal(fast[0], got)
        else:                                                           # ... and hand the others over, saying so
            try: fast = read_wfdb(rec, engine='fast')
            except ECGDataError as e: assert 'not a simple single-file format-16 record' in str(e)
            else: np.testing.assert_array_equal(fast[0], got)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@settings(max_examples=15, deadline=5000, derandomize=True, database=None)
@given(r=records(), where=st.floats(0, 1), engine=st.sampled_from(['auto', 'wfdb']))
def test_invalid_samples_are_a_clear_error(r, where, engine):
    "WFDB's invalid-sample code (-32768 in format 16) becomes NaN and fails with the header named, in both engines."
    r = dict(r, fmt='16', odd=r['odd'] - {'no_len'})
    d = r['d'].copy()
    i = int(where * (d.shape[0] - 1))
    d[i, r['names'].index(next(n for n in r['names'] if n != 'MLII'))] = -32768
    tmp = Path(tempfile.mkdtemp())
    try:
        rec = write(tmp, dict(r, d=d))
        with pytest.raises(ECGDataError, match=r'rec\.hea: \d+ NaN/inf samples'):
            read_wfdb(rec, engine=engine)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@settings(max_examples=20, deadline=5000, derandomize=True, database=None)
@given(r=records(), cut=st.floats(0.05, 0.95), damage=st.sampled_from(['truncate', 'no_dat', 'garbage_header']))
def test_corrupt_files_are_a_clear_error(r, cut, damage):
    "A truncated signal file, a missing one or a garbage header: an ECGDataError naming the header, never data."
    r = dict(r, odd=r['odd'] - {'no_len'})
    tmp = Path(tempfile.mkdtemp())
    try:
        rec = write(tmp, r)
        dat = tmp / 'rec.dat'
        if damage == 'truncate':
            b = dat.read_bytes()
            dat.write_bytes(b[:int(len(b) * cut)])
        elif damage == 'no_dat': dat.unlink()
        else: (tmp / 'rec.hea').write_bytes(bytes(np.random.default_rng(int(cut * 1e6)).integers(0, 256, 200, np.uint8)))
        for engine in ('auto', 'wfdb'):
            with pytest.raises(ECGDataError, match=r'rec\.hea'):
                read_wfdb(rec, engine=engine)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------ headers that disagree with their signal file
WIDTH = {'16': 2, '24': 3, '32': 4, '80': 1}                            # bytes per sample of the fixed-width formats


@st.composite
def lies(draw):
    "One or two ways a header can disagree with its .dat: sample count, signal count, format, byte offset."
    kinds = draw(st.lists(st.sampled_from(['sig_len', 'drop_sig', 'add_sig', 'format', 'offset']),
                          min_size=1, max_size=2, unique=True))
    return dict(kinds=kinds, dlen=draw(st.integers(-60, 60).filter(bool)), ndrop=draw(st.integers(1, 3)),
                fmt=draw(st.sampled_from(sorted(WIDTH))), doff=draw(st.sampled_from([-2, 1, 2, 3, 4, 24, 48])))


def lie(hea: Path, l: dict):
    "Rewrite `hea` as `l` says (keeping its comments and odd spacing out of the way)."
    lines = [s for s in hea.read_text().splitlines() if s.strip() and not s.lstrip().startswith('#')]
    head, sigs = lines[0].split(), [s.split() for s in lines[1:]]
    for k in l['kinds']:
        if k == 'sig_len': head[3] = str(max(1, int(head[3]) + l['dlen']))
        elif k == 'drop_sig' and len(sigs) > 1: sigs = sigs[:max(1, len(sigs) - l['ndrop'])]
        elif k == 'add_sig': sigs = sigs + [sigs[-1][:8] + ['V6' if sigs[-1][8] != 'V6' else 'V5']]
        elif k in ('format', 'offset'):
            for s in sigs:
                fmt, _, off = s[1].partition('+')
                fmt = l['fmt'] if k == 'format' else fmt
                off = max(0, int(off or 0) + l['doff']) if k == 'offset' else int(off or 0)
                s[1] = fmt + (f'+{off}' if off else '')
    head[1] = str(len(sigs))
    hea.write_text('\n'.join([' '.join(head)] + [' '.join(s) for s in sigs]) + '\n')
    return int(head[3]), sigs


@settings(max_examples=80, deadline=5000, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(r=records(), l=lies())
def test_header_that_disagrees_with_its_signal_file(r, l):
    """A header whose sample count, signal count, format or byte offset does not match its .dat: read_wfdb returns
    what wfdb.rdrecord returns for that header, or an ECGDataError naming the header -- and when the file's size is
    not what the header describes (an 11-signal header over a 12-lead file), it always refuses, in both engines."""
    r = dict(r, fmt=r['fmt'] if r['fmt'] in WIDTH else '16', odd=r['odd'] - {'no_len', 'counter'})
    tmp = Path(tempfile.mkdtemp())
    try:
        rec = write(tmp, r)
        sig_len, sigs = lie(tmp / 'rec.hea', l)
        offs = {int(s[1].partition('+')[2] or 0) for s in sigs}
        widths = {WIDTH[s[1].partition('+')[0]] for s in sigs}
        described = offs.pop() + sig_len * len(sigs) * widths.pop()              # every signal shares fmt/offset
        size_ok = (tmp / 'rec.dat').stat().st_size == described
        try: want = expected(rec)
        except Exception: want = None                                         # wfdb itself cannot read it
        for engine in ('auto', 'wfdb'):
            try: got = read_wfdb(rec, engine=engine)
            except ECGDataError as e:
                assert 'rec.hea' in str(e)
                continue
            assert size_ok, f'{engine}: a signal file of the wrong size was read ({l})'
            assert want is not None
            np.testing.assert_array_equal(got[1], want[1])
            np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=1e-6 * np.abs(want[0]).max(initial=1))
        if not size_ok:                                                          # and the message says why
            with pytest.raises(ECGDataError, match=r'rec\.hea.*(truncated|more than the header describes)'):
                read_wfdb(rec)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

"""Tests of ecgnb.data.core's cache that need subprocesses: a build killed with SIGKILL must never leave a
folder that opens as a valid cache, an old valid cache must survive a killed rebuild, and the next build must
clean up and succeed. (Everything else is tested inside nbs/01-03.)"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from ecgnb.data.core import ECGCache, build_cache, cache_is_valid

SCRIPT = textwrap.dedent('''
    import sys, time
    import numpy as np
    from ecgnb.data.core import build_cache

    def slow_reader(key):
        time.sleep(float(sys.argv[3]))
        return np.full((2, 50), float(key) / 100, np.float32), np.ones(2, bool)

    if __name__ == '__main__':
        build_cache(sys.argv[1], [str(i) for i in range(int(sys.argv[2]))], slow_reader, 2, 50,
                    settings={'tag': sys.argv[4]}, n_workers=int(sys.argv[5]), executor=sys.argv[6], chunksize=4)
        print('done', flush=True)
''')


def fast_reader(key):
    return np.full((2, 50), float(key) / 100, np.float32), np.ones(2, bool)


def start_build(tmp_path, cache, n=400, delay=0.01, tag='a', workers=1, executor='thread'):
    script = tmp_path / 'build.py'
    script.write_text(SCRIPT)
    return subprocess.Popen([sys.executable, str(script), str(cache), str(n), str(delay), tag, str(workers), executor],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def kill_when_started(proc, cache, timeout=60):
    "Wait until the build has created its temporary folder and written a little, then SIGKILL its process group."
    t0 = time.time()
    while time.time() - t0 < timeout:
        tmps = list(cache.parent.glob(f'.{cache.name}.tmp-*'))
        if tmps and (tmps[0] / 'X.npy').exists():
            time.sleep(0.5)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            return tmps
        if proc.poll() is not None:
            raise AssertionError(f'build finished before it could be killed: {proc.stderr.read().decode()[-2000:]}')
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError('build never started')


@pytest.mark.parametrize('workers,executor', [(1, 'thread'), (2, 'process')])
def test_sigkill_leaves_no_valid_cache(tmp_path, workers, executor):
    cache = tmp_path / 'cache'
    proc = start_build(tmp_path, cache, workers=workers, executor=executor)
    tmps = kill_when_started(proc, cache)
    assert proc.returncode == -signal.SIGKILL
    assert not cache.exists() and not cache_is_valid(cache)
    with pytest.raises(ValueError, match='not a complete cache'):
        ECGCache(tmps[0])                                       # the half-built folder does not open as a cache
    # the next build sweeps the dead process's temporary folder and produces a complete cache
    c = build_cache(cache, [str(i) for i in range(400)], fast_reader, 2, 50, settings={'tag': 'a'}, n_workers=1)
    assert not any(p.exists() for p in tmps)
    assert c.X.shape == (400, 2, 50) and float(c.X[123, 1, 7]) == pytest.approx(1.23)


def test_sigkill_during_rebuild_keeps_old_cache(tmp_path):
    cache = tmp_path / 'cache'
    old = build_cache(cache, [str(i) for i in range(400)], fast_reader, 2, 50, settings={'tag': 'old'}, n_workers=1)
    fp = old.fingerprint
    proc = start_build(tmp_path, cache, tag='new')               # different settings: a rebuild starts
    kill_when_started(proc, cache)
    assert cache_is_valid(cache, fp)                             # the old cache is untouched and still valid
    assert json.loads((cache / 'manifest.json').read_text())['settings']['tag'] == 'old'
    new = build_cache(cache, [str(i) for i in range(400)], fast_reader, 2, 50, settings={'tag': 'new'}, n_workers=1)
    assert new.fingerprint != fp and cache_is_valid(cache, new.fingerprint)
    assert not list(tmp_path.glob('.cache.tmp-*'))


def test_completed_subprocess_build_is_reused(tmp_path):
    cache = tmp_path / 'cache'
    proc = start_build(tmp_path, cache, n=20, delay=0, tag='x')
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()[-2000:]
    mtime = (cache / 'X.npy').stat().st_mtime_ns
    c = build_cache(cache, [str(i) for i in range(20)], fast_reader, 2, 50, settings={'tag': 'x'})
    assert (cache / 'X.npy').stat().st_mtime_ns == mtime and len(c) == 20


def test_two_concurrent_builds_both_succeed(tmp_path):
    cache = tmp_path / 'cache'
    procs = [start_build(tmp_path, cache, n=200, delay=0.005, tag='same') for _ in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
    assert cache_is_valid(cache)
    c = ECGCache(cache)
    assert c.X.shape == (200, 2, 50) and float(c.X[199, 0, 0]) == pytest.approx(1.99)
    assert not list(tmp_path.glob('.cache.tmp-*'))

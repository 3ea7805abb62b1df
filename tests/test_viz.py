"""Checks of `ecgnb.viz.plots` (with `ecgnb.viz.ecg_paper` and `ecgnb.viz.browser`) that a notebook cannot make well: a fresh
interpreter without `ecgnb.data.core`, plain Python with no IPython shell, the pixel size of a saved PNG, and speed.
Test records come from the project's synthetic generator (`ecgnb.data.synth_signal.synth_ecg`)."""
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

os.environ.setdefault('MPLBACKEND', 'Agg')


def toy(fs=500, seconds=10, seed=0):
    "One synthetic normal 12-lead record [12, T] in mV."
    from ecgnb.data.synth_signal import synth_ecg
    return synth_ecg([{'NORM'}], 50, fs=fs, seconds=seconds, seed=seed).X[0].astype(np.float32)


def test_lead_names_without_data_core():
    "ecgnb.viz.plots imports and plots without ecgnb.data.core (and so without torch): it needs only ecgnb.data.records."
    code = textwrap.dedent('''
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == 'ecgnb.data.core': raise ImportError('blocked for the test')
        sys.meta_path.insert(0, Block())
        import ecgnb.viz.plots as v
        assert 'ecgnb.data.core' not in sys.modules
        assert v.LEADS12 == ['I','II','III','aVR','aVL','aVF','V1','V2','V3','V4','V5','V6'], v.LEADS12
        t = __import__('numpy').linspace(0, 10, 1000)
        fig = v.plot_ecg(__import__('numpy').sin(t)[None].repeat(12, 0), 100)
        print(sum(1 for l in fig.axes[0].lines if (l.get_gid() or '').startswith('trace:')))
    ''')
    env = {**os.environ, 'MPLBACKEND': 'Agg'}
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '13'


def test_png_pixels_match_millimetres(tmp_path):
    "Saved at 254 dpi (10 px/mm) the paper of a 10 s 4x3 plot is 265 mm x 120 mm plus 12 mm x 20 mm of margins."
    from PIL import Image
    from ecgnb.viz.plots import plot_ecg
    import matplotlib.pyplot as plt
    fig = plot_ecg(toy(500, 10), 500)
    fig.savefig(tmp_path / 'p.png', dpi=254)
    plt.close(fig)
    w, h = Image.open(tmp_path / 'p.png').size
    assert abs(w - 2770) <= 1 and abs(h - 1400) <= 1, (w, h)


def test_fallback_in_plain_python(capsys):
    "Without any IPython shell the browser still builds and its static fallback renders figures."
    from types import SimpleNamespace
    from ecgnb.viz.plots import ECGBrowser, show_records
    import matplotlib.pyplot as plt
    X = np.stack([toy(100, 5, seed=i) for i in range(4)])
    ds = SimpleNamespace(X=X, Y=np.eye(4, 2, dtype=np.uint8), classes=['A', 'B'], fs=100,
                         splits={'train': np.arange(3), 'test': np.array([3])})
    figs = show_records(ds, n=3, show=False)
    assert len(figs) == 3
    for f in figs: plt.close(f)
    b = ECGBrowser(ds)
    assert b.row == 0 and b.fig is not None
    b._ipython_display_()              # no IPython: display() prints the figures' reprs
    assert capsys.readouterr().out.count('Figure') == 4


def test_plot_is_fast():
    "A 12-lead 500 Hz 4x3 plot, drawn, stays well under a second (median of 3; generous on shared CI)."
    from ecgnb.viz.plots import plot_ecg
    import matplotlib.pyplot as plt
    x = toy(500, 10)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        fig = plot_ecg(x, 500, saliency=np.abs(x))
        fig.canvas.draw()
        times.append(time.perf_counter() - t0)
        plt.close(fig)
    assert np.median(times) < 1.5, times


def test_browser_in_a_live_kernel():
    "In a real Jupyter kernel the browser displays widgets and renders the figure into its Output widget."
    nbformat = pytest.importorskip('nbformat')
    nbclient = pytest.importorskip('nbclient')
    src = textwrap.dedent('''
        import numpy as np
        from types import SimpleNamespace
        from ecgnb.core import in_notebook
        from ecgnb.viz.plots import ECGBrowser
        from ecgnb.data.synth_signal import synth_ecg
        X = synth_ecg([{'NORM'}] * 3, 50, fs=100, seconds=10).X
        ds = SimpleNamespace(X=X, Y=np.eye(3, dtype=np.uint8), classes=list('abc'), fs=100,
                             splits={'train': np.arange(2), 'test': np.array([2])})
        b = ECGBrowser(ds, predictions=np.full((3, 3), 0.5))
        b.select(split='test')
        print(in_notebook(), b.row)
        b
    ''')
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src)])
    env_backup = os.environ.get('MPLBACKEND')
    os.environ['MPLBACKEND'] = 'module://matplotlib_inline.backend_inline'
    try:
        nbclient.NotebookClient(nb, kernel_name='python3', timeout=180, store_widget_state=True).execute()
    finally:
        if env_backup is None: del os.environ['MPLBACKEND']
        else: os.environ['MPLBACKEND'] = env_backup
    outs = nb.cells[0].outputs
    assert outs[0]['text'].split() == ['True', '2']
    assert 'application/vnd.jupyter.widget-view+json' in outs[-1]['data']
    assert not any('image/png' in o.get('data', {}) for o in outs)        # the figure went into the Output widget
    state = nb.metadata['widgets']['application/vnd.jupyter.widget-state+json']['state']
    out_models = [m for m in state.values() if m['model_name'] == 'OutputModel']
    assert [[('image/png' in o.get('data', {})) for o in m['state']['outputs']] for m in out_models] == [[True]]

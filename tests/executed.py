"""Executed copies of the notebooks: written by tests/test_notebooks.py, rendered by scripts/docs.sh.

One execution serves both the test suite and the documentation site: each notebook case of the suite saves the
notebook with its outputs (figures, tables, printed results) to `_executed/<name>.ipynb` (git-ignored), stamped with
a hash of the code it ran against (every notebook in nbs/, every module in ecgnb/, settings.ini). The docs build
re-executes only the notebooks whose copy is missing or was made from other code, so the site always shows the
current code's outputs.
"""
import hashlib
import json
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
EXECUTED = ROOT / '_executed'


def source_notebooks():
    "The notebooks of the site and of the suite: nbs/*.ipynb (recursively), except `_*` and checkpoints."
    return sorted(p for p in NBS.rglob('*.ipynb')
                  if '.ipynb_checkpoints' not in p.parts and not any(q.startswith('_') for q in p.relative_to(NBS).parts))


def code_stamp() -> str:
    "Hash of everything a notebook's outputs depend on in this checkout."
    h = hashlib.sha256()
    files = [*source_notebooks(), *sorted((ROOT / 'ecgnb').rglob('*.py')), ROOT / 'settings.ini']
    for p in files:
        h.update(str(p.relative_to(ROOT)).encode() + b'\0' + p.read_bytes() + b'\0')
    return h.hexdigest()[:16]


def executed_path(src: Path) -> Path:
    return EXECUTED / src.relative_to(NBS)


def save_executed(nb: dict, src: Path, ok: bool, seconds: float, stamp: str = None) -> Path:
    "Write the executed notebook `nb` of source `src` atomically, with the code stamp in its metadata."
    nb.setdefault('metadata', {})['ecgnb_executed'] = dict(code_stamp=stamp or code_stamp(), ok=bool(ok),
                                                          seconds=round(seconds, 1))
    dest = executed_path(src)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix='.tmp-', suffix='.ipynb')
    with os.fdopen(fd, 'w') as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)
    os.replace(tmp, dest)
    return dest


def stale_notebooks(stamp: str = None):
    "Source notebooks whose executed copy is missing, failed, or was made from other code."
    stamp = stamp or code_stamp()
    out = []
    for src in source_notebooks():
        dest = executed_path(src)
        try:
            meta = json.loads(dest.read_text())['metadata'].get('ecgnb_executed', {})
        except (OSError, ValueError, KeyError):
            meta = {}
        if meta.get('code_stamp') != stamp or not meta.get('ok'):
            out.append(src)
    return out

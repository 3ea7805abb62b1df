"""Packaging for ecgnb, driven by settings.ini (nbdev 2 layout).

Unlike the nbdev 2 template this file does not import `pkg_resources`
(deprecated, and absent from recent setuptools); requirement strings are
passed through as written.

A built wheel carries the experiment notebooks (every `nbs/*.ipynb` with a
cell tagged `parameters`, i.e. the papermill notebooks that `ecgnb-run`
executes) as `ecgnb/notebooks/`, so `ecgnb-run` works from a regular,
non-editable install; an editable install uses the checkout's `nbs/`.
"""
import json
import shutil
from configparser import ConfigParser
from pathlib import Path

import setuptools
from setuptools.command.build_py import build_py

here = Path(__file__).parent
config = ConfigParser(delimiters=['='])
config.read(here / 'settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

requirements = cfg.get('requirements', '').split()
dev_requirements = cfg.get('dev_requirements', '').split()
text_requirements = cfg.get('text_requirements', '').split()
min_python = cfg['min_python']


def experiment_notebooks(nbs: Path = here / 'nbs') -> list[Path]:
    "The papermill notebooks of `nbs/`: those with a code cell tagged `parameters`."
    def tagged(path):
        cells = json.loads(path.read_text(encoding='utf-8')).get('cells', [])
        return any('parameters' in c.get('metadata', {}).get('tags', []) for c in cells)
    return sorted(p for p in nbs.glob('*.ipynb') if tagged(p))


class BuildWithNotebooks(build_py):
    "build_py that also copies the experiment notebooks into the built package as ecgnb/notebooks/."
    def run(self):
        super().run()
        if self.editable_mode: return                    # an editable install reads the checkout's nbs/
        nbs = experiment_notebooks()
        if not nbs:
            raise SystemExit(f"setup.py: no experiment notebooks in {here / 'nbs'}: build ecgnb from a checkout "
                             'or from its sdist (MANIFEST.in ships them)')
        dest = Path(self.build_lib) / cfg['lib_path'] / 'notebooks'
        dest.mkdir(parents=True, exist_ok=True)
        for nb in nbs: shutil.copyfile(nb, dest / nb.name)


licenses = {'apache2': 'Apache-2.0'}  # SPDX expression (license classifiers are deprecated)
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable']

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    long_description=(here / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    author=cfg['author'],
    author_email=cfg['author_email'],
    license=licenses[cfg['license']],
    url=cfg['git_url'],
    keywords=cfg['keywords'].split(),
    classifiers=[
        'Development Status :: ' + statuses[int(cfg['status'])],
        'Intended Audience :: ' + cfg['audience'].title(),
        'Natural Language :: ' + cfg['language'].title(),
        'Programming Language :: Python :: 3.11',
        'Topic :: Scientific/Engineering :: Medical Science Apps.',
    ],
    # ecgnb/assets is a data folder: listed as a package so setuptools ships it without its 'importable' warning
    packages=setuptools.find_packages(include=['ecgnb', 'ecgnb.*']) + ['ecgnb.assets'],
    include_package_data=True,
    package_data={'ecgnb.assets': ['*']},
    cmdclass={'build_py': BuildWithNotebooks},
    install_requires=requirements,
    extras_require={'dev': dev_requirements, 'text': text_requirements},
    python_requires='>=' + min_python,
    zip_safe=False,
    entry_points={
        'console_scripts': cfg.get('console_scripts', '').split(),
        'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"],
    },
)

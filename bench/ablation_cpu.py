#!/usr/bin/env python
"""The longer CPU run of the MRM-Net ablation (chapter 21) on the offline cohort, reproducible by one command.

Run from the repository root (resumable: rerun the same command after an interruption, finished pairs are skipped):

    python bench/ablation_cpu.py                     # the run reported in the ablation chapter's notes (~20-30 min, 2 cores)
    python bench/ablation_cpu.py --variants core --seeds 0 1 2 --epochs 2 --max-per-split 200   # quicker

Defaults: every MRM-Net variant ('paper' is an alias of 'mutual_stages', not a separate variant), seeds 0-2, 3 epochs,
batch 32, Adam 1e-3, at most 400 records per split (drawn once), width 8 (the release has 16), superdiagnostic task
of the generated PTB-XL-format cohort (synthetic, not patients). Prints the summary table, a cost table (parameters,
GFLOPs, ms per record of a training step timed back to back) and the generated conclusion, and writes them
(summary.csv, summary.md, costs.csv, conclusion.txt, figures) into the ablation folder.

The same analysis with figures, as a notebook:

    papermill -k python3 nbs/21_mutual_ablation.ipynb runs/ablation-cpu.ipynb -p variants all -p seeds "[0,1,2]" \
        -p epochs 3 -p max_per_split 400 -p width 8 -p out_root runs
"""
import argparse
import os
import time
from pathlib import Path

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt

from ecgnb.mrm.experiment import ExperimentConfig, MRM_VARIANTS, load_data
from ecgnb.mrm.ablation import (ablation_dir, branch_effect, conclusion, format_summary, load_histories, markdown_table, per_class_diff,
                            plot_class_diffs, plot_cost, plot_forest, plot_learning_curves, resolve_variants,
                            run_ablation, summarize_ablation, variant_costs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--variants', nargs='+', default=list(MRM_VARIANTS),
                    help="variant names, or 'all' / 'core'")
    ap.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    ap.add_argument('--epochs', type=int, default=3)
    ap.add_argument('--batch-size', type=int, default=32)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--max-per-split', type=int, default=400, help='0 = all records')
    ap.add_argument('--width', type=int, default=8, help='MRM-Net width (16 = as released)')
    ap.add_argument('--task', default='superdiagnostic')
    ap.add_argument('--data-dir', default=None, help='PTB-XL folder; default: the offline cohort')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--n-boot', type=int, default=200)
    ap.add_argument('--out-root', default='runs')
    ap.add_argument('--name', default='ablation-cpu', help='ablation folder name under --out-root')
    a = ap.parse_args(argv)
    variants = resolve_variants(a.variants[0] if len(a.variants) == 1 and a.variants[0] in ('all', 'core') else a.variants)
    if 'default' not in variants: variants = ['default'] + variants
    base = ExperimentConfig(data_dir=a.data_dir, task=a.task, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr,
                            seed=a.seeds[0], device=a.device, max_per_split=a.max_per_split or None, n_boot=a.n_boot,
                            model_kwargs={} if a.width == 16 else dict(width=a.width))
    run = ablation_dir(base, a.out_root, a.name)
    t0 = time.time()
    data = load_data(base)
    print(data, f'| torch threads: {__import__("torch").get_num_threads()} | cpus: {os.cpu_count()}', flush=True)
    df = run_ablation(base, variants, a.seeds, run.path, data=data,
                      log=lambda *m, **k: print(time.strftime('%H:%M:%S'), *m, flush=True))
    # cost measured back to back (a training step per variant), less exposed to other load than the runs' epoch times
    costs = variant_costs(base, variants, len(data.classes), data.X.shape[2], data.X.shape[1], time_batch=8)
    costs.to_csv(run.path/'costs.csv')
    summary = summarize_ablation(df)
    summary.to_csv(run.path/'summary.csv')
    table = format_summary(summary)
    (run.path/'summary.md').write_text(markdown_table(table) + '\n')
    n_rec = ', '.join(f'{k} {len(v)}' for k, v in data.splits.items())
    budget = (f'{len(a.seeds)} seeds, {a.epochs} epochs, batch {a.batch_size}, lr {a.lr:g}, width {a.width}, '
              f'records per split: {n_rec}; {"offline synthetic cohort" if a.data_dir is None else a.data_dir}, task {a.task}')
    text = conclusion(summary, df, synthetic=a.data_dir is None, budget=budget)
    (run.path/'conclusion.txt').write_text(text + '\n')
    for name, fig in [('forest_auc', plot_forest(summary)), ('forest_fmax', plot_forest(summary, 'fmax')),
                      ('learning_curves', plot_learning_curves(load_histories(df, run.path))),
                      ('per_class_diff', plot_class_diffs(per_class_diff(df))), ('auc_vs_gflops', plot_cost(summary))]:
        run.savefig(fig, name); plt.close(fig)
    import pandas as pd
    with pd.option_context('display.width', 250, 'display.max_columns', 40):
        print(table[['n seeds', 'auc (95% CI)', 'Δauc vs ref', 'p t (auc)', 'p Wilcoxon (auc)', 'p Holm (auc)',
                     'fmax (95% CI)', 'params (M)', 'GFLOPs/record', 's/epoch']].to_string())
        print(costs.round(4).to_string())
        if {'default', 'no_mutual'} <= set(df.variant):
            print(pd.DataFrame([branch_effect(df, 'default', 'no_mutual', h) for h in ('low', 'high', 'mean')]).round(4).to_string())
    print()
    print(text)
    print(f'\nfolder: {run.path}  total {(time.time() - t0) / 60:.1f} min')


if __name__ == '__main__':
    main()

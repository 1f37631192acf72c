"""iif weights: write the IIF weights of every variant as a CSV."""
from __future__ import annotations

from iif import weights

HELP = 'write per-class counts and the IIF weight of every variant to a CSV'


def add_arguments(parser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--dataset', choices=sorted(weights.BUNDLED_DATASETS),
                        help='use the bundled per-class counts of this dataset')
    source.add_argument('--ann', metavar='FILE',
                        help='count images and instances in an LVIS/COCO-format annotation JSON')
    parser.add_argument('--out', required=True, metavar='FILE.csv', help='CSV to write')


def run(args) -> int:
    counts = (weights.load_bundled_counts(args.dataset) if args.dataset
              else weights.counts_from_annotations(args.ann))
    out = weights.write_weights_csv(counts, args.out)
    print(f'wrote {len(counts)} categories x {len(weights.VARIANTS)} variants to {out} '
          f'(N={counts.num_images} images, M={counts.num_instances} instances, {counts.source})')
    return 0

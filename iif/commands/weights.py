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
    parser.add_argument('--compare', choices=sorted(weights.BUNDLED_DATASETS), metavar='DATASET',
                        help='also compare the counts with a bundled table (e.g. lvis_v1) and '
                             'list every category that differs; exit 1 if any does (the CSV is '
                             'written either way)')


def run(args) -> int:
    counts = (weights.load_bundled_counts(args.dataset) if args.dataset
              else weights.counts_from_annotations(args.ann))
    out = weights.write_weights_csv(counts, args.out)
    print(f'wrote {len(counts)} categories x {len(weights.VARIANTS)} variants to {out} '
          f'(N={counts.num_images} images, M={counts.num_instances} instances, {counts.source})')
    if args.compare:
        return _compare(counts, args.compare)
    return 0


def _compare(counts, dataset: str) -> int:
    result = weights.compare_counts(counts, weights.load_bundled_counts(dataset))
    if result.equal:
        print(f'compare: {counts.source} matches {dataset}: all {result.num_categories} '
              f'categories (name, frequency, image_count, instance_count), N and M')
        return 0
    for line in result.totals + result.categories:
        print(f'  {line}')
    totals = ' and '.join(t.split(':')[0] for t in result.totals)
    print(f'compare: {counts.source} differs from {dataset}: {len(result.categories)} of '
          f'{result.num_categories} categories' + (f', and {totals}' if totals else ''))
    return 1

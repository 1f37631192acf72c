"""iif smoke-data: write the kit's tiny LVIS-format dataset, or a synthetic LVIS v1 of full size."""
from __future__ import annotations

HELP = 'generate the small built-in LVIS-v1-format dataset (demo and tests)'


def add_arguments(parser) -> None:
    parser.add_argument('--root', default=None,
                        help='output directory (default: data/smoke; with --scale: '
                             'data/lvis_v1_synthetic[_FRACTION])')
    parser.add_argument('--force', action='store_true', help='rewrite even if present')
    parser.add_argument('--scale', choices=('lvis_v1',), default=None,
                        help='instead: a synthetic dataset with LVIS v1\'s image, annotation and '
                             'per-class counts (1.2 GB of JSON; see docs/data-scale.md)')
    parser.add_argument('--scale-fraction', type=float, default=1.0, metavar='F',
                        help='with --scale: F times the LVIS v1 size, 0 < F <= 1 (default 1)')
    parser.add_argument('--seed', type=int, default=0, help='with --scale: random seed')


def run(args) -> int:
    if args.scale:
        from iif.scale_data import default_root, generate_lvis_scale
        root = args.root or default_root(args.scale_fraction)
        paths = generate_lvis_scale(root, fraction=args.scale_fraction, seed=args.seed,
                                    force=args.force)
    else:
        from iif import smoke_data
        root = args.root or 'data/smoke'
        paths = smoke_data.generate(root, force=args.force)
    print(f'dataset in {root}: ' + ', '.join(str(p) for p in paths.values()))
    return 0

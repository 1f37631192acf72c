"""iif smoke-data: write the kit's tiny LVIS-format dataset."""
from __future__ import annotations

HELP = 'generate the small built-in LVIS-v1-format dataset (demo and tests)'


def add_arguments(parser) -> None:
    parser.add_argument('--root', default='data/smoke',
                        help='output directory (default: data/smoke)')
    parser.add_argument('--force', action='store_true', help='rewrite even if present')


def run(args) -> int:
    from iif import smoke_data
    paths = smoke_data.generate(args.root, force=args.force)
    print(f'smoke dataset in {args.root}: ' + ', '.join(str(p) for p in paths.values()))
    return 0

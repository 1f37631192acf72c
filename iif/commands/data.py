"""iif data: download and verify the LVIS v1 annotations and COCO 2017 images.

Exit status: 0 all good; 1 the data has problems (a checksum mismatch, a failed transfer,
verify found something); 2 the run could not start (disk space, a folder it would overwrite,
a bad option or checksums file); 130 interrupted (a partial download is kept and resumed).
"""
from __future__ import annotations

import argparse
import os
import sys

HELP = 'download (resumable, checksummed) or verify the LVIS v1 + COCO 2017 data root'


def _add_root(parser) -> None:
    parser.add_argument('--root', metavar='DIR', default=None,
                        help='data root (default: $LVIS_ROOT, else data/lvis_v1)')


def add_arguments(parser) -> None:
    from iif.lvisdata.catalog import ARCHIVES, GROUPS, MIRROR_ENV
    from iif.lvisdata.verify import LEVELS

    sub = parser.add_subparsers(dest='action', metavar='ACTION')
    sub.required = True
    dl = sub.add_parser(
        'download', help='fetch, check (sha256) and extract the archives into ROOT',
        description='Fetch the LVIS v1 train/val annotations and the COCO 2017 train/val images, '
                    'check each archive against iif/data/lvis_downloads.tsv and extract it into '
                    'ROOT/annotations, ROOT/train2017 and ROOT/val2017. Rerunning resumes a '
                    'partial download and skips what is already done.')
    _add_root(dl)
    dl.add_argument('--only', nargs='+', metavar='ITEM',
                    help=f'fetch a subset: {" | ".join(GROUPS)} | archive names '
                         f'({", ".join(ARCHIVES)})')
    dl.add_argument('--mirror', metavar='BASE_URL', default=None,
                    help=f'fetch BASE_URL/<archive name> instead of the public hosts (default: '
                         f'${MIRROR_ENV}); checksums still apply')
    dl.add_argument('--checksums', metavar='FILE.tsv', default=None,
                    help='downloads table with columns url, size_bytes, sha256 '
                         '(default: the bundled iif/data/lvis_downloads.tsv)')
    keep = dl.add_mutually_exclusive_group()
    keep.add_argument('--keep-archives', dest='keep_archives', action='store_true', default=True,
                      help='keep the zip files in ROOT/archives after extraction (default)')
    keep.add_argument('--delete-archives', dest='keep_archives', action='store_false',
                      help='delete each zip once it is extracted (frees ~19 GB afterwards; the '
                           'peak need is about the same: train2017.zip must be whole to extract)')
    dl.add_argument('--dry-run', action='store_true',
                    help='print what would be fetched and the disk space needed; change nothing')
    dl.add_argument('--retries', type=int, default=5, metavar='N',
                    help='attempts without progress before giving up on an archive (default 5)')
    dl.add_argument('--timeout', type=float, default=60.0, metavar='SECONDS',
                    help='network read timeout (default 60)')

    ver = sub.add_parser(
        'verify', help='check an existing data root; exit 1 with a report when something is wrong',
        description='Check ROOT: annotation files, their counts and every image they name.')
    _add_root(ver)
    ver.add_argument('--level', choices=LEVELS, default='full',
                     help='fast: files and folders exist and look whole, no JSON parse '
                          '(< 1 s); full: parse, compare counts, check every image (default)')
    ver.add_argument('--splits', nargs='+', default=['train', 'val'], metavar='SPLIT',
                     help='annotation files annotations/lvis_v1_SPLIT.json to check '
                          '(default: train val)')
    counts = ver.add_mutually_exclusive_group()
    counts.add_argument('--expect-counts', dest='expect_counts', action='store_true', default=True,
                        help='require the LVIS v1 image/annotation/category counts (default)')
    counts.add_argument('--no-expect-counts', dest='expect_counts', action='store_false',
                        help='a tree with the same layout but other sizes (e.g. generated data)')
    ver.add_argument('--max-listed', type=int, default=20, metavar='N',
                     help='list at most N missing names per problem (default 20)')


def _root(args):
    from iif.lvisdata.catalog import default_root
    return args.root if args.root else str(default_root())


def _download(args) -> int:
    from iif.lvisdata.catalog import MIRROR_ENV
    from iif.lvisdata.download import Downloader

    root = _root(args)
    mirror = args.mirror if args.mirror is not None else (os.environ.get(MIRROR_ENV) or None)
    downloader = Downloader(root, only=args.only, mirror=mirror, checksums=args.checksums,
                            keep_archives=args.keep_archives, retries=args.retries,
                            timeout=args.timeout)
    try:
        result = downloader.run(dry_run=args.dry_run)
    except KeyboardInterrupt:
        print(f'\niif data download: interrupted; partial downloads are kept in '
              f'{downloader.archive_dir}: rerun the same command to resume', file=sys.stderr)
        return 130
    for line in result.done:
        print(line)
    for problem in result.problems:
        print(f'iif data download: error: {problem}', file=sys.stderr)
    if args.dry_run:
        print(f'dry run: nothing changed in {root}')
    elif result.ok:
        print(f'done: {root} has the archives asked for; check it with '
              f'`iif data verify --root {root} --level full`')
    return 0 if result.ok else 1


def _verify(args) -> int:
    from iif.lvisdata.verify import verify_report

    root = _root(args)
    report = verify_report(root, level=args.level, splits=args.splits,
                           expect_counts=args.expect_counts, max_listed=args.max_listed)
    for note in report.notes:
        print(f'  {note}')
    if report.ok:
        print(f'OK: {root} ({args.level} check)')
        return 0
    print(f'FAILED: {root} ({args.level} check): {len(report.problems)} problem'
          f'{"s" if len(report.problems) > 1 else ""}:')
    for problem in report.problems:
        print(f'  - {problem}')
    return 1


def run(args) -> int:
    from iif.lvisdata.catalog import DataError

    try:
        return _download(args) if args.action == 'download' else _verify(args)
    except DataError as e:
        print(f'iif data {args.action}: error: {e}', file=sys.stderr)
        return 2
    except OSError as e:  # e.g. a root that cannot be created or written
        print(f'iif data {args.action}: error: {e}', file=sys.stderr)
        return 2


if __name__ == '__main__':  # python -m iif.commands.data ... (without the iif entry point)
    _parser = argparse.ArgumentParser(prog='iif data', description=HELP)
    add_arguments(_parser)
    sys.exit(run(_parser.parse_args()))

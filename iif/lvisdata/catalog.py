"""What the LVIS v1 data root contains and where its facts live.

The archive URLs, sizes and sha256 come from ``iif/data/lvis_downloads.tsv`` and the expected
image/annotation/category counts from ``iif/data/lvis_split_stats.tsv``: this module only reads
them (one place per fact). What is written here is the layout the configs read:

    ROOT/annotations/lvis_v1_train.json   from lvis_v1_train.json.zip
    ROOT/annotations/lvis_v1_val.json     from lvis_v1_val.json.zip
    ROOT/train2017/*.jpg                  from train2017.zip (COCO 2017 train images)
    ROOT/val2017/*.jpg                    from val2017.zip   (COCO 2017 val images)
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

from iif.errors import UserError

PathLike = Union[str, 'os.PathLike[str]']

DEFAULT_ROOT = 'data/lvis_v1'
ROOT_ENV = 'LVIS_ROOT'
MIRROR_ENV = 'IIF_DATA_MIRROR'
ANNOTATION_DIR = 'annotations'
ARCHIVE_DIR = 'archives'  # under ROOT, so that the disk check covers a single filesystem
MARKER_DIR = '.iif_extracted'
CHECKSUM_COLUMNS = ('url', 'size_bytes', 'sha256')
SPLITS = ('train', 'val')


class DataError(UserError):
    """A problem with the data or its setup that the user can fix; the message says how."""


@dataclass(frozen=True)
class ArchiveSpec:
    name: str          # file name, the same on the public hosts and on a mirror
    group: str         # 'lvis' or 'coco', for --only
    dest: str          # directory under ROOT that the archive is extracted into
    provides: Tuple[str, ...]  # the top-level entries of the archive that the layout needs
    # Extracted size / archive size, used only for the disk check of archives not yet on disk
    # (once an archive is here its zip directory gives the exact size). JSON compresses about
    # 3x; JPEGs not at all, and 4 KiB blocks add ~2% for COCO's ~160 KB images.
    expand: float


# In download order: the small annotation archives first, so that a bad URL or mirror shows up
# before 19 GB are fetched.
ARCHIVES: Dict[str, ArchiveSpec] = {s.name: s for s in (
    ArchiveSpec('lvis_v1_train.json.zip', 'lvis', ANNOTATION_DIR, ('lvis_v1_train.json',), 4.0),
    ArchiveSpec('lvis_v1_val.json.zip', 'lvis', ANNOTATION_DIR, ('lvis_v1_val.json',), 4.0),
    ArchiveSpec('val2017.zip', 'coco', '', ('val2017',), 1.03),
    ArchiveSpec('train2017.zip', 'coco', '', ('train2017',), 1.03),
)}
GROUPS = ('lvis', 'coco')


def default_root() -> Path:
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def annotation_path(root: PathLike, split: str) -> Path:
    return Path(root) / ANNOTATION_DIR / f'lvis_v1_{split}.json'


def image_relpath(image: dict, split: str) -> Optional[str]:
    """Where an image of an LVIS/COCO annotation file lies relative to ROOT.

    LVIS v1 names its images by ``coco_url`` (http://images.cocodataset.org/train2017/X.jpg ->
    train2017/X.jpg), which is also what mmdet's LVISV1Dataset reads; val images come from both
    train2017 and val2017. Files without ``coco_url`` (plain COCO style) use ``file_name``, in
    ``{split}2017/`` when it has no folder of its own.
    """
    url = image.get('coco_url')
    if url:
        parts = [p for p in urlsplit(url).path.split('/') if p]
        return '/'.join(parts[-2:]) if len(parts) >= 2 else None
    name = image.get('file_name')
    if not name:
        return None
    return name if '/' in name else f'{split}2017/{name}'


def _data_file(name: str) -> Path:
    return Path(str(resources.files('iif') / 'data' / name))


def default_checksums_path() -> Path:
    return _data_file('lvis_downloads.tsv')


def _int_or_none(text: Optional[str]) -> Optional[int]:
    text = (text or '').strip()
    return int(text) if text else None


@dataclass(frozen=True)
class ChecksumEntry:
    url: str
    size: Optional[int]
    sha256: str


def load_checksums(path: Optional[PathLike] = None) -> Dict[str, ChecksumEntry]:
    """Rows of a downloads TSV (columns url, size_bytes, sha256, ...) keyed by file name."""
    path = Path(path) if path else default_checksums_path()
    if not path.is_file():
        raise DataError(f'checksums file not found: {path}')
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f, delimiter='\t')
        missing = [c for c in CHECKSUM_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f'{path} is not a downloads TSV: no column(s) {", ".join(missing)} '
                            f'(need tab-separated columns {", ".join(CHECKSUM_COLUMNS)})')
        entries = {}
        for line, row in enumerate(reader, start=2):
            url = (row['url'] or '').strip()
            if not url:
                continue
            try:
                size = _int_or_none(row['size_bytes'])
            except ValueError:
                raise DataError(f'{path}:{line}: size_bytes {row["size_bytes"]!r} is not a '
                                f'number') from None
            name = urlsplit(url).path.rsplit('/', 1)[-1]
            entries[name] = ChecksumEntry(url, size, (row['sha256'] or '').strip().lower())
    return entries


def select_archives(only: Optional[Sequence[str]] = None) -> List[ArchiveSpec]:
    """The archives named by ``--only`` (groups 'lvis'/'coco' or file names, with or without
    '.zip'), in download order; all of them when ``only`` is empty."""
    if not only:
        return list(ARCHIVES.values())
    chosen = set()
    for item in only:
        if item in GROUPS:
            chosen.update(s.name for s in ARCHIVES.values() if s.group == item)
        elif item in ARCHIVES or f'{item}.zip' in ARCHIVES:
            chosen.add(item if item in ARCHIVES else f'{item}.zip')
        else:
            raise DataError(f'--only {item!r}: not an archive of the LVIS v1 layout; choose from '
                            f'{", ".join(GROUPS + tuple(ARCHIVES))}')
    return [s for s in ARCHIVES.values() if s.name in chosen]


@dataclass(frozen=True)
class SplitStats:
    num_images: Optional[int]
    num_instances: Optional[int]
    num_categories: Optional[int]


def load_split_stats(version: str = 'v1') -> Dict[str, SplitStats]:
    """Expected counts per split, from iif/data/lvis_split_stats.tsv."""
    path = _data_file('lvis_split_stats.tsv')
    with open(path, newline='', encoding='utf-8') as f:
        return {row['split']: SplitStats(_int_or_none(row['num_images']),
                                         _int_or_none(row['num_instances']),
                                         _int_or_none(row['num_categories']))
                for row in csv.DictReader(f, delimiter='\t') if row['version'] == version}

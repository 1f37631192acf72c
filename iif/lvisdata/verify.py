"""Check an LVIS v1 data root before training or testing on it.

Two levels:

* ``fast`` (well under a second, meant to run before every job): the annotation files exist, are
  readable and look like whole JSON objects (start with ``{``, end with ``}``, plausible size);
  the image folders exist and are not empty. No JSON is parsed.
* ``full`` (about a minute on real LVIS): parse the annotation files (streamed, so the peak
  memory is small: :mod:`iif.lvisjson`), compare their image /
  annotation / category counts with ``iif/data/lvis_split_stats.tsv``, and check that every image
  they name is a non-empty file (LVIS v1 names images by ``coco_url``; see
  :func:`iif.lvisdata.catalog.image_relpath`), and that every annotation points at a known image
  and category.

``expect_counts=False`` checks a tree with the same layout but other sizes (the kit's small
generated dataset): everything except the LVIS counts and the size plausibility.
"""
from __future__ import annotations

import os
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from iif.errors import UserError
from iif.lvisjson import AnnotationFileError, stream_annotations

from .catalog import (ANNOTATION_DIR, SPLITS, PathLike, SplitStats, annotation_path,
                      image_relpath, load_split_stats)

LEVELS = ('fast', 'full')
# Real LVIS annotations carry polygons, bbox and area: far more than 50 bytes each (the v1
# train file has ~900 bytes per annotation), so a file below this is not the whole file.
MIN_BYTES_PER_ANNOTATION = 50
_EDGE = 256  # bytes read at each end of a JSON file by the fast check


class DataRootError(UserError, ValueError):
    """The data root is missing or incomplete; the message lists every problem found."""


@dataclass
class VerifyReport:
    root: Path
    level: str
    problems: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _listing(names: Sequence[str], total: int, limit: int) -> str:
    shown = ', '.join(names[:limit])
    return shown + (f', ... (first {limit} of {total})' if total > limit else '')


def image_folders(splits: Sequence[str], expect_counts: bool = True) -> List[str]:
    """Folders the fast check requires. LVIS v1 val draws most of its images from COCO
    train2017 (its ``coco_url`` points into train2017 or val2017), so any tree evaluated with
    lvis_v1_val.json needs train2017 too, whatever its size (``expect_counts``)."""
    folders = []
    for split in splits:
        folders.append(f'{split}2017')
        if split == 'val':
            folders.append('train2017')
    return list(dict.fromkeys(folders))


_INT64 = range(-2 ** 63, 2 ** 63)
_NOT_AN_ID = object()  # never an image or category id (non-object or unhashable entries)


class _AnnotationRefs:
    """(id, image_id, category_id) of every annotation, in file order: the only fields the
    reference check reads, kept in three int64 arrays (24 bytes an annotation) instead of
    1.3M parsed dicts. Entries that are not plain integers (or not objects) are kept aside."""

    def __init__(self):
        self.ids, self.image_ids, self.category_ids = array('q'), array('q'), array('q')
        self.odd: Dict[int, tuple] = {}  # row -> (label, image_id, category_id)

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, ann) -> None:
        if isinstance(ann, dict):
            fields = (ann.get('id'), ann.get('image_id'), ann.get('category_id'))
            if all(type(v) is int and v in _INT64 for v in fields):
                self.ids.append(fields[0])
                self.image_ids.append(fields[1])
                self.category_ids.append(fields[2])
                return
            label, image_id, category_id = (_hashable(v) for v in fields)
            label = fields[0]
        else:  # listed by its text, never matches an image
            label, image_id, category_id = str(ann)[:200], _NOT_AN_ID, _NOT_AN_ID
        self.odd[len(self.ids)] = (label, image_id, category_id)
        for column in (self.ids, self.image_ids, self.category_ids):
            column.append(0)  # a placeholder keeps the rows aligned

    def __iter__(self):
        odd = self.odd
        for row, entry in enumerate(zip(self.ids, self.image_ids, self.category_ids)):
            yield odd[row] if odd and row in odd else entry


def _hashable(value):
    try:
        hash(value)
    except TypeError:
        return _NOT_AN_ID
    return value


class _Verifier:
    def __init__(self, root: Path, level: str, splits: Sequence[str], expect_counts: bool,
                 max_listed: int):
        if level not in LEVELS:
            raise ValueError(f'unknown verify level {level!r}; choose one of: {", ".join(LEVELS)}')
        self.root = root
        self.report = VerifyReport(root, level)
        self.level = level
        self.splits = tuple(splits)
        self.expect_counts = expect_counts
        self.limit = max_listed
        self.stats: Dict[str, SplitStats] = load_split_stats('v1') if expect_counts else {}
        self._folder_cache: Dict[str, Optional[Dict[str, os.DirEntry]]] = {}

    def problem(self, text: str) -> None:
        self.report.problems.append(text)

    def fix_hint(self, what: str) -> str:
        return f'get it with `iif data download --root {self.root} --only {what}`'

    # ---------------------------------------------------------------- fast checks
    def check_json_file(self, split: str) -> bool:
        """Existence, readability and shape of one annotation file; True when it may be parsed."""
        path = annotation_path(self.root, split)
        try:
            with open(path, 'rb') as f:
                size = os.fstat(f.fileno()).st_size
                head = f.read(_EDGE)
                f.seek(max(0, size - _EDGE))
                tail = f.read(_EDGE)
        except FileNotFoundError:
            self.problem(f'{path}: missing (LVIS v1 {split} annotations); '
                         + self.fix_hint(f'lvis_v1_{split}.json.zip'))
            return False
        except IsADirectoryError:
            self.problem(f'{path}: is a directory, not an annotation file')
            return False
        except OSError as e:
            self.problem(f'{path}: cannot be read ({e.strerror or e})')
            return False
        if size == 0:
            self.problem(f'{path}: is empty (0 bytes); re-extract it: move it away and run '
                         f'`iif data download --root {self.root} --only lvis_v1_{split}.json.zip`')
            return False
        if self.level == 'full':
            return True  # parsing gives a precise error for anything the heuristics see
        if not head.lstrip().startswith(b'{'):
            self.problem(f'{path}: invalid JSON: does not start with "{{" ({size} bytes)')
        elif not tail.rstrip().endswith(b'}'):
            self.problem(f'{path}: truncated or invalid JSON: does not end with "}}" ({size} '
                         f'bytes); re-extract it: move it away and run `iif data download '
                         f'--root {self.root} --only lvis_v1_{split}.json.zip`')
        stats = self.stats.get(split)
        if stats and stats.num_instances:
            least = stats.num_instances * MIN_BYTES_PER_ANNOTATION
            if size < least:
                self.problem(f'{path}: only {size} bytes, too small for the {stats.num_instances} '
                             f'annotations of LVIS v1 {split} (at least ~{least} bytes): a wrong '
                             f'or '
                             f'truncated file (use --no-expect-counts for a smaller dataset)')
        return True

    def check_folder(self, name: str) -> None:
        path = self.root / name
        try:
            with os.scandir(path) as it:
                empty = next(it, None) is None
        except FileNotFoundError:
            why = ('COCO 2017 images; LVIS v1 val reads most of its images from train2017'
                   if name == 'train2017' and 'val' in self.splits else 'COCO 2017 images')
            self.problem(f'{path}: missing ({why}); ' + self.fix_hint(f'{name}.zip'))
            return
        except NotADirectoryError:
            self.problem(f'{path}: is not a directory')
            return
        except OSError as e:
            self.problem(f'{path}: cannot be listed ({e.strerror or e})')
            return
        if empty:
            self.problem(f'{path}: is empty; ' + self.fix_hint(f'{name}.zip'))

    # ---------------------------------------------------------------- full checks
    def folder_entries(self, folder: str) -> Optional[Dict[str, os.DirEntry]]:
        """One listing per folder: a set lookup per image instead of 120k stat calls."""
        if folder not in self._folder_cache:
            try:
                with os.scandir(self.root / folder) as it:
                    self._folder_cache[folder] = {e.name: e for e in it}
            except OSError:
                self._folder_cache[folder] = None
        return self._folder_cache[folder]

    def check_content(self, split: str) -> None:
        path = annotation_path(self.root, split)
        refs = _AnnotationRefs()
        try:
            # streamed: LVIS v1 train would take ~5 GB as parsed objects
            streamed = stream_annotations(path, refs.add)
        except AnnotationFileError as e:
            self.problem(f'{path}: invalid or truncated JSON ({path.stat().st_size} bytes): '
                         f'{e.detail}. To fix: move it away and run `iif data download --root '
                         f'{self.root} --only lvis_v1_{split}.json.zip` to extract it again')
            return
        except MemoryError:
            self.problem(f'{path}: not enough memory to parse it')
            return
        data = streamed.top
        absent = [k for k in ('images', 'annotations', 'categories')
                  if not (streamed.num_annotations is not None if k == 'annotations'
                          else isinstance(data.get(k), list))]
        if absent:
            self.problem(f'{path}: not an LVIS/COCO annotation file: no "{absent[0]}" list')
            return
        images, cats = data['images'], data['categories']
        rel = f'{ANNOTATION_DIR}/{path.name}'
        stats = self.stats.get(split)
        if stats:
            for what, got, want in (('images', len(images), stats.num_images),
                                    ('annotations', len(refs), stats.num_instances),
                                    ('categories', len(cats), stats.num_categories)):
                if want is not None and got != want:
                    self.problem(f'{path}: {got} {what}, expected {want} for LVIS v1 {split} '
                                 f'(iif/data/lvis_split_stats.tsv); a different or edited file '
                                 f'(use --no-expect-counts for another dataset)')
        self.check_references(path, images, refs, cats)
        missing, empty, unnamed = self.check_images(images, split)
        n = len(images)
        if unnamed:
            self.problem(f'{path}: {len(unnamed)} images have neither coco_url nor file_name '
                         f'(ids: {_listing(unnamed, len(unnamed), self.limit)})')
        if missing:
            self.problem(f'{path}: {len(missing)} of {n} images are missing under {self.root}: '
                         f'{_listing(missing, len(missing), self.limit)}')
        if empty:
            self.problem(f'{path}: {len(empty)} of {n} images are empty (0-byte) files: '
                         f'{_listing(empty, len(empty), self.limit)}')
        if not (missing or empty or unnamed):
            self.report.notes.append(f'{rel}: {n} images (all present), {len(refs)} annotations, '
                                     f'{len(cats)} categories')

    def check_references(self, path: Path, images: list, refs: '_AnnotationRefs',
                         cats: list) -> None:
        image_ids = {im.get('id') for im in images if isinstance(im, dict)}
        cat_ids = {c.get('id') for c in cats if isinstance(c, dict)}
        bad_image, bad_cat = [], []
        for label, image_id, category_id in refs:
            if image_id not in image_ids:
                bad_image.append(str(label))
            elif category_id not in cat_ids:
                bad_cat.append(str(label))
        if bad_image:
            self.problem(f'{path}: {len(bad_image)} annotations point at an image id that is not '
                         f'in "images" (annotation ids: '
                         f'{_listing(bad_image, len(bad_image), self.limit)})')
        if bad_cat:
            self.problem(f'{path}: {len(bad_cat)} annotations point at a category id that is '
                         f'not in "categories" (annotation ids: '
                         f'{_listing(bad_cat, len(bad_cat), self.limit)})')

    def check_images(self, images: list, split: str):
        missing, empty, unnamed = [], [], []
        for im in images:
            rel = image_relpath(im, split) if isinstance(im, dict) else None
            if not rel:
                unnamed.append(str(im.get('id') if isinstance(im, dict) else im))
                continue
            folder, _, name = rel.rpartition('/')
            entries = self.folder_entries(folder)
            entry = entries.get(name) if entries is not None else None
            if entry is None:
                missing.append(rel)
                continue
            try:
                if not entry.is_file():
                    missing.append(rel)
                elif entry.stat().st_size == 0:
                    empty.append(rel)
            except OSError:
                missing.append(rel)
        return missing, empty, unnamed

    # ----------------------------------------------------------------
    def run(self) -> VerifyReport:
        if not self.root.is_dir():
            self.problem(f'{self.root}: the data root does not exist or is not a directory. To '
                         f'fix: mount or download LVIS v1 there (`iif data download --root '
                         f'{self.root}`), or point --root / LVIS_ROOT at it')
            return self.report
        parseable = [s for s in self.splits if self.check_json_file(s)]
        folders = image_folders(self.splits, self.expect_counts)
        for folder in folders:
            self.check_folder(folder)
        if self.level == 'full':
            for split in parseable:
                self.check_content(split)
        else:
            self.report.notes.append(
                f'fast check of {", ".join(f"lvis_v1_{s}.json" for s in self.splits)} and '
                f'{", ".join(folders)} (no JSON parsed; --level full checks every image)')
        return self.report


def verify_report(root: PathLike, level: str = 'fast', splits: Sequence[str] = SPLITS,
                  expect_counts: bool = True, max_listed: int = 20) -> VerifyReport:
    return _Verifier(Path(root), level, splits, expect_counts, max_listed).run()


def verify_root(root: PathLike, level: str = 'fast', splits: Sequence[str] = SPLITS,
                expect_counts: bool = True, max_listed: int = 20) -> List[str]:
    """Problems found in an LVIS v1 data root, one message each (empty list: all good).

    ``level``: 'fast' (existence and shape, no JSON parse) or 'full' (parse, counts, every
    image). ``expect_counts``: compare with the LVIS v1 sizes; False for a smaller tree with the
    same layout. Each message names the file and the fix.
    """
    return verify_report(root, level, splits, expect_counts, max_listed).problems


def require_root(root: PathLike, level: str = 'fast', splits: Sequence[str] = SPLITS,
                 expect_counts: bool = True) -> None:
    """Raise DataRootError listing every problem, for train/test to call before they start."""
    problems = verify_root(root, level, splits, expect_counts)
    if problems:
        raise DataRootError(f'the LVIS data root {root} is not usable ({len(problems)} '
                            f'problem{"s" if len(problems) > 1 else ""}):\n  - '
                            + '\n  - '.join(problems))

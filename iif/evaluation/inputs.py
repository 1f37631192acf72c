"""Reading and validating LVIS ground truth and detection results.

Both backends go through this module, so a malformed input is rejected with the same
``ValueError`` subclass, before any evaluation starts. That includes NaN / infinity in ground-truth
areas, boxes and polygons, and compressed RLE strings that pycocotools would misread or loop on
(:mod:`iif.evaluation.rle`; the fast backend checks the ones it hands to pycocotools).

Results are read in chunks: a results JSON (one file or several per-rank shards) is split at
top-level ``}, {`` boundaries and each piece is parsed with orjson, so only one piece exists as
Python objects at a time. A split that falls inside a string or a nested value makes that piece
invalid JSON; the reader then falls back to parsing the whole file (stdlib ``json``, which also
accepts the ``NaN`` that ``json.dump`` writes, so that validation can name it).
"""
from __future__ import annotations

import json
import numbers
import os
import warnings
from dataclasses import dataclass, field
from itertools import chain
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from iif.errors import MissingFileError, UserError

from . import rle

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is in the lock file; stdlib is the fallback
    orjson = None

IOU_TYPES = ('bbox', 'segm')
FREQUENCIES = ('r', 'c', 'f')
# Results are parsed and converted ~1 MB at a time: small pieces keep the freshly made Python
# objects in cache while their fields are extracted and reuse freed memory (measured ~3x faster
# than 64 MB pieces), and bound the memory held by Python objects.
CHUNK_BYTES = 1 << 20        # bytes of results JSON parsed at a time
READ_BYTES = 16 << 20        # bytes read from the file at a time
CHUNK_ENTRIES = 8192         # entries of an in-memory result list handled at a time


class ResultsFormatError(UserError, ValueError):
    """The detection results are malformed (missing fields, unknown ids, NaN scores, ...)."""


class GroundTruthFormatError(UserError, ValueError):
    """The LVIS ground-truth annotations are malformed."""


PathLike = Union[str, os.PathLike]


def _loads(data: bytes):
    if orjson is not None:
        return orjson.loads(data)
    return json.loads(data)


def _is_path(x) -> bool:
    return isinstance(x, (str, os.PathLike))


def _read_bytes(path: PathLike, what: str) -> bytes:
    if not os.path.isfile(path):
        raise MissingFileError(f'{what} file not found: {os.fspath(path)}')
    with open(path, 'rb') as f:
        return f.read()


def _parse_whole(path: PathLike, what: str, err_cls):
    data = _read_bytes(path, what)
    try:
        return _loads(data)
    except ValueError:
        pass
    try:  # stdlib json accepts NaN/Infinity, which json.dump writes for non-finite floats
        return json.loads(data)
    except ValueError as e:
        raise err_cls(f'{what} file {os.fspath(path)} is not valid JSON: {e}') from None


# --------------------------------------------------------------------------- ground truth

@dataclass
class GroundTruth:
    """Compact ground truth; annotations filtered and ordered as lvis-api uses them."""
    img_ids: np.ndarray            # sorted unique image ids
    img_hw: np.ndarray             # (num_images, 2) height, width (0 where absent)
    cat_ids: np.ndarray            # sorted category ids
    cat_group: np.ndarray          # 0 r, 1 c, 2 f for each category
    neg_keys: np.ndarray           # sorted unique img_idx * C + cat_idx of neg_category_ids
    nel_keys: np.ndarray           # same for not_exhaustive_category_ids
    pos_keys: np.ndarray           # same for categories with (kept) annotations
    ann_img: np.ndarray            # kept annotations, ordered by (image, file order)
    ann_cat: np.ndarray
    ann_area: np.ndarray
    ann_ignore: np.ndarray         # bool, the optional 'ignore' field
    ann_id: np.ndarray
    ann_bbox: Optional[np.ndarray] = None       # (n, 4) for bbox
    ann_segm: Optional[list] = None             # raw segmentation objects for segm
    dataset: Optional[dict] = field(default=None, repr=False)

    @property
    def num_images(self) -> int:
        return int(self.img_ids.size)

    @property
    def num_categories(self) -> int:
        return int(self.cat_ids.size)

    def image_index(self, ids: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        return _lookup(self.img_ids, ids)

    def category_index(self, ids: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        return _lookup(self.cat_ids, ids)


def _lookup(sorted_ids: np.ndarray, ids: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Index of each id in ``sorted_ids`` and a mask of ids that were found."""
    if sorted_ids.size == 0:
        return np.zeros(ids.shape, np.int64), np.zeros(ids.shape, bool)
    idx = np.searchsorted(sorted_ids, ids)
    idx_c = np.minimum(idx, sorted_ids.size - 1)
    found = sorted_ids[idx_c] == ids
    return idx_c, found


def load_gt_dataset(gt) -> Tuple[dict, bool]:
    """Ground truth as a dict; the flag says whether the dict is ours (freshly parsed)."""
    if _is_path(gt):
        data = _parse_whole(gt, 'ground-truth', GroundTruthFormatError)
        owned = True
    elif isinstance(gt, dict):
        data, owned = gt, False
    elif isinstance(getattr(gt, 'dataset', None), dict):  # an lvis.LVIS / COCO object
        data, owned = gt.dataset, False
    else:
        raise TypeError(f'gt must be a path, a dict or an LVIS object, not {type(gt).__name__}')
    if not isinstance(data, dict):
        raise GroundTruthFormatError(
            f'ground truth must be a JSON object, got {type(data).__name__}')
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(data.get(key), list):
            raise GroundTruthFormatError(f"ground truth has no '{key}' list")
    return data, owned


def _int_array(values: list, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.size and arr.dtype.kind not in 'iu':
        bad = [i for i, v in enumerate(values)
               if not isinstance(v, numbers.Integral) or isinstance(v, bool)]
        raise GroundTruthFormatError(
            f'{what} must be integers ({len(bad)} are not, first at index {bad[0]})')
    return arr.astype(np.int64).reshape(-1)


def _field_list(items: list, key: str, what: str) -> list:
    try:
        return [it[key] for it in items]
    except (KeyError, TypeError):
        missing = [i for i, it in enumerate(items) if not isinstance(it, dict) or key not in it]
        raise GroundTruthFormatError(
            f"{len(missing)} {what} lack field '{key}' (first: {what} index {missing[0]})"
        ) from None


def _pair_keys(img_idx: np.ndarray, cat_idx: np.ndarray, num_cats: int) -> np.ndarray:
    return np.unique(img_idx.astype(np.int64) * num_cats + cat_idx)


def _id_lists_to_keys(lists: list, img_index: np.ndarray, cat_ids: np.ndarray,
                      what: str) -> np.ndarray:
    """Per-image category-id lists -> sorted unique (img_idx * C + cat_idx) keys."""
    lens = []
    flat: List = []
    for i, ids in enumerate(lists):
        if not isinstance(ids, (list, tuple)):
            raise GroundTruthFormatError(
                f"image index {i}: '{what}' must be a list of category ids")
        lens.append(len(ids))
        flat.extend(ids)
    if not flat:
        return np.zeros(0, np.int64)
    cat = _int_array(flat, f"'{what}' entries")
    img = np.repeat(img_index, lens)
    cidx, found = _lookup(cat_ids, cat)
    # ids of categories that are not in the dataset can never match a (validated) detection
    return _pair_keys(img[found], cidx[found], cat_ids.size)


def parse_gt(data: dict, iou_type: str) -> GroundTruth:
    """Validate an LVIS ground-truth dict and convert it to compact arrays."""
    images, anns, cats = data['images'], data['annotations'], data['categories']

    cat_ids_raw = _int_array(_field_list(cats, 'id', 'categories'), 'category ids')
    freqs = _field_list(cats, 'frequency', 'categories')
    bad = [i for i, f in enumerate(freqs) if f not in FREQUENCIES]
    if bad:
        raise GroundTruthFormatError(
            f"{len(bad)} categories have a frequency other than 'r', 'c', 'f' "
            f'(first: category index {bad[0]}: {freqs[bad[0]]!r})')
    order = np.argsort(cat_ids_raw, kind='stable')
    cat_ids = cat_ids_raw[order]
    if cat_ids.size and np.any(np.diff(cat_ids) == 0):
        raise GroundTruthFormatError('ground truth has duplicate category ids')
    group_of = {f: i for i, f in enumerate(FREQUENCIES)}
    cat_group = np.array([group_of[freqs[i]] for i in order], np.int8)

    img_ids_raw = _int_array(_field_list(images, 'id', 'images'), 'image ids')
    img_order = np.argsort(img_ids_raw, kind='stable')
    img_ids = img_ids_raw[img_order]
    if img_ids.size and np.any(np.diff(img_ids) == 0):
        raise GroundTruthFormatError('ground truth has duplicate image ids')
    img_index = np.empty_like(img_order)
    img_index[img_order] = np.arange(img_order.size)  # file position -> sorted index
    img_hw = np.zeros((img_ids.size, 2), np.int64)
    if iou_type == 'segm':
        img_hw[img_index, 0] = _int_array(_field_list(images, 'height', 'images'), 'image heights')
        img_hw[img_index, 1] = _int_array(_field_list(images, 'width', 'images'), 'image widths')
    neg_keys = _id_lists_to_keys(_field_list(images, 'neg_category_ids', 'images'),
                                 img_index, cat_ids, 'neg_category_ids')
    nel_keys = _id_lists_to_keys(_field_list(images, 'not_exhaustive_category_ids', 'images'),
                                 img_index, cat_ids, 'not_exhaustive_category_ids')

    # annotations: lvis-api keeps those of known images and categories with 0 < area < inf
    n = len(anns)
    ann_id = _int_array(_field_list(anns, 'id', 'annotations'), 'annotation ids')
    if n and np.unique(ann_id).size != n:
        raise GroundTruthFormatError('ground truth has duplicate annotation ids')
    a_img, a_img_ok = _lookup(img_ids, _int_array(_field_list(anns, 'image_id', 'annotations'),
                                                  'annotation image ids'))
    a_cat, a_cat_ok = _lookup(cat_ids, _int_array(_field_list(anns, 'category_id', 'annotations'),
                                                  'annotation category ids'))
    areas = _field_list(anns, 'area', 'annotations')
    area = np.asarray(areas, dtype=object if not n else None)
    if n and area.dtype.kind not in 'iuf':
        bad = [i for i, v in enumerate(areas)
               if not isinstance(v, numbers.Real) or isinstance(v, bool)]
        raise GroundTruthFormatError(
            f'{len(bad)} annotations have a non-numeric area (first: annotation index {bad[0]})')
    area = area.astype(np.float64).reshape(-1)
    _no_non_finite(~np.isfinite(area), ann_id, 'area', areas)
    keep = a_img_ok & a_cat_ok & (area > 0) & (area < np.inf)
    kept = np.flatnonzero(keep)
    kept = kept[np.argsort(a_img[kept], kind='stable')]  # lvis-api walks images in id order
    ignore = np.zeros(kept.size, bool)
    if any('ignore' in a for a in anns):
        ignore = np.array([bool(anns[i].get('ignore', 0)) for i in kept.tolist()], bool)

    ann_bbox = ann_segm = None
    if iou_type == 'bbox':
        boxes = [anns[i].get('bbox') for i in kept.tolist()]
        ann_bbox = _gt_boxes(boxes, kept)
        _no_non_finite(~np.isfinite(ann_bbox).all(axis=1), ann_id[kept], 'bbox', boxes)
    else:
        ann_segm = []
        for i in kept.tolist():
            seg = anns[i].get('segmentation')
            if not ((isinstance(seg, list) and seg) or (isinstance(seg, dict) and 'counts' in seg)):
                raise GroundTruthFormatError(
                    f'annotation index {i} (id {int(ann_id[i])}) has no usable segmentation '
                    '(need a non-empty polygon list or an RLE dict)')
            ann_segm.append(seg)
        _check_gt_segmentations(ann_segm, ann_id[kept])

    c = cat_ids.size
    return GroundTruth(
        img_ids=img_ids, img_hw=img_hw, cat_ids=cat_ids, cat_group=cat_group,
        neg_keys=neg_keys, nel_keys=nel_keys,
        pos_keys=_pair_keys(a_img[kept], a_cat[kept], c),
        ann_img=a_img[kept].astype(np.int64), ann_cat=a_cat[kept].astype(np.int64),
        ann_area=area[kept], ann_ignore=ignore, ann_id=ann_id[kept],
        ann_bbox=ann_bbox, ann_segm=ann_segm, dataset=data)


def _no_non_finite(bad: np.ndarray, ids: np.ndarray, key: str, values: list) -> None:
    """Reject NaN / infinity (json.dump writes them) in a ground-truth field."""
    idx = np.flatnonzero(bad)
    if idx.size:
        i = int(idx[0])
        raise GroundTruthFormatError(
            f"{idx.size} annotations have NaN or infinity in '{key}' (first: annotation id "
            f'{int(ids[i])}, {key} {values[i]!r}); fix or drop them in the annotation file')


def _first_bad_polygon(segs: list, ids: np.ndarray) -> None:
    """Find the annotation whose polygons do not convert (raises), after a fast check failed."""
    for seg, ann in zip(segs, ids.tolist()):
        if not isinstance(seg, list):
            continue
        for poly in seg:
            if not (isinstance(poly, (list, tuple)) and all(_is_real(v) for v in poly)):
                raise GroundTruthFormatError(
                    f"annotation id {ann}: 'segmentation' must be a list of polygons, each a "
                    f'list of numbers [x1, y1, x2, y2, ...], got {poly!r:.80}')
            if not np.isfinite(np.asarray(poly, np.float64)).all():
                raise GroundTruthFormatError(
                    f"annotation id {ann}: 'segmentation' polygon holds NaN or infinity "
                    f'({poly!r:.80}); fix or drop it in the annotation file')


def _check_gt_segmentations(segs: list, ids: np.ndarray) -> None:
    """Polygons of finite numbers; RLEs whose run lengths fit their size (before any C call)."""
    polys = [seg for seg in segs if isinstance(seg, list)]
    try:
        flat = np.fromiter(chain.from_iterable(chain.from_iterable(polys)), np.float64)
        ok = bool(np.isfinite(flat).all())
    except (TypeError, ValueError):
        ok = False
    if not ok:
        _first_bad_polygon(segs, ids)
    rles = [(j, seg) for j, seg in enumerate(segs) if isinstance(seg, dict)]
    if not rles:
        return
    sizes = []
    for j, seg in rles:
        size = seg.get('size')
        if not (isinstance(size, (list, tuple)) and len(size) == 2
                and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0
                        for v in size)):
            raise GroundTruthFormatError(
                f"annotation id {int(ids[j])}: RLE 'segmentation' needs 'size' [height, width] "
                f'of non-negative integers, got {size!r}')
        sizes.append(int(size[0]) * int(size[1]))
    compressed = [k for k, (j, seg) in enumerate(rles) if isinstance(seg['counts'], (str, bytes))]
    if compressed:
        problem, total = rle.check_counts([rles[k][1]['counts'] for k in compressed],
                                          np.array([sizes[k] for k in compressed], np.int64))
        bad = np.flatnonzero(problem != rle.OK)
        if bad.size:
            k = compressed[int(bad[0])]
            code = int(problem[bad[0]])
            detail = (f': runs sum to {int(total[bad[0]])}, size {rles[k][1]["size"]} needs '
                      f'{sizes[k]}' if code == rle.WRONG_TOTAL else '')
            raise GroundTruthFormatError(
                f"{bad.size} annotations have a 'segmentation' counts string that is not a valid "
                f'compressed RLE (first: annotation id {int(ids[rles[k][0]])}: '
                f'{rle.PROBLEMS[code]}{detail})')
    for k, (j, seg) in enumerate(rles):
        counts = seg['counts']
        if isinstance(counts, (str, bytes)):
            continue
        ok = (isinstance(counts, list)
              and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0
                      for v in counts))
        if not ok or sum(counts) != sizes[k]:
            raise GroundTruthFormatError(
                f"annotation id {int(ids[j])}: uncompressed RLE 'segmentation' counts must be "
                f'non-negative integers summing to height x width = {sizes[k]}'
                + (f', they sum to {sum(counts)}' if ok else ''))


def _gt_boxes(boxes: list, kept: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        arr = np.asarray(boxes, dtype=object if not boxes else None)
    if boxes and (arr.ndim != 2 or arr.shape[1] != 4 or arr.dtype.kind not in 'iuf'):
        bad = [j for j, b in enumerate(boxes) if not _is_box(b)]
        raise GroundTruthFormatError(
            f'{len(bad)} annotations lack a bbox [x, y, w, h] of 4 numbers '
            f'(first: annotation index {int(kept[bad[0]])})')
    return arr.astype(np.float64).reshape(-1, 4)


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _is_box(b) -> bool:
    if isinstance(b, np.ndarray):
        b = b.tolist()
    return (isinstance(b, (list, tuple)) and len(b) == 4
            and all(_is_real(v) and np.isfinite(v) for v in b))


# --------------------------------------------------------------------------- results

def result_sources(results) -> Tuple[Optional[List[PathLike]], Optional[list]]:
    """Split ``results`` into (shard paths, None) or (None, in-memory list)."""
    if _is_path(results):
        return [results], None
    if isinstance(results, tuple):
        results = list(results)
    if not isinstance(results, list):
        raise TypeError('results must be a path, a list of paths (shards) or a list of result '
                        f'dicts, not {type(results).__name__}')
    if results and all(_is_path(r) for r in results):
        return results, None
    if any(_is_path(r) for r in results):
        raise TypeError('results mixes file paths and result dicts')
    return None, results


def check_files(paths: Sequence[PathLike]) -> None:
    missing = [os.fspath(p) for p in paths if not os.path.isfile(p)]
    if missing:
        raise MissingFileError(f'results file not found: {", ".join(missing)}')


@dataclass
class Chunk:
    entries: list
    offset: int                  # index of entries[0] in the concatenated results
    source: Optional[str]        # shard file, or None for an in-memory list
    source_offset: int           # index of entries[0] inside that file


def _split_point(buf: bytearray, start: int, end: int) -> int:
    """Position just after the last ``}`` in buf[start:end] that is followed by ``,`` and ``{``.

    Returns -1 when none is found. Whether it is really between two top-level entries is
    checked by parsing the piece (see the module docstring).
    """
    n = len(buf)
    pos = min(end, n)
    while True:
        pos = buf.rfind(b'}', start, pos)
        if pos < 0:
            return -1
        j = pos + 1
        while j < n and buf[j] in b' \t\r\n':
            j += 1
        if j < n and buf[j] == 0x2C:  # ','
            j += 1
            while j < n and buf[j] in b' \t\r\n':
                j += 1
            if j < n and buf[j] == 0x7B:  # '{'
                return pos + 1


def _whole_list(path: PathLike) -> list:
    whole = _parse_whole(path, 'results', ResultsFormatError)
    if not isinstance(whole, list):
        raise ResultsFormatError(f'results file {os.fspath(path)} must contain a JSON list of '
                                 f'results, got {type(whole).__name__}')
    return whole


@dataclass
class ScannedPiece:
    """A piece of a results file read into columns by a scanner (no dict per entry)."""
    columns: tuple
    size: int

    def __len__(self) -> int:
        return self.size


def iter_file_entries(path: PathLike, chunk_bytes: Optional[int] = None,
                      scan=None) -> Iterator[Union[list, ScannedPiece]]:
    """Yield the entries of a JSON list file in pieces of about chunk_bytes.

    Pieces are parsed in place: the byte before a piece (the list's ``[`` or the separating
    ``,``) and the one after its last ``}`` are overwritten with ``[`` and ``]`` and orjson reads a
    memoryview, so the file's bytes are never copied. ``scan`` (bytes of the entries -> columns
    tuple or None, e.g. :func:`iif.evaluation.scan.segm_columns`) is tried first on each piece;
    where it gives columns, a :class:`ScannedPiece` is yielded instead of a list.
    """
    if not os.path.isfile(path):
        raise MissingFileError(f'results file not found: {os.fspath(path)}')
    yielded = 0
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    read_bytes = max(chunk_bytes, READ_BYTES)
    with open(path, 'rb') as f:
        buf = bytearray(f.read(read_bytes))
        lead = len(buf) - len(buf.lstrip())
        if orjson is None or buf[lead:lead + 1] != b'[':
            yield _whole_list(path)
            return
        start = lead + 1  # first byte of the list body; buf[start - 1] is '['
        eof = False
        while True:
            while not eof and len(buf) - start < chunk_bytes:
                more = f.read(read_bytes)
                if not more:
                    eof = True
                    break
                del buf[:start - 1]  # O(1) for a bytearray's head
                start = 1
                buf += more
            cut = _split_point(buf, start, start + chunk_bytes) if not eof else -1
            if cut < 0 and not eof:
                cut = _split_point(buf, start, len(buf))
                if cut < 0:  # no boundary yet (a huge entry): read on
                    more = f.read(read_bytes)
                    eof = not more
                    buf += more
                    continue
            buf[start - 1] = 0x5B  # '['
            if cut >= 0:
                comma = buf.index(b',', cut)
                buf[cut] = 0x5D  # ']'
                stop = cut + 1
            else:
                stop = len(buf)
            if scan is not None:
                with memoryview(buf) as mv:
                    body = bytes(mv[start:cut if cut >= 0 else stop])
                if cut < 0:  # the last piece: entries, then the list's ']'
                    body = body.rstrip(b' \t\r\n')
                    body = body[:-1] if body.endswith(b']') else b''
                cols = scan(body) if body else None
                del body
                if cols is not None:
                    n = len(cols[0])
                    yield ScannedPiece(cols, n)
                    yielded += n
                    if cut < 0:
                        return
                    start = comma + 1
                    continue
            with memoryview(buf) as mv:
                try:
                    entries = orjson.loads(mv[start - 1:stop])
                except orjson.JSONDecodeError:
                    entries = None
            if not isinstance(entries, list):
                break  # fall back below
            if entries:
                yield entries
                yielded += len(entries)
            del entries
            if cut < 0:
                return
            start = comma + 1
    # fallback: the split guess failed or the file is not plain JSON (NaN, trailing data, ...)
    whole = _whole_list(path)
    if yielded > len(whole):  # cannot happen with a consistent file
        raise ResultsFormatError(f'results file {os.fspath(path)} changed while being read')
    rest = whole[yielded:]
    del whole
    if rest:
        yield rest


def iter_chunks(results, chunk_bytes: Optional[int] = None,
                chunk_entries: Optional[int] = None, scan=None) -> Iterator[Chunk]:
    paths, items = result_sources(results)
    chunk_entries = chunk_entries or CHUNK_ENTRIES
    offset = 0
    if paths is not None:
        check_files(paths)
        for path in paths:
            local = 0
            for entries in iter_file_entries(path, chunk_bytes, scan):
                n = len(entries)
                chunk = Chunk(entries, offset, os.fspath(path), local)
                del entries  # the consumer clears chunk.entries when done with them
                yield chunk
                del chunk
                offset += n
                local += n
    else:
        for s in range(0, len(items), chunk_entries):
            yield Chunk(items[s:s + chunk_entries], s, None, s)


class ProblemLog:
    """Counts each kind of problem in the results and remembers where it first occurred."""

    def __init__(self):
        self.problems: Dict[str, List] = {}

    def add(self, kind: str, count: int, first_where: str) -> None:
        if count <= 0:
            return
        if kind in self.problems:
            self.problems[kind][0] += count
        else:
            self.problems[kind] = [count, first_where]

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self, total: int, iou_type: str) -> None:
        if not self.problems:
            return
        lines = [f'{count} of {total} entries: {kind} (first: {where})'
                 for kind, (count, where) in self.problems.items()]
        raise ResultsFormatError(f'invalid {iou_type} results:\n  ' + '\n  '.join(lines))


def _where(chunk: Chunk, i: int) -> str:
    if chunk.source is None:
        return f'results[{chunk.offset + i}]'
    return f'entry {chunk.source_offset + i} of {chunk.source}'


@dataclass
class ChunkColumns:
    img_idx: np.ndarray
    cat_idx: np.ndarray
    score: np.ndarray
    bbox: Optional[np.ndarray]          # (n, 4) float64 where present
    seg_size: Optional[np.ndarray]      # (n, 2) for segm
    seg_counts: Optional[list]          # str/bytes for segm
    has_bbox: int                       # how many entries carry a bbox (segm)


_REQUIRED = {'bbox': ('image_id', 'category_id', 'score', 'bbox'),
             'segm': ('image_id', 'category_id', 'score', 'segmentation')}


_NUMBER_TYPES = {int, float}


def _number_rows(rows: list, width: int) -> Optional[np.ndarray]:
    """(n, width) float64 from a list of lists of Python numbers; None if anything else."""
    n = len(rows)
    if n and set(map(len, rows)) != {width}:
        return None
    if not set(map(type, chain.from_iterable(rows))) <= _NUMBER_TYPES:
        return None  # bools, strings, numpy scalars, nested lists: the careful path decides
    return np.fromiter(chain.from_iterable(rows), np.float64, n * width).reshape(n, width)


def _size_rows(sizes: list) -> Optional[np.ndarray]:
    """(n, 2) int64 from a list of [h, w] lists of ints; None if anything else."""
    with warnings.catch_warnings():  # ragged lists: numpy 1.23 warns, then gives dtype object
        warnings.simplefilter('ignore')
        arr = np.array(sizes)
    if arr.shape != (len(sizes), 2) or arr.dtype.kind not in 'iu':
        return _number_rows(sizes, 2)  # floats such as 480.0 are judged there
    return arr


def _fast_columns(entries: list, iou_type: str, careful: bool = False):
    """Columns of a well-formed chunk, or None when anything looks off.

    The fast path takes only plain JSON types; ``careful`` converts value by value (numpy
    scalars and arrays from in-memory results) once a scan has found no problem.
    """
    n = len(entries)
    try:
        img = np.asarray([r['image_id'] for r in entries])
        cat = np.asarray([r['category_id'] for r in entries])
        score = np.asarray([r['score'] for r in entries])
        if careful:
            img = np.array([int(v) for v in img.tolist()], np.int64)
            cat = np.array([int(v) for v in cat.tolist()], np.int64)
            score = np.array([float(v) for v in score.tolist()], np.float64)
        if iou_type == 'bbox':
            boxes = [r['bbox'] for r in entries]
            has_bbox = n
        else:
            segs = [r['segmentation'] for r in entries]
            sizes = [s['size'] for s in segs]
            counts = [s['counts'] for s in segs]
            has_bbox = sum(['bbox' in r for r in entries])
            boxes = [r['bbox'] for r in entries] if has_bbox == n else None
        if careful:
            if boxes is not None:
                boxes = [[float(v) for v in b] for b in boxes]
            if iou_type == 'segm':
                sizes = [[int(v) for v in sz] for sz in sizes]
        bbox = _number_rows(boxes, 4) if boxes is not None else None
        seg_size = _size_rows(sizes) if iou_type == 'segm' else None
    except (KeyError, TypeError, IndexError, ValueError):
        return None
    if img.shape != (n,) or cat.shape != (n,) or score.shape != (n,):
        return None
    if n and (img.dtype.kind not in 'iu' or cat.dtype.kind not in 'iu'
              or score.dtype.kind not in 'iuf'):
        return None
    score = score.astype(np.float64)
    if not np.isfinite(score).all():
        return None
    if boxes is not None:
        if bbox is None or not np.isfinite(bbox).all():
            return None
    elif iou_type == 'segm' and has_bbox:
        return None  # mixed: let the scan judge every bbox
    if iou_type == 'segm':
        if seg_size is None or (seg_size != np.round(seg_size)).any() or (seg_size < 0).any():
            return None
        seg_size = seg_size.astype(np.int64)
        if not set(map(type, counts)) <= {str, bytes}:
            return None
    else:
        counts = None
    return img.astype(np.int64), cat.astype(np.int64), score, bbox, seg_size, counts, has_bbox


def _scan_problems(entries: list, iou_type: str, chunk: Chunk, log: ProblemLog,
                   gt: GroundTruth) -> None:
    """Slow, complete scan of a chunk that failed the fast path: log every problem."""
    found: Dict[str, List] = {}
    ids = {'image_id': ([], [], gt.img_ids, 'ground-truth images'),
           'category_id': ([], [], gt.cat_ids, 'ground-truth categories')}

    def note(kind, i):
        if kind in found:
            found[kind][0] += 1
        else:
            found[kind] = [1, i]

    for i, r in enumerate(entries):
        if not isinstance(r, dict):
            note('not a JSON object', i)
            continue
        for key in _REQUIRED[iou_type]:
            if key not in r:
                note(f"missing field '{key}'", i)
        for key in ('image_id', 'category_id'):
            if key in r:
                if isinstance(r[key], numbers.Integral) and not isinstance(r[key], bool):
                    ids[key][0].append(int(r[key]))
                    ids[key][1].append(i)
                else:
                    note(f"'{key}' is not an integer", i)
        if 'score' in r:
            s = r['score']
            if not _is_real(s):
                note("'score' is not a number", i)
            elif not np.isfinite(s):
                note("'score' is NaN or infinite", i)
        if 'bbox' in r and not _is_box(r['bbox']):
            note("'bbox' is not a list of 4 finite numbers [x, y, w, h]", i)
        if iou_type == 'segm' and 'segmentation' in r:
            s = r['segmentation']
            ok = (isinstance(s, dict) and isinstance(s.get('counts'), (str, bytes))
                  and isinstance(s.get('size'), (list, tuple)) and len(s['size']) == 2
                  and all(isinstance(v, numbers.Integral) and v >= 0 for v in s['size']))
            if not ok:
                note("'segmentation' is not a compressed RLE {'size': [h, w], 'counts': str}", i)
    if iou_type == 'segm' and not found:
        nb = sum('bbox' in r for r in entries)
        if 0 < nb < len(entries):
            # the area rule (bbox area if results carry boxes, else mask area) needs all or none
            first = next(i for i, r in enumerate(entries) if 'bbox' not in r)
            note("no 'bbox' while other entries carry a bbox (give one in all entries or in none)",
                 first)
    for kind, (count, i) in found.items():
        log.add(kind, count, _where(chunk, i))
    for key, (values, where, known, what) in ids.items():
        if values:
            _, ok = _lookup(known, np.asarray(values, np.int64))
            bad = np.flatnonzero(~ok)
            if bad.size:
                log.add(f"'{key}' not in the {what}", int(bad.size),
                        f'{_where(chunk, where[bad[0]])}, {key} {values[bad[0]]}')


def check_rle_strings(counts: list, seg_size: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per mask: a problem code of :mod:`rle` (0: fine) and the sum of its decoded runs."""
    return rle.check_counts(counts, seg_size[:, 0] * seg_size[:, 1])


def log_rle_problems(problem: np.ndarray, total: np.ndarray, seg_size: np.ndarray,
                     chunk: Chunk, log: ProblemLog, index: Optional[np.ndarray] = None) -> None:
    """Log compressed RLE strings that pycocotools would misread or loop on forever.

    ``index``: the chunk entries that were checked, when not all of them.
    """
    for code in np.unique(problem[problem != rle.OK]).tolist():
        bad = np.flatnonzero(problem == code)
        i = int(bad[0])
        h, w = seg_size[i].tolist()
        detail = (f', runs sum to {int(total[i])}, size [{h}, {w}] needs {h * w}'
                  if code == rle.WRONG_TOTAL else '')
        log.add(f"'segmentation' counts is not a valid compressed RLE: {rle.PROBLEMS[code]}",
                int(bad.size), _where(chunk, i if index is None else int(index[i])) + detail)


def chunk_columns(chunk: Chunk, gt: GroundTruth, iou_type: str, log: ProblemLog,
                  check_masks: bool = True) -> Optional[ChunkColumns]:
    """Validate a chunk; return its columns (ids mapped to indices) or None if it has problems.

    ``check_masks=False`` leaves the RLE strings to the caller (:func:`check_rle_strings`).
    """
    entries = chunk.entries
    if isinstance(entries, ScannedPiece):
        cols = entries.columns
    else:
        cols = _fast_columns(entries, iou_type)
    if cols is None:
        before = len(log.problems)
        _scan_problems(entries, iou_type, chunk, log, gt)
        if len(log.problems) > before or log:
            return None
        cols = _fast_columns(entries, iou_type, careful=True)  # e.g. numpy values in memory
        if cols is None:
            log.add('unrecognised entry format', len(entries), _where(chunk, 0))
            return None
    img, cat, score, bbox, seg_size, counts, has_bbox = cols
    if iou_type == 'segm' and check_masks:
        log_rle_problems(*check_rle_strings(counts, seg_size), seg_size, chunk, log)
    img_idx, img_ok = gt.image_index(img)
    cat_idx, cat_ok = gt.category_index(cat)
    if not img_ok.all():
        bad = np.flatnonzero(~img_ok)
        log.add("'image_id' not in the ground-truth images", bad.size,
                f'{_where(chunk, int(bad[0]))}, image_id {int(img[bad[0]])}')
    if not cat_ok.all():
        bad = np.flatnonzero(~cat_ok)
        log.add("'category_id' not in the ground-truth categories", bad.size,
                f'{_where(chunk, int(bad[0]))}, category_id {int(cat[bad[0]])}')
    if log:
        return None
    return ChunkColumns(img_idx.astype(np.int32), cat_idx.astype(np.int32), score, bbox,
                        seg_size, counts, has_bbox)


def load_result_list(results, gt: GroundTruth, iou_type: str) -> Tuple[list, bool]:
    """Validate all results and return them as one list (for lvis-api).

    The flag says whether the list and its dicts are ours (read from files) or the caller's.
    """
    paths, items = result_sources(results)
    log = ProblemLog()
    total = 0
    out: list = []
    seg_with_bbox = 0
    for chunk in iter_chunks(results):
        cols = chunk_columns(chunk, gt, iou_type, log)
        total += len(chunk.entries)
        if cols is not None:
            seg_with_bbox += cols.has_bbox
        if paths is not None:
            out.extend(chunk.entries)
    log.raise_if_any(total, iou_type)
    check_bbox_rule(iou_type, seg_with_bbox, total)
    return (out, True) if paths is not None else (items, False)


def check_bbox_rule(iou_type: str, with_bbox: int, total: int) -> None:
    if iou_type == 'segm' and 0 < with_bbox < total:
        raise ResultsFormatError(
            f'invalid segm results: {with_bbox} of {total} entries carry a bbox and the others '
            'do not; lvis-api takes detection areas from bboxes when results have them and from '
            'masks otherwise, so give a bbox in all entries or in none')

"""Detection results: validated chunk by chunk and turned into columns (ids mapped to indices).

Both backends go through this module, so a malformed result is rejected with the same
:class:`ResultsFormatError` before any evaluation starts, naming how many entries have each
problem and where the first one is.
"""
from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from itertools import chain
from typing import Dict, List, Optional, Tuple

import numpy as np

from . import rle
from .common import ResultsFormatError
from .groundtruth import GroundTruth, is_box, is_real, lookup
from .jsonstream import Chunk, ScannedPiece, iter_chunks, result_sources


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
    seg_counts: Optional[object]        # segm: list of str/bytes, or rle.RLEStrings (scan)
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
            if not is_real(s):
                note("'score' is not a number", i)
            elif not np.isfinite(s):
                note("'score' is NaN or infinite", i)
        if 'bbox' in r and not is_box(r['bbox']):
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
            _, ok = lookup(known, np.asarray(values, np.int64))
            bad = np.flatnonzero(~ok)
            if bad.size:
                log.add(f"'{key}' not in the {what}", int(bad.size),
                        f'{_where(chunk, where[bad[0]])}, {key} {values[bad[0]]}')


def check_rle_strings(counts, seg_size: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
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

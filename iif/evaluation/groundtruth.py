"""LVIS ground truth: validated and reduced to the arrays the evaluators use.

Rejects malformed annotation files before any evaluation, NaN / infinity in areas, boxes and
polygons included (``json.dump`` writes them and lvis-api accepts them silently), and compressed
RLE strings that pycocotools would misread (:mod:`iif.evaluation.rle`).
"""
from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field
from itertools import chain
from typing import List, Optional, Tuple

import numpy as np

from . import rle
from .common import GroundTruthFormatError, is_path, parse_json_file

FREQUENCIES = ('r', 'c', 'f')


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
        return lookup(self.img_ids, ids)

    def category_index(self, ids: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        return lookup(self.cat_ids, ids)


def lookup(sorted_ids: np.ndarray, ids: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Index of each id in ``sorted_ids`` and a mask of ids that were found."""
    if sorted_ids.size == 0:
        return np.zeros(ids.shape, np.int64), np.zeros(ids.shape, bool)
    idx = np.searchsorted(sorted_ids, ids)
    idx_c = np.minimum(idx, sorted_ids.size - 1)
    found = sorted_ids[idx_c] == ids
    return idx_c, found


def load_gt_dataset(gt) -> Tuple[dict, bool]:
    """Ground truth as a dict; the flag says whether the dict is ours (freshly parsed)."""
    if is_path(gt):
        data = parse_json_file(gt, 'ground-truth', GroundTruthFormatError)
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
    cidx, found = lookup(cat_ids, cat)
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
    a_img, a_img_ok = lookup(img_ids, _int_array(_field_list(anns, 'image_id', 'annotations'),
                                                  'annotation image ids'))
    a_cat, a_cat_ok = lookup(cat_ids, _int_array(_field_list(anns, 'category_id', 'annotations'),
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
            if not (isinstance(poly, (list, tuple)) and all(is_real(v) for v in poly)):
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
        bad = [j for j, b in enumerate(boxes) if not is_box(b)]
        raise GroundTruthFormatError(
            f'{len(bad)} annotations lack a bbox [x, y, w, h] of 4 numbers '
            f'(first: annotation index {int(kept[bad[0]])})')
    return arr.astype(np.float64).reshape(-1, 4)


def is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def is_box(b) -> bool:
    if isinstance(b, np.ndarray):
        b = b.tolist()
    return (isinstance(b, (list, tuple)) and len(b) == 4
            and all(is_real(v) and np.isfinite(v) for v in b))

"""backend='fast': a streaming LVIS evaluator with lvis-api 0.5.3's numbers.

How lvis-api's semantics map onto compact arrays (see lvis/results.py and lvis/eval.py):

* max_dets: per image, when there are more than max_dets results, lvis-api keeps the first
  max_dets of a stable descending sort by score, i.e. the order (-score, input position).
* Detections are kept only for categories in the image's (area > 0) annotations or its
  ``neg_category_ids`` (federated evaluation), and only with 0 < area < inf; the area is w*h of
  the bbox when the results carry bboxes (also for segm, as with mmdet's results), else the mask
  area.
* Score ties: lvis-api sorts per (image, category) and then per category with stable mergesorts,
  over images in id order and results in (possibly truncated) input order; that is one global
  order (category, -score, image index, input position), used here for matching and
  accumulation alike.
* Matching (per image, category, area range and IoU threshold) is greedy in that order: each
  detection takes, among unmatched ground truth with IoU >= threshold, the highest IoU, preferring
  non-ignored ground truth (out-of-area-range or ``ignore``) and, on equal IoU, the later one in
  annotation order. A detection matched to ignored ground truth is ignored; an unmatched one is
  ignored when its area is out of range or its category is in ``not_exhaustive_category_ids``.
* Ignored detections do not change the cumulative TP/FP counts, so leaving them out of the
  precision/recall curve gives lvis-api's interpolated precision at the 101 recall points
  exactly; those points are found by integer search (first cumulative TP count k with
  fl(k / num_gt) >= r, lvis-api's ``searchsorted(rc, r)``).

Work is done in chunks of whole categories: IoUs (vectorised numpy for boxes, bit-identical to
pycocotools' bbIou; pycocotools' RLE iou for masks), matching vectorised across all pairs of a
chunk one detection rank at a time, then accumulation. Box IoUs and matching go through blocks of
about PAIR_BLOCK detection / ground-truth pairs, so dense images do not build every pair's
temporaries at once. Per-chunk data are freed as it goes; the only image x category structures
are sorted int64 keys of the pairs that exist. Compressed RLE strings are checked
(:mod:`iif.evaluation.rle`) before pycocotools reads them.

With ``processes=2``, a forked helper reads every other piece of the result files and evaluates
the upper half of the categories (:func:`_read_in_two_processes`,
:meth:`_Evaluator.run_in_two_processes`); the caller assembles the pieces in file order, so every
array after that, and every metric, is the one-process path's.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

from .common import GroundTruthFormatError
from .groundtruth import GroundTruth
from .forked import Forked, WorkerFailed
from .jsonstream import Chunk, iter_chunks, iter_file_entries, result_sources
from .results import (ProblemLog, check_bbox_rule, check_rle_strings, chunk_columns,
                      log_rle_problems)
from .rle import RLEStrings
from .scan import segm_columns

IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MATCH_THRS = np.minimum(IOU_THRS, 1 - 1e-10)  # lvis-api: iou = min([iou_thr, 1 - 1e-10])
AREA_RNG = np.array([[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2],
                     [96 ** 2, 1e5 ** 2]], dtype=np.float64)
AREA_LBL = ('all', 'small', 'medium', 'large')
EPS = np.spacing(1)
T, R, A = IOU_THRS.size, REC_THRS.size, AREA_RNG.shape[0]
CHUNK_DETS = 600_000  # detections per chunk of categories
# detection/ground-truth pairs handled at a time by the box-IoU and matching steps; bounds their
# temporary memory on dense images (dozens of objects of one category, hundreds of detections)
PAIR_BLOCK = 1 << 20

# matching status of a detection at one (IoU threshold, area range)
UNMATCHED, TRUE_POS, GT_IGNORED = 0, 1, 2


def _member(sorted_keys: np.ndarray, q: np.ndarray) -> np.ndarray:
    if sorted_keys.size == 0:
        return np.zeros(q.shape, bool)
    i = np.minimum(np.searchsorted(sorted_keys, q), sorted_keys.size - 1)
    return sorted_keys[i] == q


@dataclass
class Detections:
    """Evaluated detections, sorted by (category, -score, image index, input position)."""
    cat: np.ndarray
    img: np.ndarray
    score: np.ndarray
    area: np.ndarray
    bbox: Optional[np.ndarray]      # (n, 4) for bbox
    seg_size: Optional[np.ndarray]  # (n, 2) for segm
    seg_counts: Optional[RLEStrings]  # compressed RLE strings for segm


def _over_limit(img: np.ndarray, score: np.ndarray, max_dets: int,
                num_images: int) -> Optional[np.ndarray]:
    """Mask of results dropped by lvis-api's per-image max_dets (None: none dropped)."""
    if max_dets < 0 or img.size == 0:
        return None
    counts = np.bincount(img, minlength=num_images)
    over = counts > max_dets
    if not over.any():
        return None
    idx = np.flatnonzero(over[img])
    order = np.lexsort((idx, -score[idx], img[idx]))
    idx = idx[order]
    s_img = img[idx]
    rank = np.arange(idx.size) - np.searchsorted(s_img, s_img, side='left')
    drop = np.zeros(img.size, bool)
    drop[idx[rank >= max_dets]] = True
    return drop


@dataclass
class _Piece:
    """What is kept of one piece of the results: every entry's image and score (for max_dets)
    and the columns of the entries that pass the federated filter (``sel``, piece positions)."""
    size: int
    img_idx: np.ndarray
    score: np.ndarray
    with_bbox: int
    sel: np.ndarray
    k_img: np.ndarray
    k_cat: np.ndarray
    k_score: np.ndarray
    k_area: Optional[np.ndarray]      # bbox area, when the results carry boxes
    k_box: Optional[np.ndarray]       # bbox
    k_size: Optional[np.ndarray]      # segm
    k_counts: Optional[RLEStrings]    # segm


def _read_piece(chunk, gt: GroundTruth, iou_type: str, fed_keys: np.ndarray,
                log: ProblemLog) -> Optional[_Piece]:
    """Validate one chunk and keep what can be evaluated; None (problems logged) if invalid."""
    n = len(chunk.entries)
    cols = chunk_columns(chunk, gt, iou_type, log, check_masks=False)
    chunk.entries = None  # let the parsed objects go before the next chunk is read
    if cols is None:
        return None
    # federated filter now, so only payloads that can be evaluated are kept
    key = cols.img_idx.astype(np.int64) * gt.num_categories + cols.cat_idx
    sel = np.flatnonzero(_member(fed_keys, key))
    kept = None
    if iou_type == 'segm':
        # masks that reach pycocotools: those paired with ground truth (IoU), and all
        # kept ones when the area comes from the mask (no bboxes)
        to_c = sel if cols.bbox is None else np.flatnonzero(_member(gt.pos_keys, key))
        sizes = cols.seg_size[to_c]
        counts = cols.seg_counts
        if isinstance(counts, RLEStrings):  # scanned: one buffer, strings copied as bytes
            kept = counts.take(sel)
            checked = kept if to_c is sel else counts.take(to_c)
        else:
            checked = [counts[i] for i in to_c.tolist()]
            kept = RLEStrings.from_strings([counts[i] for i in sel.tolist()])
        log_rle_problems(*check_rle_strings(checked, sizes), sizes, chunk, log, to_c)
        del counts, checked
    box = cols.bbox[sel] if cols.bbox is not None else None
    return _Piece(size=n, img_idx=cols.img_idx, score=cols.score, with_bbox=cols.has_bbox,
                  sel=sel, k_img=cols.img_idx[sel], k_cat=cols.cat_idx[sel],
                  k_score=cols.score[sel],
                  k_area=box[:, 2] * box[:, 3] if box is not None else None,
                  k_box=box if iou_type == 'bbox' else None,
                  k_size=cols.seg_size[sel] if iou_type == 'segm' else None, k_counts=kept)


def load_detections(gt: GroundTruth, results, iou_type: str, max_dets: int,
                    processes: int = 1) -> Detections:
    """Validate and read results chunk by chunk, keeping compact columns of what is evaluated.

    ``processes`` 2: a results file is read in two processes (:func:`_read_in_two_processes`);
    the detections are the same.
    """
    fed_keys = np.union1d(gt.pos_keys, gt.neg_keys)
    if processes > 1:
        pieces = _read_in_two_processes(gt, results, iou_type, fed_keys)
        if pieces is not None:
            return _assemble(gt, pieces, iou_type, max_dets)
    log = ProblemLog()
    total = 0
    pieces: List[_Piece] = []
    # segm: pieces of the file in the usual regular shape are read without a dict per result
    for chunk in iter_chunks(results, scan=_scanner(iou_type)):
        total += len(chunk.entries)
        piece = _read_piece(chunk, gt, iou_type, fed_keys, log)
        if piece is not None:
            pieces.append(piece)
    log.raise_if_any(total, iou_type)
    return _assemble(gt, pieces, iou_type, max_dets)


def _scanner(iou_type: str):
    return segm_columns if iou_type == 'segm' else None


def _read_in_two_processes(gt: GroundTruth, results, iou_type: str,
                           fed_keys: np.ndarray) -> Optional[List[_Piece]]:
    """The pieces of results files, the even-numbered ones read here and the odd-numbered ones
    by a forked helper at the same time, in file order.

    None when the results are not files or either process met anything irregular (a problem in
    the input, a piece that needs the whole file parsed, an exception): the caller then reads
    them in one process, which gives any error its usual class and message.
    """
    paths, _ = result_sources(results)
    if paths is None:
        return None
    with Forked(f'the helper process reading the {iou_type} results', _read_share,
                gt, paths, iou_type, fed_keys, 1) as helper:
        mine = _read_share(gt, paths, iou_type, fed_keys, 0)
        if mine is None:
            return None  # leaving the block stops the helper
        theirs = helper.result()
    if theirs is None:
        return None
    return [piece for _, piece in sorted(mine + theirs, key=lambda t: t[0])]


def _read_share(gt: GroundTruth, paths, iou_type: str, fed_keys: np.ndarray,
                parity: int) -> Optional[list]:
    """(number, piece) of the pieces numbered ``parity`` mod 2, counted over all files in order;
    None if anything is irregular (see :func:`_read_in_two_processes`)."""
    log = ProblemLog()
    out = []
    number = 0
    try:
        for path in paths:
            first = number
            for entries in iter_file_entries(path, None, _scanner(iou_type),
                                             only=lambda k, f=first: (f + k) % 2 == parity):
                if entries is not None and len(entries):
                    # entry positions only name problems, and a problem sends the caller to
                    # the one-process path, which names it there
                    piece = _read_piece(Chunk(entries, 0, os.fspath(path), 0), gt, iou_type,
                                        fed_keys, log)
                    if piece is None or log:
                        return None
                    out.append((number, piece))
                number += 1
    except Exception:  # noqa: BLE001 - the one-process path raises it again, as it always has
        return None
    return out


def _assemble(gt: GroundTruth, pieces: List[_Piece], iou_type: str,
              max_dets: int) -> Detections:
    """The detections of valid pieces (all of them, in file order)."""
    total = sum(p.size for p in pieces)
    check_bbox_rule(iou_type, sum(p.with_bbox for p in pieces), total)

    def cat_(parts, dtype, shape=(0,)):
        return np.concatenate(parts) if parts else np.zeros(shape, dtype)

    img_all = cat_([p.img_idx for p in pieces], np.int32)
    drop = _over_limit(img_all, cat_([p.score for p in pieces], np.float64), max_dets,
                       gt.num_images)
    del img_all
    for p in pieces:
        p.img_idx = p.score = None  # needed for max_dets only
    starts = np.cumsum([0] + [p.size for p in pieces[:-1]]).tolist()
    pos = cat_([p.sel + s for p, s in zip(pieces, starts)], np.int64)
    keep = np.ones(pos.size, bool) if drop is None else ~drop[pos]
    if max_dets == 0:
        keep[:] = False
    img = cat_([p.k_img for p in pieces], np.int32)
    cat = cat_([p.k_cat for p in pieces], np.int32)
    score = cat_([p.k_score for p in pieces], np.float64)
    bbox = cat_([p.k_box for p in pieces], np.float64, (0, 4)) if iou_type == 'bbox' else None
    seg_size = (cat_([p.k_size for p in pieces], np.int64, (0, 2)) if iou_type == 'segm'
                else None)
    strings = RLEStrings.concat([p.k_counts for p in pieces]) if iou_type == 'segm' else None
    k_area = [p.k_area for p in pieces if p.k_area is not None]
    del pieces[:]  # the caller's list too: each part is in one array now
    if k_area:
        area = cat_(k_area, np.float64)
    else:  # segm results without boxes: lvis-api uses the mask area
        import pycocotools.mask as mask_utils
        idx = np.flatnonzero(keep).tolist()
        area = np.zeros(pos.size, np.float64)
        if idx:
            area[idx] = mask_utils.area([{'size': seg_size[i].tolist(), 'counts': strings[i]}
                                         for i in idx])
    keep &= (area > 0) & (area < np.inf)
    sel = np.flatnonzero(keep)
    order = sel[np.lexsort((pos[sel], img[sel], -score[sel], cat[sel]))]
    counts = strings.reordered(order) if iou_type == 'segm' else None
    return Detections(cat=cat[order], img=img[order], score=score[order], area=area[order],
                      bbox=bbox[order] if bbox is not None else None,
                      seg_size=seg_size[order] if seg_size is not None else None,
                      seg_counts=counts)


# --------------------------------------------------------------------------- IoU

def bbox_iou_pairs(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    """IoU of box pairs (rows of d with rows of g), [x, y, w, h], non-crowd.

    Same operations in the same order as pycocotools' bbIou, hence bit-identical values.
    """
    dx, dy, dw, dh = d[:, 0], d[:, 1], d[:, 2], d[:, 3]
    gx, gy, gw, gh = g[:, 0], g[:, 1], g[:, 2], g[:, 3]
    w = np.minimum(dw + dx, gw + gx) - np.maximum(dx, gx)
    h = np.minimum(dh + dy, gh + gy) - np.maximum(dy, gy)
    inter = w * h
    union = dw * dh + gw * gh - inter
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = inter / union
    return np.where((w > 0) & (h > 0), iou, 0.0)


def _lvis_ann_to_rle(seg, h: int, w: int):
    """lvis-api's LVIS.ann_to_rle for one ground-truth segmentation."""
    import pycocotools.mask as mask_utils
    if isinstance(seg, list):
        return mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    if isinstance(seg['counts'], list):
        return mask_utils.frPyObjects(seg, h, w)
    return seg


def gt_rles(gt: GroundTruth, ann_idx: np.ndarray) -> list:
    """RLEs of ground-truth annotations (indices into gt.ann_*), as lvis-api makes them.

    Plain polygon annotations of one image are rasterised in one pycocotools call (frPoly treats
    each polygon on its own); multi-part ones are merged as lvis-api does.
    """
    import pycocotools.mask as mask_utils
    out: list = [None] * ann_idx.size
    if ann_idx.size == 0:
        return out
    order = np.argsort(gt.ann_img[ann_idx], kind='stable')
    imgs = gt.ann_img[ann_idx][order]
    bounds = np.flatnonzero(np.r_[True, imgs[1:] != imgs[:-1], True])
    segs = gt.ann_segm
    for b0, b1 in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        h, w = (int(v) for v in gt.img_hw[imgs[b0]])
        polys: list = []
        owners: list = []   # (output slot, first polygon, number of polygons)
        for j in order[b0:b1].tolist():
            i = int(ann_idx[j])
            seg = segs[i]
            try:
                if (isinstance(seg, list) and isinstance(seg[0], list) and len(seg[0]) > 4):
                    owners.append((j, len(polys), len(seg)))
                    polys.extend(seg)
                else:
                    out[j] = _lvis_ann_to_rle(seg, h, w)
            except Exception as e:  # lvis-api would crash here too
                raise GroundTruthFormatError(
                    f'annotation id {int(gt.ann_id[i])}: cannot rasterise its segmentation: {e}'
                ) from None
        if polys:
            rles = mask_utils.frPyObjects(polys, h, w)
            for j, p0, k in owners:
                out[j] = rles[p0] if k == 1 else mask_utils.merge(rles[p0:p0 + k])
    return out


# --------------------------------------------------------------------------- evaluation

class _Evaluator:
    def __init__(self, gt: GroundTruth, dets: Detections, iou_type: str,
                 chunk_dets: int = CHUNK_DETS):
        self.gt, self.dets, self.iou_type, self.chunk_dets = gt, dets, iou_type, chunk_dets
        C = gt.num_categories
        self.C, self.NI = C, gt.num_images
        # ground truth ordered by (category, image, annotation order)
        order = np.argsort(gt.ann_cat, kind='stable')
        self.g_src = order
        self.g_cat = gt.ann_cat[order]
        self.g_img = gt.ann_img[order]
        area = gt.ann_area[order]
        ign = gt.ann_ignore[order]
        # (n_gt, A): ignored for an area range (lvis-api's _ignore)
        self.g_ig = (ign[:, None] | (area[:, None] < AREA_RNG[:, 0])
                     | (area[:, None] > AREA_RNG[:, 1]))
        self.g_zero = gt.ann_id[order] == 0  # a match to gt id 0 counts as unmatched in lvis-api
        self.g_box = gt.ann_bbox[order] if iou_type == 'bbox' else None
        self.num_gt = np.zeros((C, A), np.int64)
        for a in range(A):
            self.num_gt[:, a] = np.bincount(self.g_cat[~self.g_ig[:, a]], minlength=C)
        self.precision = -np.ones((T, R, C, A))
        self.recall = -np.ones((T, C, A))

    def run(self, c_start: int = 0, c_stop: Optional[int] = None) -> None:
        """Precision and recall of categories [c_start, c_stop) (default: all)."""
        c_stop = self.C if c_stop is None else c_stop
        d_b = self._det_bounds()
        g_b = np.searchsorted(self.g_cat, np.arange(self.C + 1))
        c0 = c_start
        while c0 < c_stop:
            # grow the chunk by whole categories up to chunk_dets detections
            c1 = int(np.searchsorted(d_b, d_b[c0] + self.chunk_dets, side='right')) - 1
            c1 = min(max(c1, c0 + 1), c_stop)
            self._chunk(c0, c1, int(d_b[c0]), int(d_b[c1]), int(g_b[c0]), int(g_b[c1]))
            c0 = c1

    def _det_bounds(self) -> np.ndarray:
        """Category c's detections are dets[d_b[c]:d_b[c + 1]]."""
        return np.searchsorted(self.dets.cat, np.arange(self.C + 1))

    def run_in_two_processes(self) -> None:
        """:meth:`run`, the categories split between this process and a forked helper.

        Categories are independent, so the numbers are :meth:`run`'s. If either process fails,
        everything is evaluated again here, so that an error is the one-process path's.
        """
        split = self._split_point()
        if not 0 < split < self.C:
            return self.run()
        theirs = None
        try:
            with Forked(f'the helper process evaluating {self.iou_type} (categories from '
                        f'index {split})', self._curves_of, split, self.C) as helper:
                self.run(0, split)
                theirs = helper.result()
        except WorkerFailed:
            raise  # the helper died (killed, out of memory): say so
        except Exception:  # noqa: BLE001 - raised again by the one-process run below
            theirs = None
        if theirs is None:
            self.precision[:] = -1
            self.recall[:] = -1
            return self.run()
        self.precision[:, :, split:, :], self.recall[:, split:, :] = theirs

    def _curves_of(self, c0: int, c1: int):
        """(precision, recall) of categories [c0, c1); None if the evaluation raised."""
        try:
            self.run(c0, c1)
        except Exception:  # noqa: BLE001 - the caller evaluates again in one process
            return None
        return self.precision[:, :, c0:c1, :].copy(), self.recall[:, c0:c1, :].copy()

    def _split_point(self) -> int:
        """First category of the helper's half: about half the detections on each side."""
        d_b = self._det_bounds()
        return int(np.searchsorted(d_b, d_b[-1] / 2))

    # ---- one chunk of categories [c0, c1)
    def _chunk(self, c0, c1, d0, d1, g0, g1) -> None:
        dets, NI = self.dets, self.NI
        n = d1 - d0
        dcat = dets.cat[d0:d1].astype(np.int64) - c0
        dimg = dets.img[d0:d1].astype(np.int64)
        dkey = dcat * NI + dimg
        gkey = (self.g_cat[g0:g1] - c0) * NI + self.g_img[g0:g1]
        gs = np.searchsorted(gkey, dkey, side='left')
        ng = np.searchsorted(gkey, dkey, side='right') - gs
        status = np.zeros((T, A, n), np.int8)
        cand = np.flatnonzero(ng > 0)
        if cand.size:
            perm = cand[np.argsort(dkey[cand], kind='stable')]  # by pair, score order within
            png, pgs = ng[perm], gs[perm]
            off = np.zeros(perm.size + 1, np.int64)
            np.cumsum(png, out=off[1:])
            if self.iou_type == 'bbox':
                ious = self._bbox_ious(perm + d0, pgs + g0, png, off)
            else:
                ious = self._segm_ious(perm, dkey[perm], pgs, png, off, d0, g0, g1)
            best = np.maximum.reduceat(ious, off[:-1])
            rel = np.flatnonzero(best >= MATCH_THRS[0])  # others match nothing at any threshold
            if rel.size:
                self._match(perm[rel], dkey[perm[rel]], pgs[rel] + g0, png[rel], off[rel],
                            ious, status)
            del ious
        self._accumulate(c0, c1, dcat, dimg, dets.area[d0:d1], status)

    def _bbox_ious(self, drows, gstart, png, off):
        total = int(off[-1])
        ious = np.empty(total, np.float64)
        # a block of whole detections at a time: the gathered boxes and the temporaries of
        # bbox_iou_pairs (~150 bytes a pair) stay bounded however dense the images are
        cuts = np.searchsorted(off, np.arange(PAIR_BLOCK, total, PAIR_BLOCK), side='right') - 1
        cuts = np.unique(np.r_[0, cuts, drows.size])
        for i0, i1 in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
            p0, p1 = int(off[i0]), int(off[i1])
            if p0 == p1:
                continue
            rep = np.repeat(np.arange(i0, i1), png[i0:i1])
            col = np.arange(p0, p1) - off[rep] + gstart[rep]
            ious[p0:p1] = bbox_iou_pairs(self.dets.bbox[drows[rep]], self.g_box[col])
        return ious

    def _segm_ious(self, perm, pkey, pgs, png, off, d0, g0, g1):
        import pycocotools.mask as mask_utils
        dets = self.dets
        # rasterise the ground truth of pairs that have detections
        need = np.zeros(g1 - g0, bool)
        starts = np.flatnonzero(np.r_[True, pkey[1:] != pkey[:-1]])
        k = png[starts]
        need[np.repeat(pgs[starts] - (np.cumsum(k) - k), k) + np.arange(int(k.sum()))] = True
        need_idx = np.flatnonzero(need)
        grle: list = [None] * (g1 - g0)
        for j, rle in zip(need_idx.tolist(), gt_rles(self.gt, self.g_src[g0 + need_idx])):
            grle[j] = rle
        ious = np.empty(int(off[-1]), np.float64)
        # one shared (h, w) tuple per distinct mask size
        hw = dets.seg_size[d0 + perm]
        code = hw[:, 0] * (1 << 32) + hw[:, 1]
        uniq, inv = np.unique(code, return_inverse=True)
        tups = [(int(c >> 32), int(c & 0xFFFFFFFF)) for c in uniq.tolist()]
        size_of = [tups[k] for k in inv.tolist()]
        # the strings of these detections, as the bytes objects pycocotools reads
        data = dets.seg_counts.data
        counts = [data[a:b] for a, b in zip(dets.seg_counts.start[perm + d0].tolist(),
                                            dets.seg_counts.stop[perm + d0].tolist())]
        ends = np.r_[starts[1:], perm.size]
        for a, b, gl, k, o0, o1 in zip(starts.tolist(), ends.tolist(), pgs[starts].tolist(),
                                       png[starts].tolist(), off[starts].tolist(),
                                       off[ends].tolist()):
            drs = [{'size': size_of[j], 'counts': counts[j]} for j in range(a, b)]
            ious[o0:o1] = mask_utils.iou(drs, grle[gl:gl + k], [0] * k).ravel()
        return ious

    def _match(self, rdt, rkey, rgs, rng_, roff, ious, status) -> None:
        """Greedy matching of the relevant detections (grouped by pair, score order within)."""
        nrel = rdt.size
        pstart = np.flatnonzero(np.r_[True, rkey[1:] != rkey[:-1]])
        pcount = np.diff(np.r_[pstart, nrel])
        pg = rng_[pstart]
        pgs = rgs[pstart]
        bucket = np.left_shift(1, np.ceil(np.log2(pg)).astype(np.int64))
        for gb in np.unique(bucket).tolist():
            bp = np.flatnonzero(bucket == gb)
            bp = bp[np.argsort(-pcount[bp], kind='stable')]
            # pairs are independent: take them in groups of about PAIR_BLOCK IoU cells
            cells = np.cumsum(pcount[bp]) * gb
            cuts = np.searchsorted(cells, np.arange(PAIR_BLOCK, int(cells[-1]), PAIR_BLOCK),
                                   side='right')
            cuts = np.unique(np.r_[0, cuts[cuts > 0], bp.size])
            for b0, b1 in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
                self._match_pairs(bp[b0:b1], gb, pstart, pcount, pg, pgs, rdt, roff, ious,
                                  status)

    def _match_pairs(self, bp, gb, pstart, pcount, pg, pgs, rdt, roff, ious, status) -> None:
        """Match the pairs ``bp`` (all with at most gb ground truth; most detections first)."""
        g_ig, g_zero = self.g_ig, self.g_zero
        cnt = pcount[bp]
        P = bp.size
        row0 = np.zeros(P, np.int64)
        np.cumsum(cnt[:-1], out=row0[1:])
        nrows = int(cnt.sum())
        src = np.repeat(pstart[bp] - row0, cnt) + np.arange(nrows)  # row -> relevant index
        # IoU rows padded to gb with -1 (never a candidate)
        rowng = pg[bp].repeat(cnt)
        M = np.full((nrows, gb), -1.0)
        rr = np.repeat(np.arange(nrows), rowng)
        base = np.repeat(np.cumsum(rowng) - rowng, rowng)
        cc = np.arange(rr.size) - base
        M[rr, cc] = ious[roff[src][rr] + cc]
        col = np.arange(gb)
        valid = col[None, :] < pg[bp][:, None]
        gidx = np.where(valid, pgs[bp][:, None] + col[None, :], 0)
        IG = np.ascontiguousarray(g_ig[gidx].transpose(0, 2, 1))  # (P, A, gb)
        NIG = ~IG[:, None, :, :]                                    # (P, 1, A, gb)
        Z = g_zero[gidx] & valid
        matched = np.zeros((P, T, A, gb), bool)
        st_rows = np.zeros((nrows, T, A), np.int8)
        active = np.searchsorted(-cnt, -np.arange(int(cnt[0])), side='left')
        thr = MATCH_THRS[None, :, None]
        for r, pr in enumerate(active.tolist()):
            rows = row0[:pr] + r
            v = M[rows]                                         # (pr, gb)
            cand = (v[:, None, :] >= thr)[:, :, None, :] & ~matched[:pr]  # (pr, T, A, gb)
            if gb == 1:
                hit = cand[..., 0]
                m = np.zeros(hit.shape, np.int64)
            else:
                cn = cand & NIG[:pr]
                sel = np.where(cn.any(-1)[..., None], cn, cand)  # prefer non-ignored gt
                vv = np.where(sel, v[:, None, None, :], -2.0)
                mx = vv.max(-1)
                hit = mx > -1.5
                # the last gt with the highest IoU (lvis-api replaces on >=)
                m = gb - 1 - np.argmax((vv == mx[..., None])[..., ::-1], axis=-1)
            pi, ti, ai = np.nonzero(hit)
            if pi.size == 0:
                continue
            mi = m[pi, ti, ai]
            matched[pi, ti, ai, mi] = True
            st = np.zeros((pr, T, A), np.int8)
            st[pi, ti, ai] = np.where(IG[pi, ai, mi], GT_IGNORED,
                                      np.where(Z[pi, mi], UNMATCHED, TRUE_POS))
            st_rows[rows] = st
        status[:, :, rdt[src]] = st_rows.transpose(1, 2, 0)

    def _accumulate(self, c0, c1, dcat, dimg, darea, status) -> None:
        Cc = c1 - c0
        num_gt = self.num_gt[c0:c1]
        nel = _member(self.gt.nel_keys, dimg * self.C + dcat + c0)
        out_rng = (darea[None, :] < AREA_RNG[:, :1]) | (darea[None, :] > AREA_RNG[:, 1:])
        dig = out_rng | nel[None, :]  # (A, n): unmatched detections ignored
        for a in range(A):
            cats = np.flatnonzero(num_gt[:, a] > 0)
            if cats.size == 0:
                continue
            ngt = num_gt[cats, a]
            ngt_f = ngt.astype(np.float64)
            # smallest integer TP count k with fl(k / num_gt) >= recall threshold
            kmin = np.maximum(np.floor(REC_THRS[None, :] * ngt_f[:, None]) - 1, 0).astype(np.int64)
            while True:
                low = (kmin / ngt_f[:, None]) < REC_THRS[None, :]
                if not low.any():
                    break
                kmin += low
            not_ig = ~dig[a]
            for t in range(T):
                st = status[t, a]
                tp = st == TRUE_POS
                keep = tp | ((st == UNMATCHED) & not_ig)
                self._curve(t, a, c0, Cc, cats, ngt, kmin, dcat[keep], tp[keep])

    def _curve(self, t, a, c0, Cc, cats, ngt, kmin, kc, ktp) -> None:
        """Precision at the recall thresholds and final recall for the categories ``cats``."""
        K = kc.size
        cnt = np.bincount(kc, minlength=Cc)
        seg_end = np.cumsum(cnt)
        seg_start = seg_end - cnt
        tpc = np.zeros(K + 1, np.int64)
        np.cumsum(ktp, out=tpc[1:])
        tp_cum = tpc[1:] - tpc[seg_start][kc]
        fp_cum = np.arange(1, K + 1) - seg_start[kc] - tp_cum
        tp_f = tp_cum.astype(np.float64)
        pr = np.empty(K + 1)
        pr[:K] = tp_f / (fp_cum.astype(np.float64) + tp_f + EPS)
        pr[K] = 0.0  # sentinel so that reduceat may index K
        tp_total = tpc[seg_end] - tpc[seg_start]
        self.recall[t, c0 + cats, a] = tp_total[cats].astype(np.float64) / ngt
        # first position in each category whose cumulative TP reaches kmin
        big = max(K, int(ngt.max())) + 2
        key = kc.astype(np.int64) * big + tp_cum
        q = cats[:, None].astype(np.int64) * big + kmin
        idx = np.searchsorted(key, q.reshape(-1), side='left').reshape(kmin.shape)
        end = seg_end[cats]
        in_rng = idx < end[:, None]
        # precision at idx = max of pr over [idx, end): block maxima, then a reverse running max
        bounds = np.concatenate([idx, end[:, None]], axis=1).reshape(-1)
        blocks = np.maximum.reduceat(pr, bounds).reshape(cats.size, R + 1)[:, :R]
        blocks = np.where(in_rng, blocks, 0.0)
        prec = np.maximum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1]
        self.precision[t, :, c0 + cats, a] = prec

    # ---- lvis-api's summary
    def summarize(self) -> Dict[str, float]:
        freq_groups = [np.flatnonzero(self.gt.cat_group == g).tolist() for g in range(3)]
        precision, recall = self.precision, self.recall

        def summ(kind, iou_thr=None, area='all', group=None):
            aidx = [AREA_LBL.index(area)]
            if kind == 'ap':
                s = precision
                if iou_thr is not None:
                    s = s[np.where(iou_thr == IOU_THRS)[0]]
                s = s[:, :, freq_groups[group], aidx] if group is not None else s[:, :, :, aidx]
            else:
                s = recall
                if iou_thr is not None:
                    s = s[np.where(iou_thr == IOU_THRS)[0]]
                s = s[:, :, aidx]
            valid = s[s > -1]
            return -1.0 if valid.size == 0 else float(np.mean(valid))

        return {'AP': summ('ap'), 'AP50': summ('ap', iou_thr=0.50),
                'AP75': summ('ap', iou_thr=0.75),
                'APs': summ('ap', area='small'), 'APm': summ('ap', area='medium'),
                'APl': summ('ap', area='large'), 'APr': summ('ap', group=0),
                'APc': summ('ap', group=1), 'APf': summ('ap', group=2),
                'AR@300': summ('ar'), 'ARs@300': summ('ar', area='small'),
                'ARm@300': summ('ar', area='medium'), 'ARl@300': summ('ar', area='large')}


def evaluate(gt: GroundTruth, results, iou_type: str, max_dets: int,
             chunk_dets: Optional[int] = None, processes: int = 1) -> Dict[str, float]:
    """lvis-api's metrics; ``processes`` 2 reads (results files) and evaluates in two processes,
    with the same numbers and errors as in one."""
    dets = load_detections(gt, results, iou_type, max_dets, processes)
    ev = _Evaluator(gt, dets, iou_type, chunk_dets or CHUNK_DETS)
    if processes > 1:
        ev.run_in_two_processes()
    else:
        ev.run()
    return ev.summarize()

"""backend='lvis': lvis-api 0.5.3's LVISEval, the cross-check reference.

Inputs are validated by :mod:`iif.evaluation.groundtruth` and :mod:`iif.evaluation.results` first
(lvis-api itself silently drops unknown categories and crashes on several malformed inputs).
lvis-api mutates the dicts it is given (adds 'area', 'id', 'ignore', converts segmentations), so
caller-owned dicts are shallow-copied first.

lvis-api's ``LVISResults`` raises IndexError on an empty result list; here an empty list (or
``max_dets=0``) is evaluated as "no detections": LVISEval then runs on an empty results set, which
gives precision and recall 0 for every category with ground truth (AP 0, or -1 for a group without
ground truth).
"""
from __future__ import annotations

import logging
import warnings
from typing import Dict

from .groundtruth import GroundTruth
from .results import load_result_list


def _lvis_gt(dataset: dict, owned: bool, iou_type: str):
    from lvis import LVIS

    if not owned:  # LVISEval writes 'ignore' and (segm) RLEs into the annotation dicts
        dataset = dict(dataset, annotations=[dict(a) for a in dataset['annotations']])
    gt = LVIS.__new__(LVIS)  # LVIS() only takes a path; build it from the parsed dict
    gt.logger = logging.getLogger('lvis.lvis')
    gt.dataset = dataset
    gt._create_index()
    return gt


def _empty_results(lvis_gt):
    from lvis import LVISResults

    dt = LVISResults.__new__(LVISResults)
    dt.logger = logging.getLogger('lvis.results')
    dt.dataset = dict(lvis_gt.dataset, annotations=[])
    dt._create_index()
    return dt


def _copy_for_lvis(r: dict) -> dict:
    r = dict(r)
    box = r.get('bbox')
    if box is not None and not isinstance(box, list):  # pycocotools' iou takes lists/arrays only
        r['bbox'] = [float(v) for v in box]
    return r


def evaluate(gt: GroundTruth, results, iou_type: str, max_dets: int,
             gt_owned: bool) -> Dict[str, float]:
    from lvis import LVISEval, LVISResults

    items, owned = load_result_list(results, gt, iou_type)
    if not owned:
        items = [_copy_for_lvis(r) for r in items]
    lvis_gt = _lvis_gt(gt.dataset, gt_owned, iou_type)
    if not items or max_dets == 0:
        lvis_dt = _empty_results(lvis_gt)
    else:
        quiet = logging.getLogger('lvis.results')  # silence "Assuming user provided the results..."
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', DeprecationWarning)
                lvis_dt = LVISResults(lvis_gt, items, max_dets=max_dets)
        finally:
            quiet.setLevel(level)
    del items
    ev = LVISEval(lvis_gt, lvis_dt, iou_type=iou_type)
    with warnings.catch_warnings():  # lvis-api's np.float and logger.warn deprecations
        warnings.simplefilter('ignore', DeprecationWarning)
        ev.run()
    res = ev.get_results()
    # lvis-api labels AR with Params.max_dets (300); keep those labels whatever max_dets is
    return {k: float(v) for k, v in res.items()}

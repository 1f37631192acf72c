"""backend='fast' (placeholder: delegates to lvis-api until the streaming evaluator lands)."""
from __future__ import annotations

from . import reference


def evaluate(gt, results, iou_type, max_dets):
    return reference.evaluate(gt, results, iou_type, max_dets, gt_owned=False)

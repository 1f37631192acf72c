"""Public entry points: evaluate_lvis, METRIC_NAMES, format_metrics_table."""
from __future__ import annotations

import gc
from typing import Dict, Mapping

from . import inputs

# lvis-api's result keys, in its order; AR is at max_dets detections per image
METRIC_NAMES = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf',
                'AR@300', 'ARs@300', 'ARm@300', 'ARl@300')
BACKENDS = ('fast', 'lvis')


def evaluate_lvis(gt, results, iou_type: str = 'bbox', backend: str = 'fast',
                  max_dets: int = 300) -> Dict[str, float]:
    """Evaluate LVIS detection or instance-segmentation results; lvis-api 0.5.3 semantics.

    Args:
        gt: path to an LVIS annotation JSON, an already-parsed dict, or an ``lvis.LVIS`` object
            (not modified).
        results: path to a results JSON, a list of such paths (per-rank shards, concatenated in
            the given order), or a list of result dicts ``{image_id, category_id, score,
            bbox [x, y, w, h] | segmentation (compressed RLE)}`` (not modified). An empty list
            means "no detections".
        iou_type: 'bbox' or 'segm'.
        backend: 'fast' (this package) or 'lvis' (lvis-api's LVISEval, the reference).
        max_dets: detections kept per image (highest scores; lvis-api's default 300); a
            negative value keeps all. The AR keys keep lvis-api's '@300' labels.

    Returns:
        ``{name: float}`` for every name in :data:`METRIC_NAMES`; -1 where lvis-api gives -1
        (no ground truth for the group).

    Raises:
        inputs.ResultsFormatError / inputs.GroundTruthFormatError (both ``ValueError``): malformed
        input, detected before any evaluation. FileNotFoundError: a missing file.
    """
    if iou_type not in inputs.IOU_TYPES:
        raise ValueError(f"iou_type must be 'bbox' or 'segm', not {iou_type!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be 'fast' or 'lvis', not {backend!r}")
    if isinstance(max_dets, bool) or not isinstance(max_dets, int):
        raise ValueError(f'max_dets must be an integer, not {max_dets!r}')
    paths, _ = inputs.result_sources(results)
    if paths is not None:
        inputs.check_files(paths)  # before spending time on the ground truth
    dataset, owned = inputs.load_gt_dataset(gt)
    gt_arrays = inputs.parse_gt(dataset, iou_type)
    if backend == 'lvis':
        from . import reference
        raw = reference.evaluate(gt_arrays, results, iou_type, max_dets, owned)
    else:
        from . import fast
        del dataset
        gt_arrays.dataset = None  # the fast backend needs only the arrays (and segm polygons)
        # millions of parsed dicts and lists would trigger the cyclic GC over and over (3x slower
        # parsing); the evaluator makes no reference cycles, so pause it for the duration
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            raw = fast.evaluate(gt_arrays, results, iou_type, max_dets)
        finally:
            if was_enabled:
                gc.enable()
    return {name: float(raw[name]) for name in METRIC_NAMES}


def format_metrics_table(metrics_by_iou_type: Mapping[str, Mapping[str, float]]) -> str:
    """A fixed-width table: one row per IoU type, one column per metric; '-' marks -1 (no GT)."""
    rows = [['iou'] + list(METRIC_NAMES)]
    for iou_type, metrics in metrics_by_iou_type.items():
        row = [str(iou_type)]
        for name in METRIC_NAMES:
            v = metrics.get(name)
            row.append('' if v is None else ('-' if float(v) == -1 else f'{float(v):.4f}'))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ['  '.join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    return '\n'.join(lines)

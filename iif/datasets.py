"""LVIS datasets whose evaluation uses the kit's evaluator (fast by default, lvis-api on request).

mmdet's LVIS datasets gather every result on one process and run lvis-api; these keep mmdet's
loading (LVIS v1 image paths from ``coco_url``, v0.5 from ``file_name``) and evaluate LVIS-format
result lists, in memory or as per-process shard files.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from mmdet.datasets import LVISV05Dataset, LVISV1Dataset
from mmdet.datasets.builder import DATASETS

from iif.evaluation import evaluate_lvis, format_metrics_table
from iif.metrics import IOU_TYPES

DEFAULT_BACKEND = 'fast'


def _xyxy_to_xywh(box: np.ndarray) -> List[float]:
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    return [x1, y1, x2 - x1, y2 - y1]


def detections_to_lvis(result, image_id: int, cat_ids: Sequence[int]
                       ) -> Tuple[List[dict], List[dict]]:
    """One image's mmdet result -> LVIS results-format dicts (bbox list, segm list).

    ``result`` is ``bbox_results`` or ``(bbox_results, segm_results)`` with one array/list per
    class; masks must already be RLE-encoded (``encode_mask_results``).
    """
    if isinstance(result, tuple):
        det, seg = result
        if isinstance(seg, tuple):  # (masks, mask_scores) from detectors with mask scoring
            seg, mask_scores = seg
        else:
            mask_scores = None
    else:
        det, seg, mask_scores = result, None, None
    bbox_out, segm_out = [], []
    for label, boxes in enumerate(det):
        category_id = cat_ids[label]
        for i, box in enumerate(boxes):
            entry = dict(image_id=image_id, category_id=category_id, bbox=_xyxy_to_xywh(box),
                         score=float(box[4]))
            bbox_out.append(entry)
            if seg is not None:
                rle = dict(seg[label][i])
                if isinstance(rle['counts'], bytes):
                    rle['counts'] = rle['counts'].decode()
                score = float(mask_scores[label][i]) if mask_scores is not None else entry['score']
                segm_out.append(dict(entry, score=score, segmentation=rle))
    return bbox_out, segm_out


def flatten_metrics(metrics_by_iou: Dict[str, Dict[str, float]]) -> Dict[str, float]:
    """{'bbox': {'AP': ..}} -> {'bbox_AP': ..}, mmdet's naming for logs and save_best."""
    return {f'{iou}_{k}': v for iou, metrics in metrics_by_iou.items() for k, v in metrics.items()}


class _KitLVISEvaluation:
    """Evaluation shared by the v1 and v0.5 datasets (mixed in before mmdet's class)."""

    def __init__(self, *args, eval_backend: str = DEFAULT_BACKEND, **kwargs):
        self.eval_backend = eval_backend
        super().__init__(*args, **kwargs)

    def results_to_lvis(self, results: Iterable, indices: Optional[Sequence[int]] = None
                        ) -> Tuple[List[dict], List[dict]]:
        indices = range(len(self)) if indices is None else indices
        bbox, segm = [], []
        for idx, result in zip(indices, results):
            b, s = detections_to_lvis(result, self.img_ids[idx], self.cat_ids)
            bbox += b
            segm += s
        return bbox, segm

    def evaluate_lvis_results(self, results_by_iou: Dict[str, object], logger=None,
                              backend: Optional[str] = None) -> Dict[str, Dict[str, float]]:
        """``results_by_iou`` maps 'bbox'/'segm' to a result list or a list of shard files."""
        backend = backend or self.eval_backend
        metrics = {}
        for iou_type, results in results_by_iou.items():
            metrics[iou_type] = evaluate_lvis(self.coco.dataset, results, iou_type=iou_type,
                                              backend=backend)
        table = format_metrics_table(metrics)
        if logger is not None and hasattr(logger, 'info'):
            logger.info(f'LVIS evaluation ({backend}):\n{table}')
        else:
            print(f'LVIS evaluation ({backend}):\n{table}', flush=True)
        return metrics

    def evaluate(self, results, metric=IOU_TYPES, logger=None, backend: Optional[str] = None,
                 **kwargs) -> Dict[str, float]:
        metrics = [metric] if isinstance(metric, str) else list(metric)
        unknown = [m for m in metrics if m not in IOU_TYPES]
        if unknown:
            raise KeyError(f'metric {unknown} is not supported: use {list(IOU_TYPES)}')
        bbox, segm = self.results_to_lvis(results)
        chosen = {k: v for k, v in (('bbox', bbox), ('segm', segm)) if k in metrics}
        return flatten_metrics(self.evaluate_lvis_results(chosen, logger, backend))


@DATASETS.register_module()
class IIFLVISV1Dataset(_KitLVISEvaluation, LVISV1Dataset):
    """mmdet's LVISV1Dataset evaluated by the kit's evaluator (``eval_backend``: fast | lvis)."""


@DATASETS.register_module()
class IIFLVISV05Dataset(_KitLVISEvaluation, LVISV05Dataset):
    """mmdet's LVISV05Dataset evaluated by the kit's evaluator (``eval_backend``: fast | lvis)."""


__all__ = ['IIFLVISV1Dataset', 'IIFLVISV05Dataset', 'detections_to_lvis', 'flatten_metrics']

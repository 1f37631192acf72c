"""LVIS evaluation: a fast, lean evaluator with lvis-api 0.5.3's numbers, and lvis-api itself.

    from iif.evaluation import evaluate_lvis, METRIC_NAMES, format_metrics_table
    metrics = evaluate_lvis('lvis_v1_val.json', 'results.segm.json', iou_type='segm')
"""
from .api import (BACKENDS, METRIC_NAMES, evaluate_lvis, evaluate_lvis_iou_types,
                  format_metrics_table)
from .common import IOU_TYPES, GroundTruthFormatError, ResultsFormatError
from .forked import WorkerFailed

__all__ = ['evaluate_lvis', 'evaluate_lvis_iou_types', 'METRIC_NAMES', 'format_metrics_table',
           'BACKENDS', 'IOU_TYPES', 'ResultsFormatError', 'GroundTruthFormatError',
           'WorkerFailed']

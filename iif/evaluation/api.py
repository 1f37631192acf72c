"""Public entry points: evaluate_lvis (one IoU type), evaluate_lvis_iou_types, the table."""
from __future__ import annotations

import gc
from typing import Dict, Mapping, Optional

from .common import IOU_TYPES
from .forked import Forked, fork_available, usable_cpus
from .groundtruth import load_gt_dataset, parse_gt
from .jsonstream import check_files, result_sources

# lvis-api's result keys, in its order; AR is at max_dets detections per image
METRIC_NAMES = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'APr', 'APc', 'APf',
                'AR@300', 'ARs@300', 'ARm@300', 'ARl@300')
BACKENDS = ('fast', 'lvis')


def evaluate_lvis(gt, results, iou_type: str = 'bbox', backend: str = 'fast',
                  max_dets: int = 300, processes: Optional[int] = None) -> Dict[str, float]:
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
        processes: backend 'fast' only: 2 reads result files and evaluates in two processes
            (this one and a forked helper; same numbers, same errors), 1 in this process only.
            Default: 2 where fork is available and this process may use 2 or more CPUs.

    Returns:
        ``{name: float}`` for every name in :data:`METRIC_NAMES`; -1 where lvis-api gives -1
        (no ground truth for the group).

    Raises:
        ResultsFormatError / GroundTruthFormatError (both ``ValueError``): malformed
        input, detected before any evaluation. FileNotFoundError: a missing file.
        WorkerFailed (a ``RuntimeError``): a helper process died (killed, out of memory).
    """
    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type must be 'bbox' or 'segm', not {iou_type!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be 'fast' or 'lvis', not {backend!r}")
    if isinstance(max_dets, bool) or not isinstance(max_dets, int):
        raise ValueError(f'max_dets must be an integer, not {max_dets!r}')
    processes = default_processes() if processes is None else _check_processes(processes)
    paths, _ = result_sources(results)
    if paths is not None:
        check_files(paths)  # before spending time on the ground truth
    dataset, owned = load_gt_dataset(gt)
    gt_arrays = parse_gt(dataset, iou_type)
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
            raw = fast.evaluate(gt_arrays, results, iou_type, max_dets,
                                processes=min(processes, 2))
        finally:
            if was_enabled:
                gc.enable()
    return {name: float(raw[name]) for name in METRIC_NAMES}


def default_processes() -> int:
    """2 where fork is available and this process may use two or more CPUs, else 1."""
    return 2 if fork_available() and usable_cpus() >= 2 else 1


def _check_processes(processes) -> int:
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ValueError(f'processes must be a whole number of at least 1, not {processes!r}')
    return processes if fork_available() else 1


def evaluate_lvis_iou_types(gt, results_by_iou: Mapping[str, object], backend: str = 'fast',
                            max_dets: int = 300, processes: Optional[int] = None
                            ) -> Dict[str, Dict[str, float]]:
    """Evaluate several IoU types (``{'bbox': results, 'segm': results}``), in parallel.

    Each IoU type is evaluated by :func:`evaluate_lvis` (same arguments, same numbers).
    ``processes``: how many processes to use in all. With 2 or more, the types after the first
    run in forked worker processes while this process evaluates the first; processes beyond one
    per type go to the fast backend's two-process evaluation of a type, segm first. 1: one type
    after the other in this process. Default: one more than the number of types where fork is
    available and this process may use 2 or more CPUs (bbox + segm: bbox in one process, segm
    in two), else 1 (:func:`process_plan`). Result files are checked to exist before anything
    starts; an input error of any type is raised here (the first IoU type's first) with its own
    class and message.

    Returns ``{iou_type: {name: float}}`` in the order of ``results_by_iou``.
    """
    ious = list(results_by_iou)
    bad = [t for t in ious if t not in IOU_TYPES]
    if bad:
        raise ValueError(f"IoU types must be 'bbox' or 'segm', not {bad}")
    for iou in ious:  # a missing file fails before any work, in either mode
        paths, _ = result_sources(results_by_iou[iou])
        if paths is not None:
            check_files(paths)
    plan = process_plan(ious, processes, backend)
    side_by_side = [iou for iou in ious[1:] if plan[iou] > 0]
    # forked (not spawned): the workers share an in-memory ground truth with this process and
    # need no re-import; they run numpy and pycocotools only, never torch
    workers = {}
    try:
        for iou in side_by_side:
            workers[iou] = Forked(f'the {iou} evaluation process', evaluate_lvis, gt,
                                  results_by_iou[iou], iou, backend, max_dets, plan[iou])
        metrics = {iou: evaluate_lvis(gt, results_by_iou[iou], iou, backend, max_dets,
                                      max(plan[iou], 1))
                   for iou in ious if iou not in workers}
        for iou, worker in workers.items():
            metrics[iou] = worker.result()
    finally:
        for worker in workers.values():  # this process failed first: stop the workers
            worker.stop()
    return {iou: metrics[iou] for iou in ious}


def process_plan(ious, processes: Optional[int] = None, backend: str = 'fast'
                 ) -> Dict[str, int]:
    """Processes per IoU type for :func:`evaluate_lvis_iou_types` (0: after the first type, in
    the calling process): one per type while there are processes left, then (fast backend) a
    second one per type, segm before bbox, as segm's evaluation takes about twice as long.

    ``processes`` None: one more than the number of types where fork is available and this
    process may use 2 or more CPUs, else 1.
    """
    if processes is None:
        processes = len(ious) + 1 if default_processes() > 1 else 1
    plan = {iou: 0 for iou in ious}
    left = _check_processes(processes)
    for iou in ious:
        if left:
            plan[iou], left = 1, left - 1
    if backend == 'fast':
        for iou in sorted(ious, key=lambda t: t != 'segm'):
            if left and plan[iou] == 1:
                plan[iou], left = 2, left - 1
    return plan


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

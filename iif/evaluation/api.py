"""Public entry points: evaluate_lvis (one IoU type), evaluate_lvis_iou_types, the table."""
from __future__ import annotations

import gc
import os
import traceback
from typing import Dict, Mapping, Optional

from .common import IOU_TYPES
from .groundtruth import load_gt_dataset, parse_gt
from .jsonstream import check_files, result_sources

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
        ResultsFormatError / GroundTruthFormatError (both ``ValueError``): malformed
        input, detected before any evaluation. FileNotFoundError: a missing file.
    """
    if iou_type not in IOU_TYPES:
        raise ValueError(f"iou_type must be 'bbox' or 'segm', not {iou_type!r}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be 'fast' or 'lvis', not {backend!r}")
    if isinstance(max_dets, bool) or not isinstance(max_dets, int):
        raise ValueError(f'max_dets must be an integer, not {max_dets!r}')
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
            raw = fast.evaluate(gt_arrays, results, iou_type, max_dets)
        finally:
            if was_enabled:
                gc.enable()
    return {name: float(raw[name]) for name in METRIC_NAMES}


def evaluate_lvis_iou_types(gt, results_by_iou: Mapping[str, object], backend: str = 'fast',
                            max_dets: int = 300, processes: Optional[int] = None
                            ) -> Dict[str, Dict[str, float]]:
    """Evaluate several IoU types (``{'bbox': results, 'segm': results}``), in parallel.

    Each IoU type is evaluated by :func:`evaluate_lvis` (same arguments, same numbers); with
    ``processes`` > 1 (default: one per IoU type, at most one per CPU) the types after the first
    run in forked worker processes while this process evaluates the first, so bbox + segm take
    about as long as segm alone on a machine with two free cores. Result files are checked to
    exist before anything starts; an input error of any type is raised here (the first IoU
    type's first) with its own class and message.

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
    if processes is None:
        processes = min(len(ious), os.cpu_count() or 1)
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise ValueError(f'processes must be a whole number of at least 1, not {processes!r}')
    import multiprocessing
    fork = 'fork' in multiprocessing.get_all_start_methods()
    if processes <= 1 or len(ious) <= 1 or not fork:
        return {iou: evaluate_lvis(gt, results_by_iou[iou], iou, backend, max_dets)
                for iou in ious}
    # fork (not spawn): the workers share an in-memory ground truth with this process and need
    # no re-import; they run numpy and pycocotools only, never torch
    ctx = multiprocessing.get_context('fork')
    workers = {}
    try:
        for k, iou in enumerate(ious[1:]):
            if k + 2 > processes:  # more types than processes: the rest run here, in order
                break
            receive, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, name=f'iif-eval-{iou}', daemon=True,
                               args=(send, gt, results_by_iou[iou], iou, backend, max_dets))
            proc.start()
            send.close()
            workers[iou] = (proc, receive)
        metrics = {iou: evaluate_lvis(gt, results_by_iou[iou], iou, backend, max_dets)
                   for iou in ious if iou not in workers}
        for iou, (proc, receive) in workers.items():
            metrics[iou] = _collect(iou, proc, receive)
    finally:
        for proc, receive in workers.values():
            if proc.is_alive():  # this process failed first: stop the workers
                proc.terminate()
            proc.join()
            receive.close()
    return {iou: metrics[iou] for iou in ious}


class _WorkerFailed(RuntimeError):
    """A worker process's evaluation raised something other than an input error (a bug)."""


def _worker(send, gt, results, iou_type, backend, max_dets) -> None:
    try:
        reply = ('ok', evaluate_lvis(gt, results, iou_type, backend, max_dets))
    except (ValueError, OSError) as e:  # input errors: re-raised as they are by the parent
        reply = ('error', e, traceback.format_exc())
    except BaseException as e:  # noqa: BLE001 - reported to the parent with its traceback
        reply = ('error', None, f'{type(e).__name__}: {e}\n{traceback.format_exc()}')
    try:
        send.send(reply)
    except Exception:  # noqa: BLE001 - an exception that does not pickle: send its text
        send.send(('error', None, reply[2]))
    send.close()


def _collect(iou_type: str, proc, receive) -> Dict[str, float]:
    try:
        reply = receive.recv()
    except EOFError:
        proc.join()
        raise _WorkerFailed(f'the {iou_type} evaluation process ended without a result '
                            f'(exit code {proc.exitcode}; out of memory?)') from None
    if reply[0] == 'ok':
        return reply[1]
    if reply[1] is not None:
        raise reply[1]
    raise _WorkerFailed(f'{iou_type} evaluation failed in its worker process:\n{reply[2]}')


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

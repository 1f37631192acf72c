"""iif eval: evaluate LVIS detection / segmentation results (fast evaluator or lvis-api)."""
from __future__ import annotations

import json
import os
import time

HELP = 'evaluate LVIS results (bbox and/or segm): AP, AP50, AP75, APs/m/l, APr/c/f, AR'


def _positive_int(text: str) -> int:
    import argparse
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f'expected a whole number of at least 1, not {text!r}')
    return value


def add_arguments(parser) -> None:
    parser.add_argument('--gt', required=True, metavar='ANN.json',
                        help='LVIS annotation file (e.g. lvis_v1_val.json)')
    parser.add_argument('--dt', required=True, nargs='+', metavar='RESULTS.json',
                        help='results JSON in LVIS/COCO results format; several files are '
                             'per-rank shards, concatenated in the given order. "{iou}" in a '
                             'name is replaced by the IoU type (results.{iou}.json)')
    from iif.metrics import IOU_TYPES

    parser.add_argument('--iou', action='append', choices=IOU_TYPES,
                        help='IoU type to evaluate; repeat for both (default: bbox)')
    parser.add_argument('--backend', choices=('fast', 'lvis'), default='fast',
                        help="'fast' (default) or 'lvis' (lvis-api's LVISEval, the reference)")
    parser.add_argument('--max-dets', type=int, default=300, metavar='N',
                        help='detections kept per image, highest scores first (default 300)')
    parser.add_argument('--processes', type=_positive_int, metavar='N',
                        help='processes to use in all: one per IoU type (side by side), then a '
                             'second one for a type (fast backend: it reads and evaluates in '
                             'two processes; segm first). Same numbers with any N. Default: '
                             'number of IoU types + 1 on a machine with 2 or more CPUs (bbox in '
                             'one process, segm in two), else 1; 1 = everything in this process, '
                             'one type after the other. See docs/evaluation.md')
    parser.add_argument('--out', metavar='metrics.json', help='write the metrics to this JSON')


def run(args) -> int:
    from iif.evaluation import evaluate_lvis_iou_types, format_metrics_table

    ious = list(dict.fromkeys(args.iou or ['bbox']))
    files = {iou: [p.replace('{iou}', iou) for p in args.dt] for iou in ious}
    t = time.perf_counter()
    metrics = evaluate_lvis_iou_types(
        args.gt, {iou: dts if len(dts) > 1 else dts[0] for iou, dts in files.items()},
        backend=args.backend, max_dets=args.max_dets, processes=args.processes)
    seconds = round(time.perf_counter() - t, 3)
    print(format_metrics_table(metrics))
    print(f'({args.backend} backend: {" + ".join(ious)} in {seconds:.1f} s)')
    if args.out:
        out_dir = os.path.dirname(os.path.abspath(args.out))
        os.makedirs(out_dir, exist_ok=True)
        report = {'metrics': metrics, 'backend': args.backend, 'gt': args.gt, 'results': files,
                  'max_dets': args.max_dets, 'seconds': seconds}
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
        print(f'wrote {args.out}')
    return 0

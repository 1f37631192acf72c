#!/usr/bin/env python
"""Benchmark LVIS evaluation backends on a deterministic LVIS-shaped workload.

    python benchmarks/lvis_eval.py --images 10000 --iou both --backends fast,lvis
    python benchmarks/lvis_eval.py --images 19809 --iou both --backends fast
    python benchmarks/lvis_eval.py --workload dense --images 1000 --iou bbox

Writes (once per size and seed, reused afterwards) an LVIS-format ground truth with polygons,
1203 r/c/f categories, negative and not-exhaustive ids, and bbox and segm result files with up to
300 scored detections per image (some images have more), then evaluates each (backend, iou type)
in a fresh child process and prints wall time, CPU time and peak RSS (the child's rusage from
wait4; the evaluators are single-process), every metric and the largest absolute difference
between backends. On a shared machine CPU time is the steadier number.

``--workload dense`` is the crowded case instead: every image holds 60 objects of one category
and 300 detections of it (jittered copies), so each detection pairs with 60 ground-truth objects;
compare the backends' peak memory there.

With ``--iou both`` and the fast backend, bbox and segm are also evaluated together as ``iif eval
--iou bbox --iou segm`` does it (:func:`iif.evaluation.evaluate_lvis_iou_types`); that run is the
one the full-val goal (bbox + segm under 60 s wall on 2 cores) is checked against. Its CPU time is
the sum over all its processes.

``--processes N`` is passed on as ``iif eval --processes`` takes it: processes in all; a single
IoU type evaluated alone gets min(N, 2) with the fast backend. Default: the library's default
(2 per type alone; bbox + segm together: 3, bbox in one process and segm in two, on a machine
with 2 or more CPUs). ``--processes 1`` is the one-process path. The processes each run used are
printed per IoU type.

Times are given twice: for the whole child process (interpreter start and imports included) and
for the evaluation call alone ("eval"), measured inside the child (CPU of its helper processes
included). The workload generator is ``benchmarks/lvis_workload.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

sys.path.insert(0, ROOT)  # this checkout's iif, also when it is not installed

import lvis_workload  # noqa: E402  (next to this script)

from iif.evaluation import METRIC_NAMES  # noqa: E402

CHILD = r'''
import json, resource, sys, time
root, gt, out, backend, processes = sys.argv[1:6]
dts = dict(zip(sys.argv[6::2], sys.argv[7::2]))
sys.path.insert(0, root)
from iif.evaluation import evaluate_lvis, evaluate_lvis_iou_types
from iif.evaluation.api import process_plan
processes = None if processes == 'default' else int(processes)
plan = process_plan(list(dts), processes, backend)


def cpu():
    own, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


t, (c, k) = time.perf_counter(), cpu()
if len(dts) == 1:
    (iou, dt), = dts.items()
    m = {iou: evaluate_lvis(gt, dt, iou_type=iou, backend=backend, processes=plan[iou])}
else:
    m = evaluate_lvis_iou_types(gt, dts, backend=backend, processes=processes)
with open(out, 'w') as f:
    wall, (c1, k1) = time.perf_counter() - t, cpu()
    # with two IoU types, the first is evaluated in this process, the second in a child process
    json.dump({'metrics': m, 'eval_wall_s': wall, 'eval_cpu_s': c1 - c + k1 - k,
               'eval_cpu_self_s': c1 - c, 'eval_cpu_children_s': k1 - k,
               'processes': plan}, f)
'''


def make_workload(workdir: str, images: int, seed: int, ious, workload: str = 'lvis') -> dict:
    """Write gt.json and dt_<iou>.json under workdir/<workload>_<images>_s<seed> unless present."""
    syn = lvis_workload
    d = os.path.join(workdir, f'{workload}_{images}_s{seed}_v{syn.VERSION}')
    os.makedirs(d, exist_ok=True)
    paths = {'gt': os.path.join(d, 'gt.json')}
    gt = None
    dense = workload == 'dense'
    if not os.path.exists(paths['gt']):
        t = time.perf_counter()
        make = syn.generate_dense_gt if dense else syn.generate_gt
        gt = make(images, seed=seed)
        syn.write_json(paths['gt'], gt)
        print(f'wrote {paths["gt"]}: {len(gt["images"])} images, {len(gt["annotations"])} '
              f'annotations ({time.perf_counter() - t:.0f} s)', flush=True)
    for iou in ious:
        p = os.path.join(d, f'dt_{iou}.json')
        paths[iou] = p
        if os.path.exists(p):
            continue
        if gt is None:
            import orjson
            with open(paths['gt'], 'rb') as f:
                gt = orjson.loads(f.read())
        t = time.perf_counter()
        parts = (syn.iter_dense_results(gt, iou, seed=seed) if dense
                 else syn.iter_image_results(gt, iou, seed=seed))
        n = syn.write_json_list(p, parts)
        print(f'wrote {p}: {n} results, {os.path.getsize(p) / 1e6:.0f} MB '
              f'({time.perf_counter() - t:.0f} s)', flush=True)
    return paths


def run_child(gt: str, dts: dict, backend: str, out: str, processes: str = 'default') -> dict:
    """Evaluate ``{iou: results}`` in a child process: wall, CPU (its workers included), peak RSS.

    Peak RSS is the largest of the child and its workers (rusage), not their sum.
    """
    t = time.perf_counter()
    args = [a for iou, dt in dts.items() for a in (iou, dt)]
    proc = subprocess.Popen([sys.executable, '-c', CHILD, ROOT, gt, out, backend, str(processes)]
                            + args)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f'{backend} {"+".join(dts)} evaluation failed (exit {proc.returncode})')
    with open(out) as f:
        res = json.load(f)
    res.update(wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime,
               peak_rss_gb=usage.ru_maxrss * 1024 / 1e9)  # ru_maxrss is in KiB
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--images', type=int, default=2000)
    p.add_argument('--iou', choices=('bbox', 'segm', 'both'), default='both')
    p.add_argument('--backends', default='fast,lvis', help='comma-separated: fast,lvis')
    p.add_argument('--workdir', default=os.path.join(tempfile.gettempdir(), 'iif_bench_lvis_eval'),
                   help='where the generated workload is written and reused')
    p.add_argument('--workload', choices=('lvis', 'dense'), default='lvis',
                   help="'lvis': LVIS-shaped data; 'dense': 60 objects of one category per image "
                        'and 300 detections of it')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--processes', type=int, metavar='N',
                   help="processes in all, as 'iif eval --processes' (default: the library's)")
    p.add_argument('--out', help='write all numbers to this JSON file')
    args = p.parse_args(argv)
    metric_names = METRIC_NAMES
    ious = ('bbox', 'segm') if args.iou == 'both' else (args.iou,)
    backends = [b.strip() for b in args.backends.split(',') if b.strip()]
    bad = [b for b in backends if b not in ('fast', 'lvis')]
    if bad:
        p.error(f'unknown backend(s) {bad}')
    paths = make_workload(args.workdir, args.images, args.seed, ious, args.workload)
    report = {'workload': args.workload, 'images': args.images, 'seed': args.seed,
              'cpus': os.cpu_count(), 'load_average': os.getloadavg(), 'runs': {}}
    processes = 'default' if args.processes is None else str(args.processes)
    for iou in ious:
        for backend in backends:
            out = os.path.join(os.path.dirname(paths['gt']), f'metrics_{iou}_{backend}.json')
            print(f'evaluating {iou} with {backend} ...', flush=True)
            res = run_child(paths['gt'], {iou: paths[iou]}, backend, out, processes)
            res['metrics'] = res['metrics'][iou]
            report['runs'][f'{iou}/{backend}'] = res
    together = len(ious) == 2 and 'fast' in backends
    if together:
        print('evaluating bbox + segm with fast, together ...', flush=True)
        out = os.path.join(os.path.dirname(paths['gt']), 'metrics_both_fast.json')
        res = run_child(paths['gt'], {iou: paths[iou] for iou in ious}, 'fast', out, processes)
        report['runs']['bbox+segm/fast/together'] = res
    shape = ('dense: 60 objects of one category and 300 detections of it per image'
             if args.workload == 'dense' else 'LVIS-shaped, 1203 categories')
    print(f'\nLVIS evaluation benchmark: {args.images} images ({shape}), '
          f'{os.cpu_count()} CPUs, python {sys.version.split()[0]}, load average at start '
          + ' '.join(f'{v:.2f}' for v in report['load_average']))
    for iou in ious:
        runs = {b: report['runs'][f'{iou}/{b}'] for b in backends}
        col = 14
        print(f'\n[{iou}]  results: {os.path.getsize(paths[iou]) / 1e6:.0f} MB')
        print('metric'.ljust(12) + ''.join(b.rjust(col) for b in backends)
              + ('  max |diff|' if len(backends) > 1 else ''))
        # (label, value of one backend's run, format); with 2 processes the "cpu here" and
        # "cpu helper" rows split the evaluation's CPU between the calling process and its helper
        rows = [('wall s', lambda r: r['wall_s'], '.1f'),
                ('cpu s', lambda r: r['cpu_s'], '.1f'),
                ('eval wall s', lambda r: r['eval_wall_s'], '.1f'),
                ('eval cpu s', lambda r: r['eval_cpu_s'], '.1f'),
                ('peak RSS GB', lambda r: r['peak_rss_gb'], '.2f'),
                ('processes', lambda r, iou=iou: r['processes'][iou], 'd'),
                ('cpu here s', lambda r: r['eval_cpu_self_s'], '.1f'),
                ('cpu helper s', lambda r: r['eval_cpu_children_s'], '.1f')]
        for label, value, fmt in rows:
            print(label.ljust(12) + ''.join(f'{value(runs[b]):{col}{fmt}}' for b in backends))
        if len(backends) > 1 and 'lvis' in backends and 'fast' in backends:
            f, l_ = runs['fast'], runs['lvis']
            print('speed-up'.ljust(12) + f'{l_["wall_s"] / f["wall_s"]:{col}.1f}x'
                  + f'  (cpu {l_["cpu_s"] / f["cpu_s"]:.1f}x; eval cpu '
                  f'{l_["eval_cpu_s"] / f["eval_cpu_s"]:.1f}x; peak memory '
                  f'{f["peak_rss_gb"] / l_["peak_rss_gb"]:.0%} of lvis-api)')
            report['runs'][f'{iou}/speedup_cpu'] = l_['cpu_s'] / f['cpu_s']
        worst = 0.0
        for name in metric_names:
            vals = [runs[b]['metrics'][name] for b in backends]
            diff = max(vals) - min(vals)
            worst = max(worst, diff)
            print(name.ljust(12) + ''.join(f'{v:{col}.6f}' for v in vals)
                  + (f'  {diff:.1e}' if len(backends) > 1 else ''))
        if len(backends) > 1:
            print(f'largest absolute metric difference: {worst:.3g}')
            report['runs'][f'{iou}/max_abs_diff'] = worst
    if len(ious) == 2:
        print()
        for b in backends:
            wall = sum(report['runs'][f'{iou}/{b}']['wall_s'] for iou in ious)
            cpu = sum(report['runs'][f'{iou}/{b}']['cpu_s'] for iou in ious)
            print(f'bbox + segm with {b}, one after the other: {wall:.1f} s wall, {cpu:.1f} s CPU')
            report[f'bbox+segm/{b}'] = {'wall_s': wall, 'cpu_s': cpu}
    if together:
        r = report['runs']['bbox+segm/fast/together']
        same = all(r['metrics'][iou] == report['runs'][f'{iou}/fast']['metrics'] for iou in ious)
        plan = ', '.join(f'{k} {v}' if v else f'{k} after {ious[0]} in the same process'
                         for k, v in r['processes'].items())
        print(f'bbox + segm with fast, together (processes: {plan}): '
              f'{r["wall_s"]:.1f} s wall, {r["cpu_s"]:.1f} s CPU (evaluation call: '
              f'{r["eval_wall_s"]:.1f} s wall, {r["eval_cpu_s"]:.1f} s CPU: '
              f'{r["eval_cpu_self_s"]:.1f} s in the calling process, '
              f'{r["eval_cpu_children_s"]:.1f} s in its children), peak RSS '
              f'{r["peak_rss_gb"]:.2f} GB; metrics {"identical to" if same else "DIFFER FROM"} '
              'the separate runs')
        if not same:
            return 1
    print('load average at the end: ' + ' '.join(f'{v:.2f}' for v in os.getloadavg()))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())

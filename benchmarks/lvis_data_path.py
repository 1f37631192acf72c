"""The kit's data path on a synthetic LVIS v1 of the real size: time and host memory per step.

    PYTHONPATH=$PWD IIF_DEVICE=cpu python benchmarks/lvis_data_path.py            # full size
    PYTHONPATH=$PWD IIF_DEVICE=cpu python benchmarks/lvis_data_path.py --fraction 0.01 \\
        --iters 6 --test-images 200                                             # CI smoke

Every step runs in its own child process (as a user's command would); the parent samples the
proportional set size (PSS, /proc/<pid>/smaps_rollup) of the child and all its descendants
(DataLoader workers included) a few times a second, and reads the child's peak RSS from
wait4(). Steps:

  verify      iif data verify --level full
  weights     iif weights --ann <train> --compare lvis_v1 (equal to the bundled table?)
  build       the train dataset of configs/iif/iif_r50_fpn_rfs_4x4_1x_lvis_v1.py (RFS 1e-3)
  prechecks   the test command's pre-checks (config and data checks)
  loader      P processes x W workers iterate the train DataLoader (real pipeline) for N
              iterations; images/s, and each process's PSS (with its workers) over time
  shards      P shard files of LVIS-format detections for the val images written as the
              sharded test writes them, then evaluated from the shards

``--impl mmdet`` measures mmdet's original annotation path (``compact_annotations=False``),
``--impl compact`` the kit's default, ``--impl both`` both (build and loader rows).
Prints a table and, with --json, writes every number (PSS series included). CPU only.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / 'configs' / 'iif' / 'iif_r50_fpn_rfs_4x4_1x_lvis_v1.py'
GB = 1024 ** 3


# ---------------------------------------------------------------- memory sampling (parent)
def _children(pid: int) -> List[int]:
    out = []
    try:
        for task in os.listdir(f'/proc/{pid}/task'):
            with open(f'/proc/{pid}/task/{task}/children') as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def tree_pids(pid: int) -> List[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += _children(p)
    return pids


def hwm_bytes(pid: int) -> int:
    """Peak RSS of one process since its exec (VmHWM; 0 if it is gone). wait4()'s ru_maxrss
    would also count the benchmark's own pages, inherited at fork before the exec."""
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pss_bytes(pid: int) -> int:
    """PSS of one process in bytes (0 if it is gone)."""
    try:
        with open(f'/proc/{pid}/smaps_rollup') as f:
            for line in f:
                if line.startswith('Pss:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class TreeSampler(threading.Thread):
    """Samples the summed PSS of each watched process and its descendants."""

    def __init__(self, pids: List[int], interval: float = 0.25):
        super().__init__(daemon=True)
        self.pids, self.interval = pids, interval
        self.t0 = time.time()
        self.series: Dict[int, List[tuple]] = {p: [] for p in pids}
        self.hwm: Dict[int, int] = {p: 0 for p in pids}
        self._halt = threading.Event()

    def add(self, pid: int) -> None:
        self.series[pid], self.hwm[pid] = [], 0
        self.pids = self.pids + [pid]

    def run(self):
        while not self._halt.is_set():
            t = round(time.time() - self.t0, 2)
            for p in self.pids:
                members = tree_pids(p)
                self.series[p].append((t, sum(pss_bytes(m) for m in members), len(members)))
                self.hwm[p] = max(self.hwm[p], hwm_bytes(p))
            self._halt.wait(self.interval)

    def stop(self):
        self._halt.set()
        self.join()

    def peak(self, pid: int) -> int:
        return max((s[1] for s in self.series[pid]), default=0)


def run_measured(cmd: List[str], env: dict, log: Path, timeout: float) -> dict:
    """Run one step; return rc, seconds, CPU seconds, peak RSS (the child itself, sampled) and
    peak PSS (the child with its descendants)."""
    t0 = time.time()
    with open(log, 'w') as out:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        sampler = TreeSampler([proc.pid])
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.time() - t0
    if seconds > timeout:
        print(f'warning: {cmd[2:4]} took {seconds:.0f} s', file=sys.stderr)
    return dict(rc=proc.returncode, seconds=round(seconds, 2),
                cpu_seconds=round(usage.ru_utime + usage.ru_stime, 2),
                peak_rss_gb=round(sampler.hwm[proc.pid] / GB, 3),
                peak_pss_gb=round(sampler.peak(proc.pid) / GB, 3), log=str(log))


# ---------------------------------------------------------------- steps run in a child
def _train_cfg(root: str, impl: str):
    from mmcv import Config
    cfg = Config.fromfile(str(CONFIG))
    inner = cfg.data.train.dataset
    inner.ann_file = f'{root}/annotations/lvis_v1_train.json'
    inner.img_prefix = f'{root}/'
    inner.compact_annotations = impl == 'compact'
    return cfg


def step_build(root: str, impl: str) -> None:
    import iif.datasets  # noqa: F401 - registers the kit's datasets
    from mmdet.datasets import build_dataset
    cfg = _train_cfg(root, impl)
    t0 = time.time()
    dataset = build_dataset(cfg.data.train)
    print(json.dumps(dict(build_seconds=round(time.time() - t0, 2), length=len(dataset),
                          images=len(dataset.dataset))), flush=True)


def step_prechecks(root: str) -> None:
    from mmcv import Config
    from iif.engine.preflight import check_config, check_data
    t0 = time.time()
    check_config(str(CONFIG))
    cfg = Config.fromfile(str(CONFIG))
    cfg.data.test.ann_file = f'{root}/annotations/lvis_v1_val.json'
    cfg.data.test.img_prefix = f'{root}/'
    check_data([cfg.data.test])
    print(json.dumps(dict(precheck_seconds=round(time.time() - t0, 2))), flush=True)


def step_loader(root: str, impl: str, iters: int, workers: int, batch: int, seed: int,
                default_malloc: bool = False) -> None:
    import torch
    import iif.datasets  # noqa: F401
    from mmdet.datasets import build_dataloader, build_dataset
    torch.set_num_threads(1)
    if not default_malloc:  # as `iif train` / `iif test` do (iif/hostmem.py)
        from iif.hostmem import fix_mmap_threshold
        fix_mmap_threshold()
    cfg = _train_cfg(root, impl)
    t0 = time.time()
    dataset = build_dataset(cfg.data.train)
    built = time.time()
    loader = build_dataloader(dataset, samples_per_gpu=batch, workers_per_gpu=workers,
                              dist=False, shuffle=True, seed=seed, persistent_workers=True)
    print(json.dumps(dict(event='built', t=round(built - t0, 2))), flush=True)
    images = 0
    first = None
    for n, data in enumerate(loader):
        images += len(data['img'].data[0])
        now = time.time()
        if n == 0:
            first = now
        print(json.dumps(dict(event='iter', n=n, t=round(now - t0, 2), wall=now)), flush=True)
        if n + 1 >= iters:
            break
    end = time.time()
    rate = (images - batch) / (end - first) if iters > 1 and end > first else 0.0
    print(json.dumps(dict(event='done', images=images, images_per_s=round(rate, 3),
                          build_seconds=round(built - t0, 2))), flush=True)


def step_shards(root: str, procs: int, dets_per_image: int, test_images: Optional[int],
                out_dir: str, seed: int) -> None:
    import numpy as np
    import pycocotools.mask as mask_util
    import iif.datasets  # noqa: F401
    from mmdet.datasets import build_dataset
    from iif.engine.inference import _dump_json, shard_indices
    from mmcv import Config
    cfg = Config.fromfile(str(CONFIG))
    cfg.data.test.ann_file = f'{root}/annotations/lvis_v1_val.json'
    cfg.data.test.img_prefix = f'{root}/'
    t0 = time.time()
    dataset = build_dataset(cfg.data.test)
    n = len(dataset) if test_images is None else min(test_images, len(dataset))
    rng = np.random.default_rng(seed)
    t_build = time.time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shards = {'bbox': [], 'segm': []}
    num_dets = 0
    for rank in range(procs):  # what each rank writes, one after the other here
        bbox, segm = [], []
        for idx in shard_indices(n, rank, procs):
            info = dataset.data_infos[idx]
            w, h = info['width'], info['height']
            for _ in range(dets_per_image):
                x0, y0 = rng.uniform(0, w - 8), rng.uniform(0, h - 8)
                bw, bh = rng.uniform(4, w - x0), rng.uniform(4, h - y0)
                cat = int(dataset.cat_ids[rng.integers(len(dataset.cat_ids))])
                entry = dict(image_id=dataset.img_ids[idx], category_id=cat,
                             bbox=[x0, y0, bw, bh], score=float(rng.random()))
                rle = mask_util.frPyObjects([[x0, y0, x0 + bw, y0, x0 + bw, y0 + bh, x0,
                                              y0 + bh]], h, w)[0]
                rle['counts'] = rle['counts'].decode()
                bbox.append(entry)
                segm.append(dict(entry, segmentation=rle))
        num_dets += len(bbox)
        for iou, dets in (('bbox', bbox), ('segm', segm)):
            path = out / f'{iou}.rank{rank}.json'
            _dump_json(dets, path)
            shards[iou].append(str(path))
        del bbox, segm
    t_write = time.time()
    if test_images is not None and n < len(dataset):
        # evaluate on the images that have detections only (a reduced run)
        from iif.weights import load_json
        gt = load_json(cfg.data.test.ann_file)
        keep = set(dataset.img_ids[:n])
        gt['images'] = [i for i in gt['images'] if i['id'] in keep]
        gt['annotations'] = [a for a in gt['annotations'] if a['image_id'] in keep]
        gt_path = out / 'gt_subset.json'
        gt_path.write_text(json.dumps(gt))
        if dataset.compact_annotations:  # the evaluator reads the ground truth from this file
            dataset._gt_path = str(gt_path)
        else:
            dataset.coco = __import__('lvis').LVIS(str(gt_path))
    t_gt = time.time()
    metrics = dataset.evaluate_lvis_results(shards)
    t_eval = time.time()
    print(json.dumps(dict(images=n, detections=num_dets, build_seconds=round(t_build - t0, 2),
                          write_seconds=round(t_write - t_build, 2),
                          eval_seconds=round(t_eval - t_gt, 2),
                          segm_AP=metrics['segm']['AP'], bbox_AP=metrics['bbox']['AP'])),
          flush=True)


# ---------------------------------------------------------------- the parent
def _last_json(log: Path) -> dict:
    for line in reversed(Path(log).read_text().splitlines()):
        if line.startswith('{'):
            return json.loads(line)
    return {}


def _child(args, *step: str) -> List[str]:
    return [sys.executable, str(Path(__file__).resolve()), '--step', *step, '--root', args.root]


def measure_loader(args, impl: str, work: Path, env: dict) -> dict:
    """P loader processes at once; PSS of each (with its workers) sampled over time."""
    procs, logs = [], []
    t0 = time.time()
    sampler = TreeSampler([], interval=0.25)
    sampler.start()
    for r in range(args.procs):
        log = work / f'loader_{impl}_{r}.log'
        logs.append(log)
        cmd = _child(args, 'loader', impl) + ['--iters', str(args.iters), '--workers',
                                             str(args.workers), '--batch', str(args.batch),
                                             '--seed', str(r)]
        if args.default_malloc:
            cmd.append('--default-malloc')
        procs.append(subprocess.Popen(cmd, env=env, cwd=REPO, stdout=open(log, 'w'),
                                      stderr=subprocess.STDOUT))
        sampler.add(procs[-1].pid)
        while args.stagger and procs[-1].poll() is None and '"built"' not in log.read_text():
            time.sleep(0.5)  # the next process starts once this one holds its dataset
    peaks_rss, rcs, cpu = [], [], []
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        rcs.append(os.waitstatus_to_exitcode(status))
        peaks_rss.append(sampler.hwm[p.pid] / GB)
        cpu.append(usage.ru_utime + usage.ru_stime)  # with its (reaped) workers
    sampler.stop()
    seconds = time.time() - t0
    per_proc = []
    for p, log, rss, cpu_s in zip(procs, logs, peaks_rss, cpu):
        events = [json.loads(x) for x in log.read_text().splitlines() if x.startswith('{')]
        done = next((e for e in events if e.get('event') == 'done'), {})
        iters = [e for e in events if e.get('event') == 'iter']
        series = sampler.series[p.pid]
        # warm-up: the first quarter of the iterations (at most 5); growth is measured from
        # there to the last sample with every worker alive (before the shutdown)
        warm = iters[min(5, len(iters) // 4)]['wall'] - sampler.t0 if iters else 0.0
        last = iters[-1]['wall'] - sampler.t0 if iters else float('inf')
        # (a sample taken while the process exits reads some members as 0: stop at the last
        # iteration)
        full = [s for s in series if s[2] == 1 + args.workers and s[0] <= last]
        after = [s for s in full if s[0] >= warm] or full[-1:]
        pss_first = after[0][1] / GB if after else 0.0
        pss_last = after[-1][1] / GB if after else 0.0
        per_proc.append(dict(images_per_s=done.get('images_per_s', 0.0),
                             cpu_seconds=round(cpu_s, 2), build_seconds=done.get('build_seconds'),
                             peak_rss_gb=round(rss, 3),
                             peak_pss_gb=round(sampler.peak(p.pid) / GB, 3),
                             pss_after_warmup_gb=round(pss_first, 3),
                             pss_end_gb=round(pss_last, 3),
                             series=[(t, round(b / GB, 3), n) for t, b, n in series],
                             log=str(log)))
    return dict(rc=max(rcs), seconds=round(seconds, 2), processes=per_proc,
                images_per_s=round(sum(p['images_per_s'] for p in per_proc), 3))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--root', default=None, help='synthetic LVIS v1 tree (generated if absent; '
                    'default data/lvis_v1_synthetic[_FRACTION])')
    ap.add_argument('--fraction', type=float, default=1.0, help='size relative to LVIS v1')
    ap.add_argument('--impl', choices=('compact', 'mmdet', 'both'), default='compact')
    ap.add_argument('--steps', nargs='+', default=['verify', 'weights', 'build', 'prechecks',
                                                   'loader', 'shards'])
    ap.add_argument('--procs', type=int, default=2, help='training processes (default 2)')
    ap.add_argument('--workers', type=int, default=2, help='DataLoader workers per process')
    ap.add_argument('--batch', type=int, default=2, help='images per iteration per process')
    ap.add_argument('--iters', type=int, default=40, help='loader iterations per process')
    ap.add_argument('--test-images', type=int, default=None,
                    help='val images with detections (default: all)')
    ap.add_argument('--dets-per-image', type=int, default=20)
    ap.add_argument('--stagger', action='store_true',
                    help='start each loader process once the previous one has built its '
                         'dataset (bounds the peak of the parse on a shared machine)')
    ap.add_argument('--default-malloc', action='store_true',
                    help="loader without the kit's fixed glibc mmap threshold (iif/hostmem.py), "
                         'as before 2026-11-29')
    ap.add_argument('--json', default=None, help='write every number here')
    ap.add_argument('--step', nargs='+', default=None, help=argparse.SUPPRESS)
    ap.add_argument('--seed', type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument('--out-dir', default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    from iif.scale_data import default_root, generate_lvis_scale
    args.root = str(Path(args.root or default_root(args.fraction)).resolve())
    if args.step:  # inside a child
        name = args.step[0]
        if name == 'build':
            step_build(args.root, args.step[1])
        elif name == 'prechecks':
            step_prechecks(args.root)
        elif name == 'loader':
            step_loader(args.root, args.step[1], args.iters, args.workers, args.batch, args.seed,
                        args.default_malloc)
        elif name == 'shards':
            step_shards(args.root, args.procs, args.dets_per_image, args.test_images,
                        args.out_dir, args.seed)
        return 0

    t0 = time.time()
    generate_lvis_scale(args.root, fraction=args.fraction)
    gen_seconds = time.time() - t0
    env = dict(os.environ, IIF_DEVICE='cpu', PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')
    impls = ['mmdet', 'compact'] if args.impl == 'both' else [args.impl]
    train = f'{args.root}/annotations/lvis_v1_train.json'
    full_size = args.fraction == 1.0
    rows, record = [], dict(root=args.root, fraction=args.fraction, date=time.strftime(
        '%Y-%m-%d %H:%M UTC', time.gmtime()), machine=f'{platform.node()} {os.cpu_count()} CPUs',
        load=os.getloadavg(), generate_seconds=round(gen_seconds, 2), steps={})
    # the `iif` console script, from this tree
    iif = [sys.executable, '-c', 'import sys; from iif.cli import main; sys.exit(main())']
    with tempfile.TemporaryDirectory(prefix='iif_datapath_') as tmp:
        work = Path(tmp)
        for step in args.steps:
            if step == 'verify':
                cmd = iif + ['data', 'verify', '--root', args.root, '--level', 'full']
                if not full_size:
                    cmd.append('--no-expect-counts')
                r = run_measured(cmd, env, work / 'verify.log', 3600)
                rows.append(('verify --level full', r, 'OK' if r['rc'] == 0 else 'FAILED'))
            elif step == 'weights':
                cmd = iif + ['weights', '--ann', train, '--out', str(work / 'w.csv'),
                             '--compare', 'lvis_v1']
                r = run_measured(cmd, env, work / 'weights.log', 3600)
                # the counts match the bundled table at full size only
                same = r['rc'] == 0
                if r['rc'] == 1 and 'differs from lvis_v1' not in Path(r['log']).read_text():
                    r['rc'] = 2  # a failure, not a difference in the counts
                note = ('weights == bundled table' if same else 'weights != bundled table')
                r['equal_to_bundled'] = same
                if full_size and not same or r['rc'] not in (0, 1):
                    r['rc'] = r['rc'] or 1
                    note += ' (UNEXPECTED)'
                else:
                    r['rc'] = 0
                rows.append(('weights --ann train', r, note))
            elif step == 'build':
                for impl in impls:
                    r = run_measured(_child(args, 'build', impl), env,
                                     work / f'build_{impl}.log', 3600)
                    info = _last_json(work / f'build_{impl}.log')
                    r.update(info)
                    rows.append((f'train dataset build, RFS 1e-3 ({impl})', r,
                                 f'build {info.get("build_seconds", "?")} s, '
                                 f'{info.get("images", "?")} images, {info.get("length", "?")} '
                                 f'samples after RFS'))
            elif step == 'prechecks':
                r = run_measured(_child(args, 'prechecks'), env, work / 'prechecks.log', 3600)
                rows.append(('test pre-checks', r, ''))
            elif step == 'loader':
                for impl in impls:
                    r = measure_loader(args, impl, work, env)
                    for k, p in enumerate(r['processes']):
                        growth = p['pss_end_gb'] - p['pss_after_warmup_gb']
                        rows.append((f'loader proc {k} ({impl}, {args.workers} workers)',
                                     dict(rc=r['rc'], seconds=r['seconds'],
                                          cpu_seconds=p['cpu_seconds'],
                                          peak_rss_gb=p['peak_rss_gb'],
                                          peak_pss_gb=p['peak_pss_gb']),
                                     f'{p["images_per_s"]:.2f} img/s, PSS '
                                     f'{p["pss_after_warmup_gb"]:.2f}'
                                     f' -> {p["pss_end_gb"]:.2f} GB ({growth:+.2f}) over '
                                     f'{args.iters} it'))
                    record['steps'][f'loader_{impl}'] = r
            elif step == 'shards':
                cmd = _child(args, 'shards') + ['--procs', str(args.procs), '--dets-per-image',
                                                str(args.dets_per_image), '--out-dir',
                                                str(work / 'shards')]
                if args.test_images is not None:
                    cmd += ['--test-images', str(args.test_images)]
                r = run_measured(cmd, env, work / 'shards.log', 3600)
                info = _last_json(work / 'shards.log')
                r.update(info)
                rows.append(('sharded results: write + evaluate', r,
                             f'{info.get("images", "?")} images, {info.get("detections", "?")} '
                             f'dets; write {info.get("write_seconds", "?")} s, eval '
                             f'{info.get("eval_seconds", "?")} s'))
            else:
                ap.error(f'unknown step {step!r}')
            for name, r, _ in rows[-1:]:
                if r['rc'] != 0:
                    print(f'step {name} failed (exit {r["rc"]}); its log:\n'
                          + Path(r.get('log', work / 'x')).read_text()[-3000:]
                          if Path(r.get('log', work / 'x')).exists() else '', file=sys.stderr)
            for name, r, note in rows:
                if name not in record['steps']:
                    record['steps'][name] = dict(r, note=note)
    print(format_table(record, rows))
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=1) + '\n')
    return 0 if all(r['rc'] == 0 for _, r, _ in rows) else 1


def format_table(record: dict, rows) -> str:
    head = (f'LVIS v1 data path, synthetic, fraction {record["fraction"]:g} ({record["root"]}); '
            f'{record["date"]}, {record["machine"]}, load {record["load"][0]:.1f}; '
            f'data generated/reused in {record["generate_seconds"]:.0f} s')
    lines = [head, '',
             '| step | rc | wall s | CPU s | peak RSS GB | peak PSS GB (with children) | notes |',
             '|---|---|---|---|---|---|---|']
    for name, r, note in rows:
        lines.append(f'| {name} | {r["rc"]} | {r["seconds"]:.1f} | {r["cpu_seconds"]:.1f} | '
                     f'{r["peak_rss_gb"]:.2f} | '
                     f'{r["peak_pss_gb"]:.2f} | {note} |')
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())

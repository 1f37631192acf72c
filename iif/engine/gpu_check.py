"""The GPU acceptance run (`make gpu-check`, tools/gpu_check.py): proves that a GPU host runs
the kit before a week-long training starts.

1. driver and GPUs seen; the image's CUDA ops fit them (cuda_check);
2. mmcv's CUDA ops equal their CPU versions on random inputs (RoIAlign forward + backward, NMS);
3. a 2-GPU NCCL smoke train, its resume, and a sharded test, on the built-in dataset (FASA);
4. a throughput table for the LVIS R50 IIF config on synthetic LVIS-sized batches: s/iter and
   peak memory per GPU, fp32 vs AMP (the `--amp` of train: mmdet fp16, dynamic loss scale),
   and inference s/image.
It writes a JSON record and prints the table; without a GPU it stops at once.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from iif.errors import UserError

NO_GPU = ('no GPU is visible (torch.cuda.is_available() is False): the GPU check runs on a GPU '
          'host. Check the driver (`nvidia-smi`) and, in containers, the NVIDIA Container '
          'Toolkit (`docker run --rm --gpus all IMAGE nvidia-smi`); compose needs no '
          'compose.cpu.yaml (make gpu-check CPU=0).')
LVIS_CONFIG = 'configs/iif/iif_r50_fpn_4x4_1x_lvis_v1.py'
SMOKE_CONFIG = 'configs/smoke/fasa/fasa_iif_r18_fpn_smoke.py'
# LVIS v1 train: 1.27M instances on 100k images (lvis-api's published statistics), images
# resized to 1333 x 800 by the configs' pipeline.
LVIS_OBJECTS_PER_IMAGE = 12
LVIS_IMAGE_HW = (800, 1333)


# ------------------------------------------------------------------------- GPUs and driver
def require_gpu() -> int:
    import torch
    if not torch.cuda.is_available():
        raise UserError(NO_GPU)
    return torch.cuda.device_count()


def driver_version() -> Optional[str]:
    try:
        out = subprocess.run(['nvidia-smi', '--query-gpu=driver_version', '--format=csv,noheader'],
                             capture_output=True, text=True, timeout=60)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.split()[0]
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:  # the kernel module's own line, e.g. "... Kernel Module  550.54.15 ..."
        text = Path('/proc/driver/nvidia/version').read_text()
        for word in text.split():
            if word[:1].isdigit() and word.count('.') >= 1:
                return word
    except OSError:
        pass
    return None


def inventory() -> dict:
    import torch
    from .cuda_check import probe_cuda
    probe = probe_cuda()
    gpus = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        gpus.append(dict(index=i, name=props.name, capability=f'{props.major}.{props.minor}',
                         memory_gib=round(props.total_memory / 2**30, 1)))
    return dict(driver=driver_version(), torch=torch.__version__, torch_cuda=torch.version.cuda,
                cudnn=torch.backends.cudnn.version(), mmcv_ops_cuda=probe.compiled_cuda,
                image_arch_list=probe.arch_list, gpus=gpus)


# ----------------------------------------------------------------- CUDA ops vs CPU ops
@dataclass
class Comparison:
    name: str
    ok: bool
    max_abs_diff: float
    tolerance: float
    detail: str = ''


def compare_outputs(name: str, ref: Sequence, got: Sequence, atol: float) -> Comparison:
    """Float outputs within atol; integer outputs (NMS's kept indices) identical."""
    import torch
    worst = 0.0
    for i, (a, b) in enumerate(zip(ref, got)):
        a, b = a.detach().cpu(), b.detach().cpu()
        if a.shape != b.shape:
            return Comparison(name, False, float('inf'), atol,
                              f'output {i}: shape {tuple(b.shape)} != CPU {tuple(a.shape)}')
        if a.is_floating_point():
            diff = float((a.double() - b.double()).abs().max()) if a.numel() else 0.0
            worst = max(worst, diff)
            if not diff <= atol:  # NaN fails too
                return Comparison(name, False, diff, atol, f'output {i} differs by {diff:.3g}')
        elif not torch.equal(a, b):
            mismatched = int((a != b).sum())
            return Comparison(name, False, float('inf'), atol,
                              f'output {i}: {mismatched} of {a.numel()} values differ')
    return Comparison(name, True, worst, atol)


def compare_on_device(name: str, fn: Callable, inputs: Sequence, to_device: Callable,
                      atol: float) -> Comparison:
    """Run fn on the CPU inputs and on to_device(inputs); compare the outputs."""
    ref = fn(*inputs)
    got = fn(*[to_device(t) for t in inputs])
    return compare_outputs(name, ref, got, atol)


def _roi_align(feats, rois, grad):
    from mmcv.ops import roi_align
    feats = feats.clone().requires_grad_(True)
    out = roi_align(feats, rois, (7, 7), 0.25, 0, 'avg', True)
    out.backward(grad)
    return out, feats.grad


def _nms(boxes, scores):
    from mmcv.ops import nms
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    return dets, keep


def op_cases(seed: int = 0) -> List[tuple]:
    """(name, fn, cpu inputs, atol) on random inputs of the sizes the LVIS configs use."""
    import torch
    gen = torch.Generator().manual_seed(seed)
    feats = torch.rand(2, 32, 50, 84, generator=gen)  # a P2-level map of two 200 x 336 images
    n = 256
    xy = torch.rand(n, 2, generator=gen) * torch.tensor([300.0, 180.0])
    wh = torch.rand(n, 2, generator=gen) * 60 + 1
    rois = torch.cat([torch.randint(0, 2, (n, 1), generator=gen).float(), xy, xy + wh], dim=1)
    grad = torch.rand(n, 32, 7, 7, generator=gen)
    boxes_xy = torch.rand(1000, 2, generator=gen) * 700
    boxes = torch.cat([boxes_xy, boxes_xy + torch.rand(1000, 2, generator=gen) * 120 + 4], 1)
    scores = torch.rand(1000, generator=gen)
    return [('RoIAlign forward + backward', _roi_align, (feats, rois, grad), 1e-4),
            ('NMS (iou 0.5, 1000 boxes)', _nms, (boxes, scores), 1e-5)]


def compare_ops(device: str = 'cuda', seed: int = 0) -> List[Comparison]:
    return [compare_on_device(name, fn, inputs, lambda t: t.to(device), atol)
            for name, fn, inputs, atol in op_cases(seed)]


# ------------------------------------------------------- 2-GPU smoke train, resume, test
@dataclass
class Step:
    name: str
    cmd: List[str]
    ok: Optional[bool] = None
    seconds: Optional[float] = None
    detail: str = ''
    check: Optional[Callable[[], Optional[str]]] = field(default=None, repr=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def smoke_steps(work_dir: Path, gpus: int = 2, config: str = SMOKE_CONFIG) -> List[Step]:
    """Train 1 epoch, resume to epoch 2, test epoch 2 sharded over the GPUs (NCCL)."""
    import json
    wd = str(work_dir)

    def resumed() -> Optional[str]:
        record = json.loads((work_dir / 'run.json').read_text())
        if not str(record.get('resumed_from') or '').endswith('epoch_1.pth'):
            return f"run.json says resumed_from={record.get('resumed_from')!r}"
        if not (work_dir / 'epoch_2.pth').is_file():
            return 'epoch_2.pth was not written'
        return None

    train = ['tools/dist_train.sh', config, str(gpus), '--work-dir', wd, '--no-validate',
             '--seed', '0']
    return [
        Step(f'{gpus}-GPU NCCL train, 1 epoch', train + ['--cfg-options', 'runner.max_epochs=1'],
             check=lambda: None if (work_dir / 'epoch_1.pth').is_file() else 'no epoch_1.pth'),
        Step('resume to epoch 2', train + ['--auto-resume', '--cfg-options',
                                           'runner.max_epochs=2'], check=resumed),
        Step(f'test sharded over {gpus} GPUs', ['tools/dist_test.sh', config,
                                                str(work_dir / 'epoch_2.pth'), str(gpus)]),
    ]


def run_steps(steps: List[Step], env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None,
              log: Callable[[str], None] = print) -> bool:
    """Run the steps in order; the first failure stops the rest (they stay ok=None)."""
    for step in steps:
        log(f'== {step.name}: {" ".join(step.cmd)}')
        started = time.monotonic()
        result = subprocess.run(step.cmd, cwd=cwd, text=True, capture_output=True,
                                env=dict(os.environ if env is None else env, PORT=str(free_port())))
        step.seconds = round(time.monotonic() - started, 1)
        problem = (f'exit status {result.returncode}: {(result.stderr or result.stdout)[-1500:]}'
                   if result.returncode != 0 else (step.check() if step.check else None))
        step.ok, step.detail = problem is None, problem or ''
        log(f'   {"ok" if step.ok else "FAILED"} ({step.seconds} s) {step.detail}')
        if not step.ok:
            return False
    return True


# ------------------------------------------------------------------------- throughput
def synthetic_batch(num_images: int, image_hw=LVIS_IMAGE_HW, objects: int = LVIS_OBJECTS_PER_IMAGE,
                    num_classes: int = 1203, device: str = 'cuda', seed: int = 0) -> dict:
    """A training batch of LVIS size: 1333 x 800 images, `objects` boxes + masks each."""
    import numpy as np
    import torch
    from mmdet.core import BitmapMasks
    rng = np.random.default_rng(seed)
    h, w = image_hw
    img = torch.from_numpy(rng.standard_normal((num_images, 3, h, w), dtype=np.float32))
    metas, bboxes, labels, masks = [], [], [], []
    for _ in range(num_images):
        metas.append(dict(img_shape=(h, w, 3), ori_shape=(h, w, 3), pad_shape=(h, w, 3),
                          batch_input_shape=(h, w), scale_factor=np.ones(4, dtype=np.float32),
                          flip=False, flip_direction=None, filename='synthetic.jpg'))
        x1 = rng.uniform(0, w * 0.8, objects)
        y1 = rng.uniform(0, h * 0.8, objects)
        x2 = np.minimum(x1 + rng.uniform(16, w * 0.5, objects), w - 1)
        y2 = np.minimum(y1 + rng.uniform(16, h * 0.5, objects), h - 1)
        box = np.stack([x1, y1, x2, y2], 1).astype(np.float32)
        bitmap = np.zeros((objects, h, w), dtype=np.uint8)
        for k, (a, b, c, d) in enumerate(box.astype(int)):
            bitmap[k, b:d, a:c] = 1
        bboxes.append(torch.from_numpy(box).to(device))
        labels.append(torch.from_numpy(rng.integers(0, num_classes, objects)).to(device))
        masks.append(BitmapMasks(bitmap, h, w))
    return dict(img=img.to(device), img_metas=metas, gt_bboxes=bboxes, gt_labels=labels,
                gt_masks=masks)


def build_bench_model(cfg, device: str):
    from mmdet.models import build_detector
    cfg.model.backbone.init_cfg = None  # random weights: speed does not need ImageNet's
    model = build_detector(cfg.model, train_cfg=cfg.get('train_cfg'), test_cfg=cfg.get('test_cfg'))
    return model.to(device)


def _sync(device: str) -> None:
    import torch
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def _peak_gib(device: str) -> Optional[float]:
    import torch
    if device.startswith('cuda'):
        return round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return None


def measure_train(cfg, device: str, amp: bool, iters: int, warmup: int,
                  image_hw=LVIS_IMAGE_HW, objects: int = LVIS_OBJECTS_PER_IMAGE) -> dict:
    """s/iter and peak memory of one process at the config's images per GPU. AMP as the
    runner's Fp16OptimizerHook does it with torch >= 1.6: auto_fp16 modules under autocast and
    a GradScaler (dynamic loss scale)."""
    import torch
    from mmcv.runner import build_optimizer, wrap_fp16_model
    model = build_bench_model(cfg, device)
    model.train()
    if amp:
        wrap_fp16_model(model)
    scaler = torch.cuda.amp.GradScaler(enabled=amp and device.startswith('cuda'))
    optimizer = build_optimizer(model, dict(cfg.optimizer, lr=1e-5))
    num_classes = cfg.model.roi_head.bbox_head.num_classes
    batch = synthetic_batch(cfg.data.samples_per_gpu, image_hw, objects, num_classes, device)
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(warmup + iters):
        _sync(device)
        started = time.perf_counter()
        losses = model(return_loss=True, **batch)
        loss, _ = model._parse_losses(losses)
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - started)
    return dict(images_per_gpu=cfg.data.samples_per_gpu, amp=amp,
                s_per_iter=round(sum(times) / len(times), 4), peak_mem_gib=_peak_gib(device))


def measure_inference(cfg, device: str, images: int, warmup: int, image_hw=LVIS_IMAGE_HW) -> dict:
    import torch
    model = build_bench_model(cfg, device)
    model.eval()
    batch = synthetic_batch(1, image_hw, 1, 1, device)
    times = []
    with torch.no_grad():
        for i in range(warmup + images):
            _sync(device)
            started = time.perf_counter()
            model(return_loss=False, rescale=True, img=[batch['img']],
                  img_metas=[batch['img_metas']])
            _sync(device)
            if i >= warmup:
                times.append(time.perf_counter() - started)
    return dict(s_per_image=round(sum(times) / len(times), 4))


def throughput(config: str, device: str, iters: int, warmup: int, **sizes) -> dict:
    from mmcv import Config
    import iif  # noqa: F401  registers the kit's components (IIFLoss, ...)
    rows = {}
    for amp in (False, True):
        rows['amp' if amp else 'fp32'] = measure_train(Config.fromfile(config), device, amp,
                                                       iters, warmup, **sizes)
        if device.startswith('cuda'):
            import torch
            torch.cuda.empty_cache()
    rows['inference'] = measure_inference(Config.fromfile(config), device, iters, warmup,
                                          sizes.get('image_hw', LVIS_IMAGE_HW))
    return rows


# ------------------------------------------------------------------------------- report
def format_report(record: dict) -> str:
    lines = []
    inv = record.get('inventory') or {}
    if inv:
        lines.append(f"driver {inv.get('driver')}, torch {inv.get('torch')} (CUDA "
                     f"{inv.get('torch_cuda')}), mmcv ops CUDA {inv.get('mmcv_ops_cuda')}, "
                     f"image archs {inv.get('image_arch_list')}")
        for g in inv.get('gpus', []):
            lines.append(f"  GPU {g['index']}: {g['name']} (sm {g['capability']}, "
                         f"{g['memory_gib']} GiB)")
    for c in record.get('ops', []):
        lines.append(f"{'ok    ' if c['ok'] else 'FAILED'} {c['name']}: max |CUDA - CPU| = "
                     f"{c['max_abs_diff']:.3g} (tolerance {c['tolerance']:g}) {c['detail']}")
    for s in record.get('smoke', []):
        state = {True: 'ok    ', False: 'FAILED', None: 'not run'}[s['ok']]
        lines.append(f"{state} {s['name']} ({s['seconds']} s) {s['detail']}".rstrip())
    rows = record.get('throughput')
    if rows:
        lines.append(f"throughput of {record.get('config')} on synthetic LVIS-sized batches "
                     f"(one GPU, {rows['fp32']['images_per_gpu']} images/GPU):")
        lines.append(f"  {'mode':<10} {'s/iter':>8} {'peak GiB':>9}")
        for mode in ('fp32', 'amp'):
            r = rows[mode]
            peak = '-' if r['peak_mem_gib'] is None else f"{r['peak_mem_gib']:.2f}"
            lines.append(f"  {mode:<10} {r['s_per_iter']:>8.3f} {peak:>9}")
        lines.append(f"  inference {rows['inference']['s_per_image']:.3f} s/image (fp32)")
    lines.append('GPU check ' + ('PASSED' if record.get('passed') else 'FAILED'))
    return '\n'.join(lines)


def run_gpu_check(out: Path, work_dir: Path, gpus: int = 2, iters: int = 20, warmup: int = 5,
                  config: str = LVIS_CONFIG, skip_smoke: bool = False,
                  skip_throughput: bool = False) -> dict:
    from .cuda_check import check_cuda_build
    from .records import now, write_json
    visible = require_gpu()
    record: dict = dict(started=now(), config=config, inventory=inventory())
    passed = True
    try:
        check_cuda_build()
    except UserError as e:
        record.update(passed=False, cuda_build=str(e))
        write_json(out, record)
        raise
    record['ops'] = [asdict(c) for c in compare_ops('cuda')]
    passed &= all(c['ok'] for c in record['ops'])
    if not skip_smoke:
        if visible < gpus:
            raise UserError(f'the smoke train needs {gpus} GPUs, {visible} visible; '
                            f'pass --gpus {visible} or --skip-smoke')
        steps = smoke_steps(work_dir, gpus)
        passed &= run_steps(steps, env=dict(os.environ, IIF_DEVICE='cuda'))
        record['smoke'] = [dict(name=s.name, ok=s.ok, seconds=s.seconds, detail=s.detail)
                           for s in steps]
    if not skip_throughput:
        record['throughput'] = throughput(config, 'cuda', iters, warmup)
    record.update(passed=bool(passed), finished=now())
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, record)
    return record


def main(argv: Optional[List[str]] = None) -> int:
    import argparse
    p = argparse.ArgumentParser(description='GPU acceptance run of the IIF kit (docs/cuda.md).')
    p.add_argument('--out', default=None,
                   help='JSON record (default: results/gpu_check/gpu_check_<UTC time>.json)')
    p.add_argument('--work-dir', default='work_dirs/gpu_check',
                   help='where the smoke train writes (emptied first)')
    p.add_argument('--gpus', type=int, default=2, help='GPUs for the NCCL smoke train/test')
    p.add_argument('--iters', type=int, default=20, help='timed iterations (and images)')
    p.add_argument('--warmup', type=int, default=5, help='untimed iterations first')
    p.add_argument('--config', default=LVIS_CONFIG, help='config of the throughput table')
    p.add_argument('--skip-smoke', action='store_true')
    p.add_argument('--skip-throughput', action='store_true')
    args = p.parse_args(argv)
    try:
        require_gpu()  # before anything is written
        stamp = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())
        out = Path(args.out or f'results/gpu_check/gpu_check_{stamp}.json')
        work_dir = Path(args.work_dir)
        if work_dir.exists() and not args.skip_smoke:
            import shutil
            shutil.rmtree(work_dir)
        record = run_gpu_check(out, work_dir, args.gpus, args.iters, args.warmup, args.config,
                               args.skip_smoke, args.skip_throughput)
    except UserError as e:
        print(f'error: {e}', file=sys.stderr, flush=True)
        return e.exit_code
    print(format_report(record))
    print(f'record: {out}')
    return 0 if record['passed'] else 1

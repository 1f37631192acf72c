"""Sharded inference: every process runs its share of the images, writes its detections as
LVIS-format JSON shards, and rank 0 evaluates the shards. Nothing gathers every mask in the
memory of one process, and the same path serves 1 or N processes, GPU or CPU."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch
from mmcv.parallel import scatter_kwargs
from mmdet.core import encode_mask_results
from mmdet.datasets import build_dataloader
from torch.utils.data import Subset

from iif.datasets import detections_to_lvis
from iif.fsutil import write_bytes_atomic, write_text_atomic
from iif.metrics import IOU_TYPES

from .launch import DistInfo, barrier


def unwrap(model):
    """The detector inside (MM)DataParallel / DistributedDataParallel wrappers."""
    while hasattr(model, 'module'):
        model = model.module
    return model


def shard_indices(num_images: int, rank: int, world_size: int) -> List[int]:
    """Interleaved, non-overlapping shards (no padding, unlike DistributedSampler)."""
    return list(range(rank, num_images, world_size))


def _dump_json(obj, path: Path) -> None:
    try:
        import orjson
        write_bytes_atomic(path, orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY))
    except ImportError:  # pragma: no cover - orjson is in the lock file
        import json
        write_text_atomic(path, json.dumps(obj))


@torch.no_grad()
def infer_shard(model, dataset, indices: Sequence[int], device: str, workers: int = 2,
                show_progress: bool = True):
    """Run the detector on ``dataset[indices]``; return (bbox dicts, segm dicts) in LVIS format."""
    detector = unwrap(model)
    was_training = detector.training
    detector.eval()
    loader = build_dataloader(Subset(dataset, list(indices)), samples_per_gpu=1,
                              workers_per_gpu=workers, dist=False, shuffle=False,
                              persistent_workers=False)
    target = [torch.cuda.current_device()] if device == 'cuda' else [-1]
    bbox, segm = [], []
    step = max(1, len(indices) // 20)
    for n, (idx, data) in enumerate(zip(indices, loader)):
        inputs, kwargs = scatter_kwargs((), data, target)
        result = detector(return_loss=False, rescale=True, **kwargs[0])[0]
        if isinstance(result, tuple):
            result = (result[0], encode_mask_results(result[1]))
        b, s = detections_to_lvis(result, dataset.img_ids[idx], dataset.cat_ids)
        bbox += b
        segm += s
        if show_progress and ((n + 1) % step == 0 or n + 1 == len(indices)):
            print(f'[inference] {n + 1}/{len(indices)} images', file=sys.stderr, flush=True)
    detector.train(was_training)
    return bbox, segm


def run_sharded_evaluation(model, dataset, info: DistInfo, out_dir: Path,
                           metrics: Sequence[str] = IOU_TYPES, backend: Optional[str] = None,
                           workers: int = 2, logger=None, keep_shards: bool = True
                           ) -> Optional[Dict[str, Dict[str, float]]]:
    """Every rank infers its shard and writes ``out_dir/{bbox,segm}.rank{r}.json``; rank 0
    evaluates the shards and returns {'bbox': {...}, 'segm': {...}} (None on other ranks)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    indices = shard_indices(len(dataset), info.rank, info.world_size)
    bbox, segm = infer_shard(model, dataset, indices, info.device, workers,
                             show_progress=info.is_main)
    for iou_type, dets in (('bbox', bbox), ('segm', segm)):
        if iou_type in metrics:
            _dump_json(dets, out_dir / f'{iou_type}.rank{info.rank}.json')
    del bbox, segm
    barrier()  # all shards are on disk
    result = None
    if info.is_main:
        shards = {iou: [str(out_dir / f'{iou}.rank{r}.json') for r in range(info.world_size)]
                  for iou in IOU_TYPES if iou in metrics}
        result = dataset.evaluate_lvis_results(shards, logger=logger, backend=backend)
        if not keep_shards:
            shutil.rmtree(out_dir, ignore_errors=True)
    barrier()  # nobody starts the next epoch while rank 0 still reads the shards
    return result

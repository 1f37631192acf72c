"""Training loop set-up (the part of mmdet's train_detector the kit needs), device-agnostic:
GPUs with NCCL or CPU processes with gloo, the same hooks and checkpoints either way."""
from __future__ import annotations

import torch
from mmcv.parallel import MMDataParallel, MMDistributedDataParallel
from mmcv.runner import (DistSamplerSeedHook, Fp16OptimizerHook, OptimizerHook, build_optimizer,
                         build_runner)
from mmdet.datasets import build_dataloader, build_dataset, replace_ImageToTensor

from iif.checkpoints import find_latest_checkpoint
from .hooks import NonFiniteLossHook, ShardedEvalHook
from .launch import DistInfo, torch_device


class CPUDistributedDataParallel(MMDistributedDataParallel):
    """MMDistributedDataParallel for CPU processes: mmcv only unpacks DataContainers when
    ``device_ids`` is set, which CPU DDP cannot have, so scatter to the CPU here."""

    def _to_cpu(self, inputs, kwargs):
        inputs, kwargs = self.scatter(inputs, kwargs, [-1])
        return inputs[0], kwargs[0]

    def train_step(self, *inputs, **kwargs):
        inputs, kwargs = self._to_cpu(inputs, kwargs)
        return super().train_step(*inputs, **kwargs)

    def val_step(self, *inputs, **kwargs):
        inputs, kwargs = self._to_cpu(inputs, kwargs)
        return super().val_step(*inputs, **kwargs)


class CPUDataParallel(MMDataParallel):
    """MMDataParallel on the CPU even where CUDA is available: torch's DataParallel moves the
    module to cuda:0 whenever it sees a GPU, so its set-up is skipped; with empty
    ``device_ids`` mmcv scatters the inputs to the CPU."""

    def __init__(self, module, dim: int = 0):
        torch.nn.Module.__init__(self)
        self.module = module
        self.device_ids = []
        self.output_device = None
        self.dim = dim


def wrap_model(model, info: DistInfo, find_unused_parameters: bool = False):
    model = model.to(torch_device(info))
    if not info.distributed:
        if info.device == 'cpu':
            return CPUDataParallel(model)
        return MMDataParallel(model, device_ids=[torch.cuda.current_device()])
    if info.device == 'cuda':
        wrapped = MMDistributedDataParallel(model, device_ids=[torch.cuda.current_device()],
                                            broadcast_buffers=False,
                                            find_unused_parameters=find_unused_parameters)
    else:
        wrapped = CPUDistributedDataParallel(model, broadcast_buffers=False,
                                             find_unused_parameters=find_unused_parameters)
    # mmcv 1.7.2 reads this attribute, which torch >= 2.0 no longer sets.
    if not hasattr(wrapped, '_use_replicated_tensor_module'):
        wrapped._use_replicated_tensor_module = False
    return wrapped


def build_eval_hook(cfg, info: DistInfo):
    val_cfg = cfg.data.val.copy()
    val_loader_args = dict(samples_per_gpu=1, workers_per_gpu=cfg.data.get('workers_per_gpu', 2))
    val_loader_args.update(cfg.data.get('val_dataloader', {}))
    if val_loader_args['samples_per_gpu'] > 1:
        val_cfg.pipeline = replace_ImageToTensor(val_cfg.pipeline)
    val_dataset = build_dataset(val_cfg, dict(test_mode=True))
    # The hook shards the dataset itself; this loader only carries the dataset.
    loader = build_dataloader(val_dataset, samples_per_gpu=1, workers_per_gpu=0, dist=False,
                              shuffle=False)
    eval_cfg = dict(cfg.get('evaluation', {}))
    eval_cfg['by_epoch'] = cfg.runner['type'] != 'IterBasedRunner'
    return ShardedEvalHook(loader, info, workers=val_loader_args['workers_per_gpu'], **eval_cfg)


def train_model(model, datasets, cfg, info: DistInfo, validate: bool, timestamp: str,
                meta: dict, logger) -> None:
    loader_args = dict(samples_per_gpu=2, workers_per_gpu=2, num_gpus=1, dist=info.distributed,
                       seed=cfg.seed, runner_type=cfg.runner['type'], persistent_workers=False)
    loader_args.update(samples_per_gpu=cfg.data.samples_per_gpu,
                       workers_per_gpu=cfg.data.workers_per_gpu)
    loader_args.update(cfg.data.get('train_dataloader', {}))
    loaders = [build_dataloader(ds, **loader_args) for ds in datasets]

    model = wrap_model(model, info, cfg.get('find_unused_parameters', False))
    optimizer = build_optimizer(model, cfg.optimizer)
    runner = build_runner(cfg.runner, default_args=dict(
        model=model, optimizer=optimizer, work_dir=cfg.work_dir, logger=logger, meta=meta))
    runner.timestamp = timestamp  # .log and .log.json share the name

    optimizer_config = cfg.optimizer_config
    if cfg.get('fp16') is not None:
        optimizer_config = Fp16OptimizerHook(**cfg.optimizer_config, **cfg.fp16,
                                             distributed=info.distributed)
    elif info.distributed and 'type' not in cfg.optimizer_config:
        optimizer_config = OptimizerHook(**cfg.optimizer_config)
    runner.register_training_hooks(cfg.lr_config, optimizer_config, cfg.checkpoint_config,
                                   cfg.log_config, cfg.get('momentum_config'),
                                   custom_hooks_config=cfg.get('custom_hooks'))
    runner.register_hook(NonFiniteLossHook(), priority='VERY_LOW')
    if info.distributed:
        runner.register_hook(DistSamplerSeedHook())
    if validate:
        runner.register_hook(build_eval_hook(cfg, info), priority='LOW')

    if cfg.get('resume_from') is None and cfg.get('auto_resume'):
        cfg.resume_from = find_latest_checkpoint(cfg.work_dir)
    map_location = 'default' if info.device == 'cuda' else 'cpu'
    if cfg.get('resume_from'):
        runner.resume(cfg.resume_from, map_location=map_location)
    elif cfg.get('load_from'):
        runner.load_checkpoint(cfg.load_from, map_location='cpu')
    runner.run(loaders, cfg.workflow)

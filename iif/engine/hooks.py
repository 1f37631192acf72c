"""Evaluation during training through the sharded path (works on CPU processes too, where
mmdet's DistEvalHook needs CUDA to collect results)."""
from __future__ import annotations

from pathlib import Path

import torch
from mmcv.runner import HOOKS, Hook
from mmcv.runner.hooks.evaluation import EvalHook

from iif.datasets import flatten_metrics
from iif.metrics import IOU_TYPES

from .inference import run_sharded_evaluation, unwrap
from .launch import DistInfo
from .records import write_metrics


@HOOKS.register_module()
class ShardedEvalHook(EvalHook):
    """mmcv's EvalHook (interval, start, save_best) with sharded inference and LVIS evaluation.

    After each evaluation rank 0 writes ``metrics_epoch_N.json`` and ``metrics.json`` (the
    latest) into the work dir.
    """

    def __init__(self, dataloader, dist_info: DistInfo, metric=IOU_TYPES, backend=None,
                 workers: int = 2, **kwargs):
        kwargs.pop('gpu_collect', None)
        kwargs.pop('tmpdir', None)
        super().__init__(dataloader, **kwargs)
        self.dist_info = dist_info
        self.metrics = [metric] if isinstance(metric, str) else list(metric)
        self.backend = backend
        self.workers = workers

    def _sync_batchnorm_stats(self, runner):
        """Give every rank rank 0's BatchNorm statistics (DDP runs with broadcast_buffers=False,
        so they drift apart): the evaluation then sees exactly the model in the checkpoint."""
        if not self.dist_info.distributed:
            return
        import torch.distributed as dist
        from torch.nn.modules.batchnorm import _BatchNorm
        for module in unwrap(runner.model).modules():
            if isinstance(module, _BatchNorm) and module.track_running_stats:
                dist.broadcast(module.running_var, 0)
                dist.broadcast(module.running_mean, 0)

    def _do_evaluate(self, runner):
        self._sync_batchnorm_stats(runner)
        epoch = runner.epoch + 1 if self.by_epoch else runner.iter + 1
        unit = 'epoch' if self.by_epoch else 'iter'
        result = run_sharded_evaluation(
            runner.model, self.dataloader.dataset, self.dist_info,
            Path(runner.work_dir) / 'eval_shards', metrics=self.metrics, backend=self.backend,
            workers=self.workers, logger=runner.logger, keep_shards=False)
        if result is None:  # not rank 0
            return
        write_metrics(Path(runner.work_dir), result, extra={unit: epoch},
                      names=(f'metrics_{unit}_{epoch}.json', 'metrics.json'))
        flat = flatten_metrics(result)
        for name, value in flat.items():
            runner.log_buffer.output[name] = value
        runner.log_buffer.ready = True
        if self.save_best and self.key_indicator in flat:
            self._save_ckpt(runner, flat[self.key_indicator])


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop a run whose loss became NaN/inf instead of training on garbage for days; the
    non-zero exit lets the reproduce queue mark the run failed."""

    def after_train_iter(self, runner):
        loss = runner.outputs.get('loss') if isinstance(runner.outputs, dict) else None
        if loss is not None and not torch.isfinite(loss).all():
            raise FloatingPointError(
                f'loss is {float(loss)} at epoch {runner.epoch + 1}, iteration {runner.iter + 1}:'
                ' training diverged. Lower the learning rate or check the data and config.')


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Re-seed every generator at each epoch start from (seed, epoch), so that a run resumed
    from epoch_N.pth trains exactly like the uninterrupted one: mmcv's resume restores weights,
    optimizer and counters but not the RNGs (sampler order, flips, RoI sampling)."""

    def __init__(self, offset: int = 1_000_003):
        self.offset = offset  # keeps (seed, epoch) pairs of neighbouring seeds apart

    def before_train_epoch(self, runner):
        from mmdet.apis import set_random_seed
        seed = (runner.meta or {}).get('seed')
        if seed is None:
            return  # no seed recorded, nothing to reproduce
        # every rank gets the same seed, as tools/train.py does at start-up
        set_random_seed((seed + self.offset * runner.epoch) % (2 ** 31))

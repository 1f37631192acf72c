"""FASAHook: FASA's epoch logic for mmcv's standard EpochBasedRunner.

With ``workflow = [('train', 1), ('val', 1)]`` the runner alternates a training epoch and a
validation pass (``model.val_step``: mmdet's ``BaseDetector.val_step`` computes the training
losses on the val batches, under ``torch.no_grad`` and in eval mode). The hook

* before each training epoch tells the FASA heads the epoch (virtual features from the second
  epoch on) and, for their per-process virtual-feature generators, the run seed and the rank;
* before each validation pass switches them to accumulating per-class classification losses;
* after it, runs the adaptive sampling update on every process, checks that all processes
  hold the same FASA state, and logs a summary (also into the val line of the log);
* writes the updated state into the checkpoint of that epoch. mmcv's CheckpointHook saves
  ``epoch_N.pth`` at the end of the training epoch, before the validation pass; without this
  step a run resumed from ``epoch_N.pth`` would lose epoch N's adaptation.
"""
from __future__ import annotations

import os.path as osp
from typing import List, Optional, Tuple

import torch
from mmcv.runner import HOOKS, Hook

from iif.fsutil import atomic_path

from .fasa import STATE_BUFFERS, FASAConfigError, FASAMixin


def _unwrap(model):
    return getattr(model, 'module', model)


@HOOKS.register_module()
class FASAHook(Hook):
    """Drives every FASA bbox head of the model (see :mod:`iif.models.fasa`).

    Args:
        update_checkpoint: write the adapted state into the epoch's checkpoint (rank 0).
    """

    def __init__(self, update_checkpoint: bool = True):
        self.update_checkpoint = update_checkpoint
        self.heads: List[Tuple[str, FASAMixin]] = []
        self._ckpt_before_epoch: Optional[str] = None
        self._train_epochs_without_val = 0
        self._warned_no_val = False

    def before_run(self, runner):
        model = _unwrap(runner.model)
        self.heads = [(name, m) for name, m in model.named_modules() if isinstance(m, FASAMixin)]
        if not self.heads:
            raise FASAConfigError('FASAHook is in custom_hooks but the model has no FASA bbox head '
                               "(e.g. type='FASAShared2FCBBoxHead'); remove the hook or use "
                               'a config from configs/fasa/')

    def before_train_epoch(self, runner):
        if self._train_epochs_without_val and not self._warned_no_val:
            runner.logger.warning(
                'FASA: no validation pass ran after the last training epoch, so the sampling '
                "probabilities are not adapted; use workflow = [('train', 1), ('val', 1)]")
            self._warned_no_val = True
        seed = (runner.meta or {}).get('seed')  # recorded by tools/train.py
        for stream, (_, head) in enumerate(self.heads):
            head.fasa_set_epoch(runner.epoch, seed=seed, rank=runner.rank, stream=stream)
        self._ckpt_before_epoch = self._last_checkpoint(runner)

    def after_train_epoch(self, runner):
        self._train_epochs_without_val += 1

    def before_val_epoch(self, runner):
        for _, head in self.heads:
            head.fasa_start_validation()

    def after_val_epoch(self, runner):
        self._train_epochs_without_val = 0
        world = runner.world_size
        for name, head in self.heads:
            info = head.fasa_adapt()
            diff = head.fasa_sync()
            label = f'FASA ({name})' if len(self.heads) > 1 else 'FASA'
            if info['compared']:
                if info['converged']:
                    how = ''
                elif info['clusters']:
                    how = ' did NOT converge; last exemplars used'
                else:
                    how = ' did NOT converge; no groups, so p_c unchanged'
                what = (f"{info['clusters']} class groups (affinity propagation{how}), "
                        f"p_c raised for {info['raised']} classes and lowered for "
                        f"{info['lowered']}")
            else:
                what = f"p_c unchanged ({info['reason']})"
            runner.logger.info(
                f'{label} after epoch {runner.epoch}: {info["classes_with_loss"]} classes with '
                f'a validation loss, {info["classes_seen"]} with feature statistics; {what}; '
                f'p_c min {info["prob_min"]:.4g} mean {info["prob_mean"]:.4g} '
                f'max {info["prob_max"]:.4g}')
            if world > 1 and diff == 0:
                runner.logger.info(f'{label}: state identical on all {world} processes')
            elif world > 1:
                runner.logger.warning(f'{label}: state differed between processes (max '
                                      f'difference {diff:.3g}); all now use rank 0\'s')
            runner.log_buffer.update({'fasa_prob_mean': info['prob_mean'],
                                      'fasa_raised': info.get('raised', 0),
                                      'fasa_lowered': info.get('lowered', 0)})
        if self.update_checkpoint and runner.rank == 0:
            self._write_into_checkpoint(runner)

    # -- checkpoint update
    @staticmethod
    def _last_checkpoint(runner) -> Optional[str]:
        meta = runner.meta or {}
        return meta.get('hook_msgs', {}).get('last_ckpt')

    def _write_into_checkpoint(self, runner) -> None:
        path = self._last_checkpoint(runner)
        if not path or path == self._ckpt_before_epoch:
            return  # no checkpoint saved at this epoch
        if not osp.isfile(path):
            runner.logger.warning(f'FASA: cannot update {path} (not a local file): a run '
                                  'resumed from it repeats this epoch\'s adaptation')
            return
        ckpt = torch.load(path, map_location='cpu')
        state = ckpt['state_dict']
        for name, head in self.heads:
            prefix = f'{name}.' if name else ''
            for buf in STATE_BUFFERS:
                key = prefix + buf
                if key not in state:
                    raise KeyError(f'FASA: {path} has no {key}; cannot store the FASA state')
                state[key] = getattr(head, buf).detach().cpu().clone()
        ckpt.setdefault('meta', {})['fasa_adapted_after_val'] = True
        with atomic_path(path) as tmp:  # a crash leaves the previous file
            torch.save(ckpt, tmp)
        runner.logger.info(f'FASA: adapted sampling state written into {osp.basename(path)}')

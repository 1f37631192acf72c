"""The recipe's global batch: the images per optimiser step a config's learning rate was tuned
for, checked against the processes a run starts.

A config declares its reference with ``recipe = dict(global_batch=16)`` (the LVIS schedules:
4 GPUs x 4 images at lr 0.02). A run whose global batch (processes x ``samples_per_gpu``)
differs is refused unless the user chooses what to do about the learning rate:
``--scale-lr`` (linear rule, as mmdet's ``auto_scale_lr``: lr x global / reference) or
``--allow-batch-change`` (keep the config's lr). ``recipe.enforce=False`` (the smoke configs,
which are code-path checks run on 1 or 2 CPU processes) records a change without refusing it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from iif.errors import UserError

SCALE_FLAG = '--scale-lr'
ALLOW_FLAG = '--allow-batch-change'


@dataclass
class BatchPlan:
    gpus: int  # processes (GPUs, or CPU processes)
    samples_per_gpu: int
    lr: float  # the lr the run trains at
    reference_global: Optional[int]  # None: the config declares no recipe
    reference_lr: float  # the config's lr, tuned for reference_global images per step
    scaled: bool

    @property
    def global_batch(self) -> int:
        return self.gpus * self.samples_per_gpu

    @property
    def changed(self) -> bool:
        return self.reference_global is not None and self.global_batch != self.reference_global

    def record(self) -> dict:
        """The ``batch`` entry of run.json."""
        return {'gpus': self.gpus, 'samples_per_gpu': self.samples_per_gpu,
                'global': self.global_batch, 'lr': self.lr,
                'reference_global': self.reference_global, 'reference_lr': self.reference_lr,
                'scaled': self.scaled}

    def describe(self) -> str:
        text = (f'global batch {self.global_batch} ({_count(self.gpus, "process")} x '
                f'{_count(self.samples_per_gpu, "image")}), lr {self.lr:g}')
        if self.reference_global is None:
            return text + ' (the config declares no recipe batch)'
        if not self.changed:
            return text + ' (the recipe\'s batch)'
        how = 'scaled linearly' if self.scaled else 'not scaled'
        return text + (f'; the recipe is {self.reference_global} images at lr '
                       f'{self.reference_lr:g} ({how})')


def _count(n: int, noun: str) -> str:
    return f'{n} {noun}' if n == 1 else f'{n} {noun}es' if noun.endswith('s') else f'{n} {noun}s'


def samples_per_gpu(cfg) -> int:
    """Images per process and step, as the kit's training builds its loader."""
    return int(cfg.data.get('train_dataloader', {}).get('samples_per_gpu',
                                                         cfg.data.samples_per_gpu))


def train_processes(launcher: str, expect_processes: Optional[int]) -> int:
    """Processes of the run being checked: torchrun's WORLD_SIZE inside it; before it starts
    (``--check-only --expect-processes GPUS`` from dist_train.sh), GPUS x NNODES."""
    if launcher in ('pytorch', 'slurm') and os.environ.get('WORLD_SIZE', '').isdigit():
        return int(os.environ['WORLD_SIZE'])
    if expect_processes is not None:
        nodes = os.environ.get('NNODES', '1')
        return expect_processes * (int(nodes) if nodes.isdigit() and int(nodes) > 0 else 1)
    return 1


def plan_batch(cfg, processes: int, *, scale_lr: bool = False, allow_change: bool = False,
               config_name: str = 'the config') -> BatchPlan:
    """The batch and lr a run will train with, or a UserError naming both ways out."""
    if scale_lr and allow_change:
        raise UserError(f'pass either {SCALE_FLAG} or {ALLOW_FLAG}, not both')
    recipe = cfg.get('recipe') or {}
    reference = recipe.get('global_batch')
    optimizer = cfg.get('optimizer') or {}
    if not isinstance(optimizer.get('lr'), (int, float)):
        raise UserError(f'{config_name} sets no optimizer.lr (a number): it cannot be trained')
    base_lr = float(optimizer['lr'])
    per_gpu = samples_per_gpu(cfg)
    plan = BatchPlan(gpus=processes, samples_per_gpu=per_gpu, lr=base_lr,
                     reference_global=int(reference) if reference else None,
                     reference_lr=base_lr, scaled=False)
    if plan.reference_global is None:
        if scale_lr:
            raise UserError(f'{SCALE_FLAG}: {config_name} declares no reference batch '
                            '(recipe = dict(global_batch=N) in the config), so there is '
                            'nothing to scale from; set it with --cfg-options '
                            'recipe.global_batch=N or drop the flag')
        return plan
    if not plan.changed:
        return plan
    if scale_lr:
        plan.lr = base_lr * plan.global_batch / plan.reference_global
        plan.scaled = True
        return plan
    if allow_change or not recipe.get('enforce', True):
        return plan
    scaled_lr = base_lr * plan.global_batch / plan.reference_global
    procs_for_recipe = plan.reference_global / per_gpu
    recipe_procs = (f'{_count(int(procs_for_recipe), "process")} x {_count(per_gpu, "image")}'
                    if procs_for_recipe == int(procs_for_recipe) else
                    f'{plan.reference_global} images per step')
    raise UserError(
        f'{config_name} is a recipe for a global batch of {plan.reference_global} images per '
        f'step at lr {base_lr:g} ({recipe_procs}; recipe.global_batch in the config), but this '
        f'run asks for {_count(processes, "process")} x {_count(per_gpu, "image")} = '
        f'{plan.global_batch}. '
        f'Train on {recipe_procs.split(" x ")[0]} for the recipe, or pass {SCALE_FLAG} to '
        f'train at lr {scaled_lr:g} (linear rule: lr x {plan.global_batch}/'
        f'{plan.reference_global}), or {ALLOW_FLAG} to keep lr {base_lr:g} at the new batch. '
        'Either choice is recorded in run.json ("batch"). Nothing was started.')


def apply_plan(cfg, plan: BatchPlan) -> None:
    cfg.optimizer.lr = plan.lr

"""EpochSeedHook: make a resumed run train exactly like the uninterrupted one.

mmcv's resume restores weights, optimizer and the iteration count but not the random number
generators, so after a resume the sampler order, the flips and the RoI sampling differ from the
run that was never interrupted. Re-seeding every generator at each epoch start from
(seed, epoch) makes each epoch a function of the checkpoint it starts from. The reproduce
tests add it to the smoke variant set so they can require identical numbers after a SIGKILL
and resume. Configs that use it import this module:
``custom_imports = dict(imports=['iif', 'iif.reproduce.determinism'])``.
"""
from __future__ import annotations

from mmcv.runner import HOOKS, Hook


@HOOKS.register_module()
class EpochSeedHook(Hook):

    def __init__(self, offset: int = 1_000_003):
        self.offset = offset  # keeps (seed, epoch) pairs of neighbouring seeds apart

    def before_train_epoch(self, runner):
        from mmdet.apis import set_random_seed
        seed = (runner.meta or {}).get('seed')
        if seed is None:
            return  # no seed, nothing to reproduce
        # every rank gets the same seed, as tools/train.py does at start-up
        set_random_seed((seed + self.offset * runner.epoch) % (2 ** 31))

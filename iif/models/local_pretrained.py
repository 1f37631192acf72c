"""A ResNet whose pretrained weights must come from a local file the user provides.

For backbones whose published checkpoint can no longer be downloaded (the RSB-A1 ResNet-50 of
mmcls lived on download.openmmlab.com): the config leaves the path empty and training stops
with a message naming the option to set, instead of a download error deep inside mmcv.
"""
from __future__ import annotations

import os

from mmdet.models.backbones import ResNet, ResNeXt
from mmdet.models.builder import BACKBONES

from iif.errors import UserError

CHECKPOINT_OPTION = 'model.backbone.init_cfg.checkpoint'


class BackboneCheckpointError(UserError, FileNotFoundError):
    """The backbone's local checkpoint is not set or not there (a UserError: the entry scripts
    print it without a traceback; a FileNotFoundError for everyone else)."""


def check_local_checkpoint(init_cfg, hint: str = '', alternatives=()) -> None:
    """``alternatives``: checkpoint names (e.g. a torchvision:// model) that the config's
    documentation offers as a named deviation; they are accepted as they are."""
    if not (isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained'):
        return  # no pretrained weights asked for (e.g. init_cfg=None): nothing to check
    path = init_cfg.get('checkpoint')
    fix = (f'Pass --cfg-options {CHECKPOINT_OPTION}=/path/to/checkpoint.pth to '
           f'tools/train.py{hint}. To train without these weights (e.g. when load_from holds a '
           f'whole model) pass --cfg-options model.backbone.init_cfg=None.')
    if alternatives:
        fix += (' Documented deviation (other weights than the research): '
                + ' or '.join(f'{CHECKPOINT_OPTION}={a}' for a in alternatives) + '.')
    if path and str(path) in alternatives:
        return
    if not path:
        raise BackboneCheckpointError(f'no backbone checkpoint is set ({CHECKPOINT_OPTION} is '
                                      f'empty). {fix}')
    path = str(path)
    if '://' in path:
        raise BackboneCheckpointError(
            f'the backbone checkpoint must be a local file, got {path!r}. {fix}')
    if not os.path.isfile(path):
        raise BackboneCheckpointError(
            f'backbone checkpoint not found: {path} (resolved '
            f'{os.path.abspath(path)}). {fix}')
    if not os.access(path, os.R_OK):
        raise BackboneCheckpointError(f'backbone checkpoint not readable: {path}')


@BACKBONES.register_module()
class LocalPretrainedResNet(ResNet):
    """mmdet's ResNet; ``init_cfg=dict(type='Pretrained', checkpoint=PATH, prefix=...)`` must
    name an existing local file. Checked when the model is built (tools/train.py builds it
    in its checks, before anything is written or any process is started, so --check-only and
    tools/dist_train.sh report it) and again before the weights are loaded. tools/test.py
    drops init_cfg (the checkpoint under test has every weight), so testing needs no path.

    Args (besides ResNet's):
        checkpoint_hint: appended to the error message (e.g. where to get the file).
    """

    def __init__(self, *args, checkpoint_hint: str = '', init_cfg=None, **kwargs):
        check_local_checkpoint(init_cfg, checkpoint_hint)
        super().__init__(*args, init_cfg=init_cfg, **kwargs)
        self.checkpoint_hint = checkpoint_hint

    def init_weights(self):
        check_local_checkpoint(self.init_cfg, self.checkpoint_hint)
        super().init_weights()


@BACKBONES.register_module()
class LocalPretrainedResNeXt(ResNeXt):
    """mmdet's ResNeXt with the checks of :class:`LocalPretrainedResNet` (for the research's
    open-mmlab ResNeXt-101 64x4d, whose host is down).

    Args (besides ResNeXt's):
        checkpoint_hint: appended to the error message.
        alternatives: other accepted checkpoint names (documented deviations, e.g.
            ``torchvision://resnext101_64x4d.imagenet1k_v1``), named in the error message.
    """

    def __init__(self, *args, checkpoint_hint: str = '', alternatives=(), init_cfg=None,
                 **kwargs):
        alternatives = tuple(alternatives)
        check_local_checkpoint(init_cfg, checkpoint_hint, alternatives)
        super().__init__(*args, init_cfg=init_cfg, **kwargs)
        self.checkpoint_hint = checkpoint_hint
        self.alternatives = alternatives

    def init_weights(self):
        check_local_checkpoint(self.init_cfg, self.checkpoint_hint, self.alternatives)
        super().init_weights()

"""The RSB backbone's pretrained weights arrive: LocalPretrainedResNet with the RSB config's
init_cfg (type Pretrained, prefix='backbone.') loads an mmcls-style classification checkpoint
(`state_dict` keys `backbone.*` and `head.fc.*`, a `meta` dict) and every backbone tensor ends
up equal to the file's, not left at its random init (mmcv loads with strict=False, so a wrong
prefix would load nothing and say so only in a log line)."""
from __future__ import annotations

import pytest
import torch
from mmcv import Config
from mmdet.models import build_backbone
from mmdet.models.backbones import ResNet

import iif.mmdet_plugins  # noqa: F401  registers LocalPretrainedResNet
from iif.models.local_pretrained import BackboneCheckpointError

from conftest import CONFIGS

RSB = CONFIGS / 'fasa' / 'fasa_iof_base10_r50_rfs_cos_norm_4x4_1x_rsb_lvis_v1.py'


def write_mmcls_checkpoint(path, depth: int) -> dict:
    """An mmcls ImageNet classifier checkpoint in miniature: a ResNet of `depth` (random, seed 5)
    under `backbone.`, a linear head under `head.fc.`; returns the backbone's tensors."""
    torch.manual_seed(5)
    backbone = ResNet(depth=depth)
    for m in backbone.modules():  # BN statistics that differ from a fresh module's (0 and 1)
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    tensors = {k: v.clone() for k, v in backbone.state_dict().items()}
    state_dict = {f'backbone.{k}': v for k, v in tensors.items()}
    state_dict['head.fc.weight'] = torch.randn(1000, 512 if depth < 50 else 2048)
    state_dict['head.fc.bias'] = torch.randn(1000)
    torch.save({'meta': {'mmcls_version': '0.19.0', 'epoch': 600,
                         'CLASSES': [f'class_{i}' for i in range(1000)]},
                'state_dict': state_dict}, path)
    return tensors


def rsb_backbone_cfg(checkpoint) -> dict:
    backbone = Config.fromfile(str(RSB)).model.backbone
    assert backbone.type == 'LocalPretrainedResNet'
    assert backbone.init_cfg.type == 'Pretrained' and backbone.init_cfg.prefix == 'backbone.'
    backbone.depth = 18  # the config's R50, made small; key names are those of any mmcls ResNet
    backbone.init_cfg.checkpoint = str(checkpoint)
    return backbone


def test_rsb_init_cfg_loads_every_backbone_tensor_from_an_mmcls_file(tmp_path):
    path = tmp_path / 'resnet18_mmcls.pth'
    expected = write_mmcls_checkpoint(path, depth=18)
    torch.manual_seed(11)
    backbone = build_backbone(rsb_backbone_cfg(path))
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    backbone.init_weights()
    after = backbone.state_dict()
    assert set(after) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(after[key], value, rtol=0, atol=0, msg=key)
    changed = [k for k in expected if k.endswith('weight') and not torch.equal(before[k], after[k])]
    assert len(changed) == sum(k.endswith('weight') for k in expected), 'every weight was loaded'


def test_missing_rsb_file_is_a_clear_error(tmp_path):
    with pytest.raises(BackboneCheckpointError, match='backbone checkpoint not found'):
        build_backbone(rsb_backbone_cfg(tmp_path / 'absent.pth'))

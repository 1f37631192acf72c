"""The FASA and cosine configs initialise the bbox head as the research runs did (mmcv 1.3.8 +
the mmdet 2.16 fork: Xavier-normal, gain 1, bias 0 on every Linear layer of the head, then the
cosine classifier's own N(0, 0.01); see configs/_base_/models/bbox_head_init_research.py).

Each config's model is built (backbone init_cfg=None: no download), initialised with
model.init_weights() as training does, and every bbox head's layers are measured:
  shared_fcs.k, fc_reg, a plain Linear fc_cls: std = sqrt(2 / (fan_in + fan_out)), normal;
  a NormedLinear / IIFNormedLinear fc_cls: std 0.01, normal; every bias exactly 0.
For the LVIS heads that is 0.01214 (12544 -> 1024), 0.03125 (1024 -> 1024), 0.01851
(1024 -> 4812) and 0.01. Tolerances follow from the sample size n of each weight: the sample
std is within 6 / sqrt(2 n) (relative) of the expected one (LVIS fc6: 0.12 %, smoke fc_cls:
9 %), the mean within 6 std / sqrt(n) of 0, and the share of weights beyond sqrt(3) std -- 8.3 %
for a normal, 0 for a uniform of the same std -- within 5 standard errors of 8.33 % (for
n >= 8000).
"""
from __future__ import annotations

import math

import pytest
import torch
from mmcv import Config

import iif.mmdet_plugins  # noqa: F401
from iif.engine.entry import build_model

from conftest import CONFIGS

INIT_CONFIGS = sorted((CONFIGS / 'fasa').glob('*.py')) + \
    sorted((CONFIGS / 'smoke' / 'fasa').glob('*.py')) + \
    sorted((CONFIGS / 'iif').glob('*_cos_*.py')) + \
    sorted((CONFIGS / 'baselines').glob('*_cos_*.py'))
NORMAL_TAIL = math.erfc(math.sqrt(3) / math.sqrt(2))  # P(|z| > sqrt 3) = 0.0833
# The research values for the LVIS R50/R101 heads (256 x 7 x 7 RoI features, 1203 classes).
LVIS_STD = {'shared_fcs.0': math.sqrt(2 / (12544 + 1024)),  # 0.012141
            'shared_fcs.1': math.sqrt(2 / (1024 + 1024)),   # 0.03125
            'fc_reg': math.sqrt(2 / (1024 + 4 * 1203)),     # 0.018512
            'fc_cls': 0.01}


def xavier_std(layer: torch.nn.Linear) -> float:
    fan_out, fan_in = layer.weight.shape
    return math.sqrt(2.0 / (fan_in + fan_out))


def expected_layers(head):
    """(name, layer, expected std) of every Linear layer in the head."""
    layers = [(f'shared_fcs.{i}', fc, xavier_std(fc)) for i, fc in enumerate(head.shared_fcs)]
    layers.append(('fc_reg', head.fc_reg, xavier_std(head.fc_reg)))
    cosine = 'NormedLinear' in type(head.fc_cls).__name__
    layers.append(('fc_cls', head.fc_cls, 0.01 if cosine else xavier_std(head.fc_cls)))
    return layers


def check_layer(name: str, layer: torch.nn.Linear, std: float) -> None:
    w = layer.weight.detach().double().flatten()
    n = w.numel()
    measured = float(w.std())
    assert measured == pytest.approx(std, rel=6 / math.sqrt(2 * n)), \
        f'{name}: std {measured:.6f}, research {std:.6f}'
    assert abs(float(w.mean())) < 6 * std / math.sqrt(n), f'{name}: mean {float(w.mean())}'
    if n >= 8000:
        tail = float((w.abs() > math.sqrt(3) * std).double().mean())
        se = math.sqrt(NORMAL_TAIL * (1 - NORMAL_TAIL) / n)
        assert abs(tail - NORMAL_TAIL) < 5 * se, \
            f'{name}: {tail:.4f} of the weights beyond sqrt(3) std (normal: 0.0833, uniform: 0)'
    assert layer.bias is not None and torch.count_nonzero(layer.bias) == 0, f'{name}: bias'


@pytest.mark.parametrize('config', INIT_CONFIGS, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_bbox_head_starts_as_in_the_research(config, smoke_workdir, monkeypatch):
    monkeypatch.chdir(smoke_workdir)  # smoke configs read data/smoke/ relative to the cwd
    cfg = Config.fromfile(str(config))
    cfg.model.backbone.init_cfg = None  # the ImageNet weights do not matter here
    torch.manual_seed(0)
    model = build_model(cfg, str(config))
    model.init_weights()
    bbox_head = model.roi_head.bbox_head
    heads = list(bbox_head) if isinstance(bbox_head, torch.nn.ModuleList) else [bbox_head]
    lvis = heads[0].num_classes == 1203
    for stage, head in enumerate(heads):
        layers = expected_layers(head)
        assert [name for name, _, _ in layers] == ['shared_fcs.0', 'shared_fcs.1', 'fc_reg',
                                                   'fc_cls']
        for name, layer, std in layers:
            if lvis:
                assert std == pytest.approx(LVIS_STD[name])
            check_layer(f'stage {stage} {name}', layer, std)


def test_the_research_values_differ_from_mmdet_2_28_defaults(smoke_workdir, monkeypatch):
    """Without the research init_cfg, mmdet 2.28 gives fc_reg N(0, 0.001) and Xavier-uniform
    shared FCs: the checks above tell them apart."""
    monkeypatch.chdir(smoke_workdir)
    config = CONFIGS / 'smoke' / 'fasa' / 'fasa_r18_fpn_smoke.py'
    cfg = Config.fromfile(str(config))
    cfg.model.roi_head.bbox_head.init_cfg = None
    torch.manual_seed(0)
    model = build_model(cfg, str(config))
    model.init_weights()
    head = model.roi_head.bbox_head
    with pytest.raises(AssertionError, match='fc_reg: std 0.001'):
        check_layer('fc_reg', head.fc_reg, xavier_std(head.fc_reg))
    with pytest.raises(AssertionError, match='beyond sqrt'):
        check_layer('shared_fcs.0', head.shared_fcs[0], xavier_std(head.shared_fcs[0]))

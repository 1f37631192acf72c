"""Every config loads and builds its model on CPU; the experiment set is complete."""
from __future__ import annotations

import re

import pytest
from mmcv import Config

import iif  # noqa: F401
from iif import weights
from iif.engine.entry import build_model

from conftest import CONFIGS

ALL_CONFIGS = sorted(p for p in CONFIGS.rglob('*.py')
                     if '_base_' not in p.parts and not p.name.startswith('_'))


def rel(path):
    return str(path.relative_to(CONFIGS))


@pytest.mark.parametrize('config', ALL_CONFIGS, ids=rel)
def test_config_builds_on_cpu(config, smoke_workdir, monkeypatch):
    monkeypatch.chdir(smoke_workdir)  # smoke configs read data/smoke/ relative to the cwd
    cfg = Config.fromfile(str(config))
    assert cfg.custom_imports['imports'] == ['iif']
    if cfg.model.backbone.get('type') == 'LocalPretrainedResNet':
        # the R50-RSB backbone is a file the user provides; building checks only that it exists
        stand_in = smoke_workdir / 'rsb_backbone_stand_in.pth'
        stand_in.write_bytes(b'not read when building')
        cfg.model.backbone.init_cfg.checkpoint = str(stand_in)
    model = build_model(cfg, str(config))
    head = model.roi_head.bbox_head
    classes = head.num_classes
    assert head.fc_cls.out_features == classes + 1
    assert model.roi_head.mask_head.num_classes == classes


@pytest.mark.parametrize('config', ALL_CONFIGS, ids=rel)
def test_config_text_is_portable(config):
    text = Config.fromfile(str(config)).pretty_text
    assert 'openmmlab.com' not in text and 'open-mmlab://' not in text
    for path in re.findall(r"(?:ann_file|img_prefix|weights)='([^']+)'", text):
        assert not path.startswith('/'), f'absolute path in {rel(config)}: {path}'


def test_variant_set_has_every_variant_and_the_baseline():
    names = sorted(p.name for p in (CONFIGS / 'iif' / 'variants').glob('*.py'))
    assert len(names) == 15
    for variant in weights.VARIANTS:
        name = f'iif_{variant}_r50_fpn_4x4_1x_lvis_v1.py'
        assert name in names
        cfg = Config.fromfile(str(CONFIGS / 'iif' / 'variants' / name))
        assert cfg.model.roi_head.bbox_head.loss_cls.variant == variant
        assert cfg.runner.max_epochs == 12 and cfg.lr_config.step == [8, 11]
    baseline = Config.fromfile(
        str(CONFIGS / 'iif' / 'variants' / 'softmax_r50_fpn_4x4_1x_lvis_v1.py'))
    assert baseline.model.roi_head.bbox_head.loss_cls.type == 'CrossEntropyLoss'
    assert baseline.runner.max_epochs == 12


def test_research_training_settings():
    cfg = Config.fromfile(str(CONFIGS / 'iif' / 'iif_r50_fpn_4x4_1x_lvis_v1.py'))
    assert cfg.optimizer == dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)
    assert cfg.lr_config.warmup_iters == 500 and cfg.data.samples_per_gpu == 4
    rcnn = cfg.model.test_cfg.rcnn
    assert rcnn.score_thr == 0.0001 and rcnn.max_per_img == 300 and rcnn.mask_thr_binary == 0.5
    scales = cfg.data.train.dataset.pipeline[2]['img_scale']
    assert [tuple(s) for s in scales] == [(1333, s) for s in range(640, 801, 32)]
    init = cfg.model.roi_head.bbox_head.init_cfg
    assert (init['val'], init['bias']) == (0.001, 0.0)
    assert cfg.data.train.oversample_thr == 0.0
    rfs = Config.fromfile(str(CONFIGS / 'iif' / 'iif_r50_fpn_rfs_4x4_1x_lvis_v1.py'))
    assert rfs.data.train.oversample_thr == 1e-3
    two_x = Config.fromfile(str(CONFIGS / 'iif' / 'iif_r50_fpn_4x4_2x_lvis_v1.py'))
    assert two_x.runner.max_epochs == 24 and two_x.lr_config.step == [16, 22]
    base = Config.fromfile(
        str(CONFIGS / 'baselines' / 'mask_rcnn_r50_fpn_softmax_4x4_1x_lvis_v1.py'))
    assert base.model.roi_head.bbox_head.init_cfg['bias'] == -6.5

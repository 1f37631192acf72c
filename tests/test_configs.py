"""Every config loads and builds its model on CPU; the experiment set is complete."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from mmcv import Config
from mmdet.core import BitmapMasks

import iif.mmdet_plugins  # noqa: F401
from iif import weights
from iif.engine.entry import build_model

from conftest import CONFIGS

ALL_CONFIGS = sorted(p for p in CONFIGS.rglob('*.py')
                     if '_base_' not in p.parts and not p.name.startswith('_'))


def rel(path):
    return str(path.relative_to(CONFIGS))


def _heads(module_or_list):
    """A cascade's per-stage heads, or the one head of a single-stage RoI head."""
    return list(module_or_list) if isinstance(module_or_list, torch.nn.ModuleList) \
        else [module_or_list]


def pretrained_names(node, where='cfg'):
    """(where, checkpoint) for every Pretrained init_cfg, ``pretrained`` key and documented
    alternative (LocalPretrained* backbones) in a config tree."""
    found = []
    if isinstance(node, dict):
        if node.get('type') == 'Pretrained':
            found.append((where, node.get('checkpoint')))
        if isinstance(node.get('pretrained'), str):
            found.append((f'{where}.pretrained', node['pretrained']))
        for alt in node.get('alternatives') or ():
            found.append((f'{where}.alternatives', alt))
        for key, value in node.items():
            found += pretrained_names(value, f'{where}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            found += pretrained_names(value, f'{where}[{i}]')
    return found


def torchvision_url(name: str) -> str:
    """The URL mmcv's torchvision:// lookup resolves ``name`` to (KeyError if it has none)."""
    from mmcv.runner.checkpoint import get_torchvision_models
    return get_torchvision_models()[name]


_TV_STATE = {}


def torchvision_state(name: str) -> dict:
    """Random weights with the layout of the torchvision model behind ``name``
    (e.g. 'resnet50', 'resnext101_64x4d.imagenet1k_v1'), built locally, not downloaded."""
    import torchvision
    arch = name.split('.')[0]
    if arch not in _TV_STATE:
        _TV_STATE.clear()  # one at a time: the R101/X101 state dicts are large
        _TV_STATE[arch] = getattr(torchvision.models, arch)(weights=None).state_dict()
    return _TV_STATE[arch]


@pytest.fixture
def no_downloads(monkeypatch):
    """mmcv's http loader answers from local stand-ins (torchvision-layout state dicts);
    every URL it was asked for is recorded."""
    from mmcv.runner import checkpoint as mmcv_checkpoint
    from mmcv.runner.checkpoint import get_torchvision_models
    by_url = {url: name for name, url in get_torchvision_models().items()}
    asked = []

    def fake_load_url(url, *args, **kwargs):
        asked.append(url)
        assert url in by_url, f'{url} is not in mmcv\'s torchvision table'
        return {k: v.clone() for k, v in torchvision_state(by_url[url]).items()}

    monkeypatch.setattr(mmcv_checkpoint, 'load_url', fake_load_url)
    return asked


@pytest.mark.parametrize('config', ALL_CONFIGS, ids=rel)
def test_config_builds_and_initialises_on_cpu(config, smoke_workdir, monkeypatch, no_downloads):
    """Every config builds and runs init_weights; its pretrained backbone comes from mmcv's
    torchvision table (answered locally) or, where the config asks for a local file, from a
    stand-in file with the research checkpoint's layout."""
    monkeypatch.chdir(smoke_workdir)  # smoke configs read data/smoke/ relative to the cwd
    cfg = Config.fromfile(str(config))
    assert cfg.custom_imports['imports'] == ['iif.mmdet_plugins']
    backbone = cfg.model.backbone
    expected = None
    if backbone.get('type') == 'LocalPretrainedResNet':
        # the R50-RSB file is an mmcls checkpoint: backbone weights under 'backbone.'
        expected = torchvision_state('resnet50')
        stand_in = {'state_dict': {f'backbone.{k}': v for k, v in expected.items()}}
    elif backbone.get('type') == 'LocalPretrainedResNeXt':
        # open-mmlab's resnext101_64x4d file: a plain state dict in torchvision's layout
        expected = torchvision_state('resnext101_64x4d')
        stand_in = expected
    if expected is not None:
        path = smoke_workdir / f'stand_in_{backbone.type}.pth'
        torch.save(stand_in, path)
        backbone.init_cfg.checkpoint = str(path)
    model = build_model(cfg, str(config))
    model.init_weights()
    init = backbone.get('init_cfg') or {}
    name = init.get('checkpoint') or ''
    if name.startswith('torchvision://'):
        assert no_downloads == [torchvision_url(name[len('torchvision://'):])]
        expected = torchvision_state(name[len('torchvision://'):])
    else:
        assert no_downloads == []
    if expected is not None:  # the pretrained weights really reached the backbone
        assert torch.equal(model.backbone.layer4[-1].conv2.weight,
                           expected['layer4.2.conv2.weight'])
    for head in _heads(model.roi_head.bbox_head):
        assert head.fc_cls.out_features == head.num_classes + 1
    for head in _heads(model.roi_head.mask_head):
        assert head.num_classes == _heads(model.roi_head.bbox_head)[0].num_classes


@pytest.mark.parametrize('config', ALL_CONFIGS, ids=rel)
def test_every_checkpoint_name_resolves_without_download(config, smoke_workdir, no_downloads):
    """Each checkpoint a config names (init_cfg, pretrained, documented alternatives, load_from)
    is in mmcv's torchvision table or a local file the user is told to provide (left empty);
    mmcv's own name resolution (_load_checkpoint) reaches the table's URL."""
    from mmcv.runner.checkpoint import _load_checkpoint
    cfg = Config.fromfile(str(config))
    names = pretrained_names(cfg.model, 'model')
    if cfg.get('load_from'):
        names.append(('load_from', cfg.load_from))
    for where, name in names:
        if not name:
            assert cfg.model.backbone.type.startswith('LocalPretrained'), \
                f'{rel(config)}: {where} is empty but the backbone does not ask for a file'
            continue
        assert name.startswith('torchvision://'), f'{rel(config)}: {where} = {name!r}'
        url = torchvision_url(name[len('torchvision://'):])
        no_downloads.clear()
        _load_checkpoint(name, map_location='cpu')
        assert no_downloads == [url]


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


# ------------------------------------------------------------- research configs, ported
RESEARCH_TWINS = {  # kit config -> research config it mirrors (kostas1515/iif@747b041)
    'iif/iif_r50_fpn_rfs_cos_norm_4x4_1x_lvis_v1.py':
        'activations/iif/iif_r50_rfs_cos_norm_4x4_1x.py',
    'baselines/mask_rcnn_r50_fpn_rfs_cos_norm_softmax_4x4_1x_lvis_v1.py':
        'activations/r50_rfs_cos_norm_4x4_1x_softmax.py',
    'iif/iif_r50_fpn_rfs_4x4_2x_lvis_v1.py': 'activations/iif/iif_r50_rfs_4x4_2x.py',
    'iif/iif_r50_fpn_4x4_2x_lvis_v0.5.py': 'activations/iif/iif_r50_4x4_2x_lvis_v05.py',
    'iif/iif_cascade_mask_rcnn_r101_fpn_4x4_1x_lvis_v1.py':
        'activations/iif/iif_cascade_r50_4x4_1x.py',
    'baselines/cascade_mask_rcnn_r101_fpn_softmax_4x4_1x_lvis_v1.py':
        'activations/cascade_r50_4x4_1x_softmax.py',
    'iif/iif_htc_r101_fpn_4x4_1x_lvis_v1.py': 'activations/iif/iif_htc_r101_4x4_1x.py',
    'baselines/htc_r101_fpn_softmax_4x4_1x_lvis_v1.py': 'activations/htc_r101_4x4_1x_softmax.py',
    'baselines/mask_rcnn_r101_fpn_softmax_4x4_1x_lvis_v1.py': 'activations/r101_4x4_1x_softmax.py',
    'baselines/mask_rcnn_x101_64x4d_fpn_softmax_4x4_1x_lvis_v1.py':
        'activations/x101_4x4_1x_softmax.py',
    'iif/iif_x101_64x4d_fpn_4x4_1x_lvis_v1.py': 'activations/iif/iif_x101_4x4_1x.py',
    'fasa/fasa_iof_base10_giou_r50_rfs_cos_norm_4x4_1x_rsb_lvis_v1.py':
        'fasa_iof_base10_giou16_r50_rfs_cos_norm_4x4_1x_rsb.py',
}


def load(name):
    return Config.fromfile(str(CONFIGS / name))


@pytest.mark.parametrize('name', sorted(RESEARCH_TWINS))
def test_ported_config_names_its_research_file(name):
    header = (CONFIGS / name).read_text().split('_base_')[0]
    assert RESEARCH_TWINS[name] in header and '747b041' in header


def test_all_enhancements_but_fasa_and_its_softmax_twin():
    iif_cfg = load('iif/iif_r50_fpn_rfs_cos_norm_4x4_1x_lvis_v1.py')
    soft = load('baselines/mask_rcnn_r50_fpn_rfs_cos_norm_softmax_4x4_1x_lvis_v1.py')
    for cfg in (iif_cfg, soft):
        assert cfg.data.train.oversample_thr == 1e-3 and cfg.runner.max_epochs == 12
        assert cfg.model.roi_head.mask_head.predictor_cfg == dict(type='NormedConv2d',
                                                                  tempearture=20)
    head = iif_cfg.model.roi_head.bbox_head
    assert head.cls_predictor_cfg == dict(type='NormedLinear', tempearture=8)
    assert (head.loss_cls.type, head.loss_cls.variant) == ('IIFLoss', 'raw')
    soft_head = soft.model.roi_head.bbox_head
    assert soft_head.cls_predictor_cfg == dict(type='NormedLinear', tempearture=20)
    assert soft_head.loss_cls == dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)
    assert soft_head.get('init_cfg') == head.get('init_cfg')  # same start, only the loss differs


def test_schedules_and_datasets_of_the_ported_iif_configs():
    two_x = load('iif/iif_r50_fpn_rfs_4x4_2x_lvis_v1.py')
    assert two_x.runner.max_epochs == 24 and two_x.lr_config.step == [16, 22]
    assert two_x.data.train.oversample_thr == 1e-3
    v05 = load('iif/iif_r50_fpn_4x4_2x_lvis_v0.5.py')
    assert v05.data.train.oversample_thr == 0.0 and v05.runner.max_epochs == 24
    assert v05.model.roi_head.bbox_head.loss_cls.weights == 'lvis_v0.5'
    assert v05.data.train.dataset.ann_file.endswith('lvis_v0.5_train.json')


@pytest.mark.parametrize('name', ['iif/iif_cascade_mask_rcnn_r101_fpn_4x4_1x_lvis_v1.py',
                                  'iif/iif_htc_r101_fpn_4x4_1x_lvis_v1.py'])
def test_cascades_put_iif_in_every_stage(name, monkeypatch):
    cfg = load(name)
    assert cfg.model.backbone.depth == 101 and cfg.fp16 == dict(loss_scale=512.)
    assert cfg.data.train.oversample_thr == 0.0
    assert 'semantic_head' not in cfg.model.roi_head  # LVIS only: no COCO-stuff maps
    cfg.model.backbone.init_cfg = None
    model = build_model(cfg, name)
    model.init_weights()
    heads = list(model.roi_head.bbox_head)
    assert len(heads) == 3
    for head in heads:
        assert type(head.loss_cls).__name__ == 'IIFLoss' and head.loss_cls.variant == 'raw'
        assert head.custom_activation  # mmdet scores with softmax(w * z) at test time
        assert torch.equal(head.loss_cls.iif_weights, heads[0].loss_cls.iif_weights)
        assert torch.all(head.fc_cls.weight == 0.001) and torch.all(head.fc_cls.bias == 0)
        assert head.reg_class_agnostic
    logits = torch.randn(5, 1204)
    assert torch.allclose(heads[-1].loss_cls.get_activation(logits),
                          torch.softmax(logits * heads[-1].loss_cls.iif_weights, dim=1))


def test_x101_baseline_keeps_the_research_batch():
    cfg = load('baselines/mask_rcnn_x101_64x4d_fpn_softmax_4x4_1x_lvis_v1.py')
    assert cfg.data.samples_per_gpu == 1 and cfg.recipe.global_batch == 4
    assert cfg.lr_config.warmup_iters == 1000 and cfg.fp16 == dict(loss_scale=512.)
    assert cfg.optimizer.lr == 0.02


def test_giou_twin_differs_from_the_rsb_config_only_in_the_box_loss():
    rsb = load('fasa/fasa_iof_base10_r50_rfs_cos_norm_4x4_1x_rsb_lvis_v1.py')
    giou = load('fasa/fasa_iof_base10_giou_r50_rfs_cos_norm_4x4_1x_rsb_lvis_v1.py')
    head = giou.model.roi_head.bbox_head
    assert head.loss_bbox == dict(type='GIoULoss', loss_weight=16.0) and head.reg_decoded_bbox
    for cfg in (rsb, giou):
        del cfg.model.roi_head.bbox_head['loss_bbox']
        cfg.model.roi_head.bbox_head.pop('reg_decoded_bbox', None)
    assert giou.model == rsb.model and giou.optimizer == rsb.optimizer
    assert giou.data == rsb.data and giou.runner == rsb.runner


# --------------------------------------------------------------------- ResNeXt-101 weights
X101 = 'iif/iif_x101_64x4d_fpn_4x4_1x_lvis_v1.py'
TV_X101 = 'torchvision://resnext101_64x4d.imagenet1k_v1'


def test_x101_without_its_backbone_file_names_the_option(smoke_workdir, monkeypatch):
    from iif.errors import UserError
    monkeypatch.chdir(smoke_workdir)
    cfg = load(X101)
    with pytest.raises(UserError) as err:
        build_model(cfg, X101)
    text = str(err.value)
    assert 'model.backbone.init_cfg.checkpoint' in text
    assert 'resnext101_64x4d-ee2c6f71.pth' in text and TV_X101 in text
    cfg.model.backbone.init_cfg.checkpoint = 'https://example.org/x.pth'
    with pytest.raises(UserError, match='must be a local file'):
        build_model(cfg, X101)


def test_x101_initialises_from_the_torchvision_deviation(no_downloads):
    cfg = load(X101)
    cfg.model.backbone.init_cfg.checkpoint = TV_X101
    model = build_model(cfg, X101)
    model.init_weights()
    assert no_downloads == [torchvision_url('resnext101_64x4d.imagenet1k_v1')]
    state = torchvision_state('resnext101_64x4d')
    for key in ('conv1.weight', 'layer1.0.conv2.weight', 'layer3.22.bn2.running_var'):
        assert torch.equal(model.backbone.state_dict()[key], state[key]), key


def test_the_old_x101_name_is_not_in_mmcv_torchvision_table():
    """B1: mmcv 1.7.2 with torchvision 0.16 knows only the versioned ResNeXt-101 64x4d name."""
    with pytest.raises(KeyError):
        torchvision_url('resnext101_64x4d')
    assert torchvision_url('resnext101_64x4d.imagenet1k_v1').startswith('https://')


@pytest.mark.slow
@pytest.mark.parametrize('name', ['iif/iif_cascade_mask_rcnn_r101_fpn_4x4_1x_lvis_v1.py',
                                  'iif/iif_htc_r101_fpn_4x4_1x_lvis_v1.py'])
def test_cascades_train_and_test_with_iif(name):
    """One training step's losses (every stage's IIF classification loss) and a test pass
    through mmdet's cascade code on a small image: the IIFLoss hooks are all it needs."""
    cfg = load(name)
    cfg.model.backbone.init_cfg = None
    cfg.model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=64)
    cfg.model.test_cfg.rpn.update(nms_pre=200, max_per_img=64)
    cfg.model.test_cfg.rcnn.update(max_per_img=20)
    torch.manual_seed(0)
    model = build_model(cfg, name)
    model.init_weights()
    img = torch.rand(1, 3, 128, 128)
    meta = dict(img_shape=(128, 128, 3), ori_shape=(128, 128, 3), pad_shape=(128, 128, 3),
                scale_factor=np.ones(4, dtype=np.float32), flip=False)
    boxes = torch.tensor([[10., 12., 90., 100.], [40., 30., 120., 110.]])
    labels = torch.tensor([5, 1000])  # a frequent and a rare LVIS class
    masks = BitmapMasks(np.zeros((2, 128, 128), dtype=np.uint8), 128, 128)
    masks.masks[0, 12:100, 10:90] = 1
    masks.masks[1, 30:110, 40:120] = 1
    model.train()
    losses = model.forward_train(img, [meta], [boxes], [labels], gt_masks=[masks])
    for stage in range(3):
        assert torch.isfinite(losses[f's{stage}.loss_cls'])
        assert torch.isfinite(losses[f's{stage}.loss_mask'])
    model.eval()
    with torch.no_grad():
        (bbox_results, segm_results), = model.simple_test(img, [meta], rescale=True)
    assert len(bbox_results) == 1203 and len(segm_results) == 1203

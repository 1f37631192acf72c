"""The research's released checkpoints through the kit's test path (configs/zoo, MODEL_ZOO.md):
the published-numbers file, the research key layout, the weights-only loader, the sha256
record, and `tools/test.py` end to end on a smoke-size twin of a zoo config."""
from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmcv import Config

import iif.mmdet_plugins  # noqa: F401  registers the kit's components
from iif.engine.checkpoint import load_model_weights, read_checkpoint
from iif.engine.entry import build_model
from iif.errors import UserError
from iif.reproduce import results
from iif.reproduce.errors import ReproduceError

from conftest import CONFIGS, REPO, cpu_env, explain, run

ZOO = CONFIGS / 'zoo'
ZOO_CONFIGS = sorted(p for p in ZOO.glob('*.py') if not p.name.startswith('_'))
FASA_EXTRAS = ('feature_mean', 'feature_std', 'feature_used', 'prob_list',
               'cum_loss_perclass_t1')


# ------------------------------------------------------------------ the published numbers
def test_published_file_records_every_readme_version():
    published = {m.model: m for m in results.load_published()}
    assert set(published) == {'IIF_r50', 'IIF_r50_rsb'}
    r50, rsb = published['IIF_r50'], published['IIF_r50_rsb']
    table_versions = ['a4456bb', '445bc4e', '2279f78', 'a7561f3', '5939b4d']
    for m in (r50, rsb):
        table = [s for s in m.statements if s.source_file == 'instance_segmentation/README.md']
        assert sorted({s.source_commit[:7] for s in table}) == sorted(table_versions)
        assert {s.source_commit[:7] for s in m.current} == {'5939b4d'}
    apc = {s.source_commit[:7]: s.value for s in rsb.statements if s.key == 'segm/APc'}
    assert apc == {'a4456bb': 26.8, '445bc4e': 26.8, '2279f78': 26.8, 'a7561f3': 26.8,
                   '5939b4d': 26.2}
    # the seed version's IIF_r50 links are the GOL R101 run's; HEAD moved the Dropbox
    # epoch_12 files to the rsb row and the Google Drive files to IIF_r50
    seed = next(s for s in r50.statements if s.source_commit.startswith('a4456bb'))
    assert 'epoch_24.pth' in seed.weights_url
    assert seed.linked_config == 'droploss_normed_mask_r101_rfs_4x4_2x_gumbel.py'
    assert 'epoch_12.pth' in rsb.links['weights'] and 'dropbox' in rsb.links['weights']
    assert '17djufBgqYNLq3_BksTT_XDw9cIunyxaa' in r50.links['weights']
    assert rsb.config == ('linked, not in the repository: '
                          'fasa_iof_base10_giou16_r50_rfs_cos_norm_4x4_1x_rsb.py')
    assert r50.config == 'probable, unverified: fasa_iof_base10_r50_rfs_cos_norm_4x4_2x.py'
    abstract, = [s for s in r50.statements if s.role == 'abstract']
    assert (abstract.source_file, abstract.value) == ('README.md', 26.3)
    # every compared config is a test-only zoo config
    for m in (r50, rsb):
        for name in m.configs:
            assert Config.fromfile(str(ZOO / name)).zoo['test_only'] is True


def _csv_with(tmp_path, edit) -> Path:
    text = results.published_path().read_text()
    path = tmp_path / 'published.csv'
    path.write_text(edit(text))
    return path


@pytest.mark.parametrize('edit, message', [
    (lambda t: t.replace('5939b4da96e04c24c0721f6adcced31214a6d3ab', '5939b4d', 1),
     'full 40-hex commit'),
    (lambda t: t.replace(',current,', ',newest,', 1), 'role must be one of'),
    (lambda t: t.replace('"probable, unverified: fasa', '"maybe: fasa', 1), 'config must be'),
    (lambda t: t.replace(',27.4,current,', ',274,current,', 1), r'value must lie in \[0, 100\]'),
    (lambda t: t.replace(',earlier,', ',current,', 1), 'two current values'),
    (lambda t: t.replace('model,iou_type', 'name,iou_type', 1), 'the header must be'),
    (lambda t: t.replace('iif_r50_rsb_released_test.py,0.4', 'zoo/x.py,0.4', 1),
     'config file names'),
])
def test_published_file_validation(tmp_path, edit, message):
    path = _csv_with(tmp_path, edit)
    assert path.read_text() != results.published_path().read_text()
    with pytest.raises(ReproduceError, match=message) as info:
        results.load_published(path)
    if 'header' not in message:
        assert re.search(r'line \d+', str(info.value)) or 'current' in str(info.value)


# ------------------------------------------------------------- configs and key layout
def test_zoo_configs_have_the_research_test_path():
    for config in ZOO_CONFIGS:
        cfg = Config.fromfile(str(config))
        head = cfg.model.roi_head.bbox_head
        assert head.type == 'Shared2FCBBoxHead'
        assert head.cls_predictor_cfg == dict(type='NormedLinear', tempearture=8)
        assert head.loss_cls.type == 'IIFLoss' and head.loss_cls.variant == 'base10_obj'
        assert cfg.model.roi_head.mask_head.predictor_cfg == dict(type='NormedConv2d',
                                                                  tempearture=20)
        rcnn = cfg.model.test_cfg.rcnn
        assert rcnn.nms.iou_threshold == 0.3 and rcnn.score_thr == 0.0001
        assert rcnn.max_per_img == 300
    rsb = Config.fromfile(str(ZOO / 'iif_r50_rsb_released_test.py'))
    assert rsb.model.test_cfg.rcnn.mask_thr_binary == 0.4
    r50 = Config.fromfile(str(ZOO / 'iif_r50_released_test.py'))
    assert r50.model.test_cfg.rcnn.mask_thr_binary == 0.5


def research_checkpoint(model, path: Path, meta_extra=None, drop=(), add=None) -> dict:
    """What the research's mmdet 2.16 fork saved: the test model's tensors (random here), the
    FASA head's extra tensors, mmcv 1.3.8-style meta and an optimizer state."""
    torch.manual_seed(3)
    state = {k: torch.randn_like(v) if v.is_floating_point() else v.clone()
             for k, v in model.state_dict().items() if k not in drop}
    head = model.roi_head.bbox_head
    classes, dim = head.num_classes, head.fc_cls.in_features
    state.update({'roi_head.bbox_head.feature_mean': torch.rand(classes, dim),
                  'roi_head.bbox_head.feature_std': torch.rand(classes, dim),
                  'roi_head.bbox_head.feature_used': torch.ones(classes),
                  'roi_head.bbox_head.prob_list': torch.full((classes,), 1e-3),
                  'roi_head.bbox_head.cum_loss_perclass_t1': torch.rand(classes + 1)})
    state.update(add or {})
    meta = dict(mmcv_version='1.3.8', time='Fri Jul  1 14:03:48 2022',
                mmdet_version='2.16.0+e68bc71', CLASSES=tuple(f'c{i}' for i in range(classes)),
                env_info='sys.platform: linux', seed=None, exp_name='fasa_iof_base10_test.py',
                config="work_dir = 'experiments/fasa_iof_base10_test'\n", epoch=12, iter=74556,
                hook_msgs=dict(last_ckpt='experiments/fasa_iof_base10_test/epoch_12.pth'))
    meta.update(meta_extra or {})
    ckpt = dict(meta=meta, state_dict=state,
                optimizer=dict(state={0: dict(momentum_buffer=torch.zeros(3))},
                               param_groups=[dict(lr=0.0002, weight_decay=0.05,
                                                  params=[0])]))
    torch.save(ckpt, path)
    return state


@pytest.fixture(scope='module')
def rsb_model():
    cfg = Config.fromfile(str(ZOO / 'iif_r50_rsb_released_test.py'))
    return cfg, build_model(cfg, 'zoo', test=True)


def test_research_layout_loads_into_the_full_size_zoo_model(rsb_model, tmp_path):
    cfg, model = rsb_model
    assert model.roi_head.bbox_head.fc_cls.weight.shape == (1204, 1024)
    path = tmp_path / 'epoch_12.pth'
    state = research_checkpoint(model, path)
    notes = []
    ckpt = load_model_weights(model, str(path), ignore_keys=cfg.zoo.ignore_checkpoint_keys,
                              strict_extra=True, weights_only='always', say=notes.append)
    assert ckpt['meta']['mmdet_version'] == '2.16.0+e68bc71'
    note, = notes  # the ignored FASA tensors, named with their shapes, and nothing else
    assert note.startswith('note: ignored 5 checkpoint tensors this test-only model')
    for key in FASA_EXTRAS:
        assert f'roi_head.bbox_head.{key}' in note
    assert '(1203, 1024)' in note
    loaded = model.state_dict()
    for key in ('backbone.conv1.weight', 'roi_head.bbox_head.fc_cls.weight',
                'roi_head.mask_head.conv_logits.weight', 'backbone.layer4.2.bn3.running_var'):
        assert torch.equal(loaded[key], state[key]), key


def test_research_layout_with_a_missing_or_foreign_tensor_is_refused(rsb_model, tmp_path):
    cfg, model = rsb_model
    path = tmp_path / 'missing.pth'
    research_checkpoint(model, path, drop=('roi_head.mask_head.conv_logits.weight',))
    with pytest.raises(UserError, match='lacks 1 of the model.s tensors.*conv_logits'):
        load_model_weights(model, str(path), ignore_keys=cfg.zoo.ignore_checkpoint_keys,
                           strict_extra=True, say=lambda _: None)
    path = tmp_path / 'cascade.pth'
    research_checkpoint(model, path, add={'roi_head.bbox_head.1.fc_cls.weight': torch.zeros(2)})
    with pytest.raises(UserError, match='1 tensors this model does not have'):
        load_model_weights(model, str(path), ignore_keys=cfg.zoo.ignore_checkpoint_keys,
                           strict_extra=True, say=lambda _: None)


# --------------------------------------------------------------------- weights_only
class _RunsCode:
    """A pickle that runs code when loaded in full (creates a file)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


def test_weights_only_loader(tmp_path):
    plain = tmp_path / 'plain.pth'
    torch.save(dict(meta=dict(epoch=1, CLASSES=('a',)), state_dict={'w': torch.ones(2)}), plain)
    notes = []
    assert torch.equal(read_checkpoint(str(plain), 'always', notes.append)['state_dict']['w'],
                       torch.ones(2))
    assert notes == []
    # numpy scalars in meta: the safe loader refuses; 'auto' loads in full and says so
    numpy_meta = tmp_path / 'numpy.pth'
    torch.save(dict(meta=dict(best_score=np.float64(0.27)), state_dict={}), numpy_meta)
    with pytest.raises(UserError, match='weights_only=True.*numpy'):
        read_checkpoint(str(numpy_meta), 'always', notes.append)
    assert read_checkpoint(str(numpy_meta), 'auto', notes.append)['meta']['best_score'] == 0.27
    assert len(notes) == 1 and 'loaded in full' in notes[0] and '--weights-only' in notes[0]
    # a pickle that would run code is never executed in 'always' mode
    marker = tmp_path / 'code_ran'
    evil = tmp_path / 'evil.pth'
    torch.save(dict(meta=_RunsCode(str(marker)), state_dict={}), evil)
    with pytest.raises(UserError, match='cannot be loaded with torch.load\\(weights_only=True\\)'):
        read_checkpoint(str(evil), 'always', notes.append)
    assert not marker.exists()
    corrupt = tmp_path / 'cut.pth'
    corrupt.write_bytes(plain.read_bytes()[:100])
    with pytest.raises(UserError, match='corrupt'):
        read_checkpoint(str(corrupt), 'auto', notes.append)


# -------------------------------------------------------- test path end to end (smoke)
def smoke_zoo_config(directory: Path) -> Path:
    """A smoke-size twin of configs/zoo/iif_r50_rsb_released_test.py: same file name (so it is
    compared with IIF_r50_rsb), same test-time head, the small dataset and R18 model."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / 'iif_r50_rsb_released_test.py'
    path.write_text(f"""_base_ = ['{CONFIGS / 'smoke' / '_base_smoke.py'}']
model = dict(
    roi_head=dict(
        bbox_head=dict(
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=8),
            loss_cls=dict(_delete_=True, type='IIFLoss', variant='base10_obj',
                          weights='data/smoke/annotations/lvis_v1_train.json', num_classes=8)),
        mask_head=dict(predictor_cfg=dict(type='NormedConv2d', tempearture=20))),
    test_cfg=dict(rcnn=dict(nms=dict(type='nms', iou_threshold=0.3), mask_thr_binary=0.4)))
zoo = {dict(Config.fromfile(str(ZOO / '_base_released_r50.py')).zoo)!r}
""")
    return path


@pytest.mark.slow
def test_zoo_config_checks_the_whole_test_path(smoke_workdir, tmp_path, monkeypatch):
    monkeypatch.chdir(smoke_workdir)
    config = smoke_zoo_config(tmp_path / 'cfg')
    cfg = Config.fromfile(str(config))
    ckpt = tmp_path / 'epoch_12.pth'
    research_checkpoint(build_model(cfg, str(config), test=True), ckpt)
    registry = tmp_path / 'cache' / 'zoo_checkpoints.json'
    env = cpu_env(IIF_ZOO_REGISTRY=registry)
    test = [sys.executable, REPO / 'tools' / 'test.py', config, ckpt, '--work-dir',
            tmp_path / 'wd', '--weights-only']
    first = run(test, cwd=smoke_workdir, env=env)
    assert first.returncode == 0, explain(first)
    out = first.stdout
    assert 'note: ignored 5 checkpoint tensors' in out and 'feature_mean' in out
    assert 'checkpoint meta: mmdet_version 2.16.0+e68bc71' in out
    assert 'work_dir experiments/fasa_iof_base10_test' in out
    assert 'first use of IIF_r50_rsb: recorded its sha256' in out
    assert 'published IIF_r50_rsb (github.com/kostas1515/iif' in out
    apc = next(line for line in out.splitlines() if line.strip().startswith('segm/APc'))
    assert ' 26.2 ' in apc and '[mask_thr_binary 0.4]' in apc and '(26.8 at a4456bb' in apc
    assert 'published check: outside (outside: segm/AP' in out  # random weights: AP ~ 0
    run_dir, = (tmp_path / 'wd').glob('test_*')
    metrics = json.loads((run_dir / 'metrics.json').read_text())
    check = json.loads((run_dir / 'published_check.json').read_text())
    assert check['published_model'] == 'IIF_r50_rsb'
    assert check['check']['deltas']['segm/AP'] == pytest.approx(
        100 * metrics['segm']['AP'] - 27.4)
    recorded = json.loads(registry.read_text())['IIF_r50_rsb']
    assert recorded['sha256'] == json.loads((run_dir / 'run.json').read_text())[
        'checkpoint_sha256']
    assert 'epoch_12.pth' in recorded['weights_url']
    # a different file under the same name is refused before any work
    other = tmp_path / 'other' / 'epoch_12.pth'
    other.parent.mkdir()
    shutil.copy(ckpt, other)
    with open(other, 'ab') as f:
        f.write(b'\0')
    second = run(test[:3] + [other] + test[4:], cwd=smoke_workdir, env=env)
    assert second.returncode == 2, explain(second)
    assert 'is not the file first used here as IIF_r50_rsb' in second.stderr
    assert len(list((tmp_path / 'wd').glob('test_*'))) == 1
    # a zoo config is no training recipe
    train = run([sys.executable, REPO / 'tools' / 'train.py', config, '--work-dir',
                 tmp_path / 'train'], cwd=smoke_workdir, env=env)
    assert train.returncode == 2 and 'test-only config' in train.stderr, explain(train)
    assert not (tmp_path / 'train').exists()

"""Bad input to the entry scripts: a clear message, exit status 2, and nothing written."""
from __future__ import annotations

import os

import torch

from conftest import REPO, SMOKE_IIF, cpu_env, run

TRAIN = REPO / 'tools' / 'train.py'
TEST = REPO / 'tools' / 'test.py'
DIST_TRAIN = REPO / 'tools' / 'dist_train.sh'
PY = os.environ.get('PYTHON_FOR_TESTS') or __import__('sys').executable


def assert_refused(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-3000:])
    assert 'Traceback' not in result.stderr, result.stderr[-3000:]
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr[-3000:])


def test_unknown_variant(smoke_workdir, tmp_path):
    wd = tmp_path / 'wd'
    result = run([PY, TRAIN, SMOKE_IIF, '--work-dir', wd, '--cfg-options',
                  'model.roi_head.bbox_head.loss_cls.variant=cubic'], cwd=smoke_workdir)
    assert_refused(result, "unknown IIF variant 'cubic'", 'raw, smooth')
    assert not wd.exists()


def test_class_count_mismatch(smoke_workdir, tmp_path):
    wd = tmp_path / 'wd'
    result = run([PY, TRAIN, SMOKE_IIF, '--work-dir', wd, '--cfg-options',
                  'model.roi_head.bbox_head.loss_cls.weights=lvis_v1'], cwd=smoke_workdir)
    assert_refused(result, '1203 classes but the head has num_classes=8')
    assert not wd.exists()


def test_missing_annotation_file_names_the_env_variable(tmp_path):
    empty = tmp_path / 'no_data_here'
    empty.mkdir()
    result = run([PY, TRAIN, SMOKE_IIF], cwd=empty)
    assert_refused(result, 'annotation file missing: data/smoke/annotations/lvis_v1_train.json',
                   'image folder missing: data/smoke', 'LVIS_ROOT')
    assert list(empty.iterdir()) == []


def test_missing_config(smoke_workdir):
    result = run([PY, TRAIN, 'configs/iif/no_such_config.py'], cwd=smoke_workdir)
    assert_refused(result, 'config not found: configs/iif/no_such_config.py')


def test_missing_checkpoint(smoke_workdir):
    result = run([PY, TEST, SMOKE_IIF, 'work_dirs/none/epoch_12.pth'], cwd=smoke_workdir)
    assert_refused(result, 'checkpoint not found: work_dirs/none/epoch_12.pth')


def test_corrupt_checkpoint(smoke_workdir, tmp_path):
    ckpt = tmp_path / 'epoch_1.pth'
    ckpt.write_bytes(b'PK\x03\x04 this is not a checkpoint' * 10)
    result = run([PY, TEST, SMOKE_IIF, ckpt, '--work-dir', tmp_path / 'out'], cwd=smoke_workdir)
    assert_refused(result, 'cannot be read', 'corrupt')
    assert not (tmp_path / 'out').exists()


def test_checkpoint_of_another_class_count(smoke_workdir, tmp_path):
    from mmcv import Config
    from iif.engine.entry import build_model
    cfg = Config.fromfile(str(REPO / 'configs' / 'smoke' / 'mask_rcnn_r18_fpn_softmax_smoke.py'))
    cfg.model.roi_head.bbox_head.num_classes = 5
    cfg.model.roi_head.mask_head.num_classes = 5
    ckpt = tmp_path / 'five_classes.pth'
    torch.save({'state_dict': build_model(cfg, 'five').state_dict(), 'meta': {}}, ckpt)
    result = run([PY, TEST, SMOKE_IIF, ckpt, '--work-dir', tmp_path / 'out'], cwd=smoke_workdir)
    assert_refused(result, 'does not fit this config', 'fc_cls')
    assert not (tmp_path / 'out').exists()


def test_more_gpus_than_present(smoke_workdir, tmp_path):
    env = cpu_env()
    env.pop('IIF_DEVICE')
    wd = tmp_path / 'wd'
    result = run(['bash', DIST_TRAIN, SMOKE_IIF, 4, '--work-dir', wd], cwd=smoke_workdir, env=env)
    assert_refused(result, '4 GPU(s) requested but no GPU is visible', 'IIF_DEVICE=cpu')
    assert not wd.exists()
    result = run(['bash', DIST_TRAIN, SMOKE_IIF, 'four'], cwd=smoke_workdir)
    assert result.returncode == 2 and 'GPUS must be a whole number' in result.stderr


def test_existing_run_is_not_overwritten(smoke_workdir, tmp_path):
    wd = tmp_path / 'wd'
    wd.mkdir()
    ckpt = wd / 'epoch_3.pth'
    ckpt.write_bytes(b'weights of a three-day run')
    result = run([PY, TRAIN, SMOKE_IIF, '--work-dir', wd], cwd=smoke_workdir)
    assert_refused(result, 'already holds checkpoints', '--auto-resume')
    assert ckpt.read_bytes() == b'weights of a three-day run'
    assert sorted(p.name for p in wd.iterdir()) == ['epoch_3.pth']


def test_truncated_annotation_file(smoke_workdir, tmp_path):
    import shutil
    root = tmp_path / 'wd'
    shutil.copytree(smoke_workdir / 'data', root / 'data')
    ann = root / 'data' / 'smoke' / 'annotations' / 'lvis_v1_val.json'
    ann.write_bytes(ann.read_bytes()[:500])  # an interrupted copy
    result = run([PY, TRAIN, SMOKE_IIF], cwd=root)
    assert_refused(result, 'lvis_v1_val.json: truncated or invalid JSON')
    assert not (root / 'work_dirs').exists()

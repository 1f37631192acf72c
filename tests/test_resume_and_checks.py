"""Resuming and the checks before work starts: a truncated checkpoint is skipped, a resumed run
keeps its seed, checkpoints that do not fit are refused before anything is written, test runs
never share a directory, IIF_DEVICE=cpu never touches a GPU, the config's runtime settings take
effect, and the process group waits long enough for rank 0's lvis-api evaluation."""
from __future__ import annotations

import datetime
import json
import multiprocessing as mp
import os
import time

import cv2
import pytest
import torch

from conftest import REPO, SMOKE_IIF, explain, run

TRAIN = REPO / 'tools' / 'train.py'
PY = os.environ.get('PYTHON_FOR_TESTS') or __import__('sys').executable


def _smoke_model(workdir, num_classes: int = 8):
    """The smoke IIF model (its weights come from workdir's data/smoke), or a softmax twin
    with another class count."""
    from mmcv import Config
    from iif.engine.entry import build_model
    cfg = Config.fromfile(str(SMOKE_IIF))
    if num_classes != 8:
        cfg = Config.fromfile(str(REPO / 'configs' / 'smoke' /
                                  'mask_rcnn_r18_fpn_softmax_smoke.py'))
        cfg.model.roi_head.bbox_head.num_classes = num_classes
        cfg.model.roi_head.mask_head.num_classes = num_classes
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        return build_model(cfg, 'smoke')
    finally:
        os.chdir(cwd)


def _save_checkpoint(path, model, **meta):
    torch.save({'state_dict': model.state_dict(), 'meta': meta}, path)


# ------------------------------------------------------------------ truncated checkpoints
def test_latest_checkpoint_skips_a_truncated_one(tmp_path):
    from iif.checkpoints import checkpoint_is_complete, find_latest_checkpoint
    from iif.reproduce import rundir
    for n in (1, 2, 10):
        torch.save({'state_dict': {'w': torch.zeros(1000)}, 'meta': {'epoch': n}},
                   tmp_path / f'epoch_{n}.pth')
    whole = (tmp_path / 'epoch_10.pth').read_bytes()
    (tmp_path / 'epoch_10.pth').write_bytes(whole[:len(whole) // 2])  # killed while saving
    said = []
    assert find_latest_checkpoint(str(tmp_path), say=said.append) == str(tmp_path / 'epoch_2.pth')
    assert len(said) == 1 and 'epoch_10.pth is incomplete' in said[0]
    assert not checkpoint_is_complete(tmp_path / 'epoch_10.pth')
    # one completeness check for --auto-resume and the reproduce queue
    assert rundir.checkpoint_is_complete is checkpoint_is_complete
    assert find_latest_checkpoint(str(tmp_path / 'none')) is None


def test_auto_resume_skips_truncated_checkpoint_and_keeps_the_seed(smoke_workdir, tmp_path):
    """A run interrupted while saving epoch_2.pth resumes from epoch_1.pth with the seed and
    `deterministic` of that checkpoint, without repeating --seed."""
    wd = tmp_path / 'wd'
    wd.mkdir()
    model = _smoke_model(smoke_workdir)
    _save_checkpoint(wd / 'epoch_1.pth', model, epoch=1, iter=16, seed=1234, deterministic=True)
    _save_checkpoint(wd / 'epoch_2.pth', model, epoch=2, iter=32, seed=1234, deterministic=True)
    whole = (wd / 'epoch_2.pth').read_bytes()
    (wd / 'epoch_2.pth').write_bytes(whole[:len(whole) // 3])
    # max_epochs=1: the resumed run has nothing left to train and ends at once
    result = run([PY, TRAIN, SMOKE_IIF, '--work-dir', wd, '--auto-resume', '--no-validate',
                  '--cfg-options', 'runner.max_epochs=1'], cwd=smoke_workdir)
    assert result.returncode == 0, explain(result)
    assert 'epoch_2.pth is incomplete' in result.stderr
    record = json.loads((wd / 'run.json').read_text())
    assert record['resumed_from'].endswith('epoch_1.pth'), record
    assert record['seed'] == 1234 and record['deterministic'] is True, record
    assert 'seed 1234 (from the checkpoint)' in result.stdout + result.stderr


# ---------------------------------------------------------- checkpoints that do not fit
@pytest.mark.parametrize('how', ['resume_from', 'load_from'])
def test_start_checkpoint_of_another_class_count_is_refused(smoke_workdir, tmp_path, how, capsys):
    from iif.engine.entry import train_main
    ckpt = tmp_path / 'five_classes.pth'
    _save_checkpoint(ckpt, _smoke_model(smoke_workdir, num_classes=5), epoch=1, iter=16, seed=1)
    wd = tmp_path / 'wd'
    args = ['--resume-from', str(ckpt)] if how == 'resume_from' else [
        '--cfg-options', f'load_from={ckpt}']
    cwd = os.getcwd()
    os.chdir(smoke_workdir)
    try:
        rc = train_main([str(SMOKE_IIF), '--work-dir', str(wd)] + args)
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert 'does not fit this config' in err and 'fc_cls' in err and str(ckpt) in err
    assert not wd.exists()


# -------------------------------------------- test runs, IIF_DEVICE=cpu, runtime settings
class FakeGPUHost:
    """torch.cuda as on a machine with one GPU: CUDA reads CUDA_VISIBLE_DEVICES once, at its
    first query; anything that would initialise CUDA fails the test."""

    def __init__(self, monkeypatch):
        self.count = None
        monkeypatch.setattr(torch.cuda, 'device_count', self.device_count)
        monkeypatch.setattr(torch.cuda, 'is_available', lambda: self.device_count() > 0)
        monkeypatch.setattr(torch.cuda, '_lazy_init', self.lazy_init)

    def device_count(self) -> int:
        if self.count is None:
            self.count = 0 if os.environ.get('CUDA_VISIBLE_DEVICES') == '' else 1
        return self.count

    @staticmethod
    def lazy_init():
        raise AssertionError('CUDA was initialised although IIF_DEVICE=cpu')


def test_cpu_training_wrapper_never_moves_the_model_to_a_gpu(monkeypatch, smoke_workdir):
    from mmdet.datasets import build_dataloader, build_dataset
    from mmcv import Config
    from iif.engine.launch import DistInfo
    from iif.engine.training import wrap_model
    host = FakeGPUHost(monkeypatch)
    host.count = 1  # CUDA already queried before IIF_DEVICE=cpu could hide it
    model = _smoke_model(smoke_workdir)
    wrapped = wrap_model(model, DistInfo(False, 0, 1, 0, 'cpu'))
    assert all(p.device.type == 'cpu' for p in wrapped.parameters())
    cfg = Config.fromfile(str(SMOKE_IIF))
    cwd = os.getcwd()
    os.chdir(smoke_workdir)
    try:
        dataset = build_dataset(cfg.data.train)
        batch = next(iter(build_dataloader(dataset, 2, 0, dist=False, seed=0)))
    finally:
        os.chdir(cwd)
    outputs = wrapped.train_step(batch, None)
    assert torch.isfinite(outputs['loss']) and outputs['loss'].device.type == 'cpu'


def test_test_runs_on_cpu_in_their_own_directories(monkeypatch, smoke_workdir, tmp_path, capsys):
    """Two `test` runs started in the same second, with IIF_DEVICE=cpu on a (faked) GPU host
    and the config's runtime settings changed."""
    from iif.engine.entry import test_main
    ckpt = tmp_path / 'epoch_1.pth'
    _save_checkpoint(ckpt, _smoke_model(smoke_workdir), epoch=1, iter=16)
    FakeGPUHost(monkeypatch)  # a fresh process: nothing has queried CUDA yet
    monkeypatch.setenv('IIF_DEVICE', 'cpu')
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '0')
    frozen = time.localtime()
    real_strftime = time.strftime
    monkeypatch.setattr(time, 'strftime', lambda fmt, t=None: real_strftime(fmt, frozen))
    wd = tmp_path / 'wd'
    cv2_threads, start_method = cv2.getNumThreads(), mp.get_start_method(allow_none=True)
    monkeypatch.chdir(smoke_workdir)
    try:
        for _ in range(2):
            rc = test_main([str(SMOKE_IIF), str(ckpt), '--work-dir', str(wd), '--eval', 'bbox',
                            '--cfg-options', 'data.workers_per_gpu=0', 'opencv_num_threads=3',
                            'mp_start_method=forkserver', 'model.test_cfg.rcnn.max_per_img=10'])
            assert rc == 0, capsys.readouterr().err[-3000:]
        assert cv2.getNumThreads() == 3
        assert mp.get_start_method() == 'forkserver'
    finally:
        cv2.setNumThreads(cv2_threads)
        mp.set_start_method(start_method, force=True)
    stamp = real_strftime('%Y%m%d_%H%M%S', frozen)
    runs = sorted(p.name for p in wd.iterdir())
    assert runs == [f'test_{stamp}', f'test_{stamp}_2'], runs
    for name in runs:
        record = json.loads((wd / name / 'run.json').read_text())
        assert record['device'] == 'cpu' and record['work_dir'] == str(wd / name)
        assert json.loads((wd / name / 'env.json').read_text())['gpus'] == []
        assert 'bbox' in json.loads((wd / name / 'metrics.json').read_text())
    assert os.environ['CUDA_VISIBLE_DEVICES'] == ''  # hidden for the workers too


def test_process_group_waits_for_rank0_lvis_api_evaluation(monkeypatch):
    import torch.distributed as dist
    from iif.engine import launch
    from iif.errors import UserError
    seen = {}
    monkeypatch.setattr(dist, 'is_initialized', lambda: False)
    monkeypatch.setattr(dist, 'init_process_group', lambda **kw: seen.update(kw))
    for key, value in dict(RANK='0', WORLD_SIZE='2', LOCAL_RANK='0', MASTER_ADDR='127.0.0.1',
                           MASTER_PORT='29999', IIF_DEVICE='cpu').items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv('IIF_DIST_TIMEOUT_MIN', raising=False)
    launch.init_distributed('pytorch')
    # lvis-api on full LVIS v1 val: ~26 min for bbox + segm at the rate in docs/evaluation.md;
    # torch's default (30 min) leaves no room for a slower node
    assert seen['backend'] == 'gloo' and seen['timeout'] == datetime.timedelta(hours=3)
    monkeypatch.setenv('IIF_DIST_TIMEOUT_MIN', '600')
    launch.init_distributed('pytorch')
    assert seen['timeout'] == datetime.timedelta(hours=10)
    monkeypatch.setenv('IIF_DIST_TIMEOUT_MIN', 'forever')
    with pytest.raises(UserError, match='IIF_DIST_TIMEOUT_MIN'):
        launch.init_distributed('pytorch')


# ------------------------------------------------------------------ LVIS v1 val images
def test_lvis_val_tree_without_train2017_stops_before_inference(tmp_path, capsys):
    from iif.engine.entry import test_main
    from iif.lvisdata.verify import verify_root
    root = tmp_path / 'lvis_v1'
    (root / 'annotations').mkdir(parents=True)
    (root / 'annotations' / 'lvis_v1_val.json').write_text(
        json.dumps({'images': [], 'annotations': [], 'categories': []}))
    (root / 'val2017').mkdir()
    (root / 'val2017' / '000000000139.jpg').write_bytes(b'\xff\xd8jpeg')
    problems = verify_root(root, level='fast', splits=('val',), expect_counts=False)
    assert len(problems) == 1 and 'train2017: missing' in problems[0], problems
    ckpt = tmp_path / 'epoch_1.pth'
    ckpt.write_bytes(b'never read')
    ann = root / 'annotations' / 'lvis_v1_val.json'
    rc = test_main([str(SMOKE_IIF), str(ckpt), '--work-dir', str(tmp_path / 'out'),
                    '--cfg-options', f'data.test.ann_file={ann}', f'data.test.img_prefix={root}/'])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f'{root / "train2017"}: missing' in err and 'LVIS v1 val' in err and 'LVIS_ROOT' in err
    assert not (tmp_path / 'out').exists()

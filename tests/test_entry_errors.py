"""Bad input to the entry scripts: a clear message, exit status 2, and nothing written."""
from __future__ import annotations

import os

import pytest
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


# ------------------------------------------------------------- one user-error base class
def test_user_errors_share_one_base_class():
    from iif import errors
    from iif.errors import UserError
    from iif.evaluation import GroundTruthFormatError, ResultsFormatError
    from iif.lvisdata.catalog import DataError
    from iif.lvisdata.verify import DataRootError
    from iif.models.fasa import FASAConfigError
    from iif.models.local_pretrained import BackboneCheckpointError
    from iif.reproduce.errors import QueueBusy, ReproduceError
    from iif.weights import WeightsError
    assert UserError is errors.UserError
    for cls in (GroundTruthFormatError, ResultsFormatError, DataError, DataRootError,
                FASAConfigError, BackboneCheckpointError, QueueBusy, ReproduceError,
                WeightsError, errors.MissingFileError):
        assert issubclass(cls, errors.UserError), cls
    for cls in (GroundTruthFormatError, ResultsFormatError, DataRootError, ReproduceError,
                WeightsError):  # callers that catch ValueError still do
        assert issubclass(cls, ValueError), cls
    assert issubclass(errors.MissingFileError, FileNotFoundError)


def test_error_module_imports_neither_torch_nor_the_engine():
    import subprocess
    import sys
    code = ('import sys; sys.modules["torch"] = None; sys.modules["iif.engine"] = None; '
            'import importlib.util, pathlib; '
            'spec = importlib.util.spec_from_file_location("e", sys.argv[1]); '
            'm = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); '
            'assert m.UserError.exit_code == 2')
    result = subprocess.run([sys.executable, '-c', code, str(REPO / 'iif' / 'errors.py')],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_entry_points_print_user_errors_and_show_bugs(capsys):
    from iif.engine.entry import _report
    from iif.lvisdata.verify import DataRootError
    from iif.weights import WeightsError

    def fails(error):
        def fn(argv):
            raise error
        return fn

    for error in (DataRootError('the LVIS data root /x is not usable'),
                  WeightsError('unknown IIF variant')):
        assert _report(fails(error), []) == 2
        assert f'error: {error}\n' in capsys.readouterr().err
    with pytest.raises(ValueError, match='a bug'):  # not a user error: the traceback shows
        _report(fails(ValueError('a bug')), [])


def test_cli_prints_user_errors_and_shows_bugs(monkeypatch, capsys):
    from iif.cli import main
    from iif.commands import env
    from iif.reproduce.errors import ReproduceError

    def raise_(error):
        def run(args):
            raise error
        return run

    monkeypatch.setattr(env, 'run', raise_(ReproduceError('bad option')))
    assert main(['env']) == 2
    assert capsys.readouterr().err.endswith('iif env: error: bad option\n')
    for bug in (ValueError('a bug'), FileNotFoundError('/opt/kit/data/missing.tsv')):
        monkeypatch.setattr(env, 'run', raise_(bug))
        with pytest.raises(type(bug)):
            main(['env'])


def test_cli_bug_exits_1_with_traceback(tmp_path):
    import subprocess
    import sys
    code = ('import sys; from iif.cli import main; import iif.commands.env as e; '
            'e.run = lambda args: int("not a number"); sys.exit(main(["env"]))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            cwd=REPO)
    assert result.returncode == 1
    assert 'Traceback' in result.stderr and 'ValueError: invalid literal' in result.stderr


# ---------------------------------------------------------------- a broken config
@pytest.mark.parametrize('body, line, kind', [
    ("model = dict(\n    type='MaskRCNN',\n    backbone=dict(depth=18)\n    neck=None)\n", 3,
     'SyntaxError'),
    ("lr = 0.02\nwarmup = lr * warmup_ratio\n", 2, 'NameError'),
])
def test_broken_config_names_its_file_and_line(tmp_path, body, line, kind, capsys):
    from iif.engine.entry import train_main
    config = tmp_path / 'broken.py'
    config.write_text(body)
    assert train_main([str(config), '--work-dir', str(tmp_path / 'wd')]) == 2
    err = capsys.readouterr().err
    assert f'{config}, line {line}: {kind}' in err, err
    assert body.splitlines()[line - 1].strip() in err
    assert not (tmp_path / 'wd').exists()


def test_broken_base_config_names_the_base_file(tmp_path, capsys):
    from iif.engine.entry import test_main
    base = tmp_path / '_base_' / 'runtime.py'
    base.parent.mkdir()
    base.write_text('log_level = "INFO"\nworkflow = [("train", 1)\n')
    config = tmp_path / 'child.py'
    config.write_text("_base_ = ['_base_/runtime.py']\n")
    assert test_main([str(config), str(tmp_path / 'ckpt.pth')]) == 2
    err = capsys.readouterr().err
    assert f'{base}, line 2: SyntaxError' in err and str(config) in err, err

"""The recipe's global batch: a run at another batch stops before anything is written unless
the user says how to treat the learning rate (--scale-lr, --allow-batch-change); the batch and
lr a run used are in run.json; --no-tf32 is recorded in env.json."""
from __future__ import annotations

import json
import sys

import pytest
import torch
from mmcv import Config

from iif.engine.batch import plan_batch, train_processes
from iif.errors import UserError

from conftest import CONFIGS, REPO, cpu_env, explain, run

DIST_TRAIN = REPO / 'tools' / 'dist_train.sh'
SMOKE_RAW = CONFIGS / 'smoke' / 'variants' / 'iif_raw_r18_fpn_smoke.py'
IIF_R50 = CONFIGS / 'iif' / 'iif_r50_fpn_4x4_1x_lvis_v1.py'
# the smoke set is 2 processes x 2 images; a recipe of 8 images per step makes 2 processes
# the same kind of change as 2 GPUs for the LVIS configs (4 x 4 = 16 at lr 0.02)
AS_LVIS = ['recipe.global_batch=8', 'recipe.enforce=True']
# every LVIS training config (configs/zoo/ are test-only: `train` refuses them)
LVIS_CONFIGS = sorted(p for p in CONFIGS.rglob('*.py')
                      if not {'_base_', 'smoke', 'zoo'} & set(p.parts)
                      and not p.name.startswith('_'))


def test_recipe_batch_is_accepted_as_it_is():
    plan = plan_batch(Config.fromfile(str(IIF_R50)), 4)
    assert plan.record() == {'gpus': 4, 'samples_per_gpu': 4, 'global': 16, 'lr': 0.02,
                             'reference_global': 16, 'reference_lr': 0.02, 'scaled': False}


def test_another_batch_is_refused_with_both_ways_out():
    with pytest.raises(UserError) as err:
        plan_batch(Config.fromfile(str(IIF_R50)), 2, config_name='iif_r50')
    text = str(err.value)
    for part in ('global batch of 16', 'lr 0.02', '2 processes x 4 images = 8',
                 '4 processes x 4 images', '--scale-lr', 'lr 0.01', '--allow-batch-change'):
        assert part in text, (part, text)


def test_scale_lr_is_linear_and_allow_keeps_the_lr():
    cfg = Config.fromfile(str(IIF_R50))
    scaled = plan_batch(cfg, 2, scale_lr=True)
    assert (scaled.global_batch, scaled.lr, scaled.scaled) == (8, 0.01, True)
    assert plan_batch(cfg, 8, scale_lr=True).lr == pytest.approx(0.04)
    kept = plan_batch(cfg, 2, allow_change=True)
    assert (kept.lr, kept.scaled, kept.reference_global) == (0.02, False, 16)
    with pytest.raises(UserError, match='not both'):
        plan_batch(cfg, 2, scale_lr=True, allow_change=True)


def test_every_lvis_config_declares_its_four_gpu_batch():
    assert len(LVIS_CONFIGS) > 30
    for path in LVIS_CONFIGS:
        cfg = Config.fromfile(str(path))
        plan = plan_batch(cfg, 4)  # the research ran every config on 4 GPUs
        assert plan.reference_global == plan.global_batch, path.name
        with pytest.raises(UserError):
            plan_batch(cfg, 2)


def test_smoke_configs_record_but_do_not_refuse():
    cfg = Config.fromfile(str(SMOKE_RAW))
    plan = plan_batch(cfg, 1)
    assert plan.record()['reference_global'] == 4 and plan.global_batch == 2
    assert plan.lr == 0.02 and not plan.scaled
    cfg.merge_from_dict({'recipe.enforce': True})
    with pytest.raises(UserError):
        plan_batch(cfg, 1)


def test_process_count_comes_from_torchrun_or_the_launch_script(monkeypatch):
    monkeypatch.setenv('WORLD_SIZE', '8')
    assert train_processes('pytorch', None) == 8
    monkeypatch.delenv('WORLD_SIZE')
    monkeypatch.setenv('NNODES', '2')
    assert train_processes('none', 4) == 8
    monkeypatch.delenv('NNODES')
    assert train_processes('none', 2) == 2 and train_processes('none', None) == 1


def test_two_processes_without_a_flag_stop_before_anything_is_written(smoke_workdir, tmp_path):
    work_dir = tmp_path / 'refused'
    result = run(['bash', DIST_TRAIN, SMOKE_RAW, 2, '--work-dir', work_dir,
                  '--cfg-options', *AS_LVIS], cwd=smoke_workdir, timeout=300)
    assert result.returncode == 2, explain(result)
    assert 'error: ' in result.stderr and '--scale-lr' in result.stderr
    assert '2 processes x 2 images = 4' in result.stderr and 'lr 0.01' in result.stderr
    assert 'Traceback' not in result.stderr
    assert not work_dir.exists()


@pytest.mark.slow
def test_two_processes_with_scale_lr_train_at_half_the_lr(smoke_workdir, tmp_path):
    work_dir = tmp_path / 'scaled'
    result = run(['bash', DIST_TRAIN, SMOKE_RAW, 2, '--work-dir', work_dir, '--seed', 3,
                  '--scale-lr', '--no-tf32', '--no-validate',
                  '--cfg-options', *AS_LVIS, 'runner.max_epochs=1'],
                 cwd=smoke_workdir, timeout=600)
    assert result.returncode == 0, explain(result)
    record = json.loads((work_dir / 'run.json').read_text())
    assert record['batch'] == {'gpus': 2, 'samples_per_gpu': 2, 'global': 4, 'lr': 0.01,
                               'reference_global': 8, 'reference_lr': 0.02, 'scaled': True}
    # what the optimiser really used: its base lr, saved in the checkpoint
    ckpt = torch.load(work_dir / 'epoch_1.pth', map_location='cpu')
    assert {g['initial_lr'] for g in ckpt['optimizer']['param_groups']} == {0.01}
    log = next(work_dir.glob('*.log')).read_text()
    assert 'batch: global batch 4 (2 processes x 2 images), lr 0.01' in log
    assert 'lr=0.01' in (work_dir / 'config.py').read_text()
    env = json.loads((work_dir / 'env.json').read_text())
    assert env['tf32'] == {'matmul': False, 'cudnn': False}


def test_env_records_tf32_defaults():
    from iif.engine.records import collect_env
    env = collect_env()
    assert env['tf32'] == {'matmul': torch.backends.cuda.matmul.allow_tf32,
                           'cudnn': torch.backends.cudnn.allow_tf32}


# ------------------------------------------------------------------------- reproduce queue
def _queue_cli(cwd, *args):
    return run([sys.executable, '-m', 'iif.cli', 'reproduce', 'run', *args], cwd=cwd,
               env=cpu_env(PYTHONPATH=REPO), timeout=300)


def test_queue_refuses_another_batch_before_any_run(smoke_workdir, tmp_path):
    work_root = tmp_path / 'wr'
    result = _queue_cli(smoke_workdir, '--config-dir', CONFIGS / 'smoke' / 'variants',
                        '--variants', 'raw', '--gpus', '2', '--work-root', work_root,
                        '--out', tmp_path / 'res', '--cfg-options', *AS_LVIS)
    assert result.returncode == 2, explain(result)
    assert '--scale-lr' in result.stderr and '--allow-batch-change' in result.stderr
    assert not work_root.exists()


def test_queue_passes_the_flags_to_training_and_evaluation(tmp_path, monkeypatch):
    from iif.reproduce.queue import Queue, QueueOptions
    monkeypatch.setenv('IIF_DEVICE', 'cpu')
    tools = tmp_path / 'tools'
    tools.mkdir()
    calls = tmp_path / 'calls.txt'
    for script in ('dist_train.sh', 'dist_test.sh'):  # record the command line, then fail
        (tools / script).write_text(f'echo "{script} $*" >> {calls}\nexit 3\n')
    opts = QueueOptions(config_dir=CONFIGS / 'smoke' / 'variants', work_root=tmp_path / 'wr',
                        out=tmp_path / 'res', seeds=[1], gpus=2, variants=['raw'],
                        cfg_options=list(AS_LVIS), scale_lr=True, no_tf32=True,
                        tools_dir=tools)
    assert Queue(opts, say=lambda msg: None).run() == 1  # the fake training failed
    train_call = calls.read_text().splitlines()[0].split()
    assert train_call[0] == 'dist_train.sh' and train_call[2] == '2'
    assert '--scale-lr' in train_call and '--no-tf32' in train_call
    assert '--allow-batch-change' not in train_call

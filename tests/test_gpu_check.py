"""The GPU acceptance run (iif/engine/gpu_check.py) on this CPU machine: its no-GPU stop, the
CUDA-vs-CPU comparison logic (with faked devices), the step runner, the throughput loop (CPU,
tiny images) and the report; and train's --amp."""
from __future__ import annotations

import sys

import pytest

from conftest import REPO, SMOKE_IIF, cpu_env, run
from iif.engine import gpu_check
from iif.engine.gpu_check import Step, compare_on_device, format_report, op_cases, run_steps

PY = sys.executable


def test_without_a_gpu_it_stops_at_once_and_writes_nothing(tmp_path):
    result = run([PY, REPO / 'tools' / 'gpu_check.py'], cwd=tmp_path,
                 env=cpu_env(IIF_DEVICE='auto'), timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert 'error: no GPU is visible' in result.stderr
    assert 'NVIDIA Container Toolkit' in result.stderr
    assert 'Traceback' not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no results/, no work_dirs/


def test_ops_equal_on_the_same_device_pass():
    for name, fn, inputs, atol in op_cases(seed=1):
        c = compare_on_device(name, fn, inputs, lambda t: t.clone(), atol)
        assert c.ok and c.max_abs_diff == 0.0, c


def test_a_wrong_roi_align_is_caught_with_its_difference():
    name, fn, inputs, atol = op_cases()[0]
    # a "device" whose RoIAlign sees slightly different features
    shifted = iter([lambda t: t + 1e-3, lambda t: t, lambda t: t])
    c = compare_on_device(name, fn, inputs, lambda t: next(shifted)(t), atol)
    assert not c.ok and c.max_abs_diff == pytest.approx(1e-3, rel=1e-2)
    assert 'output 0 differs' in c.detail


def test_a_wrong_nms_is_caught():
    name, fn, (boxes, scores), atol = op_cases()[1]
    # another ranking of the same boxes keeps other boxes: different kept indices
    c = compare_on_device(name, fn, (boxes, scores),
                          lambda t: 1 - t if t.dim() == 1 else t, atol)
    assert not c.ok and ('differs' in c.detail or 'shape' in c.detail), c


def test_run_steps_stops_at_the_first_failure(tmp_path):
    steps = [Step('fine', [PY, '-c', 'pass']),
             Step('broken', [PY, '-c', 'import sys; print("boom", file=sys.stderr); sys.exit(3)']),
             Step('never', [PY, '-c', 'pass'])]
    assert run_steps(steps, cwd=str(tmp_path), log=lambda _: None) is False
    assert steps[0].ok is True and steps[1].ok is False and steps[2].ok is None
    assert 'exit status 3' in steps[1].detail and 'boom' in steps[1].detail
    checked = [Step('runs but wrote nothing', [PY, '-c', 'pass'], check=lambda: 'no epoch_1.pth')]
    assert run_steps(checked, cwd=str(tmp_path), log=lambda _: None) is False
    assert checked[0].detail == 'no epoch_1.pth'


def test_smoke_plan_trains_resumes_and_tests_sharded(tmp_path):
    steps = gpu_check.smoke_steps(tmp_path / 'wd', gpus=2)
    assert [s.cmd[0] for s in steps] == ['tools/dist_train.sh'] * 2 + ['tools/dist_test.sh']
    assert all('fasa' in s.cmd[1] and (REPO / s.cmd[1]).is_file() for s in steps)
    assert '--auto-resume' in steps[1].cmd and 'runner.max_epochs=2' in steps[1].cmd
    assert steps[2].cmd[-1] == '2'  # the test runs on 2 processes: one result shard each
    assert steps[0].check() == 'no epoch_1.pth'


def test_train_throughput_loop_runs_on_cpu_at_tiny_size(smoke_workdir, monkeypatch):
    from mmcv import Config
    monkeypatch.chdir(smoke_workdir)  # the smoke IIF weights come from data/smoke
    import iif  # noqa: F401
    cfg = Config.fromfile(str(SMOKE_IIF))
    row = gpu_check.measure_train(cfg, 'cpu', amp=False, iters=1, warmup=0, image_hw=(96, 128),
                                  objects=2)
    assert row['s_per_iter'] > 0 and row['peak_mem_gib'] is None
    assert row['images_per_gpu'] == cfg.data.samples_per_gpu
    inf = gpu_check.measure_inference(Config.fromfile(str(SMOKE_IIF)), 'cpu', images=1, warmup=0,
                                      image_hw=(96, 128))
    assert inf['s_per_image'] > 0


def test_report_prints_the_table_and_failures():
    record = dict(config='configs/iif/iif_r50_fpn_4x4_1x_lvis_v1.py', passed=False,
                  inventory=dict(driver='550.54', torch='2.1.2', torch_cuda='12.1',
                                 mmcv_ops_cuda='12.4', image_arch_list='8.0',
                                 gpus=[dict(index=0, name='A100', capability='8.0',
                                            memory_gib=79.2)]),
                  ops=[dict(name='NMS', ok=False, max_abs_diff=float('inf'), tolerance=1e-5,
                            detail='output 1: 3 of 90 values differ')],
                  smoke=[dict(name='resume to epoch 2', ok=None, seconds=None, detail='')],
                  throughput=dict(fp32=dict(images_per_gpu=4, s_per_iter=0.612, peak_mem_gib=9.3),
                                  amp=dict(images_per_gpu=4, s_per_iter=0.401, peak_mem_gib=6.1),
                                  inference=dict(s_per_image=0.09)))
    text = format_report(record)
    assert 'GPU 0: A100 (sm 8.0, 79.2 GiB)' in text
    assert 'FAILED NMS' in text and '3 of 90 values differ' in text
    assert 'not run resume to epoch 2' in text
    assert '  fp32          0.612      9.30' in text and '  amp           0.401      6.10' in text
    assert 'inference 0.090 s/image' in text
    assert text.endswith('GPU check FAILED')


def test_amp_is_refused_on_cpu_processes(smoke_workdir, tmp_path):
    wd = tmp_path / 'wd'
    result = run([PY, REPO / 'tools' / 'train.py', SMOKE_IIF, '--work-dir', wd, '--amp',
                  '--check-only'], cwd=smoke_workdir)
    assert result.returncode == 2 and '--amp needs GPUs' in result.stderr, result.stderr[-2000:]


def test_amp_sets_mmdet_fp16_with_dynamic_loss_scale(monkeypatch):
    from mmcv import Config
    from iif.engine import entry, launch
    monkeypatch.setattr(launch, 'resolve_device', lambda: 'cuda')
    cfg = Config.fromfile(str(SMOKE_IIF))
    assert cfg.get('fp16') is None  # the research recipe is fp32
    entry._apply_amp(cfg)
    assert cfg.fp16 == dict(loss_scale='dynamic')

"""Fail-closed CUDA checks before a GPU run (iif/engine/cuda_check.py), with faked probes: this
machine has no GPU, and its mmcv has CPU ops only."""
from __future__ import annotations

import pytest

from conftest import SMOKE_IIF
from iif.engine import cuda_check
from iif.engine.cuda_check import CudaProbe, GpuInfo, arch_covers, check_cuda_build, parse_arch_list
from iif.errors import UserError

A100 = GpuInfo(0, 'NVIDIA A100-SXM4-80GB', (8, 0))
H100 = GpuInfo(1, 'NVIDIA H100 80GB HBM3', (9, 0))
DEFAULT_ARCHS = '7.0;7.5;8.0;8.6;8.9;9.0'


def test_cpu_only_ops_are_refused_with_the_rebuild_command():
    probe = CudaProbe('not available', DEFAULT_ARCHS, [A100])
    with pytest.raises(UserError) as e:
        check_cuda_build(probe)
    msg = str(e.value)
    assert "mmcv's ops were compiled without CUDA" in msg
    assert 'get_compiling_cuda_version(): not available' in msg
    assert 'make build TORCH_CUDA_ARCH_LIST="7.0 7.5 8.0 8.6 8.9 9.0"' in msg
    assert 'CUDA_TOOLKIT=debian' in msg and 'IIF_DEVICE=cpu' in msg


def test_gpu_outside_the_arch_list_is_refused_naming_gpu_and_rebuild():
    probe = CudaProbe('12.1', '7.0;7.5;8.0', [A100, H100])
    with pytest.raises(UserError) as e:
        check_cuda_build(probe)
    msg = str(e.value)
    assert 'GPU 1 (NVIDIA H100 80GB HBM3) has compute capability 9.0' in msg
    assert 'TORCH_CUDA_ARCH_LIST="7.0;7.5;8.0"' in msg
    assert 'GPU 0' not in msg  # the A100 is covered
    assert 'make build TORCH_CUDA_ARCH_LIST="7.0 7.5 8.0 9.0"' in msg


def test_covered_gpus_pass():
    check_cuda_build(CudaProbe('12.4', DEFAULT_ARCHS, [A100, H100]))
    # outside the image the arch list is unknown: only the CUDA build itself is checked
    check_cuda_build(CudaProbe('12.1', None, [H100]))


@pytest.mark.parametrize('archs, gpu, covered', [
    ('8.0', (8, 6), True),       # sm_80 cubins run on every 8.x with x >= 0
    ('8.6', (8, 0), False),      # but not on older minors
    ('8.0', (9, 0), False),      # nor on another major
    ('8.0+PTX', (9, 0), True),   # PTX is compiled by the driver for newer GPUs
    ('7.5 8.0', (7, 0), False),  # V100 needs 7.0
    ('7.0;7.5;8.0;8.6;8.9;9.0', (8, 9), True),
])
def test_arch_coverage(archs, gpu, covered):
    assert arch_covers(parse_arch_list(archs), gpu) is covered


def test_bad_arch_list_is_named():
    with pytest.raises(UserError, match="'sm80' is not an arch like 8.0"):
        parse_arch_list('7.0;sm80')


def test_real_probe_reads_this_machines_cpu_ops(monkeypatch):
    monkeypatch.setenv(cuda_check.ARCH_LIST_ENV, '8.0')
    probe = cuda_check.probe_cuda()
    assert probe.compiled_cuda == 'not available'  # the dev venv's mmcv has CPU ops only
    assert probe.arch_list == '8.0' and probe.gpus == []


def test_train_and_test_check_before_a_gpu_run(monkeypatch, capsys, tmp_path):
    """The entry points run the check when the device is CUDA (here faked), before any work."""
    from iif.engine import entry, launch
    monkeypatch.setattr(launch, 'resolve_device', lambda: 'cuda')
    monkeypatch.setattr(cuda_check, 'probe_cuda', lambda: CudaProbe('not available', '8.0', [A100]))
    wd = tmp_path / 'wd'
    assert entry.train_main([str(SMOKE_IIF), '--work-dir', str(wd), '--check-only']) == 2
    assert "compiled without CUDA" in capsys.readouterr().err
    assert entry.test_main([str(SMOKE_IIF), str(tmp_path / 'x.pth')]) == 2
    err = capsys.readouterr().err
    assert 'make build TORCH_CUDA_ARCH_LIST="8.0"' in err
    assert not wd.exists()

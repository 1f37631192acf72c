"""What the image and the compose services expose, read from their files (the built image is
checked in tests/container/test_image_security.py): no package index settings in the final
image, no world-writable folders, TensorBoard on the host's loopback only, `ipc: host` only
where a job trains or tests, and a lock whose every file is pinned by its sha256."""
from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess

import pytest
import yaml

from conftest import REPO

DOCKERFILE = REPO / 'docker' / 'Dockerfile'
LOCK = REPO / 'requirements.lock'
INDEX_SETTINGS = ('PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_TRUSTED_HOST')
WRITABLE_DIRS = ['/workspace/work_dirs', '/workspace/results', '/cache', '/home/iif']


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped) per stage."""
    text = re.sub(r'\\\n', ' ', DOCKERFILE.read_text())
    stages: list[list[str]] = [[]]
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        if line.upper().startswith('FROM ') and stages[-1]:
            stages.append([])
        stages[-1].append(line)
    return stages


def compose() -> dict:
    return yaml.safe_load((REPO / 'compose.yaml').read_text())


def test_index_settings_live_only_in_a_build_stage():
    stages = dockerfile_stages()
    assert len(stages) >= 2, 'the stack must be installed in a stage the final image does not keep'
    final = stages[-1]
    for setting in INDEX_SETTINGS:
        assert not any(setting in line for line in final), \
            f'{setting} appears in the final stage: it would be kept in the image'
        for stage in stages:
            for line in stage:
                if setting in line:
                    assert not line.upper().startswith(('ENV ', 'LABEL ')), line
    # the stage that sees them is the one whose /opt/venv the final image copies
    builder = next(s for s in stages if any('ARG PIP_INDEX_URL' in line for line in s))
    name = builder[0].split()[-1]
    assert builder[0].upper().split()[-2] == 'AS'
    assert f'COPY --from={name} /opt/venv /opt/venv' in final


def test_writable_folders_are_group_writable_not_world_writable():
    final = dockerfile_stages()[-1]
    for line in final:
        assert not re.search(r'chmod\s+(-\S+\s+)*0?[0-7]*[2367]\b', line), line
    made = next((re.search(r'install -d -o root -g iif -m (\d+) ([^&]+)', line)
                 for line in final if 'install -d' in line), None)
    assert made, 'the writable folders are created owned by root:iif'
    mode = int(made.group(1), 8)
    assert mode & 0o002 == 0 and mode & 0o020 and mode & 0o2000, oct(mode)
    assert set(WRITABLE_DIRS) <= set(made.group(2).split())
    # every service runs with that group whatever UID:GID .env gives it
    for name, service in compose()['services'].items():
        assert 'iif' in service.get('group_add', []), name


def test_tensorboard_listens_on_loopback_and_reads_work_dirs_read_only():
    tensorboard = compose()['services']['tensorboard']
    assert tensorboard['ports'] == ['127.0.0.1:${TENSORBOARD_PORT:-6006}:6006']
    (mount,) = tensorboard['volumes']  # work_dirs only, read-only
    assert (mount['source'], mount['target'], mount['read_only']) == \
        ('${WORK_DIRS:-./work_dirs}', '/workspace/work_dirs', True)


def test_ipc_host_only_on_services_that_train_or_test():
    services = compose()['services']
    with_host_ipc = {name for name, s in services.items() if s.get('ipc') == 'host'}
    assert with_host_ipc == {'train', 'test', 'reproduce', 'demo', 'tests', 'gpu-check'}
    for name in ('weights', 'data', 'tensorboard'):
        assert 'ipc' not in services[name], name


def lock_entries() -> dict[str, list[str]]:
    """requirement line -> its hashes, as pip reads the lock (continuation lines joined)."""
    entries = {}
    text = re.sub(r'\\\n', ' ', LOCK.read_text())
    for line in text.splitlines():
        if not line.strip() or line.startswith('#'):
            continue
        requirement, *options = line.split(' --hash=')
        entries[requirement.strip()] = options
    return entries


def test_every_pin_of_the_lock_has_sha256_hashes():
    entries = lock_entries()
    assert len(entries) > 60
    for requirement, hashes in entries.items():
        assert re.fullmatch(r'[A-Za-z0-9._-]+==[^\s;]+( ; python_version < "3\.\d+")?',
                            requirement), requirement
        assert hashes, f'{requirement} has no --hash'
        for h in hashes:
            assert re.fullmatch(r'sha256:[0-9a-f]{64}', h.strip()), (requirement, h)
    # torch's CUDA wheels pull these in: under --require-hashes each needs its own pin
    names = {r.split('==')[0].lower() for r in entries}
    assert {'torch', 'triton', 'mmcv-full', 'nvidia-cudnn-cu12', 'nvidia-nvjitlink-cu12'} <= names
    # mmcv-full is built from its sdist: one file, one hash
    assert len(entries['mmcv-full==1.7.2']) == 1


@pytest.fixture
def recorded_pip(tmp_path):
    """A stand-in $PYTHON for scripts/install_stack.sh that records every pip call and the
    requirement files it was given, instead of installing."""
    log = tmp_path / 'calls'
    fake = tmp_path / 'python'
    fake.write_text('#!/bin/bash\n'
                    f'echo "$*" >> {log}\n'
                    'while [ $# -gt 0 ]; do\n'
                    f'  if [ "$1" = -r ]; then cat "$2" >> {log}.reqs; fi; shift\n'
                    'done\n')
    fake.chmod(0o755)
    return fake, log


def test_install_stack_installs_every_pin_with_require_hashes(recorded_pip):
    fake, log = recorded_pip
    env = dict(os.environ, PYTHON=str(fake), MMCV_CUDA_OPS='0')
    for stage in ('deps', 'mmcv'):
        result = subprocess.run(['bash', str(REPO / 'scripts' / 'install_stack.sh'), stage,
                                 str(LOCK)], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    installs = [c for c in calls if c.startswith('-m pip install')]
    assert len(installs) == 3  # build tools, the stack, mmcv-full
    for call in installs:
        args = shlex.split(call)
        assert '--require-hashes' in args and '-r' in args, call
    assert '--no-build-isolation' in installs[-1]
    assert '-m pip check' in calls
    # together the three requirement files are the whole lock, hashes included
    given = re.sub(r'\\\n', ' ', log.with_suffix('.reqs').read_text())
    got = {line.split(' --hash=')[0].strip(): sorted(line.split(' --hash=')[1:])
           for line in given.splitlines() if line.strip()}
    assert {k: sorted(v) for k, v in lock_entries().items()} == got


def load_hash_lock():
    spec = importlib.util.spec_from_file_location('hash_lock', REPO / 'scripts' / 'hash_lock.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('filename,fits', [
    ('torch-2.1.2-cp310-cp310-manylinux1_x86_64.whl', True),
    ('torch-2.1.2-cp311-cp311-manylinux1_x86_64.whl', True),
    ('torch-2.1.2-cp312-cp312-manylinux1_x86_64.whl', False),
    ('torch-2.1.2-cp310-cp310-manylinux2014_aarch64.whl', False),
    ('torch-2.1.2-cp310-none-macosx_11_0_arm64.whl', False),
    ('numpy-1.23.5-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl', True),
    ('numpy-1.23.5-cp310-cp310-musllinux_1_1_x86_64.whl', False),
    ('orjson-3.13.0-cp38-abi3-manylinux_2_17_x86_64.whl', True),
    ('six-1.17.0-py2.py3-none-any.whl', True),
    ('protobuf-7.36.2-cp39-abi3-win_amd64.whl', False),
])
def test_hash_script_keeps_the_wheels_pip_may_choose(filename, fits):
    assert load_hash_lock().wheel_fits(filename) is fits

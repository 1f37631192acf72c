"""The built image keeps no package index settings and no world-writable folder; the services
run with the group that owns HOME and the caches; TensorBoard is published on loopback only.
Needs Docker and the built image (scripts/run_test_suite.sh)."""
from __future__ import annotations

import json
import subprocess

from test_services import compose, env_file, explain

INDEX_SETTINGS = ('PIP_INDEX_URL', 'PIP_EXTRA_INDEX_URL', 'PIP_TRUSTED_HOST')


def image() -> str:
    return env_file().get('IIF_IMAGE', 'iif-kit:latest')


def docker(*args) -> subprocess.CompletedProcess:
    return subprocess.run(['docker', *args], capture_output=True, text=True, timeout=300)


def test_image_history_and_environment_hold_no_index_settings():
    history = docker('history', '--no-trunc', '--format', '{{.CreatedBy}}', image())
    assert history.returncode == 0, history.stderr
    config = docker('image', 'inspect', '--format', '{{json .Config}}', image())
    assert config.returncode == 0, config.stderr
    env = json.loads(config.stdout)['Env']
    for setting in INDEX_SETTINGS:
        assert setting not in history.stdout, f'{setting} is recorded in the image history'
        assert not any(e.startswith(setting + '=') for e in env), env
    running = compose('run', '--rm', '--entrypoint', 'env', 'weights')
    assert running.returncode == 0, explain(running)
    assert not any(s in running.stdout for s in INDEX_SETTINGS), running.stdout


def test_no_world_writable_folder_and_the_writable_ones_are_group_owned():
    found = docker('run', '--rm', '--entrypoint', 'find', image(), '/opt', '/workspace', '/cache',
                   '/home', '-xdev', '-perm', '-0002', '-not', '-type', 'l')
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == '', f'world-writable:\n{found.stdout}'
    modes = docker('run', '--rm', '--entrypoint', 'stat', image(), '-c', '%n %a %U %G',
                   '/workspace/work_dirs', '/workspace/results', '/cache', '/home/iif')
    assert modes.returncode == 0, modes.stderr
    assert sorted(modes.stdout.split('\n')[:-1]) == [
        '/cache 2775 root iif', '/home/iif 2775 root iif',
        '/workspace/results 2775 root iif', '/workspace/work_dirs 2775 root iif']


def test_services_write_home_as_the_callers_uid():
    uid, gid = env_file()['UID'], env_file()['GID']
    result = compose('run', '--rm', '--entrypoint', 'sh', 'weights', '-c',
                     'touch "$HOME/probe" && id -u && id -G')
    assert result.returncode == 0, explain(result)
    lines = result.stdout.split()
    assert lines[0] == uid and gid in lines[1:]
    groups = docker('run', '--rm', '--entrypoint', 'getent', image(), 'group', 'iif')
    assert groups.stdout.split(':')[2] in lines[1:], 'the service runs in the group iif'


def test_tensorboard_is_published_on_loopback_and_ipc_host_only_where_jobs_run():
    config = compose('config', '--format', 'json')
    assert config.returncode == 0, explain(config)
    services = json.loads(config.stdout)['services']
    port, = services['tensorboard']['ports']
    assert port['host_ip'] == '127.0.0.1' and port['target'] == 6006
    volume, = services['tensorboard']['volumes']
    assert volume['target'] == '/workspace/work_dirs' and volume['read_only'] is True
    # gpu-check trains and tests on two GPUs (NCCL and DataLoader shared memory)
    assert {n for n, s in services.items() if s.get('ipc') == 'host'} == {
        'train', 'test', 'reproduce', 'demo', 'tests', 'gpu-check'}

"""`make env` and the compose mounts: every mounted folder exists and belongs to the user
before compose starts, compose never creates one (as root), `.env` is replaced atomically, and
`train` / `test` get time to stop cleanly."""
from __future__ import annotations

import os
import subprocess

import yaml

from conftest import REPO

WRITE_ENV = REPO / 'scripts' / 'write_env.sh'
MOUNTED = {'/workspace/data/lvis_v1', '/workspace/work_dirs', '/workspace/results', '/cache'}


def _services(path):
    return yaml.safe_load(path.read_text())['services']  # merge keys (<<: *kit) resolved


def test_bind_mounts_never_create_host_folders():
    for compose in ('compose.yaml', 'compose.dev.yaml'):
        services = _services(REPO / compose)
        targets = set()
        for name, service in services.items():
            for volume in service.get('volumes', []):
                assert isinstance(volume, dict), f'{compose} {name}: short syntax {volume!r}'
                assert volume['type'] == 'bind'
                assert volume['bind'] == {'create_host_path': False}, (compose, name, volume)
                targets.add(volume['target'])
        assert MOUNTED <= targets, (compose, targets)
    services = _services(REPO / 'compose.yaml')
    assert services['train']['volumes'][0]['read_only'] is True  # LVIS_ROOT
    assert 'read_only' not in services['data']['volumes'][0]  # the downloader writes it


def test_train_and_test_get_a_stop_grace_period():
    services = _services(REPO / 'compose.yaml')
    for name in ('train', 'test', 'reproduce'):
        assert services[name].get('stop_grace_period') == '60s', name


def test_make_env_creates_every_mounted_folder(tmp_path):
    env_file = tmp_path / '.env'
    env_file.write_text('LVIS_ROOT=/nonexistent-on-purpose\n'.replace(
        '/nonexistent-on-purpose', str(tmp_path / 'datasets' / 'lvis')) +
        'WORK_DIRS=./runs\nIIF_CACHE="./cache dir"\nGPU_COUNT=2\nMY_SETTING=kept\n')
    env_file.chmod(0o640)
    inode = env_file.stat().st_ino
    env = {k: v for k, v in os.environ.items()
           if k not in ('LVIS_ROOT', 'WORK_DIRS', 'RESULTS_DIR', 'IIF_CACHE')}
    env['RESULTS_DIR'] = str(tmp_path / 'from_shell')  # the shell wins over .env, as in compose
    result = subprocess.run(['bash', str(WRITE_ENV), str(env_file)], cwd=REPO, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for folder in (tmp_path / 'datasets' / 'lvis', tmp_path / 'runs', tmp_path / 'cache dir',
                   tmp_path / 'from_shell'):
        assert folder.is_dir(), folder
        assert folder.stat().st_uid == os.getuid()
    text = env_file.read_text()
    assert f'UID={os.getuid()}\n' in text and f'GID={os.getgid()}\n' in text
    assert 'GPU_COUNT=2\n' in text and 'MY_SETTING=kept\n' in text and 'WORK_DIRS=./runs\n' in text
    assert env_file.stat().st_ino != inode  # a new file renamed over the old: atomic
    assert env_file.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.glob('.env.*')] == []  # no temporary file left
    assert 'holds no annotations/ yet' in result.stderr


def test_ci_image_tag_from_the_environment_never_the_users_latest(tmp_path):
    """CI exports IIF_IMAGE (its own tag); without it an IIF_IMAGE already in .env is kept."""
    env_file = tmp_path / '.env'
    env_file.write_text(f'LVIS_ROOT={tmp_path / "lvis"}\nWORK_DIRS={tmp_path / "w"}\n'
                        f'RESULTS_DIR={tmp_path / "r"}\nIIF_CACHE={tmp_path / "c"}\n'
                        'IIF_IMAGE=iif-kit:mine\n')
    base = {k: v for k, v in os.environ.items()
            if k not in ('IIF_IMAGE', 'LVIS_ROOT', 'WORK_DIRS', 'RESULTS_DIR', 'IIF_CACHE')}
    for extra, expected in (({}, 'iif-kit:mine'), ({'IIF_IMAGE': 'iif-kit:ci'}, 'iif-kit:ci')):
        result = subprocess.run(['bash', str(WRITE_ENV), str(env_file)], cwd=REPO,
                                env=dict(base, **extra), capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        lines = env_file.read_text().splitlines()
        tags = [line for line in lines if line.startswith('IIF_IMAGE=')]
        assert tags == [f'IIF_IMAGE={expected}']

"""The compose services, driven from the host as a user drives them (needs Docker and the
built image; scripts/run_test_suite.sh builds it and sets COMPOSE_FILE to the CPU override)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from runner import explain  # noqa: F401  (also imported from here by test_image_security)
from test_learning import FLOORS, LOSS_RATIO, final_metrics, loss_start_end

REPO = Path(__file__).resolve().parents[2]
SMOKE = 'configs/smoke/iif_r18_fpn_smoke.py'


def env_file() -> dict:
    values = {}
    for line in (REPO / '.env').read_text().splitlines():
        if '=' in line and not line.startswith('#'):
            key, value = line.split('=', 1)
            values[key] = value
    return values


def compose(*args, extra_env=None, timeout=1800) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault('COMPOSE_FILE', 'compose.yaml:compose.cpu.yaml')
    env.update(extra_env or {})
    return subprocess.run(['docker', 'compose', *args], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=timeout)


@pytest.fixture(scope='module')
def work_dirs(tmp_path_factory) -> Path:
    path = Path(os.environ.get('WORK_DIRS') or tmp_path_factory.mktemp('work_dirs'))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope='module')
def trained(work_dirs):
    result = compose('run', '--rm', 'train', SMOKE, '2', '--seed', '3',
                     '--cfg-options', 'runner.max_epochs=2', 'evaluation.interval=2',
                     extra_env={'WORK_DIRS': str(work_dirs)})
    assert result.returncode == 0, explain(result)
    return work_dirs / 'iif_r18_fpn_smoke', result


def test_train_service_two_cpu_processes(trained):
    run_dir, result = trained
    assert (run_dir / 'epoch_2.pth').is_file()
    record = json.loads((run_dir / 'run.json').read_text())
    assert record['world_size'] == 2 and record['device'] == 'cpu' and record['seed'] == 3
    metrics = json.loads((run_dir / 'metrics.json').read_text())
    assert set(metrics['segm']) >= {'AP', 'APr', 'APc', 'APf'}
    env = json.loads((run_dir / 'env.json').read_text())
    assert env['git_commit'], 'the image records the commit it was built from'


def test_files_on_bind_mounts_belong_to_the_caller(trained):
    run_dir, _ = trained
    uid, gid = int(env_file()['UID']), int(env_file()['GID'])
    for path in [run_dir, *run_dir.iterdir()]:
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (uid, gid), f'{path} belongs to {st.st_uid}:{st.st_gid}'


def test_test_service_prints_the_lvis_table(trained, work_dirs):
    run_dir, _ = trained
    result = compose('run', '--rm', 'test', SMOKE, 'work_dirs/iif_r18_fpn_smoke/epoch_2.pth', '2',
                     extra_env={'WORK_DIRS': str(work_dirs)})
    assert result.returncode == 0, explain(result)
    assert 'APr' in result.stdout and '\nbbox ' in result.stdout and '\nsegm ' in result.stdout
    tests = sorted(run_dir.glob('test_*'))
    assert tests and (tests[-1] / 'metrics.json').is_file()
    assert len(list((tests[-1] / 'results').glob('segm.rank*.json'))) == 2


def test_demo_service(work_dirs):
    result = compose('run', '--rm', 'demo', extra_env={'WORK_DIRS': str(work_dirs)})
    assert result.returncode == 0, explain(result)
    assert 'LVIS evaluation' in result.stdout and 'APf' in result.stdout
    assert (work_dirs / 'demo' / 'epoch_6.pth').is_file()
    # the model learned: same checks and floor as tests/test_learning.py (same config and seed)
    start, end = loss_start_end(work_dirs / 'demo')
    assert end < LOSS_RATIO * start, f'loss {start:.3f} -> {end:.3f}'
    assert final_metrics(work_dirs / 'demo')['bbox']['AP50'] >= FLOORS['iif']


def test_no_data_mounted_is_a_clear_error(tmp_path, work_dirs):
    empty = tmp_path / 'empty_lvis_root'
    empty.mkdir()
    before = sorted(p.name for p in work_dirs.iterdir())
    result = compose('run', '--rm', 'train', 'configs/iif/iif_r50_fpn_4x4_1x_lvis_v1.py', '1',
                     extra_env={'LVIS_ROOT': str(empty), 'WORK_DIRS': str(work_dirs)})
    assert result.returncode == 2, explain(result)
    assert 'annotation file missing: data/lvis_v1/annotations/lvis_v1_train.json' in result.stderr
    assert 'LVIS_ROOT' in result.stderr
    assert sorted(p.name for p in work_dirs.iterdir()) == before, 'nothing may be written'


def test_bad_arguments_print_usage():
    result = compose('run', '--rm', 'train', SMOKE)
    assert result.returncode == 2 and 'usage: train CONFIG GPUS' in result.stderr
    result = compose('run', '--rm', '--entrypoint', '/usr/local/bin/iif-entrypoint', 'train',
                     'frobnicate')
    assert result.returncode == 2 and 'unknown command' in result.stderr
    result = compose('run', '--rm', '--entrypoint', '/usr/local/bin/iif-entrypoint', 'train',
                     'help')
    assert result.returncode == 0 and 'reproduce' in result.stdout


def test_image_labels_and_mmcv_ops():
    image = env_file().get('IIF_IMAGE', 'iif-kit:latest')
    labels = json.loads(subprocess.run(
        ['docker', 'image', 'inspect', '--format', '{{json .Config.Labels}}', image],
        capture_output=True, text=True, check=True).stdout)
    assert 'torch==2.1.2' in labels['io.iif.stack-pins']
    assert 'mmcv-full==1.7.2' in labels['io.iif.stack-pins']
    commit = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    if commit:
        assert labels['org.opencontainers.image.revision'] == commit
    result = compose('run', '--rm', '--entrypoint', 'cat', 'train', '/opt/iif-build/mmcv-ops.txt')
    assert result.returncode == 0 and 'mmcv.ops imported' in result.stdout


def test_weights_service_writes_the_csv(tmp_path):
    results = tmp_path / 'results'
    results.mkdir()
    os.chmod(results, 0o777)  # the container runs as the .env UID
    result = compose('run', '--rm', 'weights', extra_env={'RESULTS_DIR': str(results)})
    assert result.returncode == 0, explain(result)
    lines = (results / 'iif_weights_lvis_v1.csv').read_text().splitlines()
    assert len(lines) == 1204 and lines[0].startswith('id,name,frequency,image_count')


def test_data_service_writes_and_verifies_lvis_root(tmp_path):
    root = tmp_path / 'lvis_root'
    root.mkdir()
    os.chmod(root, 0o777)
    extra = {'LVIS_ROOT': str(root)}
    result = compose('run', '--rm', 'data', 'verify', '--level', 'full', extra_env=extra)
    assert result.returncode == 1, explain(result)
    assert 'lvis_v1_train.json' in result.stdout + result.stderr
    # a small LVIS-layout tree written through the data service's read-write mount
    result = compose('run', '--rm', '--entrypoint', 'iif', 'data', 'smoke-data', '--root',
                     'data/lvis_v1', extra_env=extra)
    assert result.returncode == 0, explain(result)
    result = compose('run', '--rm', 'data', 'verify', '--level', 'full', '--no-expect-counts',
                     extra_env=extra)
    assert result.returncode == 0, explain(result)
    # every other service mounts the LVIS root read-only
    result = compose('run', '--rm', '--entrypoint', 'touch', 'train',
                     'data/lvis_v1/annotations/x', extra_env=extra)
    assert result.returncode != 0 and 'Read-only' in result.stderr


def test_reproduce_service_on_the_smoke_set(work_dirs, tmp_path):
    results = tmp_path / 'results'
    results.mkdir()
    os.chmod(results, 0o777)
    extra = {'WORK_DIRS': str(work_dirs), 'RESULTS_DIR': str(results)}
    result = compose('run', '--rm', 'reproduce', '--gpus', '1', '--config-dir',
                     'configs/smoke/variants', '--variants', 'raw', '--seeds', '1',
                     extra_env=extra)
    assert result.returncode == 0, explain(result)
    table = (results / 'variants.md').read_text()
    assert '| raw | 1 |' in table
    assert (results / 'variants_ap.png').is_file() and (results / 'iif_weights.png').is_file()
    metrics = json.loads(next((work_dirs / 'reproduce' / 'raw' / 'seed1').glob(
        'test_*/metrics.json')).read_text())
    assert f"{100 * metrics['segm']['AP']:.1f}" in table
    status = compose('run', '--rm', '--entrypoint', '/usr/local/bin/iif-entrypoint', 'reproduce',
                     'reproduce-status', extra_env=extra)
    assert status.returncode == 0 and 'done' in status.stdout, explain(status)

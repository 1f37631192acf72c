"""The Makefile as a user meets it, from the host (where make and Docker live): `make help`
names every target and variable, `make test` is only the suite, `make evaluate` tests a
checkpoint. Nothing here starts a container: the commands are printed (make -n) or refused."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SMOKE = 'configs/smoke/iif_r18_fpn_smoke.py'


def make(*args) -> subprocess.CompletedProcess:
    return subprocess.run(['make', '--no-print-directory', *args], cwd=REPO, text=True,
                          capture_output=True, timeout=120)


def test_help_lists_every_target_and_variable():
    proc = make('help')
    assert proc.returncode == 0, proc.stderr
    targets = re.findall(r'^([a-zA-Z_-]+):', (REPO / 'Makefile').read_text(), re.M)
    listed = re.findall(r'^  ([a-zA-Z_-]+) +\S', proc.stdout.split('\nvariables')[0], re.M)
    assert sorted(set(targets) - {'help'}) == sorted(set(listed) - {'help'})
    variables = dict(re.findall(r'^  ([A-Z_]+) +(\S.*)$', proc.stdout.split('\nvariables')[1],
                                re.M))
    for name in ('CONFIG', 'CKPT', 'GPUS', 'CPU', 'ARGS', 'SEEDS', 'VARIANTS', 'CONFIG_DIR'):
        assert name in variables, f'make help does not describe {name}'
    # every variable the Makefile reads from the command line is described
    used = set(re.findall(r'\$\(([A-Z_]+)\)', (REPO / 'Makefile').read_text()))
    internal = {'COMPOSE', 'COMPOSE_FILES', 'TEST_GPUS', 'GIT_COMMIT', 'STACK_PINS', 'MAKE',
                'MAKEFILE_LIST'}
    assert sorted(used - internal - set(variables)) == []


def test_evaluate_runs_the_test_service_on_one_process_by_default():
    proc = make('-n', 'evaluate', f'CONFIG={SMOKE}', 'CKPT=work_dirs/x/epoch_1.pth', 'CPU=1')
    assert proc.returncode == 0, proc.stderr
    assert (f'docker compose -f compose.yaml -f compose.cpu.yaml run --rm test {SMOKE} '
            'work_dirs/x/epoch_1.pth 1') in proc.stdout
    proc = make('-n', 'evaluate', f'CONFIG={SMOKE}', 'CKPT=c.pth', 'GPUS=4', 'ARGS=--eval bbox')
    assert f'run --rm test {SMOKE} c.pth 4 --eval bbox' in proc.stdout


def test_evaluate_without_a_checkpoint_is_a_usage_error():
    proc = make('evaluate', f'CONFIG={SMOKE}')
    assert proc.returncode == 2
    assert 'usage: make evaluate CONFIG=configs/... CKPT=' in proc.stderr


def test_make_test_with_a_checkpoint_points_to_evaluate_and_runs_nothing():
    proc = make('test', f'CONFIG={SMOKE}', 'CKPT=c.pth')
    assert proc.returncode == 2
    assert f'make evaluate CONFIG={SMOKE} CKPT=c.pth' in proc.stderr
    assert 'run_test_suite' not in proc.stdout


def test_make_test_is_the_suite():
    proc = make('-n', 'test')
    assert proc.returncode == 0, proc.stderr
    assert 'scripts/run_test_suite.sh' in proc.stdout

"""--launcher slurm without a cluster: torch.distributed's variables from faked srun
environments, the node-list parser behind `scontrol show hostnames`, and the entry scripts'
refusal outside srun. The real cluster runs are in tests_cluster/ (run by .ci/run)."""
from __future__ import annotations

import pytest

from iif.engine import slurm
from iif.engine.batch import train_processes
from iif.errors import UserError

from conftest import REPO, SMOKE_IIF, cpu_env, explain, run


def srun_env(procid, localid, ntasks=2, nodelist='node[1-2]', job_id='4321', **extra):
    return dict(SLURM_PROCID=str(procid), SLURM_LOCALID=str(localid), SLURM_NTASKS=str(ntasks),
                SLURM_JOB_NODELIST=nodelist, SLURM_JOB_ID=job_id, **extra)


@pytest.fixture
def no_scontrol(monkeypatch, tmp_path):
    monkeypatch.setenv('PATH', str(tmp_path))  # the pure-Python parser answers


@pytest.mark.parametrize('nodelist, hosts', [
    ('node[1-2]', ['node1', 'node2']),
    ('gpu[08-10,15]', ['gpu08', 'gpu09', 'gpu10', 'gpu15']),
    ('login1', ['login1']),
    ('a[1-2],b7,c[3]', ['a1', 'a2', 'b7', 'c3']),
    ('rack[2-3]-gpu', ['rack2-gpu', 'rack3-gpu']),
])
def test_nodelist_expansion(nodelist, hosts):
    assert slurm.expand_nodelist(nodelist) == hosts


@pytest.mark.parametrize('nodelist', ['node[1-x]', 'node[1-2', 'n[1-2][3-4]'])
def test_unreadable_nodelist_names_the_fix(nodelist):
    with pytest.raises(UserError, match='set MASTER_ADDR'):
        slurm.expand_nodelist(nodelist)


def test_every_task_of_a_two_node_job_agrees_on_the_master(no_scontrol):
    # two nodes x two tasks: ranks 0-3, local ranks 0/1 on each node
    envs = [srun_env(r, r % 2, ntasks=4, nodelist='gpu[07-08]', job_id='123456') for r in range(4)]
    got = [slurm.torch_env_from_slurm(e) for e in envs]
    assert [g['RANK'] for g in got] == ['0', '1', '2', '3']
    assert [g['LOCAL_RANK'] for g in got] == ['0', '1', '0', '1']
    assert {g['WORLD_SIZE'] for g in got} == {'4'}
    assert {g['MASTER_ADDR'] for g in got} == {'gpu07'}
    port, = {g['MASTER_PORT'] for g in got}
    assert 20000 <= int(port) < 30000 and int(port) == 20000 + 123456 % 10000


def test_step_nodelist_wins_and_ports_differ_between_jobs(no_scontrol):
    env = srun_env(0, 0, SLURM_STEP_NODELIST='node2')
    assert slurm.torch_env_from_slurm(env)['MASTER_ADDR'] == 'node2'
    ports = {slurm.torch_env_from_slurm(srun_env(0, 0, job_id=str(j)))['MASTER_PORT']
             for j in (100, 101, 102)}
    assert len(ports) == 3


def test_master_addr_and_port_from_the_environment_win(no_scontrol):
    env = srun_env(1, 0, MASTER_ADDR='10.0.0.5', MASTER_PORT='29600')
    got = slurm.torch_env_from_slurm(env)
    assert (got['MASTER_ADDR'], got['MASTER_PORT']) == ('10.0.0.5', '29600')


def test_scontrol_answers_where_it_runs(monkeypatch, tmp_path):
    fake = tmp_path / 'scontrol'
    fake.write_text('#!/bin/sh\n[ "$1 $2 $3" = "show hostnames weird{list}" ] && echo head-a\n'
                    'echo head-b\n')
    fake.chmod(0o755)
    monkeypatch.setenv('PATH', str(tmp_path))
    assert slurm.first_host('weird{list}') == 'head-a'


def test_outside_srun_is_refused_with_the_way_out():
    with pytest.raises(UserError, match='SLURM_PROCID.*tools/slurm_train.sh'):
        slurm.torch_env_from_slurm({'SLURM_JOB_ID': '5'})
    with pytest.raises(UserError, match='set MASTER_PORT'):
        slurm.torch_env_from_slurm(srun_env(0, 0, job_id=''))


def test_batch_plan_counts_srun_tasks(monkeypatch, no_scontrol):
    for k, v in srun_env(0, 0, ntasks=8).items():
        monkeypatch.setenv(k, v)
    for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT'):
        # setenv first: delenv of an unset variable records nothing, so the values
        # export_torch_env writes below would outlive this test
        monkeypatch.setenv(k, 'unset-by-this-test')
        monkeypatch.delenv(k)
    slurm.export_torch_env()
    assert train_processes('slurm', None) == 8


def test_train_script_outside_srun_stops_with_a_clear_error(smoke_workdir):
    env = {k: v for k, v in cpu_env().items() if not k.startswith('SLURM_')}
    result = run([cpu_env()['PYTHON'], REPO / 'tools' / 'train.py', SMOKE_IIF,
                  '--launcher', 'slurm',
                  '--check-only'], cwd=smoke_workdir, env=env)
    assert result.returncode != 0, explain(result)
    assert 'SLURM_PROCID' in result.stderr and 'Traceback' not in result.stderr


def test_train_script_checks_pass_inside_a_faked_srun_task(smoke_workdir, tmp_path):
    env = dict(cpu_env(), **srun_env(0, 0))
    result = run([cpu_env()['PYTHON'], REPO / 'tools' / 'train.py', SMOKE_IIF,
                  '--launcher', 'slurm',
                  '--check-only', '--work-dir', tmp_path / 'wd'], cwd=smoke_workdir, env=env)
    assert result.returncode == 0, explain(result)
    assert 'checks passed' in result.stdout


@pytest.mark.parametrize('env, message', [
    (dict(GPUS='3', GPUS_PER_NODE='2'), 'GPUS=3 is not a multiple of GPUS_PER_NODE=2'),
    (dict(GPUS='two'), "GPUS must be a positive whole number, got 'two'"),
    (dict(GPUS='2', CPUS_PER_TASK='0'), "CPUS_PER_TASK must be a positive whole number"),
])
def test_slurm_scripts_refuse_bad_task_counts_before_srun(env, message, tmp_path):
    srun = tmp_path / 'srun'  # would record a call: none must happen
    srun.write_text(f'#!/bin/sh\ntouch {tmp_path}/called\n')
    srun.chmod(0o755)
    for script in ('slurm_train.sh', 'slurm_test.sh'):
        result = run(['bash', REPO / 'tools' / script, 'p', 'job', SMOKE_IIF, 'x'], cwd=tmp_path,
                     env=dict(cpu_env(), **env, PATH=f'{tmp_path}:/usr/bin:/bin'))
        assert result.returncode == 2 and message in result.stderr, explain(result)
    assert not (tmp_path / 'called').exists()


def test_slurm_train_script_passes_the_task_layout_to_srun(tmp_path):
    srun = tmp_path / 'srun'  # records its arguments
    srun.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/args\n')
    srun.chmod(0o755)
    env = dict(cpu_env(), GPUS='16', GPUS_PER_NODE='8', CPUS_PER_TASK='4', IIF_DEVICE='cuda',
               SRUN_ARGS='--time=1-0', PATH=f'{tmp_path}:/usr/bin:/bin')
    result = run(['bash', REPO / 'tools' / 'slurm_train.sh', 'gpu', 'iif', SMOKE_IIF, 'wd',
                  '--seed', '3'], cwd=tmp_path, env=env)
    assert result.returncode == 0, explain(result)
    args = (tmp_path / 'args').read_text().split('\n')
    for expected in ('-p', 'gpu', '--job-name=iif', '--gres=gpu:8', '--ntasks=16',
                     '--ntasks-per-node=8', '--cpus-per-task=4', '--kill-on-bad-exit=1',
                     '--time=1-0', '--launcher', 'slurm', '--work-dir', 'wd', '--seed', '3'):
        assert expected in args, (expected, args)
    assert str(REPO / 'tools' / 'train.py') in [str(__import__('pathlib').Path(a).resolve())
                                                for a in args if a.endswith('train.py')]

"""`iif reproduce run --executor slurm` on the CI cluster: two smoke variants x one seed, each
(variant, seed) one sbatch job running in the image; the table equals the local executor's for
the same runs, and running the command again submits nothing new.

As on a real cluster, the submitting command runs on the login node inside the image (mmcv
reads the configs there), with the host's SLURM client made available to it by
scripts/slurm_client.sh (docs/cluster.md, "The variant queue on SLURM")."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time

import pytest

from conftest import CONTAINER_RUN, KIT, PYTHON, REPO, explain, job_env, run

VARIANTS = 'softmax,raw'
SMOKE_SET = KIT / 'configs' / 'smoke' / 'variants'  # as the image sees it
# what SLURM's client needs from the host inside ch-run: the munge socket (/run/munge) and the
# user names of slurm.conf (ch-run otherwise writes an /etc/passwd with only the caller)
CLIENT_BINDS = '--no-passwd -b /etc/passwd -b /etc/group -b /run'
CONFIGS = {'softmax': 'softmax_r18_fpn_smoke.py', 'raw': 'iif_raw_r18_fpn_smoke.py'}


@pytest.fixture(scope='module')
def one_epoch_set(smoke_workdir):
    """The shipped smoke variants, 1 epoch each (the variant names come from the file names)."""
    config_dir = smoke_workdir / 'variants_1epoch'
    config_dir.mkdir()
    for name in CONFIGS.values():
        (config_dir / name).write_text(f"_base_ = '{SMOKE_SET / name}'\n"
                                       'runner = dict(max_epochs=1)\n')
    return config_dir


@pytest.fixture(scope='module')
def submit_env(smoke_workdir):
    """The login node: in the image, with SLURM's client commands of the host first on PATH."""
    if not CONTAINER_RUN:  # host mode: the submitting Python runs next to sbatch
        return job_env()
    made = subprocess.run(['bash', REPO / 'scripts' / 'slurm_client.sh',
                           smoke_workdir / 'slurm-client'], capture_output=True, text=True)
    assert made.returncode == 0, explain(made)
    client_bin = made.stdout.strip().splitlines()[-1]
    return job_env(PATH=f'{client_bin}:{os.environ["PATH"]}',
                   CH_RUN_ARGS=f'{os.environ.get("CH_RUN_ARGS", "")} {CLIENT_BINDS}')


def iif(args, cwd, env, timeout=900):
    return run([*CONTAINER_RUN, PYTHON, '-m', 'iif.cli', 'reproduce', *args], cwd=cwd, env=env,
               timeout=timeout)


def queue_args(config_dir, work_root, out):
    return ['run', '--config-dir', config_dir, '--variants', VARIANTS, '--seeds', '1',
            '--gpus', '1', '--work-root', work_root, '--out', out]


def slurm_args(config_dir, work_root, out):
    args = queue_args(config_dir, work_root, out) + ['--executor', 'slurm',
                                                     '--cpus-per-task', '1', '--kit-dir', KIT]
    return args + (['--container-run', ' '.join(CONTAINER_RUN)] if CONTAINER_RUN else [])


def all_jobs():
    out = subprocess.run(['squeue', '-h', '-o', '%i'], capture_output=True, text=True)
    return set(out.stdout.split())


def job_ids(state_file):
    runs = json.loads(state_file.read_text())['runs']
    return {key: [a['job_id'] for a in run['attempts']] for key, run in runs.items()}


def table(out_dir):
    return {row['variant']: row['metrics']
            for row in json.loads((out_dir / 'variants.json').read_text())['variants']}


def test_slurm_executor_writes_the_local_table_and_never_submits_twice(
        smoke_workdir, one_epoch_set, submit_env):
    started = time.time()
    state_file = smoke_workdir / 'wr_slurm' / 'reproduce_state.json'
    jobs_before = all_jobs()
    first = iif(slurm_args(one_epoch_set, 'wr_slurm', 'res_slurm'), smoke_workdir, submit_env)
    assert first.returncode == 0, explain(first)
    assert 'slurm: 2 job(s) submitted' in first.stdout, explain(first)
    submitted = job_ids(state_file)
    assert sorted(submitted) == ['raw/seed1', 'softmax/seed1']
    ids = {key: jobs[0] for key, jobs in submitted.items()}
    assert all(len(jobs) == 1 and jobs[0].isdigit() for jobs in submitted.values())
    new_jobs = all_jobs() - jobs_before
    print(f'submitted: {time.time() - started:.0f} s, jobs {ids}')
    # the reference: the local executor on this host, in the image, while the jobs run
    local = subprocess.Popen([str(c) for c in [*CONTAINER_RUN, PYTHON, '-m', 'iif.cli',
                                               'reproduce', *queue_args(one_epoch_set,
                                                                        'wr_local', 'res_local')]],
                             cwd=smoke_workdir, env=job_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        # again while the jobs are queued or running: nothing is submitted
        again = iif(slurm_args(one_epoch_set, 'wr_slurm', 'res_slurm'), smoke_workdir,
                    submit_env)
        assert again.returncode == 0, explain(again)
        assert 'slurm: 0 job(s) submitted' in again.stdout, explain(again)
        for key, job in ids.items():
            assert re.search(rf'{key}: (job {job} is [A-Z_]+, not submitted again|done already)',
                             again.stdout), explain(again)
        assert job_ids(state_file) == submitted
        assert new_jobs <= set(ids.values()) and all_jobs() - jobs_before <= new_jobs
        # status names every job and the state SLURM reports
        status = iif(['status', '--work-root', 'wr_slurm'], smoke_workdir, submit_env,
                     timeout=120)
        assert status.returncode == 0, explain(status)
        assert 'slurm job' in status.stdout, explain(status)
        for key, job in ids.items():
            assert re.search(rf'{re.escape(key)} .*\b{job} (PENDING|RUNNING|CONFIGURING|'
                             r'COMPLETING|COMPLETED|GONE)', status.stdout), explain(status)
        # --wait: polls until both jobs end, then the table
        waited = iif(slurm_args(one_epoch_set, 'wr_slurm', 'res_slurm') + ['--wait', '--poll',
                                                                           '3'],
                     smoke_workdir, submit_env)
        assert waited.returncode == 0, explain(waited)
        assert 'slurm: 0 job(s) submitted' in waited.stdout, explain(waited)
        print(f'slurm jobs done: {time.time() - started:.0f} s')
        local_out, _ = local.communicate(timeout=900)
    finally:
        if local.poll() is None:
            local.kill()
    assert local.returncode == 0, local_out[-4000:]
    print(f'local reference done: {time.time() - started:.0f} s')
    assert job_ids(state_file) == submitted  # no job was submitted a second time
    runs = json.loads(state_file.read_text())['runs']
    assert {key: run['status'] for key, run in runs.items()} == {
        'raw/seed1': 'done', 'softmax/seed1': 'done'}
    for key, run_entry in runs.items():
        log = (smoke_workdir / run_entry['log']).read_text()
        assert f'job {ids[key]} end' in log, log[-3000:]
    # the same table as the local executor's: every metric of both variants
    assert table(smoke_workdir / 'res_slurm') == table(smoke_workdir / 'res_local')
    assert sorted(table(smoke_workdir / 'res_slurm')) == ['raw', 'softmax']
    # done runs: a fourth invocation skips both and still submits nothing
    done = iif(slurm_args(one_epoch_set, 'wr_slurm', 'res_slurm'), smoke_workdir, submit_env)
    assert done.returncode == 0, explain(done)
    assert done.stdout.count('done already') == 2 and 'slurm: 0 job(s) submitted' in done.stdout
    assert job_ids(state_file) == submitted
    status = iif(['status', '--work-root', 'wr_slurm'], smoke_workdir, submit_env, timeout=120)
    for key, job in ids.items():
        assert re.search(rf'{re.escape(key)} +done .*\b{job} ', status.stdout), explain(status)
    print(f'reproduce on SLURM: {time.time() - started:.0f} s')

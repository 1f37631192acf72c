"""A 2-node x 1-process CPU smoke training and test through `--launcher slurm` on the CI
cluster equal a single-host 2-process torchrun run with the same seed; a job requeued with
USR1 mid-training resumes from its checkpoint and ends with the same metrics."""
from __future__ import annotations

import json
import subprocess
import time

import pytest

from conftest import CONTAINER_RUN, KIT, REPO, explain, job_env, run

TOOLS = REPO / 'tools'  # the launch scripts run on the host (the login node)
SMOKE_IIF = KIT / 'configs' / 'smoke' / 'iif_r18_fpn_smoke.py'  # read by the jobs
REPORTED = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APr', 'APc', 'APf', 'AR@300']
TWO_EPOCHS = ['--seed', 7, '--cfg-options', 'runner.max_epochs=2', 'evaluation.interval=2']


def metrics(path):
    m = json.loads(path.read_text())
    return {iou: {k: m[iou][k] for k in REPORTED} for iou in ('bbox', 'segm')}


@pytest.fixture(scope='module')
def local_run(smoke_workdir):
    """The reference: one host, 2 processes through torchrun (tools/dist_train.sh)."""
    work_dir = smoke_workdir / 'work_dirs' / 'local_2proc'
    started = time.time()
    result = run([*CONTAINER_RUN, 'bash', KIT / 'tools' / 'dist_train.sh', SMOKE_IIF, 2,
                  '--work-dir', work_dir, *TWO_EPOCHS], cwd=smoke_workdir,
                 env=job_env(PORT=29517))
    assert result.returncode == 0, explain(result)
    print(f'local 2-process training: {time.time() - started:.0f} s')
    return work_dir


@pytest.fixture(scope='module')
def slurm_run(smoke_workdir):
    """2 nodes x 1 task through tools/slurm_train.sh (srun, --launcher slurm)."""
    work_dir = smoke_workdir / 'work_dirs' / 'slurm_2node'
    started = time.time()
    result = run(['bash', TOOLS / 'slurm_train.sh', 'debug', 'iif-ci-train', SMOKE_IIF, work_dir,
                  *TWO_EPOCHS], cwd=smoke_workdir, env=job_env(GPUS=2, GPUS_PER_NODE=1))
    assert result.returncode == 0, explain(result)
    print(f'slurm 2-node training: {time.time() - started:.0f} s')
    return work_dir, result


def test_two_node_slurm_training_equals_two_process_torchrun(slurm_run, local_run):
    work_dir, result = slurm_run
    run_record = json.loads((work_dir / 'run.json').read_text())
    assert run_record['world_size'] == 2 and run_record['device'] == 'cpu'
    assert run_record['seed'] == 7
    assert '--launcher slurm' in (work_dir / 'command.txt').read_text()
    assert metrics(work_dir / 'metrics.json') == metrics(local_run / 'metrics.json')


def test_two_node_slurm_test_matches_training_evaluation(slurm_run, smoke_workdir):
    work_dir, _ = slurm_run
    result = run(['bash', TOOLS / 'slurm_test.sh', 'debug', 'iif-ci-test', SMOKE_IIF,
                  work_dir / 'epoch_2.pth', '--work-dir', work_dir], cwd=smoke_workdir,
                 env=job_env(GPUS=2, GPUS_PER_NODE=1))
    assert result.returncode == 0, explain(result)
    test_dir = sorted(work_dir.glob('test_*'))[-1]
    assert sorted(p.name for p in (test_dir / 'results').iterdir()) == [
        'bbox.rank0.json', 'bbox.rank1.json', 'segm.rank0.json', 'segm.rank1.json']
    assert json.loads((test_dir / 'run.json').read_text())['world_size'] == 2
    assert metrics(test_dir / 'metrics.json') == metrics(work_dir / 'metrics.json')


def _job_state(job_id):
    """The controller's view (this cluster keeps no accounting; finished jobs stay 5 min)."""
    out = subprocess.run(['scontrol', 'show', 'job', job_id], capture_output=True, text=True)
    for word in out.stdout.split():
        if word.startswith('JobState='):
            return word.split('=', 1)[1]
    return 'GONE'


def _wait(predicate, what, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(2)
    raise AssertionError(f'timed out after {timeout} s waiting for {what}')


def test_requeued_job_resumes_and_ends_with_the_uninterrupted_metrics(smoke_workdir, local_run):
    work_dir = smoke_workdir / 'work_dirs' / 'slurm_requeued'
    log = smoke_workdir / 'requeue.out'
    started = time.time()
    submit = run(['sbatch', '--parsable', '--nodes=2', '--ntasks-per-node=1',
                  '--cpus-per-task=1', f'--output={log}', TOOLS / 'slurm_train.sbatch', SMOKE_IIF,
                  work_dir, *TWO_EPOCHS], cwd=smoke_workdir, env=job_env(IIF_KIT_DIR=KIT))
    assert submit.returncode == 0, explain(submit)
    job_id = submit.stdout.strip().split(';')[0]
    try:
        _wait(lambda: (work_dir / 'epoch_1.pth').is_file(), 'epoch_1.pth', 600)
        # what SLURM sends 120 s before the time limit (--signal=B:USR1@120)
        signal = run(['scancel', '--batch', '--signal=USR1', job_id], cwd=REPO)
        assert signal.returncode == 0, explain(signal)
        _wait(lambda: 'requeueing' in log.read_text(), 'the USR1 handler', 60)
        # SLURM holds a requeued job for 2 minutes (BeginTime); CI need not wait that long
        _wait(lambda: _job_state(job_id) == 'PENDING', 'the job back in the queue', 120)
        subprocess.run(['scontrol', 'update', f'JobId={job_id}', 'StartTime=now'],
                       capture_output=True)
        _wait(lambda: _job_state(job_id) in ('COMPLETED', 'FAILED', 'CANCELLED', 'GONE'),
              'the requeued job to finish', 900)
    finally:
        subprocess.run(['scancel', job_id], capture_output=True)
    text = log.read_text()
    assert _job_state(job_id) in ('COMPLETED', 'GONE'), text[-4000:]
    assert 'restart 1' in text, text[-4000:]
    assert 'resumed epoch 1' in text, text[-4000:]
    run_record = json.loads((work_dir / 'run.json').read_text())
    assert run_record['resumed_from'].endswith('epoch_1.pth')
    assert metrics(work_dir / 'metrics.json') == metrics(local_run / 'metrics.json')
    print(f'requeued job: {time.time() - started:.0f} s')

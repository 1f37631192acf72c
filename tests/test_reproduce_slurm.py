"""`iif reproduce run --executor slurm` against fake sbatch / squeue / scontrol / scancel.

The fakes (Python scripts put first on PATH) record every call and keep each job's state in a
file, answering like SLURM: sbatch --parsable prints `ID;cluster`, squeue fails as a whole for
an id it does not know, scontrol knows recently ended jobs. A test "runs" a job by writing the
final checkpoint and the metrics.json the evaluation would write, then setting its state. No
training; the real cluster is tests_cluster/'s business.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

import iif.reproduce.slurm as slurm_mod
from iif.cli import main
from iif.reproduce import variants
from iif.reproduce.state import QueueState

KIT = Path(__file__).resolve().parents[1]
SMOKE_SET = KIT / 'configs' / 'smoke' / 'variants'
NAMES = ('softmax', 'raw')
SEEDS = (1, 2)
TABLE = ('AP', 'AP50', 'AP75', 'APr', 'APc', 'APf')

FAKE = r'''#!PYTHON
import json, os, sys
from pathlib import Path
db = Path(os.environ['FAKE_SLURM_DIR'])
tool = Path(sys.argv[0]).name
with open(db / 'calls.jsonl', 'a') as f:
    f.write(json.dumps([tool] + sys.argv[1:]) + '\n')
jobs = db / 'jobs'
jobs.mkdir(exist_ok=True)
def state(job):
    p = jobs / job
    s = p.read_text().strip() if p.is_file() else 'GONE'
    return None if s == 'GONE' else s
if tool == 'sbatch':
    if os.environ.get('FAKE_SBATCH_FAIL'):
        sys.exit('sbatch: error: invalid partition specified: ' + os.environ['FAKE_SBATCH_FAIL'])
    job = str(100 + len(list(jobs.iterdir())))
    (jobs / job).write_text('PENDING')
    print(job + ';ci')
elif tool == 'squeue':
    ids = sys.argv[sys.argv.index('-j') + 1].split(',')
    if any(state(j) is None for j in ids):
        sys.exit('slurm_load_jobs error: Invalid job id specified')
    for j in ids:
        print(j, state(j))
elif tool == 'scontrol':
    job = sys.argv[-1]
    if state(job) is None:
        sys.exit('slurm_load_jobs error: Invalid job id specified')
    print(f'JobId={job} JobName=x UserId=root(0) JobState={state(job)} Reason=None')
'''


@pytest.fixture
def slurm(tmp_path, monkeypatch):
    """Fake SLURM commands on PATH, the working directory in tmp_path, CPU processes."""
    bin_dir, db = tmp_path / 'bin', tmp_path / 'slurmdb'
    bin_dir.mkdir()
    db.mkdir()
    for tool in ('sbatch', 'squeue', 'scontrol', 'scancel'):
        (bin_dir / tool).write_text(FAKE.replace('PYTHON', sys.executable))
        (bin_dir / tool).chmod(0o755)
    # only the fakes: a real SLURM client on this host must not be reached
    monkeypatch.setenv('PATH', str(bin_dir))
    monkeypatch.setenv('FAKE_SLURM_DIR', str(db))
    monkeypatch.setenv('IIF_DEVICE', 'cpu')
    monkeypatch.delenv('CONTAINER_RUN', raising=False)
    monkeypatch.delenv('IIF_KIT_DIR', raising=False)
    monkeypatch.chdir(tmp_path)
    return Fake(db, tmp_path / 'wr')


class Fake:
    def __init__(self, db: Path, work_root: Path):
        self.db, self.work_root = db, work_root

    def calls(self, tool: str) -> list:
        path = self.db / 'calls.jsonl'
        lines = path.read_text().splitlines() if path.is_file() else []
        return [c[1:] for c in map(json.loads, lines) if c[0] == tool]

    def set_state(self, job: str, state: str) -> None:
        (self.db / 'jobs' / job).write_text(state)

    def job_of(self, variant: str, seed: int) -> str:
        return QueueState.load(self.work_root).runs[f'{variant}/seed{seed}']['job_id']

    def finish(self, variant: str, seed: int, ap: float, state: str = 'COMPLETED') -> None:
        """What the job leaves behind: the final checkpoint, then the evaluation's metrics."""
        run_dir = self.work_root / variant / f'seed{seed}'
        config = next(SMOKE_SET.glob(f'*{variant}_r18_fpn_smoke.py'))
        final = run_dir / variants.final_checkpoint_name(config)
        final.write_bytes(b'checkpoint')
        (run_dir / 'test_1').mkdir()
        metrics = {iou: {m: ap for m in TABLE} for iou in ('bbox', 'segm')}
        metrics['checkpoint'] = str(final)
        (run_dir / 'test_1' / 'metrics.json').write_text(json.dumps(metrics))
        self.set_state(self.job_of(variant, seed), state)


def reproduce(*args: str) -> int:
    return main(['reproduce', *args])


def run_args(*extra: str, out: str = 'out') -> list:
    return ['run', '--config-dir', str(SMOKE_SET), '--variants', ','.join(NAMES), '--seeds',
            ','.join(map(str, SEEDS)), '--gpus', '1', '--work-root', 'wr', '--out', out,
            *extra]


def slurm_run(*extra: str) -> int:
    return reproduce(*run_args('--executor', 'slurm', '--partition', 'debug', '--time',
                               '0:30:00', '--sbatch-args=--qos=low', '--container-run',
                               'ch-run -b /d:/d IMG --', *extra))


def test_one_job_per_run_with_train_then_test(slurm):
    assert slurm_run() == 0
    submitted = slurm.calls('sbatch')
    assert len(submitted) == len(NAMES) * len(SEEDS)
    state = QueueState.load(slurm.work_root)
    for variant in NAMES:
        for seed in SEEDS:
            entry = state.runs[f'{variant}/seed{seed}']
            run_dir = Path('wr') / variant / f'seed{seed}'  # as given: the job runs in this cwd
            script = run_dir / 'reproduce_job.sh'
            argv = next(a for a in submitted if a[-1] == str(script))
            assert argv[0] == '--parsable' and f'--chdir={os.getcwd()}' in argv
            for opt in (f'--job-name=iif-{variant}-seed{seed}', '--requeue',
                        '--signal=B:USR1@120', '--partition=debug', '--time=0:30:00',
                        '--qos=low', '--nodes=1', '--ntasks-per-node=1',
                        f'--output={run_dir / "slurm-%j.out"}'):
                assert opt in argv
            assert not any(a.startswith('--gres') for a in argv)  # IIF_DEVICE=cpu
            assert entry['status'] == 'running' and entry['job_id'].isdigit()
            assert entry['log'] == str(run_dir / f'slurm-{entry["job_id"]}.out')
            text = script.read_text()
            lines = [line for line in text.splitlines() if 'srun' in line]
            train, test = lines
            assert 'ch-run -b /d:/d IMG -- ' in train and 'ch-run -b /d:/d IMG -- ' in test
            assert f'tools/train.py {entry["config"]} --work-dir {run_dir} --seed {seed} ' \
                   '--auto-resume --no-validate --launcher slurm' in train
            final = run_dir / variants.final_checkpoint_name(Path(entry['config']))
            assert f'tools/test.py {entry["config"]} {final} --work-dir {run_dir} ' \
                   '--launcher slurm' in test
            assert 'trap requeue USR1' in text and 'scontrol requeue' in text
    assert len({e['job_id'] for e in state.runs.values()}) == 4


def test_rerun_submits_nothing_for_queued_running_or_done_runs(slurm, capsys):
    assert slurm_run() == 0
    slurm.set_state(slurm.job_of('softmax', 1), 'RUNNING')
    slurm.finish('softmax', 2, 0.2)
    slurm.finish('raw', 1, 0.3)
    slurm.set_state(slurm.job_of('raw', 1), 'GONE')  # ended long ago: only the run dir says
    capsys.readouterr()
    assert slurm_run() == 0
    said = capsys.readouterr().out
    assert len(slurm.calls('sbatch')) == 4
    assert 'softmax/seed1: job 100 is RUNNING, not submitted again' in said
    assert 'raw/seed2: job 103 is PENDING, not submitted again' in said
    assert 'raw/seed1: done already' in said and 'softmax/seed2: done already' in said
    runs = QueueState.load(slurm.work_root).runs
    assert runs['raw/seed1']['status'] == 'done' and runs['softmax/seed1']['status'] == 'running'


def test_a_job_that_ended_without_a_result_is_submitted_again(slurm, capsys):
    assert slurm_run() == 0
    first = slurm.job_of('raw', 2)
    slurm.set_state(first, 'FAILED')  # e.g. out of memory: no metrics.json
    capsys.readouterr()
    assert slurm_run() == 0
    said = capsys.readouterr().out
    assert len(slurm.calls('sbatch')) == 5
    entry = QueueState.load(slurm.work_root).runs['raw/seed2']
    assert entry['job_id'] != first and entry['status'] == 'running'
    assert f'job {first} ended (FAILED) without a result' in said
    assert 'raw/seed2: failed' in said and 'submitting it again' in said
    assert [a['job_id'] for a in entry['attempts']] == [first, entry['job_id']]
    assert entry['attempts'][0]['outcome'] == 'failed'


def test_status_shows_job_ids_and_states(slurm, capsys):
    assert slurm_run() == 0
    slurm.set_state(slurm.job_of('softmax', 1), 'RUNNING')
    slurm.finish('raw', 2, 0.3)
    capsys.readouterr()
    assert reproduce('status', '--work-root', 'wr') == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if '/seed' in line}
    assert 'slurm job' in out
    assert f'{slurm.job_of("softmax", 1)} RUNNING' in lines['softmax/seed1']
    assert f'{slurm.job_of("softmax", 2)} PENDING' in lines['softmax/seed2']
    assert f'{slurm.job_of("raw", 2)} COMPLETED' in lines['raw/seed2']
    assert 'interrupted' not in out  # the submitting command has ended; the jobs have not
    assert 'jobs submitted to SLURM' in out


def test_missing_sbatch_is_a_clear_error(slurm, tmp_path, monkeypatch, capsys):
    (tmp_path / 'bin' / 'sbatch').unlink()
    assert slurm_run() == 2
    err = capsys.readouterr().err
    assert 'sbatch not found on PATH' in err and 'login node' in err
    assert not (slurm.work_root / 'reproduce_state.json').exists()


def test_failing_sbatch_is_a_clear_error(slurm, monkeypatch, capsys):
    monkeypatch.setenv('FAKE_SBATCH_FAIL', 'debug')
    assert slurm_run() == 2
    err = capsys.readouterr().err
    assert 'sbatch failed submitting softmax/seed1 (exit 1)' in err
    assert 'invalid partition specified: debug' in err and '--partition' in err
    assert all(r['status'] == 'pending' for r in QueueState.load(slurm.work_root).runs.values())


def test_slurm_options_need_the_slurm_executor(slurm, capsys):
    assert reproduce(*run_args('--wait')) == 2
    assert '--wait only apply with --executor slurm' in capsys.readouterr().err


def test_wait_writes_the_same_table_as_the_local_queue(slurm, monkeypatch, capsys):
    """--wait polls until every job has ended; a job that ended without a result is reported
    failed; the table equals the local executor's on the same run directories."""
    assert slurm_run() == 0
    aps = {('softmax', 1): 0.20, ('softmax', 2): 0.22, ('raw', 1): 0.25}
    for (variant, seed), ap in aps.items():
        slurm.finish(variant, seed, ap)
    slurm.set_state(slurm.job_of('raw', 2), 'RUNNING')
    polls = []

    def sleep(seconds):  # the job ends between two polls
        polls.append(seconds)
        slurm.set_state(slurm.job_of('raw', 2), 'TIMEOUT')

    monkeypatch.setattr(slurm_mod, 'pause', sleep)
    rc = slurm_run('--wait', '--poll', '7')
    assert rc == 1 and polls == [7.0]  # raw/seed2 failed
    assert len(slurm.calls('sbatch')) == 4  # nothing submitted again while waiting
    runs = QueueState.load(slurm.work_root).runs
    assert runs['raw/seed2']['status'] == 'failed'
    assert 'ended (TIMEOUT) without a result' in runs['raw/seed2']['error']
    report = json.loads((slurm.work_root.parent / 'out' / 'variants.json').read_text())
    rows = {r['variant']: r for r in report['variants']}
    assert rows['softmax']['metrics']['segm']['AP']['mean'] == pytest.approx(21.0)
    # the local executor on the same run directories: everything done or failed, same table
    capsys.readouterr()
    assert reproduce(*run_args('--skip-failed', out='out_local')) == 1
    assert 'done already' in capsys.readouterr().out
    assert len(slurm.calls('sbatch')) == 4
    slurm_out, local_out = (slurm.work_root.parent / d for d in ('out', 'out_local'))
    assert (slurm_out / 'variants.csv').read_text() == (local_out / 'variants.csv').read_text()
    slurm_json, local_json = (json.loads((d / 'variants.json').read_text())
                              for d in (slurm_out, local_out))
    written = slurm_json.pop('generated'), local_json.pop('generated')
    assert slurm_json == local_json
    slurm_md, local_md = ((d / 'variants.md').read_text() for d in (slurm_out, local_out))
    assert slurm_md.replace(written[0], written[1]) == local_md  # only the time written differs


def test_gpus_nodes_and_kit_dir_as_the_jobs_see_them(slurm, monkeypatch):
    """GPU jobs ask for GPUs per node; configs and tools of this checkout are passed under
    --kit-dir (the image's /workspace), the submitting directory stays the job's."""
    monkeypatch.delenv('IIF_DEVICE')
    assert reproduce('run', '--config-dir', str(SMOKE_SET), '--variants', 'raw', '--gpus', '2',
                     '--allow-batch-change', '--work-root', 'wr', '--executor', 'slurm',
                     '--gpus-per-node', '1', '--cpus-per-task', '3', '--kit-dir',
                     '/workspace') == 0
    (argv,) = slurm.calls('sbatch')
    for opt in ('--nodes=2', '--ntasks-per-node=1', '--gres=gpu:1', '--cpus-per-task=3'):
        assert opt in argv
    text = (Path('wr') / 'raw' / 'seed1' / 'reproduce_job.sh').read_text()
    assert ('/workspace/tools/train.py /workspace/configs/smoke/variants/'
            'iif_raw_r18_fpn_smoke.py --work-dir wr/raw/seed1 --seed 1') in text
    assert '--allow-batch-change' in text and '/workspace/tools/test.py' in text
    assert reproduce('run', '--config-dir', str(SMOKE_SET), '--variants', 'raw', '--gpus', '3',
                     '--work-root', 'wr', '--executor', 'slurm', '--gpus-per-node', '2') == 2

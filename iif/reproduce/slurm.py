"""The reproduce queue on SLURM: every (variant, seed) is one sbatch job (`--executor slurm`).

Each job trains with ``--auto-resume --launcher slurm`` (requeued on USR1 120 s before its time
limit, as tools/slurm_train.sbatch), then evaluates the final checkpoint into the run
directory, where the run's ``metrics.json`` lands exactly as with the local queue. Job ids are
kept in the state file; what is done is still read from the run directories, so the table is
written by the same code as the local queue's. A run is never submitted twice while its job is
alive (``squeue``, else ``scontrol show job``; no accounting needed); a run whose job ended
without a result is submitted again. Torch-free.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional

from iif.clock import now
from iif.paths import KIT_ROOT

from . import variants as variants_mod
from .errors import ReproduceError
from .queue import Queue, QueueOptions
from .rundir import find_result, foreign_run, set_aside_incomplete_checkpoints

# States of a job SLURM may still run (or run again: a requeued job comes back PENDING).
ALIVE_STATES = frozenset({
    'PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'REQUEUED', 'REQUEUE_HOLD',
    'REQUEUE_FED', 'RESIZING', 'SUSPENDED', 'STOPPED', 'SIGNALING', 'STAGE_OUT',
    'RESV_DEL_HOLD', 'SPECIAL_EXIT'})
GONE = 'GONE'  # the controller no longer knows the job (ended a while ago)
JOB_SCRIPT = 'reproduce_job.sh'
pause = time.sleep  # between polls with --wait (tests replace it)


@dataclass
class SlurmOptions:
    partition: Optional[str] = None
    gpus_per_node: Optional[int] = None  # default min(gpus, 8)
    cpus_per_task: int = 5
    time_limit: Optional[str] = None
    sbatch_args: List[str] = field(default_factory=list)
    container_run: List[str] = field(default_factory=list)  # as CONTAINER_RUN of tools/slurm_*.sh
    kit_dir: Optional[str] = None  # the checkout as the jobs see it (IIF_KIT_DIR)
    python: str = 'python'
    wait: bool = False
    poll_s: float = 30.0


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ReproduceError(
            f'{name} not found on PATH: --executor slurm submits through SLURM\'s commands. Run '
            'it on a login node of the cluster (where sbatch, squeue and scontrol work), or '
            'drop --executor slurm to train on this machine.')
    return path


def job_states(job_ids: Iterable[str]) -> Dict[str, str]:
    """SLURM's state of each job: ``squeue`` for all at once, ``scontrol show job`` for those it
    did not list (recently ended ones), ``GONE`` if neither knows it. No accounting needed."""
    ids = sorted({str(j) for j in job_ids if j})
    states: Dict[str, str] = {}
    if not ids:
        return states
    squeue = _tool('squeue')
    # squeue fails as a whole on an id it no longer knows: ask per id when it does
    out = subprocess.run([squeue, '-h', '-o', '%i %T', '-j', ','.join(ids)],
                         capture_output=True, text=True)
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ids:
            states[parts[0]] = parts[1].upper()
    scontrol = _tool('scontrol')
    for job in ids:
        if job in states:
            continue
        out = subprocess.run([scontrol, 'show', 'job', '-o', job], capture_output=True,
                             text=True)
        state = GONE
        for word in out.stdout.split() if out.returncode == 0 else []:
            if word.startswith('JobState='):
                state = word.split('=', 1)[1].upper()
        states[job] = state
    return states


def is_alive(state: Optional[str]) -> bool:
    return state in ALIVE_STATES


class SlurmQueue(Queue):
    """The variant queue with sbatch as executor; shares planning, state and report with
    :class:`~iif.reproduce.queue.Queue`."""

    def __init__(self, opts: QueueOptions, slurm: SlurmOptions,
                 say: Callable[[str], None] = None):
        super().__init__(opts, say)
        self.slurm = slurm

    # ----------------------------------------------------------------------- preparation
    def _check_launch(self) -> None:
        _tool('sbatch')
        if self.opts.gpus < 1:
            raise ReproduceError(f'--gpus must be at least 1, got {self.opts.gpus}')
        per_node = self._gpus_per_node()
        if per_node < 1 or self.opts.gpus % per_node:
            raise ReproduceError(f'--gpus {self.opts.gpus} is not a multiple of '
                                 f'--gpus-per-node {per_node} (every node runs as many tasks)')
        if self.slurm.cpus_per_task < 1:
            raise ReproduceError(f'--cpus-per-task must be at least 1, got '
                                 f'{self.slurm.cpus_per_task}')

    def _gpus_per_node(self) -> int:
        return self.slurm.gpus_per_node or min(self.opts.gpus, 8)

    def _kit_path(self, path: Path) -> str:
        """A path of this checkout as the jobs see it (the image's /workspace, say)."""
        path = Path(path)
        if self.slurm.kit_dir:
            try:
                return str(Path(self.slurm.kit_dir) / path.resolve().relative_to(KIT_ROOT))
            except ValueError:
                pass
        return str(path)

    # ----------------------------------------------------------------------------- run
    def _run_locked(self, selected) -> int:
        from .state import QueueState
        self.work_root.mkdir(parents=True, exist_ok=True)
        self._queue_log = self.work_root / 'reproduce_queue.log'
        state = QueueState.load(self.work_root)
        keys = self._register(state, selected)
        state.data['queue'] = dict(
            pid=os.getpid(), host=os.uname().nodename, started=now(), cwd=os.getcwd(),
            command=self.opts.command, executor='slurm', planned=keys, gpus=self.opts.gpus,
            seeds=self.opts.seeds, config_dir=str(self.opts.config_dir),
            cfg_options=self.opts.cfg_options, train_flags=self._train_flags())
        state.save()
        jobs = job_states(e.get('job_id') for k, e in state.runs.items() if k in keys)
        submitted = 0
        for i, key in enumerate(keys, 1):
            submitted += self._submit_one(state, key, f'[{i}/{len(keys)}]', jobs)
        self.say(f'slurm: {submitted} job(s) submitted, '
                 f'{sum(state.runs[k]["status"] == "running" for k in keys) - submitted} '
                 f'still queued or running from before, '
                 f'{sum(state.runs[k]["status"] == "done" for k in keys)} done of {len(keys)}')
        if not self.slurm.wait:
            state.data['queue']['ended'] = now()
            state.save()
            self._write_report(state)
            self.say(f'follow the jobs with `iif reproduce status --work-root {self.work_root}`; '
                     'run this command again with --wait (or `iif reproduce report`) for the '
                     'table when they have ended')
            return 0
        return self._wait(state, keys)

    def _wait(self, state, keys: List[str]) -> int:
        while True:
            live = [k for k in keys if state.runs[k]['status'] == 'running']
            if not live:
                break
            pause(self.slurm.poll_s)
            jobs = job_states(state.runs[k].get('job_id') for k in live)
            for key in live:
                self._settle(state, key, jobs.get(state.runs[key].get('job_id')))
        return self._finish(state, keys)

    def _final(self, entry: dict) -> Path:
        return Path(entry['work_dir']) / variants_mod.final_checkpoint_name(Path(entry['config']))

    def _settle(self, state, key: str, job_state: Optional[str]) -> None:
        """Record what became of a submitted run's job (nothing while it is alive)."""
        entry = state.runs[key]
        entry['slurm_state'] = job_state
        if is_alive(job_state):
            state.save()
            return
        result = find_result(Path(entry['work_dir']), self._final(entry))
        attempt = entry['attempts'][-1] if entry['attempts'] else {}
        attempt.update(ended=attempt.get('ended') or now(), slurm_state=job_state)
        if result is not None:
            attempt['outcome'] = 'done'
            entry.update(status='done', result=str(result), finished=now(), error=None)
            self.say(f'{key}: job {entry["job_id"]} done -> {result}')
            self._write_report(state)
        else:
            attempt['outcome'] = 'failed'
            entry.update(status='failed', finished=now(),
                         error=f'job {entry["job_id"]} ended ({job_state}) without a result')
            self.say(f'{key}: FAILED: {entry["error"]} (log: {entry.get("log")})')
        state.save()

    def _submit_one(self, state, key: str, counter: str, jobs: Dict[str, str]) -> int:
        entry = state.runs[key]
        run_dir = Path(entry['work_dir'])
        try:
            final = self._final(entry)
        except ReproduceError as e:
            entry.update(status='failed', error=str(e))
            state.save()
            self.say(f'{counter} {key}: FAILED: {e}')
            return 0
        result = find_result(run_dir, final)
        if result is not None:
            if entry['status'] != 'done' or entry.get('result') != str(result):
                entry.update(status='done', result=str(result), error=None,
                             finished=entry.get('finished') or now())
                state.save()
            self.say(f'{counter} {key}: done already ({result}), skipped')
            return 0
        job = entry.get('job_id')
        if job:
            job_state = jobs.get(job)
            if is_alive(job_state):
                entry.update(status='running', slurm_state=job_state)
                state.save()
                self.say(f'{counter} {key}: job {job} is {job_state}, not submitted again')
                return 0
            if entry['status'] == 'running':  # its job ended without a result
                self._settle(state, key, job_state)
        if entry['status'] == 'failed':
            if self.opts.skip_failed:
                self.say(f'{counter} {key}: failed, skipped (--skip-failed): {entry["error"]}')
                return 0
            self.say(f'{counter} {key}: failed ({entry.get("error")}): submitting it again '
                     '(it resumes from its last checkpoint)')
        conflict = foreign_run(run_dir, Path(entry['config']))
        if conflict:
            entry.update(status='failed', error=conflict)
            state.save()
            self.say(f'{counter} {key}: FAILED: {conflict}')
            return 0
        run_dir.mkdir(parents=True, exist_ok=True)
        set_aside_incomplete_checkpoints(run_dir, self.say)
        script = run_dir / JOB_SCRIPT
        script.write_text(self.job_script(entry, final), encoding='utf-8')
        argv = self.sbatch_argv(entry, script)
        job = self._sbatch(argv, key)
        log = run_dir / f'slurm-{job}.out'
        entry['attempts'].append(dict(started=now(), phase='slurm', job_id=job,
                                      gpus=self.opts.gpus, sbatch=argv))
        entry.update(status='running', job_id=job, slurm_state='PENDING', log=str(log),
                     error=None, started=entry.get('started') or now())
        state.save()
        self.say(f'{counter} {key}: submitted as job {job} ({self.opts.gpus} tasks); log {log}')
        return 1

    # ------------------------------------------------------------------------ commands
    def sbatch_argv(self, entry: dict, script: Path) -> List[str]:
        per_node = self._gpus_per_node()
        argv = ['sbatch', '--parsable', f'--job-name=iif-{entry["variant"]}-seed{entry["seed"]}',
                '--requeue', '--signal=B:USR1@120', '--open-mode=append',
                f'--output={Path(entry["work_dir"]) / "slurm-%j.out"}', f'--chdir={os.getcwd()}',
                f'--nodes={self.opts.gpus // per_node}', f'--ntasks-per-node={per_node}',
                f'--cpus-per-task={self.slurm.cpus_per_task}']
        if os.environ.get('IIF_DEVICE', 'auto') != 'cpu':  # CPU processes ask for no GPUs
            argv.append(f'--gres=gpu:{per_node}')
        if self.slurm.partition:
            argv.append(f'--partition={self.slurm.partition}')
        if self.slurm.time_limit:
            argv.append(f'--time={self.slurm.time_limit}')
        return argv + list(self.slurm.sbatch_args) + [str(script)]

    def job_script(self, entry: dict, final: Path) -> str:
        q = shlex.quote
        prefix = ' '.join(['srun', '--kill-on-bad-exit=1'] + [q(a) for a in
                                                               self.slurm.container_run]
                          + [q(self.slurm.python), '-u'])
        config, run_dir = self._kit_path(Path(entry['config'])), entry['work_dir']
        train = [self._kit_path(self.tools_dir / 'train.py'), config, '--work-dir', run_dir,
                 '--seed', str(entry['seed']), '--auto-resume', '--no-validate',
                 '--launcher', 'slurm'] + self._train_flags() + self._cfg_options()
        test = [self._kit_path(self.tools_dir / 'test.py'), config, str(final), '--work-dir',
                run_dir, '--launcher', 'slurm'] + self._tf32_flag() + self._cfg_options()
        return f'''#!/usr/bin/env bash
# {entry["variant"]}/seed{entry["seed"]}: written by `iif reproduce run --executor slurm`.
# Train (resuming from the last checkpoint; requeued on USR1 before the time limit), then
# evaluate the final checkpoint: its metrics.json in the run directory is the run's result.
set -uo pipefail
echo "job ${{SLURM_JOB_ID}} start $(date -u +%FT%TZ) restart ${{SLURM_RESTART_COUNT:-0}}"
requeue() {{
    echo "job ${{SLURM_JOB_ID}}: USR1 at $(date -u +%FT%TZ), requeueing"
    scontrol requeue "$SLURM_JOB_ID"
}}
trap requeue USR1
step() {{  # a trapped signal interrupts wait: wait again until the step is gone
    "$@" &
    local pid=$! status
    while true; do
        wait "$pid"; status=$?
        kill -0 "$pid" 2>/dev/null || return "$status"
    done
}}
if [ ! -f {q(str(final))} ]; then
    step {prefix} {' '.join(q(a) for a in train)} || exit $?
fi
if [ ! -f {q(str(final))} ]; then
    echo "error: training ended without {final.name}" >&2
    exit 1
fi
step {prefix} {' '.join(q(a) for a in test)} || exit $?
echo "job ${{SLURM_JOB_ID}} end $(date -u +%FT%TZ)"
'''

    def _sbatch(self, argv: List[str], key: str) -> str:
        sbatch = _tool('sbatch')
        try:
            out = subprocess.run([sbatch] + argv[1:], capture_output=True, text=True,
                                 timeout=120)
        except subprocess.TimeoutExpired as e:
            raise ReproduceError(f'sbatch did not answer within 120 s submitting {key}: is the '
                                 'SLURM controller up (`sinfo`)?') from e
        job = out.stdout.strip().split(';')[0].strip()
        if out.returncode != 0 or not job.isdigit():
            said = (out.stderr.strip() or out.stdout.strip() or 'no output')[-1000:]
            raise ReproduceError(
                f'sbatch failed submitting {key} (exit {out.returncode}): {said}\n  The command: '
                f'{" ".join(shlex.quote(a) for a in argv)}\n  Fix the option SLURM names (e.g. '
                '--partition, --time, --sbatch-args) and run the same command again: runs '
                'already submitted are not submitted twice.')
        return job


def default_python() -> str:
    return os.environ.get('PYTHON') or sys.executable

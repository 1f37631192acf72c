"""Train and evaluate a set of variant configs one after another, resumably.

Each run (variant x seed) trains through ``tools/dist_train.sh`` (``--auto-resume``, so an
interrupted run continues from its last ``epoch_N.pth``) and is then evaluated through
``tools/dist_test.sh``; the ``metrics.json`` that evaluation writes is the run's result. What is
done is read from the run directories (final checkpoint + a valid metrics.json newer than it),
so a re-started queue skips finished runs even without its state file.

The parts: :mod:`.rundir` reads run directories, :mod:`.processes` starts launches and cleans
up after them, :mod:`.state` holds the state file and lock; this module runs the queue.
"""
from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Sequence

from iif.checkpoints import list_checkpoints
from iif.clock import format_duration, now
from iif.paths import KIT_ROOT

from . import variants as variants_mod
from .errors import ReproduceError
from .processes import free_port, reap_leftovers, start_launch
from .rundir import (failure_reason, find_result, foreign_run, resumed_from, run_dir_for,
                     set_aside_incomplete_checkpoints)
from .state import QueueLock, QueueState, run_key

HEARTBEAT_S = 30.0


@dataclass
class QueueOptions:
    config_dir: Path
    work_root: Path
    out: Path
    seeds: List[int]
    gpus: int = 4
    variants: Optional[List[str]] = None
    tolerance: float = 0.5
    port: Optional[int] = None
    cfg_options: List[str] = field(default_factory=list)
    skip_failed: bool = False
    scale_lr: bool = False  # tools/train.py --scale-lr / --allow-batch-change
    allow_batch_change: bool = False
    no_tf32: bool = False  # --no-tf32 to training and evaluation
    tools_dir: Optional[Path] = None
    python: str = sys.executable
    command: str = ''


class Interrupted(BaseException):  # not caught by `except Exception`
    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# ------------------------------------------------------------------------------------ queue
class Queue:
    def __init__(self, opts: QueueOptions, say: Callable[[str], None] = None):
        self.opts = opts
        self.work_root = Path(opts.work_root)
        self.tools_dir = Path(opts.tools_dir) if opts.tools_dir else KIT_ROOT / 'tools'
        self.lock = QueueLock(self.work_root)
        self.child: Optional[subprocess.Popen] = None
        self.stop_signal: Optional[int] = None
        self._say = say or (lambda msg: print(msg, flush=True))
        self._queue_log: Optional[Path] = None

    def say(self, msg: str) -> None:
        line = f'[{time.strftime("%Y-%m-%d %H:%M:%S")}] {msg}'
        self._say(line)
        if self._queue_log is not None:
            with open(self._queue_log, 'a', encoding='utf-8') as f:
                f.write(line + '\n')

    # ----------------------------------------------------------------------- preparation
    def _plan(self) -> List[variants_mod.VariantConfig]:
        available = variants_mod.discover(self.opts.config_dir)
        return variants_mod.select(available, self.opts.variants, self.opts.config_dir)

    def _check_launch(self) -> None:
        for script in ('dist_train.sh', 'dist_test.sh'):
            if not (self.tools_dir / script).is_file():
                raise ReproduceError(f'{self.tools_dir / script} not found: run from a checkout '
                                     'of the kit or in its image')
        if self.opts.gpus < 1:
            raise ReproduceError(f'--gpus must be at least 1, got {self.opts.gpus}')
        # One check for the whole queue (GPUs visible, IIF_DEVICE): it would fail every run alike.
        from iif.engine.launch import check_process_count
        from iif.errors import UserError
        try:
            check_process_count(self.opts.gpus)
        except UserError as e:
            raise ReproduceError(str(e)) from e

    def _check_batches(self, selected: Sequence[variants_mod.VariantConfig]) -> None:
        """Every config's recipe batch against --gpus, before any run starts (tools/train.py
        would refuse each run alike)."""
        import argparse

        from mmcv import Config, DictAction

        from iif.engine.batch import plan_batch
        from iif.errors import UserError
        parser = argparse.ArgumentParser(add_help=False)
        parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
        options = parser.parse_args(self._cfg_options()).cfg_options
        for v in selected:
            try:
                cfg = Config.fromfile(str(v.path))
                if options:
                    cfg.merge_from_dict(options)
            except Exception:  # noqa: BLE001 - that run fails and says why; the others go on
                continue
            try:
                plan_batch(cfg, self.opts.gpus, scale_lr=self.opts.scale_lr,
                           allow_change=self.opts.allow_batch_change, config_name=str(v.path))
            except UserError as e:
                raise ReproduceError(f'{e} (iif reproduce run takes the same flags; --gpus '
                                     'sets the processes)') from e

    def _register(self, state: QueueState, selected: Sequence[variants_mod.VariantConfig]
                  ) -> List[str]:
        keys = []
        for seed in self.opts.seeds:  # seed-major: one full table row set as early as possible
            for v in selected:
                key = run_key(v.name, seed)
                run_dir = run_dir_for(self.work_root, v.name, seed)
                entry = state.runs.get(key)
                if entry and Path(entry['config']).name != v.filename:
                    raise ReproduceError(
                        f'{self.work_root} already holds {key} trained with '
                        f'{Path(entry["config"]).name}, not {v.filename}: the two sets share '
                        'variant names. Use another --work-root for this config set.')
                if entry is None:
                    entry = dict(variant=v.name, seed=seed, config=str(v.path),
                                 work_dir=str(run_dir), status='pending', attempts=[],
                                 seconds=0.0, log=None, result=None, error=None)
                    state.runs[key] = entry
                entry['config'] = str(v.path)
                keys.append(key)
        return keys

    @staticmethod
    def _mark_interrupted(state: QueueState, say: Callable[[str], None]) -> None:
        """Runs a killed queue left 'running': they resume (from their last checkpoint)."""
        for key, entry in state.runs.items():
            if entry['status'] != 'running':
                continue
            entry['status'] = 'pending'
            entry['interrupted'] = entry.get('heartbeat') or now()
            if entry['attempts']:
                attempt = entry['attempts'][-1]
                attempt.setdefault('outcome', 'interrupted')
                attempt.setdefault('ended', entry.get('heartbeat'))
                left = reap_leftovers(attempt.get('pgid'), str(entry['work_dir']))
                if left:
                    say(f'{key}: stopped {len(left)} leftover process(es) of the killed queue '
                        f'(PIDs {", ".join(map(str, left))})')
            say(f'{key}: was running when its queue stopped; it resumes (from its last '
                'checkpoint, if it has one)')

    # ----------------------------------------------------------------------------- run
    def run(self) -> int:
        selected = self._plan()
        self._check_launch()
        self._check_batches(selected)
        self.lock.acquire(self.opts.command, say=self.say)
        previous = {}
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, self._on_signal)
        try:
            return self._run_locked(selected)
        except Interrupted as e:  # between launches, before the state said anything
            self.say(f'queue stopped by {signal.Signals(e.signum).name}')
            return 128 + e.signum
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            self.lock.release()

    def _on_signal(self, signum, frame) -> None:
        if self.stop_signal is not None and self.child is not None:
            self.child.kill()  # second signal: do not wait for a tidy shutdown
        self.stop_signal = signum
        if self.child is not None and self.child.poll() is None:
            try:
                self.child.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        if self.child is None:
            raise Interrupted(signum)

    def _run_locked(self, selected) -> int:
        self.work_root.mkdir(parents=True, exist_ok=True)
        self._queue_log = self.work_root / 'reproduce_queue.log'
        state = QueueState.load(self.work_root)
        keys = self._register(state, selected)
        self._mark_interrupted(state, self.say)
        state.data['queue'] = dict(
            pid=os.getpid(), host=socket.gethostname(), started=now(), cwd=os.getcwd(),
            command=self.opts.command,
            planned=keys, gpus=self.opts.gpus, seeds=self.opts.seeds,
            config_dir=str(self.opts.config_dir), cfg_options=self.opts.cfg_options,
            train_flags=self._train_flags())
        state.save()
        self.say(f'queue: {len(keys)} runs ({len(selected)} variants x seeds '
                 f'{",".join(map(str, self.opts.seeds))}) on {self.opts.gpus} processes each; '
                 f'work root {self.work_root}, state {state.path}')
        try:
            for i, key in enumerate(keys, 1):
                self._run_one(state, key, f'[{i}/{len(keys)}]')
        except Interrupted as e:
            state.data['queue']['ended'] = now()
            state.data['queue']['stopped_by'] = e.signum and signal.Signals(e.signum).name
            state.save()
            self.say(f'queue stopped by {signal.Signals(e.signum).name}; start the same command '
                     'again to resume')
            return 128 + e.signum
        return self._finish(state, keys)

    def _finish(self, state: QueueState, keys: Sequence[str]) -> int:
        """Close the queue: record its end, write the final report, say what failed; the exit
        status (1 if a run failed or the report could not be written). Shared by the executors."""
        state.data['queue']['ended'] = now()
        state.save()
        failed = [k for k in keys if state.runs[k]['status'] == 'failed']
        done = [k for k in keys if state.runs[k]['status'] == 'done']
        report_ok = self._write_report(state, final=True)
        self.say(f'queue finished: {len(done)} done, {len(failed)} failed of {len(keys)}'
                 + (': ' + ', '.join(failed) if failed else ''))
        for k in failed:
            self.say(f'  {k} failed: {state.runs[k].get("error")}; log {state.runs[k].get("log")}')
        return 1 if failed or not report_ok else 0

    def _write_report(self, state: QueueState, final: bool = False) -> bool:
        from .results import write_report
        try:
            paths = write_report(state, self.opts.out, tolerance=self.opts.tolerance)
        except Exception as e:  # noqa: BLE001 - a report problem must not stop the trainings
            self.say(f'results could not be written to {self.opts.out}: {type(e).__name__}: {e}')
            return False
        if final:
            self.say('results: ' + ', '.join(str(p) for p in paths))
        return True

    def _fail(self, state, entry, key, error: str, log: Optional[Path]) -> None:
        entry['status'] = 'failed'
        entry['error'] = error
        entry['log'] = str(log) if log else entry.get('log')
        entry['finished'] = now()
        if entry['attempts']:
            entry['attempts'][-1].update(ended=now(), outcome='failed')
        state.save()
        self.say(f'{key}: FAILED: {error}' + (f' (log: {log})' if log else ''))

    def _run_one(self, state: QueueState, key: str, counter: str) -> None:
        entry = state.runs[key]
        config = Path(entry['config'])
        run_dir = Path(entry['work_dir'])
        try:
            final = run_dir / variants_mod.final_checkpoint_name(config)
        except ReproduceError as e:
            entry['attempts'].append(dict(started=now(), phase='prepare'))
            self._fail(state, entry, key, str(e), None)
            return
        result = find_result(run_dir, final)
        if result is not None:
            if entry['status'] != 'done' or entry.get('result') != str(result):
                entry.update(status='done', result=str(result), error=None,
                             finished=entry.get('finished') or now())
                state.save()
            self.say(f'{counter} {key}: done already ({result}), skipped')
            return
        if entry['status'] == 'failed' and self.opts.skip_failed:
            self.say(f'{counter} {key}: failed before, skipped (--skip-failed): {entry["error"]}')
            return
        conflict = foreign_run(run_dir, config)
        if conflict:
            entry['attempts'].append(dict(started=now(), phase='prepare'))
            self._fail(state, entry, key, conflict, run_dir / 'run.json')
            return

        attempt = dict(started=now(), gpus=self.opts.gpus, phase='train')
        entry['attempts'].append(attempt)
        entry.update(status='running', started=entry.get('started') or attempt['started'],
                     error=None, heartbeat=attempt['started'])
        state.save()
        t0 = time.time()
        set_aside_incomplete_checkpoints(run_dir, self.say)  # the final one too
        if not final.is_file():
            have = list_checkpoints(run_dir)
            attempt['resume_from'] = str(have[-1]) if have else None
            how = f'resuming from {have[-1].name}' if have else 'from scratch'
            run_dir.mkdir(parents=True, exist_ok=True)
            log = run_dir / 'reproduce_train.log'
            entry['log'] = str(log)
            self.say(f'{counter} {key}: training {how} (seed {entry["seed"]}, '
                     f'{self.opts.gpus} processes, attempt {len(entry["attempts"])}); log {log}')
            argv = ['bash', str(self.tools_dir / 'dist_train.sh'), str(config),
                    str(self.opts.gpus), '--work-dir', str(run_dir), '--seed',
                    str(entry['seed']), '--auto-resume', '--no-validate']
            argv += self._train_flags() + self._cfg_options()
            start = log.stat().st_size if log.is_file() else 0
            rc = self._launch(argv, log, state, entry, attempt, t0)
            attempt['train_exit'] = rc
            attempt['resumed_from'] = resumed_from(run_dir)
            if rc != 0:
                self._account(entry, attempt, t0)
                reason = failure_reason(log, start)
                self._fail(state, entry, key, f'training exited with status {rc}'
                           + (f': {reason}' if reason else ''), log)
                return
            if not final.is_file():
                self._account(entry, attempt, t0)
                self._fail(state, entry, key, f'training ended without {final.name}', log)
                return
        attempt['phase'] = 'test'
        log = run_dir / 'reproduce_test.log'
        entry['log'] = str(log)
        state.save()
        self.say(f'{counter} {key}: evaluating {final.name}; log {log}')
        argv = ['bash', str(self.tools_dir / 'dist_test.sh'), str(config), str(final),
                str(self.opts.gpus), '--work-dir', str(run_dir)] + self._tf32_flag() \
            + self._cfg_options()
        start = log.stat().st_size if log.is_file() else 0
        rc = self._launch(argv, log, state, entry, attempt, t0)
        attempt['test_exit'] = rc
        self._account(entry, attempt, t0)
        if rc != 0:
            reason = failure_reason(log, start)
            self._fail(state, entry, key, f'evaluation exited with status {rc}'
                       + (f': {reason}' if reason else ''), log)
            return
        result = find_result(run_dir, final)
        if result is None:
            self._fail(state, entry, key, f'evaluation wrote no valid metrics.json for '
                       f'{final.name} under {run_dir}', log)
            return
        attempt.update(ended=now(), outcome='done')
        entry.update(status='done', result=str(result), finished=now(), error=None)
        state.save()
        self.say(f'{counter} {key}: done in {format_duration(entry["seconds"])} -> {result}')
        self._write_report(state)

    # --------------------------------------------------------------------------- helpers
    def _tf32_flag(self) -> List[str]:
        return ['--no-tf32'] if self.opts.no_tf32 else []

    def _train_flags(self) -> List[str]:
        flags = self._tf32_flag()
        if self.opts.scale_lr:
            flags.append('--scale-lr')
        if self.opts.allow_batch_change:
            flags.append('--allow-batch-change')
        return flags

    def _cfg_options(self) -> List[str]:
        return ['--cfg-options'] + list(self.opts.cfg_options) if self.opts.cfg_options else []

    @staticmethod
    def _account(entry: dict, attempt: dict, t0: float) -> None:
        spent = time.time() - t0
        attempt['seconds'] = round(spent, 1)
        attempt['ended'] = now()
        # time of this attempt, plus what earlier (finished or interrupted) attempts took
        entry['seconds'] = round(sum(a.get('seconds') or 0.0 for a in entry['attempts']), 1)

    def _launch(self, argv: List[str], log: Path, state: QueueState, entry: dict,
                attempt: dict, t0: float) -> int:
        port = self.opts.port if self.opts.port else free_port()
        env = dict(os.environ, PYTHON=self.opts.python, PORT=str(port))
        with open(log, 'a', encoding='utf-8') as out:
            out.write(f'\n===== {now()} attempt {len(entry["attempts"])}: PORT={port} '
                      f'{" ".join(shlex.quote(a) for a in argv)}\n')
            out.flush()
            self.child = start_launch(
                argv, out, env, keep_fds=(self.lock.fd,) if self.lock.fd is not None else ())
            attempt['pgid'] = self.child.pid  # the launch leads its own process group
            state.save()
            last_beat = time.time()
            try:
                while True:
                    try:
                        rc = self.child.wait(timeout=1.0)
                        break
                    except subprocess.TimeoutExpired:
                        pass
                    if time.time() - last_beat >= HEARTBEAT_S:
                        last_beat = time.time()
                        attempt['seconds'] = round(time.time() - t0, 1)
                        entry['heartbeat'] = now()
                        have = list_checkpoints(Path(entry['work_dir']))
                        entry['progress'] = have[-1].name if have else None
                        state.save()
            finally:
                leader = self.child
                self.child = None
                if leader.poll() is not None:
                    reap_leftovers(leader.pid, str(entry['work_dir']))
        if self.stop_signal is not None:
            # stopped on request: the run is not failed, it resumes next time
            self._account(entry, attempt, t0)
            attempt['outcome'] = 'interrupted'
            entry.update(status='pending', interrupted=now())
            state.save()
            raise Interrupted(self.stop_signal)
        return rc

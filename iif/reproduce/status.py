"""`iif reproduce status`: the state file as a table, with elapsed and estimated remaining time."""
from __future__ import annotations

import time
from pathlib import Path
from typing import List

from iif.clock import format_duration, parse_time

from .errors import ReproduceError
from .state import STATE_FILE, STATUSES, QueueLock, QueueState


def format_status(work_root: Path) -> str:
    work_root = Path(work_root)
    if not (work_root / STATE_FILE).is_file():
        raise ReproduceError(f'no reproduce queue in {work_root} ({STATE_FILE} not found); '
                             'start one with `iif reproduce run`, or pass its --work-root')
    state = QueueState.load(work_root)
    alive = QueueLock(work_root).held_by_someone()
    q = state.queue
    lines: List[str] = [f'reproduce queue in {work_root} '
                        f'(state updated {state.data.get("updated")})']
    if q.get('executor') == 'slurm' and not alive:
        lines.append(f'queue: jobs submitted to SLURM (executor slurm), last submission '
                     f'{q.get("started")}; `iif reproduce run ... --executor slurm --wait` '
                     'collects them and writes the table')
    elif alive:
        lines.append(f'queue: RUNNING (PID {q.get("pid")} on {q.get("host")}, started '
                     f'{q.get("started")})')
    else:
        how = (f'stopped by {q["stopped_by"]}' if q.get('stopped_by')
               else 'finished' if q.get('ended') else 'not running (killed or crashed)')
        lines.append(f'queue: {how}; last started {q.get("started")}'
                     + (f', ended {q["ended"]}' if q.get('ended') else ''))
    jobs = _job_column(state)
    rows = [('run', 'status', 'attempts', 'time', 'progress', 'result / log')]
    if jobs:
        rows = [('run', 'status', 'attempts', 'time', 'slurm job', 'result / log')]
    for key, r in state.runs.items():
        status = r['status']
        spent = r.get('seconds') or 0.0
        if status == 'running':
            begun = parse_time(r['attempts'][-1]['started']) if r['attempts'] else None
            before = sum(a.get('seconds') or 0.0 for a in r['attempts'][:-1])
            spent = before + (time.time() - begun if begun else 0.0)
            if not alive and not r.get('job_id'):
                status = 'interrupted'  # its queue died; the next `run` resumes it
        detail = r.get('result') if status == 'done' else (
            (r.get('error') + ' -- log ' if r.get('error') else 'log ') + str(r.get('log'))
            if r.get('log') or r.get('error') else '')
        progress = ''  # phase and last checkpoint, while a run is under way
        if status in ('running', 'interrupted') and r['attempts']:
            progress = f'{r["attempts"][-1].get("phase", "")} {r.get("progress") or ""}'.strip()
        if jobs:
            progress = jobs.get(key, '')
        rows.append((key, status, str(len(r['attempts'])), format_duration(spent) if spent else '-',
                     progress, detail or ''))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        lines.append('  ' + '  '.join(c.ljust(w) for c, w in zip(row[:5], widths)) + '  ' + row[5])
    s = queue_summary(state)
    c = s['counts']
    lines.append(f'planned by the last queue: {s["planned"]} runs: {c["done"]} done, '
                 f'{c["failed"]} failed, {c["running"]} running, {c["pending"]} pending')
    lines.append(f'elapsed: {format_duration(s["elapsed_s"])} since the last queue started')
    if s['mean_run_s'] is None:
        lines.append('estimated remaining: unknown until a run has finished')
    else:
        lines.append(f'estimated remaining: {format_duration(s["remaining_s"])} '
                     f'(mean of {s["finished_runs"]} finished runs: '
                     f'{format_duration(s["mean_run_s"])} per run, times the runs left)')
    return '\n'.join(lines)


def _job_column(state: QueueState) -> dict:
    """``{run: 'JOBID STATE'}`` for runs submitted with --executor slurm; the state from
    squeue / scontrol now, or as last recorded if SLURM cannot be asked from here."""
    submitted = {k: r for k, r in state.runs.items() if r.get('job_id')}
    if not submitted:
        return {}
    from .slurm import job_states
    try:
        live = job_states(r['job_id'] for r in submitted.values())
        note = ''
    except ReproduceError:
        live, note = {}, ' (recorded; squeue not found here)'
    return {k: f'{r["job_id"]} {live.get(r["job_id"]) or r.get("slurm_state") or "?"}{note}'
            for k, r in submitted.items()}


def queue_summary(state: QueueState) -> dict:
    """Counts and times for `status`: elapsed, mean duration of finished runs, remaining."""
    runs = state.ordered_runs()
    planned = state.queue.get('planned') or list(state.runs)
    in_plan = [state.runs[k] for k in planned if k in state.runs]
    counts = {s: sum(1 for r in in_plan if r['status'] == s)
              for s in STATUSES}
    durations = [r['seconds'] for r in runs if r['status'] == 'done' and r.get('seconds')]
    mean = sum(durations) / len(durations) if durations else None
    started = parse_time(state.queue.get('started'))
    ended = parse_time(state.queue.get('ended'))
    elapsed = ((ended or time.time()) - started) if started else None
    remaining = None
    if mean is not None:
        remaining = counts['pending'] * mean
        for r in in_plan:
            if r['status'] == 'running':
                begun = parse_time(r['attempts'][-1]['started']) if r['attempts'] else None
                spent_before = sum(a.get('seconds') or 0.0 for a in r['attempts'][:-1])
                so_far = spent_before + ((time.time() - begun) if begun else 0.0)
                remaining += max(mean - so_far, 0.0)
    return dict(counts=counts, planned=len(in_plan), mean_run_s=mean, finished_runs=len(durations),
                elapsed_s=elapsed, remaining_s=remaining)

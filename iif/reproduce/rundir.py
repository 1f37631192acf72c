"""What a run directory says about its run: checkpoints, results, the reason a launch failed.

Read-only except :func:`set_aside_incomplete_checkpoints` (a rename, nothing deleted). Torch-free.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Callable, List, Optional

from iif.checkpoints import checkpoint_is_complete, list_checkpoints
from iif.clock import file_stamp


def run_dir_for(work_root: Path, variant: str, seed: int) -> Path:
    return Path(work_root) / variant / f'seed{seed}'


def set_aside_incomplete_checkpoints(run_dir: Path, say: Callable[[str], None]) -> List[Path]:
    """Rename checkpoints cut short by a kill (``epoch_3.pth`` -> ``epoch_3.pth.incomplete-<t>``)
    so ``--auto-resume`` starts from the last complete one; nothing is deleted."""
    moved = []
    for ckpt in reversed(list_checkpoints(run_dir)):
        if checkpoint_is_complete(ckpt):
            break
        target = ckpt.with_name(f'{ckpt.name}.incomplete-{file_stamp()}')
        os.replace(ckpt, target)
        say(f'  {ckpt} is incomplete (cut short by an interruption): kept as {target.name}, '
            'resuming from the checkpoint before it')
        moved.append(target)
    return moved


def read_metrics(path: Path) -> Optional[dict]:
    """The metrics.json at ``path`` if it holds numeric bbox AP (and a segm dict, if any)."""
    try:
        data = json.loads(Path(path).read_text(encoding='utf-8'))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get('bbox'), dict):
        return None
    if not isinstance(data['bbox'].get('AP'), (int, float)):
        return None
    if 'segm' in data and not isinstance(data['segm'], dict):
        return None
    return data


def find_result(run_dir: Path, final_ckpt: Path) -> Optional[Path]:
    """The newest ``test_*/metrics.json`` evaluating ``final_ckpt`` and written after it."""
    if not final_ckpt.is_file():
        return None
    ckpt_mtime = final_ckpt.stat().st_mtime
    for metrics in sorted(run_dir.glob('test_*/metrics.json'), reverse=True):
        data = read_metrics(metrics)
        if data is None:
            continue
        # paths may differ between host and container; the name and the time order may not
        if Path(str(data.get('checkpoint', ''))).name != final_ckpt.name:
            continue
        if metrics.stat().st_mtime + 1 < ckpt_mtime:
            continue  # evaluated an older file of the same name
        return metrics
    return None


def failure_reason(log: Path, since: int = 0) -> str:
    """The most telling line of a failed launch's output: an ``error:`` line, else the last
    exception line, else the last line."""
    try:
        with open(log, 'rb') as f:
            f.seek(since)
            lines = [line.strip() for line in f.read().decode('utf-8', 'replace').splitlines()]
    except OSError:
        return ''
    lines = [line for line in lines if line]
    for pattern in (r'^error: ', r'^(\w+\.)*\w*(Error|Exception)\b.*: '):
        hits = [line for line in lines if re.search(pattern, line)]
        if hits:
            return hits[-1][:500]
    return lines[-1][:500] if lines else ''


def _run_record(run_dir: Path) -> dict:
    """``run.json`` (written by tools/train.py), or {} if absent or unreadable."""
    try:
        data = json.loads((Path(run_dir) / 'run.json').read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def foreign_run(run_dir: Path, config: Path) -> Optional[str]:
    """Why ``run_dir`` must not be resumed with ``config`` (it holds a run of another config),
    or None."""
    recorded = _run_record(run_dir).get('config') or ''
    if recorded and Path(recorded).name != config.name:
        return (f'{run_dir} holds a run of {Path(recorded).name}, not {config.name}; '
                'resuming it would mix two configs. Use another --work-root (nothing was '
                'changed).')
    return None


def resumed_from(run_dir: Path) -> Optional[str]:
    """The checkpoint the last training in ``run_dir`` resumed from (its run.json), if any."""
    return _run_record(run_dir).get('resumed_from')

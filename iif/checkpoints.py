"""Checkpoint files in a work directory: their names, whether one is complete, the last one.

Torch-free (the reproduce queue and ``iif reproduce status`` use it without loading torch);
reading a checkpoint's content is :mod:`iif.engine.checkpoint`'s job.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Callable, List, Optional, Union

# what mmcv's runners write: epoch_N.pth (EpochBasedRunner) and iter_N.pth (IterBasedRunner)
CHECKPOINT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


def checkpoint_name(unit: str, number: int) -> str:
    """``epoch_12.pth`` / ``iter_90000.pth``: the file mmcv saves after that epoch/iteration."""
    if unit not in ('epoch', 'iter'):
        raise ValueError(f"unit must be 'epoch' or 'iter', got {unit!r}")
    return f'{unit}_{int(number)}.pth'


def list_checkpoints(work_dir: Union[str, Path]) -> List[Path]:
    """``epoch_N.pth`` / ``iter_N.pth`` in ``work_dir``, lowest N first (none: empty list)."""
    d = Path(work_dir)
    if not d.is_dir():
        return []
    found = [(int(m.group(2)), p) for p in d.iterdir() if (m := CHECKPOINT_NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def checkpoint_is_complete(path) -> bool:
    """torch.save writes a zip archive whose directory comes last, and mmcv writes
    ``epoch_N.pth`` in place: a file cut short by a kill has no directory. Cheap (reads the end
    of the file only), no torch call. The one completeness test of the kit: --auto-resume
    (train, demo) and the reproduce queue use it."""
    try:
        with zipfile.ZipFile(path) as z:
            return bool(z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def find_latest_checkpoint(work_dir: Union[str, Path],
                           say: Optional[Callable[[str], None]] = None) -> Optional[str]:
    """The highest complete epoch_N.pth / iter_N.pth (no latest.pth symlink: some mounts refuse
    them). Incomplete ones (an interrupted save) are skipped, each reported through ``say``;
    resuming from the one before rewrites them."""
    for p in reversed(list_checkpoints(work_dir)):
        if checkpoint_is_complete(p):
            return str(p)
        if say is not None:
            say(f'{p} is incomplete (an interrupted save): not resuming from it')
    return None

"""Loading checkpoints with errors that say what is wrong, and finding the last one."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Callable, Optional

import torch

from .errors import UserError

_CKPT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


def read_checkpoint(path: str) -> dict:
    try:
        ckpt = torch.load(path, map_location='cpu')
    except Exception as e:  # noqa: BLE001 - any failure here means an unusable file
        raise UserError(f'checkpoint {path} cannot be read ({type(e).__name__}: {e}). The file '
                        'is corrupt or not a PyTorch checkpoint; re-copy it or re-train.') from e
    if not isinstance(ckpt, dict):
        raise UserError(f'checkpoint {path} holds a {type(ckpt).__name__}, not a state dict')
    return ckpt


def load_model_weights(model, path: str) -> dict:
    """Load ``path`` into ``model``; refuse checkpoints that do not fit the config."""
    ckpt = read_checkpoint(path)
    state = ckpt.get('state_dict', ckpt)
    state = {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}
    own = model.state_dict()
    mismatched = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
                  for k, v in state.items() if k in own and hasattr(v, 'shape')
                  and tuple(v.shape) != tuple(own[k].shape)]
    if mismatched:
        raise UserError(
            f'checkpoint {path} does not fit this config ({len(mismatched)} tensors differ in '
            'shape, e.g. ' + '; '.join(mismatched[:3]) + '). A class-count difference here '
            'means the checkpoint was trained on another dataset or config; test it with the '
            'config it was trained with (its work dir has config.py).')
    missing = [k for k in own if k not in state]
    if missing:
        raise UserError(f'checkpoint {path} lacks {len(missing)} of the model\'s tensors (e.g. '
                        f'{", ".join(missing[:3])}): it was not trained with this config.')
    model.load_state_dict(state, strict=False)
    return ckpt


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


def find_latest_checkpoint(work_dir: str, say: Optional[Callable[[str], None]] = None
                           ) -> Optional[str]:
    """The highest complete epoch_N.pth / iter_N.pth (no latest.pth symlink: some mounts refuse
    them). Incomplete ones (an interrupted save) are skipped, each reported through ``say``;
    resuming from the one before rewrites them."""
    d = Path(work_dir)
    if not d.is_dir():
        return None
    found = sorted(((int(m.group(2)), p) for p in d.iterdir()
                    if (m := _CKPT_NAME.match(p.name))), reverse=True)
    for _, p in found:
        if checkpoint_is_complete(p):
            return str(p)
        if say is not None:
            say(f'{p} is incomplete (an interrupted save): not resuming from it')
    return None

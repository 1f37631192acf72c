"""Loading checkpoints with errors that say what is wrong, and finding the last one."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

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


def find_latest_checkpoint(work_dir: str) -> Optional[str]:
    """The highest epoch_N.pth / iter_N.pth (no latest.pth symlink: some mounts refuse them)."""
    best, best_n = None, -1
    d = Path(work_dir)
    if not d.is_dir():
        return None
    for p in d.iterdir():
        m = _CKPT_NAME.match(p.name)
        if m and int(m.group(2)) > best_n:
            best, best_n = str(p), int(m.group(2))
    return best

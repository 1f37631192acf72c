"""Loading checkpoints with errors that say what is wrong (finding them: :mod:`iif.checkpoints`)."""
from __future__ import annotations

import pickle
from typing import Callable, Sequence

import torch

from iif.errors import UserError

WEIGHTS_ONLY_MODES = ('auto', 'always')


def _full_load(path: str):
    # the pickle may run code: only reached when the safe loader refused the file (and said so)
    return torch.load(path, map_location='cpu', weights_only=False)


def read_checkpoint(path: str, weights_only: str = 'auto',
                    say: Callable[[str], None] = print) -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)`` (tensors and plain containers
    only: no code from the file runs).

    A checkpoint is a pickle, and a pickle can run code when loaded. mmcv's checkpoints
    (state_dict, meta, optimizer) normally pass the safe loader; one whose meta holds other
    objects (numpy scalars, custom classes) does not. ``weights_only='auto'`` then loads it in
    full and says so; ``'always'`` refuses it.
    """
    if weights_only not in WEIGHTS_ONLY_MODES:
        raise ValueError(f'weights_only must be one of {WEIGHTS_ONLY_MODES}, got {weights_only!r}')
    refused = None
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        # torch prefixes its own advice; keep the reason (e.g. "Unsupported class ...")
        refused = str(e).split('WeightsUnpickler error:')[-1].strip() or type(e).__name__
    except Exception as e:  # noqa: BLE001 - any failure here means an unusable file
        raise _unreadable(path, e) from e
    if refused is not None:
        if weights_only == 'always':
            raise UserError(
                f'checkpoint {path} cannot be loaded with torch.load(weights_only=True) '
                f'({refused}): it holds objects beyond tensors and plain containers, and '
                'loading it in full would run code from the file. Drop --weights-only only for '
                'a file you trust.')
        try:
            ckpt = _full_load(path)
        except Exception as e:  # noqa: BLE001
            raise _unreadable(path, e) from e
        say(f'note: checkpoint {path} is not loadable with torch.load(weights_only=True) '
            f'({refused}); it was loaded in full, which runs any code the pickle holds. Test '
            'only checkpoints you trust; --weights-only refuses such files.')
    if not isinstance(ckpt, dict):
        raise UserError(f'checkpoint {path} holds a {type(ckpt).__name__}, not a state dict')
    return ckpt


def _unreadable(path: str, e: Exception) -> UserError:
    return UserError(f'checkpoint {path} cannot be read ({type(e).__name__}: {e}). The file '
                     'is corrupt or not a PyTorch checkpoint; re-copy it or re-train.')


def load_model_weights(model, path: str, ignore_keys: Sequence[str] = (),
                       weights_only: str = 'auto', strict_extra: bool = False,
                       say: Callable[[str], None] = print) -> dict:
    """Load ``path`` into ``model``; refuse checkpoints that do not fit the config.

    ``ignore_keys``: tensors the checkpoint may carry that this model does not use (e.g. the
    research FASA head's feature statistics under a test-only config); they are dropped with a
    printed note. Every tensor the model has must be in the checkpoint. Other tensors the model
    lacks are an error with ``strict_extra``, else a printed note.
    """
    ckpt = read_checkpoint(path, weights_only=weights_only, say=say)
    state = ckpt.get('state_dict', ckpt)
    state = {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}
    own = model.state_dict()
    ignored = sorted(k for k in state if k in set(ignore_keys) and k not in own)
    extra = sorted(k for k in state if k not in own and k not in set(ignore_keys))
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
    if extra and strict_extra:
        raise UserError(f'checkpoint {path} holds {len(extra)} tensors this model does not have '
                        f'(e.g. {", ".join(extra[:3])}): it was trained with another '
                        'architecture than this config describes.')
    if ignored:
        say(f'note: ignored {len(ignored)} checkpoint tensors this test-only model does not use: '
            + ', '.join(f'{k} {tuple(state[k].shape)}' for k in ignored))
    if extra:
        say(f'note: checkpoint {path} holds {len(extra)} tensors this model does not use, not '
            f'loaded: {", ".join(extra[:5])}{" ..." if len(extra) > 5 else ""}')
    model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=True)
    return ckpt

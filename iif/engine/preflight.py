"""Checks before any work starts: each failure names what is missing and how to fix it, and
nothing is written until they pass."""
from __future__ import annotations

import os
import re
import traceback
from pathlib import Path
from typing import Iterable, List, Optional

from iif.errors import UserError

DATA_HINT = ('Mount the LVIS root: set LVIS_ROOT in .env (`make env`, then edit it) to the '
             'directory holding annotations/, train2017/ and val2017/ (download with `make '
             'data`); outside containers link it at data/lvis_v1 under the working directory.')


def check_gpu_build(device: str) -> None:
    """Before a GPU run: mmcv's ops have CUDA kernels for every visible GPU (cuda_check)."""
    if device == 'cuda':
        from .cuda_check import check_cuda_build
        check_cuda_build()


def check_config(path: str) -> Path:
    p = Path(path)
    if not p.is_file():
        hint = ''
        if not p.suffix:
            hint = ' (did you forget the .py?)'
        raise UserError(f'config not found: {path}{hint}. Configs live under configs/, e.g. '
                        f'configs/iif/iif_r50_fpn_4x4_1x_lvis_v1.py; list them with '
                        f'`ls configs/**/*.py`.')
    return p


def config_error(path: str, error: BaseException) -> UserError:
    """A config that does not load, as ``config FILE, line N: ErrorType: message``.

    mmcv executes a copy of each config file (and of each ``_base_`` file) from a temporary
    folder, so the traceback names the copy: the original file is the ``filename`` of the
    innermost ``Config._file2dict`` call, the line that of the config's own frame (the copy
    has the same lines). A syntax error is re-raised by mmcv without its line; the original
    error (``__context__``) has it."""
    where, line, text, in_config = str(path), None, None, False
    for frame, lineno in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_name == '_file2dict' and 'filename' in frame.f_locals:
            where, line, in_config = str(frame.f_locals['filename']), None, True
        elif frame.f_code.co_name == '<module>' and in_config:
            line, in_config = lineno, False  # modules the config imports are not the config
    cause = error
    if isinstance(error, SyntaxError) and isinstance(error.__context__, SyntaxError):
        cause = error.__context__
    if isinstance(cause, SyntaxError) and cause.lineno:
        line, message = cause.lineno, cause.msg
    else:
        message = str(error)
    if line is not None:
        try:
            text = Path(where).read_text(encoding='utf-8').splitlines()[line - 1].strip()
        except (OSError, IndexError, UnicodeDecodeError):
            text = None
    location = f'{where}, line {line}' if line is not None else where
    return UserError(f'config {location}: {type(cause).__name__}: {message}'
                     + (f'\n    {text}' if text else '')
                     + (f'\n(loading {path})' if Path(where).resolve() != Path(path).resolve()
                        else ''))


def check_start_checkpoints(model, cfg) -> dict:
    """The checkpoint a training run resumes from (``cfg.resume_from``) or starts from
    (``load_from``) must fit the config (class count, architecture): the same check as
    ``test``, done on the model the preflight built, before anything is written. Returns the
    meta of the resume checkpoint ({} when not resuming)."""
    from .checkpoint import load_model_weights
    if cfg.get('resume_from'):
        check_checkpoint_file(cfg.resume_from, 'checkpoint to resume from')
        return dict(load_model_weights(model, cfg.resume_from).get('meta') or {})
    if cfg.get('load_from'):  # mmcv ignores load_from when resuming
        check_checkpoint_file(cfg.load_from, 'load_from checkpoint')
        load_model_weights(model, cfg.load_from)
    return {}


def check_checkpoint_file(path: Optional[str], what: str = 'checkpoint') -> None:
    if path is None:
        return
    p = Path(path)
    if not p.is_file():
        raise UserError(f'{what} not found: {path}. Pass the .pth file a training run wrote '
                        f'(e.g. work_dirs/<config name>/epoch_12.pth).')
    if not os.access(p, os.R_OK):
        raise UserError(f'{what} is not readable: {path} (check its permissions)')
    if p.stat().st_size == 0:
        raise UserError(f'{what} is empty: {path}. The file is corrupt; re-copy it or re-train.')


def _dataset_leaves(dataset_cfg) -> Iterable[dict]:
    """Concrete datasets under wrappers such as ClassBalancedDataset or ConcatDataset."""
    if dataset_cfg is None:
        return
    if isinstance(dataset_cfg, (list, tuple)):
        for d in dataset_cfg:
            yield from _dataset_leaves(d)
        return
    if 'dataset' in dataset_cfg:
        yield from _dataset_leaves(dataset_cfg['dataset'])
    elif 'datasets' in dataset_cfg:
        yield from _dataset_leaves(dataset_cfg['datasets'])
    else:
        yield dataset_cfg


def data_problems(dataset_cfgs: Iterable) -> List[str]:
    problems = []
    for dataset_cfg in dataset_cfgs:
        for leaf in _dataset_leaves(dataset_cfg):
            ann = leaf.get('ann_file')
            prefix = leaf.get('img_prefix')
            for path, kind in ((ann, 'file'), (prefix, 'dir')):
                if not path:
                    continue
                p = Path(path)
                exists = p.is_file() if kind == 'file' else p.is_dir()
                label = 'annotation file' if kind == 'file' else 'image folder'
                if not exists:
                    problems.append(f'{label} missing: {path} (resolved {p.resolve()})')
                elif not os.access(p, os.R_OK | (os.X_OK if kind == 'dir' else 0)):
                    problems.append(f'{label} not readable: {path}')
    if not problems:
        problems += _lvis_root_problems(dataset_cfgs)
    # the same path may appear in several datasets
    return list(dict.fromkeys(problems))


def _lvis_root_problems(dataset_cfgs) -> List[str]:
    """The fast form of `iif data verify` (no JSON parse) on every LVIS v1 root a config
    reads, e.g. a truncated annotation file or an empty image folder."""
    from iif.lvisdata.verify import verify_root
    splits_by_root = {}
    for dataset_cfg in dataset_cfgs:
        for leaf in _dataset_leaves(dataset_cfg):
            ann = Path(leaf.get('ann_file') or '')
            match = re.fullmatch(r'lvis_v1_(train|val)\.json', ann.name)
            if match and ann.parent.name == 'annotations':
                splits_by_root.setdefault(ann.parent.parent, set()).add(match.group(1))
    problems = []
    for root, splits in splits_by_root.items():
        problems += verify_root(root, level='fast', splits=tuple(sorted(splits)),
                                expect_counts=False)
    return problems


def check_data(dataset_cfgs: Iterable) -> None:
    problems = data_problems(dataset_cfgs)
    if problems:
        raise UserError('the data this config reads is missing or damaged:\n  - '
                        + '\n  - '.join(problems) + f'\n{DATA_HINT}')

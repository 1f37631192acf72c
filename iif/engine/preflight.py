"""Checks before any work starts: each failure names what is missing and how to fix it, and
nothing is written until they pass."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, List, Optional

from .errors import UserError

DATA_HINT = ('Mount the LVIS root: set LVIS_ROOT in .env (`make env`, then edit it) to the '
             'directory holding annotations/, train2017/ and val2017/ (download with `make '
             'data`); outside containers link it at data/lvis_v1 under the working directory.')


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

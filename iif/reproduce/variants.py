"""The set of configs a queue runs: one per variant, named after its config file."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

from .errors import ReproduceError

# iif_<variant>_<backbone>_... -> <variant>; softmax_<backbone>_... -> softmax
_BACKBONE = re.compile(r'_(?:r|x)\d+(?:_|$)')


@dataclass(frozen=True)
class VariantConfig:
    name: str
    path: Path

    @property
    def filename(self) -> str:
        return self.path.name


def variant_name(config: Path) -> str:
    """``iif_base10_obj_r50_fpn_4x4_1x_lvis_v1.py`` -> ``base10_obj``;
    ``softmax_r50_fpn_4x4_1x_lvis_v1.py`` -> ``softmax``; otherwise the file stem."""
    stem = Path(config).stem
    if stem.startswith('iif_'):
        stem = stem[len('iif_'):]
    m = _BACKBONE.search(stem)
    return stem[:m.start()] if m and m.start() > 0 else stem


def discover(config_dir: Path) -> List[VariantConfig]:
    """Every ``*.py`` in ``config_dir`` (files starting with ``_`` are shared bases), in table
    order."""
    config_dir = Path(config_dir)
    if not config_dir.is_dir():
        raise ReproduceError(f'config directory not found: {config_dir} (resolved '
                             f'{config_dir.resolve()}). The variant set is configs/iif/variants; '
                             'run from the kit\'s root or pass --config-dir.')
    found = [VariantConfig(variant_name(p), p) for p in sorted(config_dir.glob('*.py'))
             if not p.name.startswith('_')]
    if not found:
        raise ReproduceError(f'no configs (*.py, not starting with _) in {config_dir}')
    by_name = {}
    for v in found:
        if v.name in by_name:
            raise ReproduceError(f'configs {by_name[v.name].filename} and {v.filename} in '
                                 f'{config_dir} both give the variant name {v.name!r}; rename one')
        by_name[v.name] = v
    return sorted(found, key=_table_order)


def _table_order(v: VariantConfig):
    """Baselines (softmax, ...) first, then the IIF variants in the weights module's order
    (raw, smooth, ..., base10, then the *_obj forms), then anything else by name."""
    from iif.weights import VARIANTS
    if v.name in VARIANTS:
        return (1, VARIANTS.index(v.name), v.name)
    return (0 if not v.filename.startswith('iif_') else 2, 0, v.name)


def parse_list(text: Optional[str], what: str) -> Optional[List[str]]:
    if text is None:
        return None
    items = [t.strip() for t in text.split(',')]
    if not all(items):
        raise ReproduceError(f'{what} must be a comma-separated list without empty entries, '
                             f'got {text!r}')
    duplicates = sorted({t for t in items if items.count(t) > 1})
    if duplicates:
        raise ReproduceError(f'{what} lists {", ".join(duplicates)} more than once')
    return items


def select(available: Sequence[VariantConfig], names: Optional[Sequence[str]],
           config_dir: Path) -> List[VariantConfig]:
    """The chosen variants in the order given (all of them, by name, when ``names`` is None)."""
    if names is None:
        return list(available)
    by_name = {v.name: v for v in available}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ReproduceError(f'unknown variant{"s" if len(unknown) > 1 else ""} '
                             f'{", ".join(unknown)}; the configs in {config_dir} give: '
                             f'{", ".join(by_name)}')
    return [by_name[n] for n in names]


def parse_seeds(text: str) -> List[int]:
    seeds = []
    for item in parse_list(text, '--seeds') or []:
        try:
            seed = int(item)
        except ValueError:
            raise ReproduceError(f'--seeds takes whole numbers, got {item!r}') from None
        if not 0 <= seed < 2 ** 31:
            raise ReproduceError(f'seed {seed} is outside 0 .. 2^31-1')
        seeds.append(seed)
    if not seeds:
        raise ReproduceError('--seeds needs at least one seed')
    return seeds


def final_checkpoint_name(config: Path) -> str:
    """``epoch_<max_epochs>.pth`` (or ``iter_<max_iters>.pth``): the file a finished run has."""
    from mmcv import Config

    from iif.checkpoints import checkpoint_name
    try:
        # the kit's modules are not needed to read the schedule
        cfg = Config.fromfile(str(config), import_custom_modules=False)
    except Exception as e:  # noqa: BLE001 - reported as this run's failure
        raise ReproduceError(f'config {config} cannot be loaded: {type(e).__name__}: {e}') from e
    runner = cfg.get('runner') or {}
    if runner.get('type', 'EpochBasedRunner') == 'IterBasedRunner':
        return checkpoint_name('iter', runner['max_iters'])
    max_epochs = runner.get('max_epochs', cfg.get('total_epochs'))
    if max_epochs is None:
        raise ReproduceError(f'config {config} sets no runner.max_epochs: cannot tell which '
                             'checkpoint ends the run')
    return checkpoint_name('epoch', max_epochs)

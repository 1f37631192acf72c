"""Test-only configs for the research's released checkpoints (``configs/zoo/``, MODEL_ZOO.md).

A zoo config carries ``zoo = dict(test_only=True, ignore_checkpoint_keys=[...])`` and is named in
the ``compare_configs`` of a published row of ``iif/data/published_results.csv``. Testing with it:

- checks the checkpoint file against the sha256 recorded on its first use (trust on first use:
  the research published no checksums), recording it if there is none yet;
- loads the research key layout, dropping the listed FASA-head tensors with a note;
- prints the measured metrics beside the published ones and writes ``published_check.json``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional

from iif.clock import now
from iif.errors import UserError
from iif.fsutil import sha256_file, write_json_atomic

REGISTRY_ENV = 'IIF_ZOO_REGISTRY'


def zoo_settings(cfg) -> Optional[dict]:
    zoo = cfg.get('zoo')
    return dict(zoo) if zoo else None


def refuse_training(cfg, config_path: str) -> None:
    if zoo_settings(cfg):
        raise UserError(f'{config_path} is a test-only config: it evaluates a released '
                        'checkpoint of the research (see MODEL_ZOO.md) and is no training '
                        'recipe. Train with a config under configs/fasa/ or configs/iif/.')


def registry_path() -> Path:
    """``$IIF_ZOO_REGISTRY``, else ``$XDG_CACHE_HOME/iif/zoo_checkpoints.json`` (in the image:
    the IIF_CACHE mount, so it outlives the container)."""
    if os.environ.get(REGISTRY_ENV):
        return Path(os.environ[REGISTRY_ENV])
    cache = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Path(cache) / 'iif' / 'zoo_checkpoints.json'


def _read_registry(path: Path) -> Dict[str, dict]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except (OSError, ValueError) as e:
        raise UserError(f'the zoo checksum registry {path} cannot be read ({e}); fix or delete '
                        f'it (it only holds the sha256 of checkpoints first used here)') from e
    if not isinstance(data, dict):
        raise UserError(f'the zoo checksum registry {path} is not a JSON object; delete it')
    return data


def verify_or_record(model: str, checkpoint: str, weights_url: str, record: bool,
                     say: Callable[[str], None] = print) -> str:
    """Compare ``checkpoint``'s sha256 with the one recorded for ``model``; record it when
    there is none and ``record``. Returns the sha256; a mismatch is a UserError."""
    registry = registry_path()
    digest = sha256_file(checkpoint)
    entries = _read_registry(registry)
    known = entries.get(model)
    if known:
        if known.get('sha256') != digest:
            raise UserError(
                f'checkpoint {checkpoint} (sha256 {digest}) is not the file first used here as '
                f'{model} (sha256 {known.get("sha256")}, {known.get("file")}, recorded '
                f'{known.get("recorded")}). A download that differs is damaged or another file: '
                f'fetch it again from {weights_url}. If you mean to replace the recorded file, '
                f'delete the "{model}" entry from {registry}.')
        say(f'checkpoint sha256 {digest} matches the one recorded for {model} on '
            f'{known.get("recorded")} ({registry})')
        return digest
    if record:
        entries[model] = dict(sha256=digest, size=os.path.getsize(checkpoint),
                              file=os.path.basename(checkpoint),
                              path=os.path.abspath(checkpoint), weights_url=weights_url,
                              recorded=now())
        write_json_atomic(registry, entries)
        say(f'first use of {model}: recorded its sha256 {digest} in {registry}; a later file '
            'that differs will be refused. The research published no checksum: compare it with '
            'a colleague\'s copy if you can (MODEL_ZOO.md).')
    return digest


@dataclass
class ZooTest:
    model: object  # iif.reproduce.results.PublishedModel
    settings: dict

    @property
    def ignore_keys(self):
        return tuple(self.settings.get('ignore_checkpoint_keys') or ())


def prepare(cfg, config_path: str, checkpoint: str, is_main: bool, check_only: bool,
            say: Callable[[str], None] = print) -> Optional[ZooTest]:
    """For a zoo config: the published row it is compared with, and the checksum check."""
    settings = zoo_settings(cfg)
    if not settings:
        return None
    from iif.reproduce.errors import ReproduceError
    from iif.reproduce.results import load_published, published_for
    try:
        model = published_for(config_path, load_published())
    except ReproduceError as e:
        raise UserError(str(e)) from e
    if model is None:
        raise UserError(f'{config_path} is a zoo config but no published row lists it in '
                        'compare_configs of iif/data/published_results.csv')
    verify_or_record(model.model, checkpoint, model.links['weights'],
                     record=is_main and not check_only, say=say if is_main else _quiet)
    return ZooTest(model, settings)


def _quiet(_: str) -> None:
    pass


def describe_checkpoint(ckpt: dict) -> str:
    """What the checkpoint's own meta says about the run that wrote it."""
    meta = ckpt.get('meta') or {}
    parts = [f'{k} {meta[k]}' for k in ('mmdet_version', 'mmcv_version', 'exp_name', 'epoch')
             if meta.get(k) is not None]
    config = meta.get('config')
    if isinstance(config, str):
        work_dir = [line.split('=', 1)[1].strip().strip('\'"') for line in config.splitlines()
                    if line.startswith('work_dir')]
        if work_dir:
            parts.append(f'work_dir {work_dir[-1]}')
    return ', '.join(parts) if parts else 'no meta'


def compare(zoo: ZooTest, metrics: dict, run_dir: Path, tolerance: float,
            say: Callable[[str], None] = print) -> dict:
    """Print measured beside published numbers; write ``run_dir/published_check.json``."""
    from iif.reproduce.results import _points, check_row
    model = zoo.model
    as_rows = {iou: {m: dict(mean=_points(v)) for m, v in vals.items()}
               for iou, vals in (metrics or {}).items() if isinstance(vals, dict)}
    check = check_row(as_rows, model, tolerance)
    current = model.current[0]
    lines = [f'published {model.model} (github.com/{current.source_repo} '
             f'{current.source_file} @ {current.source_commit[:7]}; config: {model.config}):',
             f'  {"metric":<10} {"measured":>9} {"published":>10} {"delta":>7}  '
             f'within +-{tolerance:g}']
    for iou, vals in model.values.items():
        for metric, value in vals.items():
            key = f'{iou}/{metric}'
            measured = as_rows.get(iou, {}).get(metric, {}).get('mean')
            delta = check['deltas'].get(key)
            earlier = ''.join(f' ({v:.1f} at {", ".join(c)})' for v, c in model.other_values(key))
            thr = model.mask_thr_binary.get(key)
            lines.append(f'  {key:<10} {"-" if measured is None else f"{measured:.2f}":>9} '
                         f'{value:>10.1f} {"-" if delta is None else f"{delta:+.2f}":>7}  '
                         f'{"no" if key in check["outside"] else "yes"}'
                         + (f'  [mask_thr_binary {thr}]' if thr else '') + earlier)
    lines.append(f'published check: {check["status"]}'
                 + (f' (outside: {", ".join(check["outside"])})' if check['outside'] else '')
                 + f'; written to {Path(run_dir) / "published_check.json"}')
    say('\n'.join(lines))
    record = dict(published_model=model.model, config=model.config, source=current.url,
                  weights_url=model.links['weights'], tolerance=tolerance,
                  published=model.values, check=check)
    write_json_atomic(Path(run_dir) / 'published_check.json', record)
    return record

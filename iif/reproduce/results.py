"""The results table of a reproduce queue: one row per variant, mean +- sample std over its
finished runs (every run counts: no best-of-N).

Values are AP points (the metrics.json fractions x 100). Two comparisons, each only where it
is sound:

- **Against a published number** only when the row's config is one the published row names in
  ``compare_configs`` of ``iif/data/published_results.csv`` (today: the test-only configs of
  ``configs/zoo/`` that evaluate the research's released checkpoints). No training config of
  the kit is known to be the one behind a published number, so a variant run is never held
  against one. Such a check is in the style of detectron2's EXPECTED_RESULTS: every published
  metric within ``tolerance`` AP points of the mean, else ``outside``; elsewhere ``n/a``.
- **Against the softmax baseline of the same schedule and seeds**: the per-seed difference
  (variant minus baseline, same seed), mean +- sample std over the seeds both finished. This
  is what a variant study can check on any machine.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import statistics
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from iif.clock import now
from iif.fsutil import write_json_atomic, write_text_atomic
from iif.metrics import IOU_TYPES as _IOU_TYPES

from .errors import ReproduceError
from .state import QueueState

# the table's order: mask AP first, the paper's headline number
IOU_TYPES = tuple(sorted(_IOU_TYPES, key=lambda iou: iou != 'segm'))
TABLE_METRICS = ('AP', 'AP50', 'AP75', 'APr', 'APc', 'APf')
DEFAULT_TOLERANCE = 0.5
BASELINE_VARIANT = 'softmax'
PLOTS = dict(ap='variants_ap.png', weights='iif_weights.png', loss='loss_curves.png')


# ----------------------------------------------------------------------- published numbers
PUBLISHED_COLUMNS = ('model', 'iou_type', 'metric', 'value', 'role', 'source_repo',
                     'source_commit', 'source_date', 'source_file', 'weights_url', 'log_url',
                     'config_url', 'linked_config', 'config', 'compare_configs',
                     'mask_thr_binary', 'note')
ROLES = ('current', 'earlier', 'abstract')
# what the sources say about the config behind a number (see the CSV's header)
CONFIG_STATES = ('unknown', 'probable, unverified: ', 'linked, not in the repository: ')
_COMMIT = re.compile(r'^[0-9a-f]{40}$')
_DATE = re.compile(r'^\d{4}-\d{2}-\d{2}$')


@dataclass(frozen=True)
class Statement:
    """One published number as one version of one research file states it."""
    model: str
    iou_type: str
    metric: str
    value: float
    role: str
    source_repo: str
    source_commit: str
    source_date: str
    source_file: str
    weights_url: str
    log_url: str
    config_url: str
    linked_config: str
    mask_thr_binary: str
    note: str

    @property
    def key(self) -> str:
        return f'{self.iou_type}/{self.metric}'

    @property
    def url(self) -> str:
        return (f'https://github.com/{self.source_repo}/blob/{self.source_commit}/'
                f'{self.source_file}')


@dataclass
class PublishedModel:
    """A published row: its current numbers (the table at the research repository's HEAD),
    every statement of them in every version, and what is known of the config behind them."""
    model: str
    configs: Tuple[str, ...]  # compare_configs: kit configs held against the current numbers
    config: str = 'unknown'  # provenance, one of CONFIG_STATES
    values: Dict[str, Dict[str, float]] = field(default_factory=dict)  # iou -> metric -> AP
    mask_thr_binary: Dict[str, str] = field(default_factory=dict)  # 'segm/AP' -> '0.4'
    statements: List[Statement] = field(default_factory=list)

    @property
    def current(self) -> List[Statement]:
        return [s for s in self.statements if s.role == 'current']

    @property
    def sources(self) -> List[str]:
        return list(dict.fromkeys(s.url for s in self.current))

    @property
    def notes(self) -> List[str]:
        return list(dict.fromkeys(s.note for s in self.current if s.note))

    @property
    def links(self) -> Dict[str, str]:
        """The released weights, log and config links of the current table."""
        first = self.current[0]
        return dict(weights=first.weights_url, log=first.log_url, config=first.config_url)

    def other_values(self, key: str) -> List[Tuple[float, List[str]]]:
        """Values other versions state for ``key`` where they differ from the current one:
        [(value, [short commits])]."""
        iou, metric = key.split('/')
        current = self.values.get(iou, {}).get(metric)
        out: Dict[float, List[str]] = {}
        for s in self.statements:
            if s.key == key and s.role != 'current' and s.value != current:
                out.setdefault(s.value, []).append(s.source_commit[:7])
        return list(out.items())


def published_path() -> Path:
    return Path(str(resources.files('iif') / 'data' / 'published_results.csv'))


def _float(text: str, what: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f'{what} must be a number, got {text!r}') from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f'{what} must lie in [{low:g}, {high:g}], got {text!r}')
    return value


def _statement(row: dict) -> Statement:
    if row['iou_type'] not in IOU_TYPES or row['metric'] not in TABLE_METRICS:
        raise ValueError(f'iou_type must be one of {IOU_TYPES} and metric one of '
                         f'{TABLE_METRICS}, got {row["iou_type"]!r} / {row["metric"]!r}')
    if row['role'] not in ROLES:
        raise ValueError(f'role must be one of {ROLES}, got {row["role"]!r}')
    if not _COMMIT.match(row['source_commit']):
        raise ValueError(f'source_commit must be a full 40-hex commit, got '
                         f'{row["source_commit"]!r}')
    if not _DATE.match(row['source_date']) or not row['source_repo'] or not row['source_file']:
        raise ValueError('source_repo, source_file and source_date (YYYY-MM-DD) are required')
    thr = row['mask_thr_binary']
    if thr:
        if row['iou_type'] != 'segm':
            raise ValueError('mask_thr_binary applies to segm rows only')
        _float(thr, 'mask_thr_binary', 0.0, 1.0)
    return Statement(model=row['model'], iou_type=row['iou_type'], metric=row['metric'],
                     value=_float(row['value'], 'value', 0.0, 100.0), role=row['role'],
                     source_repo=row['source_repo'], source_commit=row['source_commit'],
                     source_date=row['source_date'], source_file=row['source_file'],
                     weights_url=row['weights_url'], log_url=row['log_url'],
                     config_url=row['config_url'], linked_config=row['linked_config'],
                     mask_thr_binary=thr, note=row['note'])


def _check_config_state(text: str) -> str:
    if text == 'unknown':
        return text
    for prefix in CONFIG_STATES[1:]:
        if text.startswith(prefix) and text[len(prefix):].strip():
            return text
    raise ValueError(f'config must be "unknown" or start with one of {CONFIG_STATES[1:]} '
                     f'followed by a config name, got {text!r}')


def load_published(path: Optional[Union[str, os.PathLike]] = None) -> List[PublishedModel]:
    """Read and validate the published numbers; any problem is a ReproduceError naming the
    file and line."""
    path = Path(path) if path else published_path()
    try:
        text = path.read_text(encoding='utf-8')
    except OSError as e:
        raise ReproduceError(f'published numbers {path} cannot be read: {e}') from e
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1)
                if line.strip() and not line.startswith('#')]
    if not numbered:
        raise ReproduceError(f'{path}: no header and no rows')
    reader = csv.DictReader(io.StringIO('\n'.join(line for _, line in numbered)))
    if tuple(reader.fieldnames or ()) != PUBLISHED_COLUMNS:
        raise ReproduceError(f'{path}: the header must be {",".join(PUBLISHED_COLUMNS)}; got '
                             f'{",".join(reader.fieldnames or ())}')
    models: Dict[str, PublishedModel] = {}
    seen = set()
    for (lineno, _), row in zip(numbered[1:], reader):
        where = f'{path}, line {lineno}'
        if None in row or any(v is None for v in row.values()):
            raise ReproduceError(f'{where}: expected {len(PUBLISHED_COLUMNS)} fields')
        try:
            st = _statement(row)
            config = _check_config_state(row['config'])
            configs = tuple(c.strip() for c in row['compare_configs'].split(';') if c.strip())
            for c in configs:
                if not c.endswith('.py') or '/' in c:
                    raise ValueError(f'compare_configs lists config file names (x.py), got {c!r}')
        except ValueError as e:
            raise ReproduceError(f'{where}: {e}') from None
        ident = (st.model, st.key, st.source_commit, st.source_file)
        if ident in seen:
            raise ReproduceError(f'{where}: {st.model} {st.key} is stated twice for '
                                 f'{st.source_file}@{st.source_commit[:7]}')
        seen.add(ident)
        m = models.setdefault(st.model, PublishedModel(st.model, configs, config))
        if (m.configs, m.config) != (configs, config):
            raise ReproduceError(f'{where}: config and compare_configs must be the same on '
                                 f'every line of {st.model}')
        if st.role == 'current':
            if st.metric in m.values.get(st.iou_type, {}):
                raise ReproduceError(f'{where}: {st.model} {st.key} has two current values')
            m.values.setdefault(st.iou_type, {})[st.metric] = st.value
            if st.mask_thr_binary:
                m.mask_thr_binary[st.key] = st.mask_thr_binary
        m.statements.append(st)
    for m in models.values():
        if not m.current:
            raise ReproduceError(f'{path}: {m.model} has no current value (role "current")')
        stated = {s.key for s in m.statements}
        missing = sorted(stated - {s.key for s in m.current})
        if missing:
            raise ReproduceError(f'{path}: {m.model} has earlier values but no current one '
                                 f'for {", ".join(missing)}')
    return list(models.values())


def published_for(config: Union[str, os.PathLike],
                  published: Sequence[PublishedModel]) -> Optional[PublishedModel]:
    """The published model whose ``compare_configs`` name this config file (matched by file
    name; only configs known to match a published row are listed there)."""
    name = Path(config).name
    for m in published:
        if name in m.configs:
            return m
    return None


# -------------------------------------------------------------------------- aggregation
def _points(value) -> Optional[float]:
    """metrics.json fraction -> AP points; lvis-api's -1 (no ground truth) -> None."""
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None
    return 100.0 * float(value)


def summarize(values: Sequence[Optional[float]]) -> dict:
    present = [v for v in values if v is not None]
    mean = statistics.fmean(present) if present else None
    std = statistics.stdev(present) if len(present) >= 2 else None  # sample std (n - 1)
    return dict(mean=mean, std=std, n=len(present), values=list(values))


def check_row(metrics: Dict[str, Dict[str, dict]], model: Optional[PublishedModel],
              tolerance: float) -> dict:
    if model is None:
        return dict(status='n/a', model=None, deltas={}, outside=[])
    deltas, outside = {}, []
    for iou, values in model.values.items():
        for metric, value in values.items():
            mean = metrics.get(iou, {}).get(metric, {}).get('mean')
            key = f'{iou}/{metric}'
            if mean is None:
                deltas[key] = None
                outside.append(key)
                continue
            delta = mean - value
            deltas[key] = delta
            if abs(delta) > tolerance + 1e-9:
                outside.append(key)
    return dict(status='outside' if outside else 'ok', model=model.model, deltas=deltas,
                outside=outside)


def read_batch(run_dir: Path) -> Optional[dict]:
    """The effective batch and lr a run trained with (``run.json``'s ``batch``: gpus,
    samples_per_gpu, global, lr, reference_global, reference_lr, scaled); None for runs
    written before the kit recorded it, or without a readable run.json."""
    try:
        batch = json.loads((Path(run_dir) / 'run.json').read_text(encoding='utf-8')).get('batch')
    except (OSError, ValueError, AttributeError):
        return None
    return batch if isinstance(batch, dict) and 'global' in batch and 'lr' in batch else None


def batch_text(batch: Optional[dict]) -> str:
    """``16 (4x4) @ 0.02``, ``8 (2x4) @ 0.01 scaled``; ``-`` where the run did not record it."""
    if not batch:
        return '-'
    split = (f' ({batch["gpus"]}x{batch["samples_per_gpu"]})'
             if batch.get('gpus') is not None and batch.get('samples_per_gpu') is not None
             else '')
    try:
        lr = f'{float(batch["lr"]):g}'
    except (TypeError, ValueError):
        lr = str(batch['lr'])
    return f'{batch["global"]}{split} @ {lr}' + (' scaled' if batch.get('scaled') else '')


def read_schedule(config: Union[str, os.PathLike]) -> Optional[str]:
    """``12 epochs, lr steps [8, 11]``: what "the same schedule" compares; None if the config
    cannot be read."""
    from mmcv import Config
    try:
        cfg = Config.fromfile(str(config), import_custom_modules=False)
    except Exception:  # noqa: BLE001 - an unreadable config just has no known schedule
        return None
    runner = cfg.get('runner') or {}
    if 'max_iters' in runner:
        length = f'{runner["max_iters"]} iterations'
    elif runner.get('max_epochs', cfg.get('total_epochs')) is not None:
        length = f'{runner.get("max_epochs", cfg.get("total_epochs"))} epochs'
    else:
        return None  # no schedule: e.g. a test-only config
    lr = cfg.get('lr_config') or {}
    steps = lr.get('step')
    return length + (f', lr steps {list(steps) if isinstance(steps, (list, tuple)) else steps}'
                     if steps is not None else f', lr policy {lr.get("policy")}')


def _run_schedule(state: QueueState, run: dict) -> Optional[str]:
    """The schedule the run used: its resolved config.py, else the queue's config file."""
    resolved = state.resolve(run['work_dir']) / 'config.py'
    schedule = read_schedule(resolved) if resolved.is_file() else None
    return schedule or read_schedule(state.resolve(run['config']))


def paired_gap(runs: Sequence[dict], baseline_runs: Sequence[dict]) -> dict:
    """Per metric: mean and sample std over seeds of (variant - baseline) at the same seed,
    only seeds both finished."""
    base = {r['seed']: r for r in baseline_runs if r['metrics'] is not None}
    pairs = [(r, base[r['seed']]) for r in runs if r['metrics'] is not None and r['seed'] in base]
    metrics = {}
    for iou in IOU_TYPES:
        metrics[iou] = {}
        for m in TABLE_METRICS:
            diffs = [None if a['metrics'][iou][m] is None or b['metrics'][iou][m] is None
                     else a['metrics'][iou][m] - b['metrics'][iou][m] for a, b in pairs]
            metrics[iou][m] = summarize(diffs)
    return dict(seeds=[a['seed'] for a, _ in pairs], metrics=metrics)


def gap_to_baseline(row: dict, baseline: Optional[dict], runs: Sequence[dict],
                    baseline_runs: Sequence[dict]) -> dict:
    """The row's paired gap to the baseline, or why there is none."""
    empty = dict(baseline=baseline['variant'] if baseline else None, status=None, seeds=[],
                 metrics=None)
    if baseline is None:
        return dict(empty, status=f'no {BASELINE_VARIANT} baseline in this queue')
    if row['variant'] == baseline['variant']:
        return dict(empty, status='baseline')
    if row['schedule'] is None or row['schedule'] != baseline['schedule']:
        return dict(empty, status=f'different schedule ({row["schedule"] or "unknown"} vs '
                                  f'{baseline["schedule"] or "unknown"})')
    if row['batch'] != baseline['batch']:
        return dict(empty, status=f'different batch ({"; ".join(row["batch"])} vs '
                                  f'{"; ".join(baseline["batch"])})')
    gap = paired_gap(runs, baseline_runs)
    if not gap['seeds']:
        return dict(empty, status='no seed finished by both')
    return dict(empty, status='ok', **gap)


def build_report(state: QueueState, tolerance: float = DEFAULT_TOLERANCE,
                 published: Optional[Sequence[PublishedModel]] = None) -> dict:
    """Everything the table shows, as a JSON-able dict (this is ``variants.json``)."""
    if tolerance < 0:
        raise ReproduceError(f'tolerance must be >= 0 AP points, got {tolerance}')
    published = load_published() if published is None else published
    runs_out, by_variant = [], {}
    for entry in state.ordered_runs():
        metrics, status, error = None, entry['status'], entry.get('error')
        if status == 'done' and entry.get('result'):
            path = state.resolve(entry['result'])
            try:
                metrics = json.loads(path.read_text(encoding='utf-8'))
            except (OSError, ValueError) as e:
                # listed, not counted: the table never invents a number
                status, error = 'unreadable', f'result {path} cannot be read: {e}'
        batch = read_batch(state.resolve(entry['work_dir']))
        run = dict(variant=entry['variant'], seed=entry['seed'], status=status,
                   config=entry['config'], work_dir=entry['work_dir'],
                   result=entry.get('result'), error=error, log=entry.get('log'),
                   seconds=entry.get('seconds'), batch=batch, batch_text=batch_text(batch),
                   metrics={iou: {m: _points((metrics or {}).get(iou, {}).get(m))
                                  for m in TABLE_METRICS} for iou in IOU_TYPES}
                   if metrics else None)
        runs_out.append(run)
        by_variant.setdefault(entry['variant'], []).append(run)
    rows = []
    for variant, runs in by_variant.items():
        counted = [r for r in runs if r['metrics'] is not None]
        metrics = {iou: {m: summarize([r['metrics'][iou][m] for r in counted])
                         for m in TABLE_METRICS} for iou in IOU_TYPES}
        config = runs[0]['config']
        model = published_for(config, published)
        schedules = {_run_schedule(state, r) for r in (counted or runs[:1])}
        rows.append(dict(
            variant=variant, config=config, n=len(counted),
            seeds=[r['seed'] for r in counted],
            run_dirs=[r['work_dir'] for r in counted],
            not_counted=[dict(seed=r['seed'], status=r['status'], work_dir=r['work_dir'],
                              error=r['error'], log=r['log'])
                         for r in runs if r['metrics'] is None],
            # one schedule per row; runs of one variant that differ make it unknown
            schedule=schedules.pop() if len(schedules) == 1 else None,
            batch=sorted({r['batch_text'] for r in (counted or runs)}),
            metrics=metrics,
            published=model.values if model else None,
            published_model=model.model if model else None,
            published_config=model.config if model else None,
            published_mask_thr_binary=model.mask_thr_binary if model else None,
            published_sources=model.sources if model else None,
            published_notes=model.notes if model else None,
            published_earlier={f'{iou}/{m}': model.other_values(f'{iou}/{m}')
                               for iou, vals in model.values.items() for m in vals}
            if model else None,
            check=check_row(metrics, model, tolerance)))
    baseline = next((r for r in rows if r['variant'] == BASELINE_VARIANT), None)
    for row in rows:
        row['gap'] = gap_to_baseline(row, baseline, by_variant[row['variant']],
                                     by_variant[baseline['variant']] if baseline else [])
    return dict(generated=now(), work_root=str(state.work_root), tolerance=tolerance,
                unit='AP points (x100); mean and sample std over the finished runs of a variant',
                gap_unit=f'AP points; variant minus {BASELINE_VARIANT} at the same seed, mean '
                         'and sample std over the seeds both finished (paired difference)',
                baseline=BASELINE_VARIANT,
                published_file=str(published_path()), variants=rows, runs=runs_out,
                plots=dict(PLOTS))


# ------------------------------------------------------------------------------ writing
def _cell(summary: dict, decimals: int = 1) -> str:
    mean, std = summary.get('mean'), summary.get('std')
    if mean is None:
        return '–'
    return f'{mean:.{decimals}f}' + (f' ± {std:.{decimals}f}' if std is not None else '')


def _signed(x: Optional[float]) -> str:
    return '–' if x is None else f'{x:+.1f}'


GAP_METRICS = ('AP', 'APr', 'APc', 'APf')  # what IIF moves: overall and per frequency group


def _gap_cell(row: dict, iou: str, metric: str) -> str:
    gap = row['gap']
    if gap['status'] != 'ok':
        return '–'
    s = gap['metrics'][iou][metric]
    if s['mean'] is None:
        return '–'
    return f'{s["mean"]:+.1f}' + (f' ± {s["std"]:.1f}' if s['std'] is not None else '')


def render_markdown(report: dict, plots: Dict[str, Optional[str]]) -> str:
    tol = report['tolerance']
    base = report.get('baseline', BASELINE_VARIANT)
    rows = report['variants']
    done = sum(1 for r in report['runs'] if r['status'] == 'done')
    other = [r for r in report['runs'] if r['status'] != 'done']
    out = ['# IIF variants: reproduced results', '',
           f'Work root `{report["work_root"]}`, written {report["generated"]}: {done} '
           f'run{"" if done == 1 else "s"} finished' + (f', {len(other)} not counted (' + ', '.join(
               f'{r["variant"]}/seed{r["seed"]} {r["status"]}' for r in other) + ')'
               if other else '') + '.',
           '', 'AP points on the evaluation set, **mean ± sample standard deviation over seeds** '
           '(one run: no ±); n = finished runs, all of them counted. "batch" is the effective '
           'global batch (GPUs x images per GPU) and lr the runs trained with ("-": not '
           f'recorded by that run). **Δ vs {base}**: the variant minus the {base} baseline of '
           'the same schedule and batch at the same seed, mean ± sample std of that per-seed '
           'difference over the seeds both finished: what a variant study can check. No variant '
           'config of the kit is known to be the config behind a published number, so none is '
           'held against one (see `iif/data/published_results.csv` and MODEL_ZOO.md).', '']
    for iou, title in (('segm', 'Mask AP (segm)'), ('bbox', 'Box AP (bbox)')):
        out += [f'## {title}', '',
                '| variant | n | batch @ lr | ' + ' | '.join(TABLE_METRICS) + ' | '
                + ' | '.join(f'Δ{m} vs {base}' for m in GAP_METRICS) + ' |',
                '|---|---:|---|' + '---:|' * (len(TABLE_METRICS) + len(GAP_METRICS))]
        for row in rows:
            cells = [_cell(row['metrics'][iou][m]) for m in TABLE_METRICS]
            gaps = [_gap_cell(row, iou, m) for m in GAP_METRICS]
            out.append(f'| {row["variant"]} | {row["n"]} | {"; ".join(row["batch"])} | '
                       + ' | '.join(cells + gaps) + ' |')
        out.append('')
    notes = [f'- {r["variant"]}: no Δ ({r["gap"]["status"]})' for r in rows
             if r['gap']['status'] not in ('ok', 'baseline')]
    paired = [f'{r["variant"]} ({", ".join(map(str, r["gap"]["seeds"]))})' for r in rows
              if r['gap']['status'] == 'ok']
    if paired:
        out += [f'Seeds paired with {base}: ' + '; '.join(paired) + '.', '']
    out += notes + ([''] if notes else [])
    compared = [r for r in rows if r['published']]
    if compared:
        out += ['## Against the published numbers', '',
                'Only configs listed for a published row (`compare_configs`); the published '
                'value is the current one of the research README, earlier versions in brackets.',
                '', '| variant | published model | metric | ours | published | Δ | '
                f'within ±{tol:g} |', '|---|---|---|---:|---:|---:|---|']
        for row in compared:
            for iou in IOU_TYPES:
                for metric, value in (row['published'].get(iou) or {}).items():
                    key = f'{iou}/{metric}'
                    delta = row['check']['deltas'].get(key)
                    thr = (row['published_mask_thr_binary'] or {}).get(key)
                    label = f'{"mask" if iou == "segm" else "box"} {metric}' + (
                        f' (mask_thr_binary {thr})' if thr else '')
                    out.append(f'| {row["variant"]} | {row["published_model"]} | {label} | '
                               f'{_cell(row["metrics"][iou][metric])} | '
                               f'{value:.1f}{_earlier(row, key)} | {_signed(delta)} | '
                               f'{"no" if key in row["check"]["outside"] else "yes"} |')
        out += [''] + [f'- {r["published_model"]}: config {r["published_config"]}'
                       for r in compared]
        sources = sorted({s for r in compared for s in r['published_sources'] or []})
        out += [''] + [f'Source: {s}' for s in sources]
    out += ['', '## Runs', '', 'Paths are relative to the directory the queue ran in.', '',
            '| variant | seed | status | batch @ lr | run directory | result / error |',
            '|---|---:|---|---|---|---|']
    for run in report['runs']:
        detail = (f'`{run["result"]}`' if run['status'] == 'done'
                  else (run['error'] or '') + (f' (log `{run["log"]}`)' if run['log'] else ''))
        out.append(f'| {run["variant"]} | {run["seed"]} | {run["status"]} | '
                   f'{run["batch_text"]} | `{run["work_dir"]}` | {detail.replace("|", "/")} |')
    out += ['', '## Plots', '']
    titles = dict(ap='AP by variant: rare / common / frequent (error bars: std over seeds)',
                  weights='IIF weight against class frequency, every variant (LVIS v1 train)',
                  loss='Training loss per variant and seed')
    for key, title in titles.items():
        if plots.get(key):
            out += [f'![{title}]({plots[key]})', '']
    return '\n'.join(out).rstrip() + '\n'


def _earlier(row: dict, key: str) -> str:
    other = (row.get('published_earlier') or {}).get(key) or []
    return ''.join(f' ({v:.1f} at {", ".join(commits)})' for v, commits in other)


def csv_rows(report: dict) -> Tuple[List[str], List[dict]]:
    header = ['variant', 'config', 'n_runs', 'seeds', 'run_dirs', 'not_counted', 'batch',
              'schedule']
    for iou in IOU_TYPES:
        for m in TABLE_METRICS:
            header += [f'{iou}_{m}', f'{iou}_{m}_std', f'{iou}_{m}_gap', f'{iou}_{m}_gap_std',
                       f'{iou}_{m}_published', f'{iou}_{m}_delta']
    header += ['gap_baseline', 'gap_status', 'gap_seeds', 'published_model', 'check',
               'outside_tolerance', 'tolerance']
    out = []
    for row in report['variants']:
        gap = row['gap']
        rec = dict(variant=row['variant'], config=row['config'], n_runs=row['n'],
                   seeds=';'.join(map(str, row['seeds'])), run_dirs=';'.join(row['run_dirs']),
                   not_counted=';'.join(f'seed{r["seed"]}:{r["status"]}'
                                        for r in row['not_counted']),
                   batch=';'.join(row['batch']), schedule=row['schedule'] or '',
                   gap_baseline=gap['baseline'] or '', gap_status=gap['status'],
                   gap_seeds=';'.join(map(str, gap['seeds'])),
                   published_model=row['published_model'] or '', check=row['check']['status'],
                   outside_tolerance=';'.join(row['check']['outside']),
                   tolerance=report['tolerance'])
        for iou in IOU_TYPES:
            for m in TABLE_METRICS:
                s = row['metrics'][iou][m]
                g = gap['metrics'][iou][m] if gap['metrics'] else {}
                pub = (row['published'] or {}).get(iou, {}).get(m)
                delta = row['check']['deltas'].get(f'{iou}/{m}')
                rec[f'{iou}_{m}'] = '' if s['mean'] is None else round(s['mean'], 4)
                rec[f'{iou}_{m}_std'] = '' if s['std'] is None else round(s['std'], 4)
                rec[f'{iou}_{m}_gap'] = '' if g.get('mean') is None else round(g['mean'], 4)
                rec[f'{iou}_{m}_gap_std'] = '' if g.get('std') is None else round(g['std'], 4)
                rec[f'{iou}_{m}_published'] = '' if pub is None else pub
                rec[f'{iou}_{m}_delta'] = '' if delta is None else round(delta, 4)
        out.append(rec)
    return header, out


def write_report(state: QueueState, out: Union[str, os.PathLike],
                 tolerance: float = DEFAULT_TOLERANCE, plots: bool = True) -> List[Path]:
    """variants.{md,csv,json} and the plots in ``out``; returns the files written."""
    from . import plots as plots_mod
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = build_report(state, tolerance)
    written: List[Path] = []
    links: Dict[str, Optional[str]] = {}
    if plots:
        written.append(plots_mod.plot_ap_by_group(report, out / PLOTS['ap']))
        links['ap'] = PLOTS['ap']
        written.append(plots_mod.plot_weights(out / PLOTS['weights']))
        links['weights'] = PLOTS['weights']
        loss = plots_mod.plot_loss_curves(
            [dict(r, work_dir=str(state.resolve(r['work_dir']))) for r in report['runs']],
            out / PLOTS['loss'])
        if loss is not None:
            written.append(loss)
            links['loss'] = PLOTS['loss']
    report['plots'] = {k: v for k, v in links.items() if v}
    md, js, cs = out / 'variants.md', out / 'variants.json', out / 'variants.csv'
    write_text_atomic(md, render_markdown(report, links))
    write_json_atomic(js, report)
    header, rows = csv_rows(report)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(cs, buf.getvalue())
    return [md, cs, js] + written

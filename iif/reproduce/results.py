"""The results table of a reproduce queue: one row per variant, mean +- sample std over its
finished runs (every run counts: no best-of-N), compared with the published numbers.

Values are AP points (the metrics.json fractions x 100). A row with published numbers is
checked in the style of detectron2's EXPECTED_RESULTS: every published metric must lie within
``tolerance`` AP points of the mean, else the row is marked ``outside``; rows with no published
number are ``n/a``.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import statistics
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from .errors import ReproduceError
from .state import QueueState, now, write_json_atomic

IOU_TYPES = ('segm', 'bbox')  # mask AP first: the paper's headline number
TABLE_METRICS = ('AP', 'AP50', 'AP75', 'APr', 'APc', 'APf')
DEFAULT_TOLERANCE = 0.5
PLOTS = dict(ap='variants_ap.png', weights='iif_weights.png', loss='loss_curves.png')


# ----------------------------------------------------------------------- published numbers
@dataclass
class PublishedModel:
    model: str
    configs: Tuple[str, ...]
    values: Dict[str, Dict[str, float]] = field(default_factory=dict)  # iou -> metric -> AP
    mask_thr_binary: Dict[str, str] = field(default_factory=dict)  # 'segm/AP' -> '0.4'
    sources: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)


def published_path() -> Path:
    return Path(str(resources.files('iif') / 'data' / 'published_results.csv'))


def load_published(path: Optional[Union[str, os.PathLike]] = None) -> List[PublishedModel]:
    path = Path(path) if path else published_path()
    text = path.read_text(encoding='utf-8')
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith('#')]
    models: Dict[str, PublishedModel] = {}
    for n, row in enumerate(csv.DictReader(io.StringIO('\n'.join(lines))), 2):
        try:
            iou, metric, value = row['iou_type'], row['metric'], float(row['value'])
        except (KeyError, TypeError, ValueError) as e:
            raise ReproduceError(f'{path}: data row {n - 1} is malformed ({e})') from e
        if iou not in IOU_TYPES or metric not in TABLE_METRICS:
            raise ReproduceError(f'{path}: data row {n - 1}: iou_type must be one of '
                                 f'{IOU_TYPES} and metric one of {TABLE_METRICS}')
        configs = tuple(c.strip() for c in (row.get('configs') or '').split(';') if c.strip())
        m = models.setdefault(row['model'], PublishedModel(row['model'], configs))
        m.values.setdefault(iou, {})[metric] = value
        if row.get('mask_thr_binary'):
            m.mask_thr_binary[f'{iou}/{metric}'] = row['mask_thr_binary']
        for target, item in ((m.sources, row.get('source')), (m.notes, row.get('note'))):
            if item and item not in target:
                target.append(item)
    return list(models.values())


def published_for(config: Union[str, os.PathLike],
                  published: Sequence[PublishedModel]) -> Optional[PublishedModel]:
    """The published model whose ``configs`` name this config file (matched by file name, so
    the smoke set never matches the LVIS numbers)."""
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
        run = dict(variant=entry['variant'], seed=entry['seed'], status=status,
                   config=entry['config'], work_dir=entry['work_dir'],
                   result=entry.get('result'), error=error, log=entry.get('log'),
                   seconds=entry.get('seconds'),
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
        rows.append(dict(
            variant=variant, config=config, n=len(counted),
            seeds=[r['seed'] for r in counted],
            run_dirs=[r['work_dir'] for r in counted],
            not_counted=[dict(seed=r['seed'], status=r['status'], work_dir=r['work_dir'],
                              error=r['error'], log=r['log'])
                         for r in runs if r['metrics'] is None],
            metrics=metrics,
            published=model.values if model else None,
            published_model=model.model if model else None,
            published_mask_thr_binary=model.mask_thr_binary if model else None,
            published_sources=model.sources if model else None,
            published_notes=model.notes if model else None,
            check=check_row(metrics, model, tolerance)))
    return dict(generated=now(), work_root=str(state.work_root), tolerance=tolerance,
                unit='AP points (x100); mean and sample std over the finished runs of a variant',
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


def render_markdown(report: dict, plots: Dict[str, Optional[str]]) -> str:
    tol = report['tolerance']
    rows = report['variants']
    done = sum(1 for r in report['runs'] if r['status'] == 'done')
    other = [r for r in report['runs'] if r['status'] != 'done']
    out = ['# IIF variants: reproduced results', '',
           f'Work root `{report["work_root"]}`, written {report["generated"]}: {done} '
           f'run{"" if done == 1 else "s"} finished' + (f', {len(other)} not counted (' + ', '.join(
               f'{r["variant"]}/seed{r["seed"]} {r["status"]}' for r in other) + ')'
               if other else '') + '.',
           '', 'AP points on the evaluation set, **mean ± sample standard deviation over seeds** '
           '(one run: no ±); n = finished runs, all of them counted. "check" compares every '
           f'published number of the row with the mean: ok within ±{tol:g} AP points, '
           '"outside" beyond, "n/a" where nothing is published for this config.', '']
    for iou, title in (('segm', 'Mask AP (segm)'), ('bbox', 'Box AP (bbox)')):
        out += [f'## {title}', '',
                '| variant | n | ' + ' | '.join(TABLE_METRICS)
                + ' | published AP | Δ AP | check |',
                '|---|---:|' + '---:|' * len(TABLE_METRICS) + '---:|---:|---|']
        for row in rows:
            pub = (row['published'] or {}).get(iou, {}).get('AP')
            delta = row['check']['deltas'].get(f'{iou}/AP') if pub is not None else None
            cells = [_cell(row['metrics'][iou][m]) for m in TABLE_METRICS]
            out.append(f'| {row["variant"]} | {row["n"]} | ' + ' | '.join(cells)
                       + f' | {"–" if pub is None else f"{pub:.1f}"} | {_signed(delta)} | '
                       f'{_check_text(row["check"])} |')
        out.append('')
    compared = [r for r in rows if r['published']]
    out += ['## Against the published numbers', '']
    if compared:
        out += ['| variant | published model | metric | ours | published | Δ | '
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
                               f'{_cell(row["metrics"][iou][metric])} | {value:.1f} | '
                               f'{_signed(delta)} | '
                               f'{"no" if key in row["check"]["outside"] else "yes"} |')
        sources = sorted({s for r in compared for s in r['published_sources'] or []})
        out += [''] + [f'Source: {s}' for s in sources]
    else:
        out.append('No variant of this set has a published number (they are matched by config '
                   'file name; see `iif/data/published_results.csv`).')
    out += ['', '## Runs', '', 'Paths are relative to the directory the queue ran in.', '',
            '| variant | seed | status | run directory | result / error |',
            '|---|---:|---|---|---|']
    for run in report['runs']:
        detail = (f'`{run["result"]}`' if run['status'] == 'done'
                  else (run['error'] or '') + (f' (log `{run["log"]}`)' if run['log'] else ''))
        out.append(f'| {run["variant"]} | {run["seed"]} | {run["status"]} | '
                   f'`{run["work_dir"]}` | {detail.replace("|", "/")} |')
    out += ['', '## Plots', '']
    titles = dict(ap='AP by variant: rare / common / frequent (error bars: std over seeds)',
                  weights='IIF weight against class frequency, every variant (LVIS v1 train)',
                  loss='Training loss per variant and seed')
    for key, title in titles.items():
        if plots.get(key):
            out += [f'![{title}]({plots[key]})', '']
    return '\n'.join(out).rstrip() + '\n'


def _check_text(check: dict) -> str:
    if check['status'] == 'outside':
        return 'outside: ' + ', '.join(check['outside'])
    return check['status']


def csv_rows(report: dict) -> Tuple[List[str], List[dict]]:
    header = ['variant', 'config', 'n_runs', 'seeds', 'run_dirs', 'not_counted']
    for iou in IOU_TYPES:
        for m in TABLE_METRICS:
            header += [f'{iou}_{m}', f'{iou}_{m}_std', f'{iou}_{m}_published',
                       f'{iou}_{m}_delta']
    header += ['published_model', 'check', 'outside_tolerance', 'tolerance']
    out = []
    for row in report['variants']:
        rec = dict(variant=row['variant'], config=row['config'], n_runs=row['n'],
                   seeds=';'.join(map(str, row['seeds'])), run_dirs=';'.join(row['run_dirs']),
                   not_counted=';'.join(f'seed{r["seed"]}:{r["status"]}'
                                        for r in row['not_counted']),
                   published_model=row['published_model'] or '', check=row['check']['status'],
                   outside_tolerance=';'.join(row['check']['outside']),
                   tolerance=report['tolerance'])
        for iou in IOU_TYPES:
            for m in TABLE_METRICS:
                s = row['metrics'][iou][m]
                pub = (row['published'] or {}).get(iou, {}).get(m)
                delta = row['check']['deltas'].get(f'{iou}/{m}')
                rec[f'{iou}_{m}'] = '' if s['mean'] is None else round(s['mean'], 4)
                rec[f'{iou}_{m}_std'] = '' if s['std'] is None else round(s['std'], 4)
                rec[f'{iou}_{m}_published'] = '' if pub is None else pub
                rec[f'{iou}_{m}_delta'] = '' if delta is None else round(delta, 4)
        out.append(rec)
    return header, out


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    tmp.write_text(text, encoding='utf-8')
    os.replace(tmp, path)


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
    _write_text(md, render_markdown(report, links))
    write_json_atomic(js, report)
    header, rows = csv_rows(report)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
    _write_text(cs, buf.getvalue())
    return [md, cs, js] + written

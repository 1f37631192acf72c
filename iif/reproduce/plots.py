"""PNG plots of a reproduce queue (matplotlib, Agg backend: no display needed).

- :func:`plot_ap_by_group`: AP of every variant split into rare / common / frequent, mean over
  seeds with sample-std error bars, published values as markers.
- :func:`plot_weights`: the IIF weight of every variant against class frequency, from the
  bundled LVIS table (no training needed).
- :func:`plot_loss_curves`: training loss of every run from its ``*.log.json`` files.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from iif.fsutil import atomic_path

GROUPS = (('APr', 'rare'), ('APc', 'common'), ('APf', 'frequent'))
IOU_TITLES = {'segm': 'mask AP (segm)', 'bbox': 'box AP (bbox)'}


def _pyplot():
    import matplotlib
    matplotlib.use('Agg', force=True)
    import matplotlib.pyplot as plt
    return plt


def _save(fig, out: Union[str, os.PathLike]) -> Path:
    """Save through a temporary file so a reader never sees half a PNG."""
    out = Path(out)
    with atomic_path(out, suffix=out.suffix) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches='tight')
    return out


# ------------------------------------------------------------------------- AP by r / c / f
def plot_ap_by_group(report: dict, out: Union[str, os.PathLike]) -> Path:
    """Grouped bars: for each variant, APr / APc / APf (segm and bbox panels)."""
    plt = _pyplot()
    rows = report['variants']
    fig, axes = plt.subplots(1, 2, figsize=(max(7.0, 1.1 * len(rows) + 3), 4.2), squeeze=False)
    width = 0.8 / len(GROUPS)
    colours = ('#d62728', '#ff7f0e', '#1f77b4')
    for ax, iou in zip(axes[0], ('segm', 'bbox')):
        for g, ((metric, label), colour) in enumerate(zip(GROUPS, colours)):
            xs, means, errs, pub_x, pub_y = [], [], [], [], []
            for i, row in enumerate(rows):
                x = i + (g - 1) * width
                cell = row['metrics'].get(iou, {}).get(metric) or {}
                mean, std = cell.get('mean'), cell.get('std')
                xs.append(x)
                # NaN draws nothing: no bar for a missing value, no error bar for n = 1
                means.append(mean if mean is not None else math.nan)
                errs.append(std if std is not None else math.nan)
                published = (row.get('published') or {}).get(iou, {}).get(metric)
                if published is not None:
                    pub_x.append(x)
                    pub_y.append(published)
            ax.bar(xs, means, width, yerr=errs, capsize=3, color=colour, label=label,
                   error_kw=dict(lw=1))
            if pub_x:
                ax.scatter(pub_x, pub_y, marker='_', s=200, color='black', zorder=3,
                           label='published' if g == 0 else None)
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([r['variant'] for r in rows], rotation=40, ha='right')
        ax.set_ylabel('AP')
        ax.set_title(IOU_TITLES[iou])
        ax.grid(axis='y', alpha=0.3)
    axes[0][0].legend(fontsize=8)
    runs = sorted({r['n'] for r in rows}) or [0]
    fig.suptitle('AP by variant and frequency group (mean over seeds, error bar: sample std; '
                 f'runs per variant: {", ".join(map(str, runs))})', fontsize=9)
    fig.tight_layout()
    out = _save(fig, out)
    plt.close(fig)
    return out


# ------------------------------------------------------------------------------ weights
def weight_curves(dataset: str = 'lvis_v1') -> Dict[str, Tuple[List[float], List[float]]]:
    """variant -> (class frequency, weight), sorted by frequency: image frequency n_c / N for
    the image variants, instance frequency m_c / M for the ``*_obj`` ones (the count each
    variant's formula uses)."""
    from iif import weights
    counts = weights.load_bundled_counts(dataset)
    curves = {}
    for variant in weights.VARIANTS:
        w = weights.compute_weights(counts, variant)
        if variant.endswith('_obj'):
            freq = [m / counts.num_instances for m in counts.instance_count]
        else:
            freq = [n / counts.num_images for n in counts.image_count]
        pairs = sorted(zip(freq, w))
        curves[variant] = ([p[0] for p in pairs], [p[1] for p in pairs])
    return curves


def plot_weights(out: Union[str, os.PathLike], dataset: str = 'lvis_v1') -> Path:
    """The IIF weight of every variant against class frequency (bundled per-class table)."""
    from iif import weights
    plt = _pyplot()
    counts = weights.load_bundled_counts(dataset)
    curves = weight_curves(dataset)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), sharey=True)
    panels = ((axes[0], [v for v in weights.VARIANTS if not v.endswith('_obj')],
               f'image frequency n_c / N (N = {counts.num_images})'),
              (axes[1], [v for v in weights.VARIANTS if v.endswith('_obj')],
               f'instance frequency m_c / M (M = {counts.num_instances})'))
    for ax, names, xlabel in panels:
        for k, name in enumerate(names):
            xs, ys = curves[name]
            # raw, prob and gombit nearly coincide for small frequencies: vary the dash too
            ax.plot(xs, ys, label=name, lw=1.4, ls=('-', '--', '-.', ':')[k % 4])
        ax.set_xscale('log')
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3, which='both')
        ax.legend(fontsize=8)
    # LVIS groups: rare <= 10 training images < common <= 100 < frequent
    for bound, label in ((10, 'r | c'), (100, 'c | f')):
        x = bound / counts.num_images
        axes[0].axvline(x, color='grey', ls=':', lw=1)
        axes[0].text(x, axes[0].get_ylim()[1], f' {label}', va='top', fontsize=8, color='grey')
    axes[0].set_ylabel('IIF weight')
    axes[0].set_title('image-count variants')
    axes[1].set_title('instance-count variants (*_obj)')
    fig.suptitle(f'IIF weight per class against its frequency ({dataset}, {len(counts)} classes)',
                 fontsize=10)
    fig.tight_layout()
    out = _save(fig, out)
    plt.close(fig)
    return out


# --------------------------------------------------------------------------- loss curves
def read_loss_log(run_dir: Union[str, os.PathLike]) -> List[Tuple[float, float]]:
    """(epoch position, loss) of the training iterations logged in ``run_dir/*.log.json``.

    A resumed run has one log per attempt; a later log's entry for the same (epoch, iter)
    replaces an earlier one (the work after the last checkpoint was repeated). The position is
    ``epoch - 1 + iter / iterations per epoch``. Non-finite losses are left out."""
    entries: Dict[Tuple[int, int], float] = {}
    for log in sorted(Path(run_dir).glob('*.log.json')):
        with open(log, encoding='utf-8') as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a kill
                if rec.get('mode') != 'train' or 'loss' not in rec:
                    continue
                try:
                    entries[(int(rec['epoch']), int(rec['iter']))] = float(rec['loss'])
                except (KeyError, TypeError, ValueError):
                    continue
    if not entries:
        return []
    per_epoch = max(i for _, i in entries)
    return [(e - 1 + i / per_epoch, loss) for (e, i), loss in sorted(entries.items())
            if math.isfinite(loss)]


def plot_loss_curves(runs: Sequence[dict], out: Union[str, os.PathLike]) -> Optional[Path]:
    """One panel per variant, one line per seed. ``runs``: dicts with variant, seed, status,
    work_dir. Returns None when no run has logged a loss yet."""
    curves: Dict[str, List[Tuple[dict, List[Tuple[float, float]]]]] = {}
    for run in runs:
        points = read_loss_log(run['work_dir'])
        if points:
            curves.setdefault(run['variant'], []).append((run, points))
    if not curves:
        return None
    plt = _pyplot()
    n = len(curves)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False,
                             sharey=True)
    for ax, (variant, items) in zip(axes.flat, curves.items()):
        for run, points in items:
            label = f'seed {run["seed"]}' + ('' if run['status'] == 'done' else
                                             f' ({run["status"]})')
            ax.plot([p[0] for p in points], [p[1] for p in points], lw=1, label=label,
                    ls='-' if run['status'] == 'done' else '--')
        ax.set_title(variant, fontsize=10)
        ax.set_xlabel('epoch')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    for r in range(rows):
        axes[r][0].set_ylabel('training loss')
    fig.suptitle('training loss per variant (all runs; dashed: not finished)', fontsize=10)
    fig.tight_layout()
    out = _save(fig, out)
    plt.close(fig)
    return out

"""Inverse Image Frequency (IIF) weights.

For class c with n_c training images out of N (or m_c instances out of M for the ``*_obj``
variants) the weight is a decreasing function of p_c = n_c / N (Alexandridis et al., "Inverse
Image Frequency for Long-tailed Image Recognition", IEEE TIP 2023):

    raw     ln(N / n)                 base2   log2(N / n)
    smooth  ln((N + 1) / (n + 1)) + 1 base10  log10(N / n)
    prob    ln((N - n) / n)           normit  -Phi^-1(n / N)
    gombit  -ln(-ln(1 - n / N))

This module deliberately needs only the standard library (plus orjson when present) so that
``iif weights`` works without torch or mmdet installed; annotation files are streamed
(:mod:`iif.lvisjson`), so ``--ann`` on LVIS v1 train holds ids, not the parsed file.
"""
from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from statistics import NormalDist
from typing import Callable, Dict, List, Sequence, Union

from iif.errors import MissingFileError, UserError
from iif.fsutil import atomic_write
from iif.lvisjson import stream_annotations

_STANDARD_NORMAL = NormalDist()

# f(count, total) for each base variant; the *_obj forms apply the same f to instance counts.
_BASE_FORMULAS: Dict[str, Callable[[int, int], float]] = {
    'raw': lambda n, N: math.log(N / n),
    'smooth': lambda n, N: math.log((N + 1) / (n + 1)) + 1.0,
    'prob': lambda n, N: math.log((N - n) / n),
    'normit': lambda n, N: -_STANDARD_NORMAL.inv_cdf(n / N),
    'gombit': lambda n, N: -math.log(-math.log(1.0 - n / N)),
    'base2': lambda n, N: math.log2(N / n),
    'base10': lambda n, N: math.log10(N / n),
}
BASE_VARIANTS: List[str] = list(_BASE_FORMULAS)
# log-odds style variants diverge when a class is in every image (p_c = 1)
_UNBOUNDED_AT_ONE = ('prob', 'normit', 'gombit')
VARIANTS: List[str] = BASE_VARIANTS + [f'{v}_obj' for v in BASE_VARIANTS]

# Bundled per-class tables (copied from the kit's shared LVIS facts; sources in iif/data/README.md).
# N for v1 is the LVIS v1 train image count; N for v0.5 is derived in lvis_split_stats.tsv.
BUNDLED_DATASETS: Dict[str, Dict[str, Union[str, int]]] = {
    'lvis_v1': dict(table='lvis_v1_categories.csv', num_images=100170),
    'lvis_v0.5': dict(table='lvis_v0.5_categories.csv', num_images=57263),
}

CSV_COLUMNS = ['id', 'name', 'frequency', 'image_count', 'instance_count'] + VARIANTS


class WeightsError(UserError, ValueError):
    """Raised for any input that cannot give well-defined IIF weights."""


@dataclass
class ClassCounts:
    """Per-class image and instance counts of one training set, sorted by category id."""
    ids: List[int]
    names: List[str]
    frequency: List[str]
    image_count: List[int]
    instance_count: List[int]
    num_images: int  # N
    num_instances: int  # M
    source: str

    def __len__(self) -> int:
        return len(self.ids)


def frequency_group(image_count: int) -> str:
    """LVIS's rule: rare <= 10 training images < common <= 100 < frequent."""
    if image_count <= 10:
        return 'r'
    return 'c' if image_count <= 100 else 'f'


def bundled_table_path(dataset: str) -> Path:
    if dataset not in BUNDLED_DATASETS:
        raise WeightsError(f'unknown dataset {dataset!r}; bundled tables: '
                           f'{", ".join(BUNDLED_DATASETS)} (or pass an annotation file)')
    return Path(str(resources.files('iif') / 'data' / BUNDLED_DATASETS[dataset]['table']))


def load_bundled_counts(dataset: str) -> ClassCounts:
    path = bundled_table_path(dataset)
    with open(path, newline='', encoding='utf-8') as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r['id']))
    instance_count = [int(r['instance_count']) for r in rows]
    return ClassCounts(
        ids=[int(r['id']) for r in rows],
        names=[r['name'] for r in rows],
        frequency=[r['frequency'] for r in rows],
        image_count=[int(r['image_count']) for r in rows],
        instance_count=instance_count,
        num_images=int(BUNDLED_DATASETS[dataset]['num_images']),
        num_instances=sum(instance_count),
        source=f'bundled:{dataset}')


def load_json(path: Union[str, os.PathLike]) -> dict:
    """Parse a (possibly GB-sized) JSON file, with orjson when available."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f'annotation file not found: {path}')
    try:
        import orjson
    except ImportError:  # the standard library is slower but gives the same result
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    return orjson.loads(path.read_bytes())


class _ClassTally:
    """Per-category instance counts and image-id sets, fed one annotation at a time (so a
    GB-sized file is never held: only the ids are kept)."""

    def __init__(self, source: str):
        self.source = source
        self.instances: Dict[object, int] = {}
        self.images: Dict[object, set] = {}
        self.first_annotation: Dict[object, object] = {}  # category -> id of its first annotation
        self.count = 0

    def add(self, a) -> None:
        if not isinstance(a, dict) or 'category_id' not in a or 'image_id' not in a:
            raise WeightsError(f'{self.source}: annotation #{self.count + 1} is not an object with '
                               f'"image_id" and "category_id": {str(a)[:200]}')
        self.count += 1
        category = a['category_id']
        images = self.images.get(category)
        if images is None:
            images = self.images[category] = set()
            self.instances[category] = 0
            self.first_annotation[category] = a.get('id')
        self.instances[category] += 1
        images.add(a['image_id'])


def counts_from_annotations(ann: Union[str, os.PathLike, dict]) -> ClassCounts:
    """Count, for every category of an LVIS/COCO-format file, its images and instances.

    N is the number of images in the file and M the number of annotations. A category's
    frequency group is the file's own ``frequency`` field when present (LVIS), else LVIS's rule.
    A file is streamed (:mod:`iif.lvisjson`): LVIS v1 train needs ~0.2 GB, not json.load's ~5 GB.
    """
    if isinstance(ann, dict):
        source = 'in-memory annotations'
        tally = _ClassTally(source)
        data = ann
        has_annotations = isinstance(ann.get('annotations'), list)
        for a in (ann['annotations'] if has_annotations else ()):
            tally.add(a)
    else:
        source = str(ann)
        if not Path(ann).is_file():
            raise MissingFileError(f'annotation file not found: {ann}')
        tally = _ClassTally(source)
        streamed = stream_annotations(ann, tally.add)
        data, has_annotations = streamed.top, streamed.num_annotations is not None
    for key in ('images', 'categories'):
        if key not in data:
            raise WeightsError(f'{source} is not an LVIS/COCO annotation file: no "{key}" key')
    if not has_annotations:
        raise WeightsError(f'{source} is not an LVIS/COCO annotation file: no "annotations" list')
    categories = sorted(data['categories'], key=lambda c: c['id'])
    known = {c['id'] for c in categories}
    for category, ann_id in tally.first_annotation.items():  # in file order
        if category not in known:
            raise WeightsError(f'{source}: annotation {ann_id} has category_id {category}, which '
                               f'is not in "categories"')
    image_count = [len(tally.images.get(c['id'], ())) for c in categories]
    return ClassCounts(
        ids=[c['id'] for c in categories],
        names=[c.get('name', str(c['id'])) for c in categories],
        frequency=[c.get('frequency') or frequency_group(n)
                   for c, n in zip(categories, image_count)],
        image_count=image_count,
        instance_count=[tally.instances.get(c['id'], 0) for c in categories],
        num_images=len(data['images']),
        num_instances=tally.count,
        source=source)


def load_counts(source: str) -> ClassCounts:
    """Counts from a bundled dataset name or an annotation JSON file."""
    if source in BUNDLED_DATASETS:
        return load_bundled_counts(source)
    if str(source).endswith('.json'):
        return counts_from_annotations(source)
    raise WeightsError(f'unknown counts source {source!r}: use one of '
                       f'{", ".join(BUNDLED_DATASETS)} or an LVIS/COCO annotation .json file')


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise WeightsError(f'unknown IIF variant {variant!r}; choose one of: {", ".join(VARIANTS)}')


def compute_weights(counts: ClassCounts, variant: str) -> List[float]:
    """The IIF weight of every class (in ``counts`` order) for one variant.

    Policy for degenerate classes: a class with no images (instances, for ``*_obj``) has no
    finite weight in any variant, and a class in every image makes prob/normit/gombit infinite;
    both raise a WeightsError that names the classes rather than producing inf or NaN.
    """
    _check_variant(variant)
    by_instances = variant.endswith('_obj')
    formula = _BASE_FORMULAS[variant[:-4] if by_instances else variant]
    per_class = counts.instance_count if by_instances else counts.image_count
    total = counts.num_instances if by_instances else counts.num_images
    unit = 'instances' if by_instances else 'images'
    empty = [f'{i} ({name})' for i, name, n in zip(counts.ids, counts.names, per_class) if n <= 0]
    if empty:
        raise WeightsError(
            f'{counts.source}: {len(empty)} categor{"y has" if len(empty) == 1 else "ies have"} '
            f'no training {unit}, so the IIF weight is undefined: {", ".join(empty[:20])}'
            f'{" ..." if len(empty) > 20 else ""}. Remove the category or use annotations that '
            f'contain it.')
    base = variant[:-4] if by_instances else variant
    too_many = [f'{i} ({name}: {n} of {total})'
                for i, name, n in zip(counts.ids, counts.names, per_class) if n >= total]
    if too_many and base in _UNBOUNDED_AT_ONE:
        raise WeightsError(f'{counts.source}: {variant} is infinite for categories in all '
                           f'{total} {unit}: {", ".join(too_many[:20])}; use raw, smooth, '
                           f'base2 or base10 for this data')
    return [formula(n, total) for n in per_class]


def weights_table(counts: ClassCounts, variants: Sequence[str] = VARIANTS) -> List[dict]:
    """Rows of the weights CSV: one per category, sorted by id."""
    columns = {v: compute_weights(counts, v) for v in variants}
    rows = []
    for k in sorted(range(len(counts)), key=lambda k: counts.ids[k]):
        row = dict(id=counts.ids[k], name=counts.names[k], frequency=counts.frequency[k],
                   image_count=counts.image_count[k], instance_count=counts.instance_count[k])
        row.update({v: columns[v][k] for v in variants})
        rows.append(row)
    return rows


def write_weights_csv(counts: ClassCounts, out: Union[str, os.PathLike]) -> Path:
    out = Path(out)
    rows = weights_table(counts)  # computed first: a bad input must not leave a partial file
    with atomic_write(out, newline='') as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, lineterminator='\n')
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return out


def read_weights_csv(path: Union[str, os.PathLike], variant: str) -> List[float]:
    """One variant's column of a CSV written by :func:`write_weights_csv`, in id order."""
    _check_variant(variant)
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f'weights file not found: {path}')
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        if variant not in (reader.fieldnames or []):
            raise WeightsError(f'{path} has no column {variant!r}; write it with `iif weights`')
        rows = sorted(reader, key=lambda r: int(r['id']))
    return [float(r[variant]) for r in rows]


def load_weights(source: str, variant: str) -> List[float]:
    """IIF weights in category-id order from a bundled dataset name, an annotation .json, or a
    weights .csv written by ``iif weights``."""
    _check_variant(variant)
    if str(source).endswith('.csv'):
        return read_weights_csv(source, variant)
    return compute_weights(load_counts(source), variant)


@dataclass
class CountsComparison:
    """Differences between two sets of class counts (see :func:`compare_counts`)."""
    totals: List[str]      # N and M, when they differ
    categories: List[str]  # one line per category whose name, frequency or counts differ
    num_categories: int    # categories in either set

    @property
    def equal(self) -> bool:
        return not (self.totals or self.categories)


def compare_counts(counts: ClassCounts, reference: ClassCounts) -> CountsComparison:
    """Compare ``counts`` (e.g. from an annotation file) with ``reference`` (e.g. a bundled
    table) category by category, matched by id: name, frequency, image_count, instance_count,
    and categories present in only one of them; plus the totals N and M."""
    totals = [f'{label}: {a} != {b} ({reference.source})'
              for label, a, b in (('N (images)', counts.num_images, reference.num_images),
                                  ('M (instances)', counts.num_instances, reference.num_instances))
              if a != b]
    fields = ('names', 'frequency', 'image_count', 'instance_count')
    ours = {i: k for k, i in enumerate(counts.ids)}
    theirs = {i: k for k, i in enumerate(reference.ids)}
    lines = []
    for cid in sorted(set(ours) | set(theirs)):
        if cid not in theirs:
            lines.append(f'category {cid} ({counts.names[ours[cid]]}): not in {reference.source}')
            continue
        if cid not in ours:
            lines.append(f'category {cid} ({reference.names[theirs[cid]]}): in {reference.source} '
                         f'only')
            continue
        pairs = [(f, getattr(counts, f)[ours[cid]], getattr(reference, f)[theirs[cid]])
                 for f in fields]
        diffs = [f'{"name" if f == "names" else f} {a!r} != {b!r}' for f, a, b in pairs if a != b]
        if diffs:
            lines.append(f'category {cid} ({reference.names[theirs[cid]]}): {"; ".join(diffs)}')
    return CountsComparison(totals, lines, len(set(ours) | set(theirs)))

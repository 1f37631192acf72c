"""IIF weights: every variant against an independent computation, on both bundled tables and
on a generated annotation file; the CLI's CSV; degenerate counts."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import norm

from iif import weights
from iif.cli import main

from conftest import REPO


def independent(variant: str, n: np.ndarray, m: np.ndarray, N: int, M: int) -> np.ndarray:
    """The paper's formulas written again with numpy/scipy (not the kit's code)."""
    counts, total = (m, M) if variant.endswith('_obj') else (n, N)
    base = variant.replace('_obj', '')
    p = counts / total
    return {
        'raw': np.log(total / counts),
        'smooth': np.log((total + 1) / (counts + 1)) + 1,
        'prob': np.log((total - counts) / counts),
        'normit': -norm.ppf(p),
        'gombit': -np.log(-np.log(1 - p)),
        'base2': np.log2(total / counts),
        'base10': np.log10(total / counts),
    }[base]


def read_bundled(dataset):
    with open(weights.bundled_table_path(dataset), newline='') as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r['id']))
    n = np.array([int(r['image_count']) for r in rows], dtype=float)
    m = np.array([int(r['instance_count']) for r in rows], dtype=float)
    return rows, n, m


def test_fourteen_variants():
    assert len(weights.VARIANTS) == 14
    assert set(weights.VARIANTS) == {f'{b}{s}' for b in ('raw', 'smooth', 'prob', 'normit',
                                                          'gombit', 'base2', 'base10')
                                     for s in ('', '_obj')}


@pytest.mark.parametrize('dataset,N,M,classes', [('lvis_v1', 100170, 1270141, 1203),
                                                 ('lvis_v0.5', 57263, 693958, 1230)])
@pytest.mark.parametrize('variant', weights.VARIANTS)
def test_bundled_weights_match_independent_computation(dataset, N, M, classes, variant):
    rows, n, m = read_bundled(dataset)
    counts = weights.load_bundled_counts(dataset)
    assert (counts.num_images, counts.num_instances, len(counts)) == (N, M, classes)
    got = np.array(weights.compute_weights(counts, variant))
    np.testing.assert_allclose(got, independent(variant, n, m, N, M), rtol=1e-12, atol=1e-12)


def test_known_value_aerosol_can():
    # LVIS v1 id 1, aerosol_can: 64 of 100170 train images, 109 of 1270141 instances
    counts = weights.load_bundled_counts('lvis_v1')
    assert counts.names[0] == 'aerosol_can'
    assert weights.compute_weights(counts, 'raw')[0] == pytest.approx(np.log(100170 / 64))
    assert weights.compute_weights(counts, 'base10_obj')[0] == pytest.approx(
        np.log10(1270141 / 109))


def test_weights_decrease_with_frequency():
    counts = weights.load_bundled_counts('lvis_v1')
    order = np.argsort(counts.image_count)
    for variant in weights.BASE_VARIANTS:
        w = np.array(weights.compute_weights(counts, variant))[order]
        assert np.all(np.diff(w) <= 1e-12), variant


def test_annotation_file_counts_and_weights(smoke_workdir, tmp_path):
    ann = smoke_workdir / 'data' / 'smoke' / 'annotations' / 'lvis_v1_train.json'
    data = json.loads(ann.read_text())
    N, M = len(data['images']), len(data['annotations'])
    cat_ids = sorted(c['id'] for c in data['categories'])
    n = np.array([len({a['image_id'] for a in data['annotations'] if a['category_id'] == c})
                  for c in cat_ids], dtype=float)
    m = np.array([sum(a['category_id'] == c for a in data['annotations']) for c in cat_ids],
                 dtype=float)
    counts = weights.counts_from_annotations(ann)
    assert (counts.num_images, counts.num_instances) == (N, M)
    assert counts.ids == cat_ids
    for variant in weights.VARIANTS:
        np.testing.assert_allclose(weights.compute_weights(counts, variant),
                                   independent(variant, n, m, N, M), rtol=1e-12)


def test_cli_writes_csv_sorted_by_id_with_all_columns(tmp_path):
    out = tmp_path / 'w.csv'
    assert main(['weights', '--dataset', 'lvis_v1', '--out', str(out)]) == 0
    with open(out, newline='') as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ['id', 'name', 'frequency', 'image_count',
                                     'instance_count'] + weights.VARIANTS
        rows = list(reader)
    assert len(rows) == 1203
    assert [int(r['id']) for r in rows] == sorted(int(r['id']) for r in rows)
    _, n, m = read_bundled('lvis_v1')
    for variant in weights.VARIANTS:
        np.testing.assert_allclose([float(r[variant]) for r in rows],
                                   independent(variant, n, m, 100170, 1270141), rtol=1e-12)
    # the CSV is a weights source for the loss
    assert weights.load_weights(str(out), 'gombit') == pytest.approx(
        weights.compute_weights(weights.load_bundled_counts('lvis_v1'), 'gombit'))


def test_category_without_images_is_a_clear_error(tmp_path):
    ann = {'images': [{'id': 1}, {'id': 2}],
           'annotations': [{'id': 1, 'image_id': 1, 'category_id': 1}],
           'categories': [{'id': 1, 'name': 'cat'}, {'id': 7, 'name': 'never_seen'}]}
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(ann))
    out = tmp_path / 'w.csv'
    counts = weights.counts_from_annotations(path)
    with pytest.raises(weights.WeightsError, match=r'7 \(never_seen\)'):
        weights.compute_weights(counts, 'raw')
    assert main(['weights', '--ann', str(path), '--out', str(out)]) == 2
    assert not out.exists(), 'a failed run must not leave a partial CSV'


def test_category_in_every_image_is_a_clear_error(tmp_path):
    ann = {'images': [{'id': 1}],
           'annotations': [{'id': 1, 'image_id': 1, 'category_id': 1}],
           'categories': [{'id': 1, 'name': 'everywhere'}]}
    counts = weights.counts_from_annotations(ann)
    assert weights.compute_weights(counts, 'raw') == [0.0]  # ln(1/1)
    assert weights.compute_weights(counts, 'smooth') == [1.0]
    with pytest.raises(weights.WeightsError, match='everywhere'):
        weights.compute_weights(counts, 'prob')


def test_unknown_variant_and_source():
    with pytest.raises(weights.WeightsError, match='unknown IIF variant'):
        weights.load_weights('lvis_v1', 'cubic')
    with pytest.raises(weights.WeightsError, match='unknown counts source'):
        weights.load_weights('lvis_v7', 'raw')
    with pytest.raises(FileNotFoundError, match='annotation file not found'):
        weights.load_weights('/nonexistent/train.json', 'raw')


def test_weights_cli_runs_with_the_standard_library_only(tmp_path):
    """`iif weights` must work where the stack is absent: run it with the base interpreter of
    this venv (no site-packages of ours), with every third-party package it might reach for
    made unimportable, and check the numbers it writes."""
    base_python = getattr(sys, '_base_executable', None) or sys.executable
    code = ('import sys\n'
            'for name in ("torch", "mmdet", "mmcv", "numpy", "scipy"): sys.modules[name] = None\n'
            'from iif.cli import main\n'
            'sys.exit(main(sys.argv[1:]))')
    out = tmp_path / 'w.csv'
    result = subprocess.run([base_python, '-c', code, 'weights', '--dataset', 'lvis_v0.5',
                             '--out', str(out)], cwd=tmp_path, capture_output=True, text=True,
                            env={'PYTHONPATH': str(REPO), 'PATH': '/usr/bin:/bin'})
    assert result.returncode == 0, result.stderr
    with open(out, newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1230
    _, n, m = read_bundled('lvis_v0.5')
    for variant in ('raw', 'normit', 'gombit_obj'):
        np.testing.assert_allclose([float(r[variant]) for r in rows],
                                   independent(variant, n, m, 57263, 693958), rtol=1e-12)

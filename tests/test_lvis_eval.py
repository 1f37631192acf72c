"""LVIS evaluator: parity with lvis-api 0.5.3, input handling, validation, hostile input, CLI.

Data come from benchmarks/lvis_workload.py (deterministic, LVIS-shaped, small).
"""
from __future__ import annotations

import copy
import json
import logging
import math
import os
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
from collections import Counter

import lvis  # noqa: F401  (pinned: the parity tests need lvis-api; missing it is a failure)
import numpy as np
import pycocotools.mask as pycocotools_mask
import pytest

from iif.evaluation import (METRIC_NAMES, GroundTruthFormatError, ResultsFormatError,
                            evaluate_lvis, format_metrics_table)
from iif.evaluation import fast, groundtruth, jsonstream
from iif.evaluation import results as results_module
from iif.evaluation import rle as rle_format

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))  # the workload generator is not library code
import lvis_workload as synthetic  # noqa: E402

TOL = 1e-9


def _max_diff(a: dict, b: dict) -> float:
    assert list(a) == list(METRIC_NAMES) and list(b) == list(METRIC_NAMES)
    return max(abs(a[k] - b[k]) for k in METRIC_NAMES)


def _lvis_object(cls, dataset):
    obj = cls.__new__(cls)  # lvis.LVIS() only reads files
    obj.logger = logging.getLogger('lvis')
    obj.dataset = dataset
    obj._create_index()
    return obj


def _assert_parity(gt, results, iou_type, **kw):
    ref = evaluate_lvis(gt, results, iou_type, backend='lvis', **kw)
    got = evaluate_lvis(gt, results, iou_type, backend='fast', **kw)
    assert _max_diff(ref, got) <= TOL, format_metrics_table({'lvis': ref, 'fast': got})
    return ref, got


@pytest.fixture(scope='module')
def data():
    """Ground truth (80 images, 1203 categories) with bbox and segm results."""
    gt = synthetic.generate_gt(80, seed=11)
    return {'gt': gt,
            'bbox': synthetic.generate_results(gt, 'bbox', seed=11),
            'segm': synthetic.generate_results(gt, 'segm', seed=11)}


# ----------------------------------------------------------------------------- parity

def test_generated_data_covers_the_hard_cases(data):
    gt, res = data['gt'], data['bbox']
    per_image = Counter(r['image_id'] for r in res)
    assert max(per_image.values()) > 300, 'need images over the 300-detection limit'
    pair_scores = Counter((r['image_id'], r['category_id'], r['score']) for r in res)
    assert max(pair_scores.values()) > 1, 'need score ties within an (image, category)'
    with_gt = {a['category_id'] for a in gt['annotations']}
    negs = {c for img in gt['images'] for c in img['neg_category_ids']}
    cats = {c['id'] for c in gt['categories']}
    assert cats - with_gt, 'need categories without ground truth'
    assert negs - with_gt, 'need categories present only in negative lists'
    assert {'r', 'c', 'f'} <= {c['frequency'] for c in gt['categories'] if c['id'] in with_gt}
    assert any(img['not_exhaustive_category_ids'] for img in gt['images'])
    assert any(len(a['segmentation']) > 1 for a in gt['annotations'])


@pytest.mark.parametrize('seed', [1, 2, 3])
@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_parity_with_lvis_api(seed, iou_type):
    gt = synthetic.generate_gt(50, seed=seed)
    results = synthetic.generate_results(gt, iou_type, seed=seed)
    ref, got = _assert_parity(gt, results, iou_type)
    assert 0 < got['AP'] < 1 and got['APr'] != -1


def _adversarial(gt: dict, results: list, seed: int):
    """Exact IoU ties, ignore flags, gt id 0, boundary and zero areas, duplicate results."""
    rng = np.random.default_rng(seed)
    gt = copy.deepcopy(gt)
    results = copy.deepcopy(results)
    anns = gt['annotations']
    dups = [dict(anns[i], id=10 ** 6 + int(i))
            for i in rng.choice(len(anns), len(anns) // 5, replace=False)]
    anns.extend(dups)  # identical copies: equal IoUs, lvis-api picks the later one
    for i in rng.choice(len(anns), len(anns) // 10, replace=False):
        anns[i]['ignore'] = 1
    for i, area in zip(rng.choice(len(anns), 24, replace=False),
                       [32.0 ** 2, 96.0 ** 2, 0.0, -5.0, 1e10, 1e10 + 1] * 4):
        anns[i]['area'] = area
    anns[0]['id'] = 0
    rng.shuffle(anns)
    extra = [dict(results[i]) for i in rng.choice(len(results), len(results) // 10)]
    results = results + extra
    results = [results[i] for i in rng.permutation(len(results))]
    for i in rng.choice(len(results), len(results) // 20, replace=False):
        results[i]['score'] = 0.5  # ties across images and categories
    for r in results[:300:3]:
        if 'bbox' in r:
            r['bbox'] = [r['bbox'][0], r['bbox'][1], 32.0, 32.0]  # area exactly 32**2
    return gt, results


@pytest.mark.parametrize('iou_type,with_bbox', [('bbox', True), ('segm', True), ('segm', False)])
def test_parity_on_edge_cases(iou_type, with_bbox, monkeypatch):
    gt0 = synthetic.generate_gt(40, seed=5)
    gt, results = _adversarial(
        gt0, synthetic.generate_results(gt0, iou_type, seed=5, with_bbox=with_bbox), seed=5)
    assert with_bbox == ('bbox' in results[0])
    for max_dets in (300, 20, -1):
        _assert_parity(gt, results, iou_type, max_dets=max_dets)
    # many small category chunks must give the same numbers as one
    monkeypatch.setattr(fast, 'CHUNK_DETS', 300)
    _assert_parity(gt, results, iou_type)


def test_detection_areas_follow_lvis_api(data):
    """segm results with boxes use the box area for area ranges, without boxes the mask area."""
    gt = data['gt']
    with_box = data['segm']
    no_box = [{k: v for k, v in r.items() if k != 'bbox'} for r in with_box]
    a, _ = _assert_parity(gt, with_box, 'segm')
    b, _ = _assert_parity(gt, no_box, 'segm')
    assert (a['APs'], a['APm'], a['APl']) != (b['APs'], b['APm'], b['APl'])


def test_empty_results(data):
    from lvis import LVIS, LVISResults
    gt = data['gt']
    lv = _lvis_object(LVIS, gt)
    with pytest.raises(IndexError), warnings.catch_warnings():  # why this package defines it
        warnings.simplefilter('ignore', DeprecationWarning)
        LVISResults(lv, [])
    for iou_type in ('bbox', 'segm'):
        ref, got = _assert_parity(gt, [], iou_type)
        for name in METRIC_NAMES:
            assert got[name] in (0.0, -1.0)
        assert got['AP'] == 0.0 and got['AR@300'] == 0.0
    # max_dets=0 keeps nothing: the same as no results
    assert evaluate_lvis(gt, data['bbox'], 'bbox', max_dets=0) == evaluate_lvis(gt, [], 'bbox')


def test_ground_truth_without_small_objects_gives_minus_one():
    gt = synthetic.generate_gt(6, num_categories=30, seed=4)
    for a in gt['annotations']:
        a['area'] = max(a['area'], 5000.0)  # no small ground truth
    results = synthetic.generate_results(gt, 'bbox', seed=4)
    ref, got = _assert_parity(gt, results, 'bbox')
    assert got['APs'] == -1.0 and got['ARs@300'] == -1.0


def test_bbox_iou_is_bit_identical_to_pycocotools():
    rng = np.random.default_rng(0)
    d = np.round(rng.uniform(-5, 60, (400, 4)), rng.integers(0, 4))
    g = np.round(rng.uniform(-5, 60, (30, 4)), 1)
    d[:20, 2:] = 0.0  # degenerate boxes
    g[:3] = d[:3]     # identical boxes
    ref = pycocotools_mask.iou(d.tolist(), g.tolist(), [0] * len(g))
    rows, cols = np.meshgrid(np.arange(len(d)), np.arange(len(g)), indexing='ij')
    got = fast.bbox_iou_pairs(d[rows.ravel()], g[cols.ravel()]).reshape(len(d), len(g))
    assert np.array_equal(got.view(np.int64), np.asarray(ref).view(np.int64))


def test_ground_truth_masks_match_lvis_api(data):
    from lvis import LVIS
    gt = data['gt']
    lv = _lvis_object(LVIS, gt)
    g = groundtruth.parse_gt(gt, 'segm')
    idx = np.arange(len(g.ann_id))
    mine = fast.gt_rles(g, idx)
    for i, rle in zip(idx.tolist(), mine):
        ref = lv.ann_to_rle(lv.anns[int(g.ann_id[i])])
        assert rle['counts'] == ref['counts'] and list(rle['size']) == list(ref['size'])


def test_inputs_are_not_modified(data):
    gt, res = data['gt'], data['segm'][:2000]
    gt_before, res_before = copy.deepcopy(gt), copy.deepcopy(res)
    for backend in ('fast', 'lvis'):
        evaluate_lvis(gt, res, 'segm', backend=backend)
        evaluate_lvis(gt, res, 'bbox', backend=backend)
    assert gt == gt_before and res == res_before


# ----------------------------------------------------------------------------- files and shards

def test_files_shards_and_lists_agree(data, tmp_path, monkeypatch):
    gt, res = data['gt'], data['segm']
    gt_path = synthetic.write_json(str(tmp_path / 'gt.json'), gt)
    single = str(tmp_path / 'all.json')
    with open(single, 'w') as f:
        json.dump(res, f)  # json.dump's ', ' separators, as mmdet writes them
    shards = []
    for k, part in enumerate(synthetic.split_shards(res, 3)):
        p = str(tmp_path / f'rank{k}.json')
        if k == 1:
            synthetic.write_json(p, part)       # compact separators
        else:
            with open(p, 'w') as f:
                json.dump(part, f, indent=1)    # newlines between entries
        shards.append(p)
    from_list = evaluate_lvis(gt, res, 'segm')
    assert evaluate_lvis(gt_path, single, 'segm') == from_list
    assert evaluate_lvis(gt_path, shards, 'segm') == from_list
    ref = evaluate_lvis(gt_path, shards, 'segm', backend='lvis')
    assert ref == pytest.approx(from_list, abs=TOL)
    # tiny pieces: many splits inside and between entries
    monkeypatch.setattr(jsonstream, 'CHUNK_BYTES', 777)
    assert evaluate_lvis(gt_path, shards, 'segm') == from_list


def test_chunked_reader_yields_every_entry_in_order(tmp_path):
    entries = [{'k': i, 's': 'x}, {' * (i % 3), 'n': {'a': [i, {'b': '}, {'}]}} for i in range(500)]
    path = str(tmp_path / 'r.json')
    for dump in (lambda f: json.dump(entries, f), lambda f: json.dump(entries, f, indent=2)):
        with open(path, 'w') as f:
            dump(f)
        for chunk_bytes in (1, 50, 300, 10 ** 6):
            got = [e for part in jsonstream.iter_file_entries(path, chunk_bytes) for e in part]
            assert got == entries
    with open(path, 'w') as f:
        f.write('[]')
    assert [e for part in jsonstream.iter_file_entries(path, 10) for e in part] == []


# ----------------------------------------------------------------------------- validation

def _bad_results(data):
    good = data['bbox'][:50]
    bad = [dict(r) for r in good]
    del bad[3]['score']
    del bad[4]['score']
    bad[5]['image_id'] = 999_999_999
    bad[6]['category_id'] = 5000
    bad[7]['score'] = float('nan')
    bad[8]['bbox'] = [1.0, 2.0, 3.0]
    return bad


@pytest.mark.parametrize('backend', ['fast', 'lvis'])
def test_malformed_results_are_named(data, backend):
    with pytest.raises(ResultsFormatError) as e:
        evaluate_lvis(data['gt'], _bad_results(data), 'bbox', backend=backend)
    msg = str(e.value)
    assert isinstance(e.value, ValueError)
    assert "2 of 50 entries: missing field 'score' (first: results[3])" in msg
    assert ("'image_id' not in the ground-truth images "
            "(first: results[5], image_id 999999999)") in msg
    assert "'category_id' not in the ground-truth categories (first: results[6]" in msg
    assert "'score' is NaN or infinite (first: results[7])" in msg
    assert "'bbox' is not a list of 4 finite numbers" in msg and 'results[8]' in msg


def test_malformed_results_in_files_name_the_file(data, tmp_path):
    gt = data['gt']
    good = data['bbox'][:40]
    p0, p1 = str(tmp_path / 'r0.json'), str(tmp_path / 'r1.json')
    synthetic.write_json(p0, good[:20])
    bad = [dict(r) for r in good[20:]]
    bad[4]['score'] = float('inf')
    with open(p1, 'w') as f:
        json.dump(bad, f)  # writes Infinity, which orjson rejects: the stdlib fallback reads it
    with pytest.raises(ResultsFormatError, match=r"NaN or infinite \(first: entry 4 of .*r1\.json"):
        evaluate_lvis(gt, [p0, p1], 'bbox')
    with open(p1, 'w') as f:
        json.dump({'annotations': good}, f)
    with pytest.raises(ResultsFormatError, match='must contain a JSON list'):
        evaluate_lvis(gt, p1, 'bbox')
    with open(p1, 'w') as f:
        f.write('[{"image_id": 1,')
    with pytest.raises(ResultsFormatError, match='not valid JSON'):
        evaluate_lvis(gt, p1, 'bbox', backend='lvis')
    with pytest.raises(FileNotFoundError, match='missing.json'):
        evaluate_lvis(gt, [p0, str(tmp_path / 'missing.json')], 'bbox')


def test_malformed_segm_results(data):
    gt = data['gt']
    res = [dict(r) for r in data['segm'][:30]]
    res[2]['segmentation'] = [[1, 2, 3, 4, 5, 6]]  # polygon instead of RLE
    del res[3]['segmentation']
    with pytest.raises(ResultsFormatError) as e:
        evaluate_lvis(gt, res, 'segm')
    assert "'segmentation' is not a compressed RLE" in str(e.value)
    assert "missing field 'segmentation' (first: results[3])" in str(e.value)
    mixed = [dict(r) for r in data['segm'][:30]]
    del mixed[0]['bbox']
    with pytest.raises(ResultsFormatError, match='carry a bbox'):
        evaluate_lvis(gt, mixed, 'segm', backend='lvis')


def test_numpy_values_are_accepted(data):
    res = data['bbox'][:3000]
    as_numpy = [dict(r, image_id=np.int64(r['image_id']), score=np.float32(r['score']),
                     bbox=np.asarray(r['bbox'], np.float32)) for r in res]
    plain = [dict(r, score=float(np.float32(r['score'])),
                  bbox=[float(v) for v in np.asarray(r['bbox'], np.float32)]) for r in res]
    _assert_parity(data['gt'], as_numpy, 'bbox')
    assert evaluate_lvis(data['gt'], as_numpy, 'bbox') == evaluate_lvis(data['gt'], plain, 'bbox')


def test_malformed_ground_truth(data):
    gt = copy.deepcopy(data['gt'])
    del gt['images'][2]['neg_category_ids']
    with pytest.raises(GroundTruthFormatError, match="1 images lack field 'neg_category_ids'"):
        evaluate_lvis(gt, [], 'bbox')
    gt = copy.deepcopy(data['gt'])
    gt['categories'][0]['frequency'] = 'x'
    with pytest.raises(GroundTruthFormatError, match='frequency'):
        evaluate_lvis(gt, [], 'bbox', backend='lvis')
    with pytest.raises(ValueError, match='iou_type'):
        evaluate_lvis(data['gt'], [], 'keypoints')
    with pytest.raises(ValueError, match='backend'):
        evaluate_lvis(data['gt'], [], 'bbox', backend='coco')


# ----------------------------------------------------------------------------- table and CLI

def test_format_metrics_table():
    m = {name: 0.25 for name in METRIC_NAMES}
    m['APr'] = -1.0
    table = format_metrics_table({'bbox': m, 'segm': dict(m, AP=0.5)})
    lines = table.splitlines()
    assert len(lines) == 3
    assert lines[0].split() == ['iou'] + list(METRIC_NAMES)
    assert lines[1].split()[0] == 'bbox' and lines[2].split()[:2] == ['segm', '0.5000']
    assert lines[1].split()[METRIC_NAMES.index('APr') + 1] == '-'


def test_cli_writes_json(data, tmp_path, capsys):
    from iif.cli import main
    gt_path = synthetic.write_json(str(tmp_path / 'gt.json'), data['gt'])
    synthetic.write_json(str(tmp_path / 'res.bbox.json'), data['bbox'])
    synthetic.write_json(str(tmp_path / 'res.segm.json'), data['segm'])
    out = tmp_path / 'out' / 'metrics.json'
    rc = main(['eval', '--gt', gt_path, '--dt', str(tmp_path / 'res.{iou}.json'),
               '--iou', 'bbox', '--iou', 'segm', '--out', str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert set(report['metrics']) == {'bbox', 'segm'}
    assert report['metrics']['bbox'] == evaluate_lvis(data['gt'], data['bbox'], 'bbox')
    assert report['metrics']['segm'] == evaluate_lvis(data['gt'], data['segm'], 'segm')
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split() == ['iou'] + list(METRIC_NAMES)
    assert all(math.isfinite(v) for m in report['metrics'].values() for v in m.values())


def test_evaluation_imports_no_framework():
    """iif.evaluation itself loads neither torch, mmdet, mmcv nor lvis-api / pycocotools.

    ``iif/__init__.py`` is left out here (its own import test covers it), so that this checks the
    evaluation package's imports whatever the parent package does.
    """
    code = textwrap.dedent(f"""
        import sys, types
        pkg = types.ModuleType('iif'); pkg.__path__ = [{os.path.join(ROOT, 'iif')!r}]
        sys.modules['iif'] = pkg
        import iif.evaluation
        from iif.evaluation import evaluate_lvis_iou_types
        print(sorted(m for m in sys.modules
                     if m.split('.')[0] in ('torch', 'mmdet', 'mmcv', 'lvis', 'pycocotools')))
        """)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '[]', out.stdout


def test_iou_types_in_parallel_match_lvis_api(data, tmp_path):
    """bbox and segm evaluated at once in two processes: lvis-api's numbers, per IoU type."""
    from iif.evaluation import evaluate_lvis_iou_types
    gt_path = synthetic.write_json(str(tmp_path / 'gt.json'), data['gt'])
    files = {iou: synthetic.write_json(str(tmp_path / f'res.{iou}.json'), data[iou])
             for iou in ('segm', 'bbox')}
    together = evaluate_lvis_iou_types(gt_path, files, processes=2)
    assert list(together) == ['segm', 'bbox']  # the caller's order
    in_memory = evaluate_lvis_iou_types(data['gt'], {k: data[k] for k in ('bbox', 'segm')})
    for iou in ('bbox', 'segm'):
        ref = evaluate_lvis(data['gt'], data[iou], iou, backend='lvis')
        assert _max_diff(ref, together[iou]) <= TOL
        assert together[iou] == in_memory[iou] == evaluate_lvis(gt_path, files[iou], iou)
    assert evaluate_lvis_iou_types(gt_path, files, processes=1) == together
    with pytest.raises(ValueError, match='processes must be'):
        evaluate_lvis_iou_types(gt_path, files, processes=0)


def test_iou_types_in_parallel_report_a_worker_input_error(data, tmp_path):
    """An input error found in the worker process reaches the caller with its class and text."""
    from iif.evaluation import evaluate_lvis_iou_types
    bad = copy.deepcopy(data['segm'][:50])
    bad[7]['score'] = 'high'
    gt_path = synthetic.write_json(str(tmp_path / 'gt.json'), data['gt'])
    files = {'bbox': synthetic.write_json(str(tmp_path / 'b.json'), data['bbox']),
             'segm': synthetic.write_json(str(tmp_path / 's.json'), bad)}
    with pytest.raises(ResultsFormatError, match=r"(?s)invalid segm results.*entry 7 of .*s\.json"):
        evaluate_lvis_iou_types(gt_path, files, processes=2)
    with pytest.raises(ResultsFormatError, match='invalid segm results'):  # segm first: here
        evaluate_lvis_iou_types(gt_path, {'segm': files['segm'], 'bbox': files['bbox']})
    with pytest.raises(FileNotFoundError, match='gone.json'):  # before any work
        evaluate_lvis_iou_types(gt_path, {'bbox': files['bbox'],
                                          'segm': str(tmp_path / 'gone.json')})


def test_cli_missing_file_fails_clearly(data, tmp_path, capsys):
    from iif.cli import main
    gt_path = synthetic.write_json(str(tmp_path / 'gt.json'), data['gt'])
    rc = main(['eval', '--gt', gt_path, '--dt', str(tmp_path / 'nope.json'), '--iou', 'bbox'])
    err = capsys.readouterr().err
    assert rc != 0
    assert 'results file not found' in err and 'nope.json' in err
    rc = main(['eval', '--gt', str(tmp_path / 'nogt.json'), '--dt', gt_path])
    assert rc != 0 and 'nogt.json' in capsys.readouterr().err


# ----------------------------------------------------------------------------- hostile input

def _dump_nan(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f)  # writes NaN / Infinity, as a user's script would
    return str(path)


@pytest.mark.parametrize('backend', ['fast', 'lvis'])
def test_non_finite_ground_truth_is_rejected(data, tmp_path, backend):
    """NaN in a ground-truth bbox used to be accepted and change AP; now it names the annotation."""
    res = data['bbox'][:3000]
    gt = copy.deepcopy(data['gt'])
    ann = gt['annotations'][7]
    ann['bbox'][2] = float('nan')
    path = _dump_nan(tmp_path / 'gt.json', gt)
    with pytest.raises(GroundTruthFormatError) as e:
        evaluate_lvis(path, res, 'bbox', backend=backend)
    assert f"NaN or infinity in 'bbox' (first: annotation id {ann['id']}" in str(e.value)
    assert isinstance(e.value, ValueError)

    gt = copy.deepcopy(data['gt'])
    gt['annotations'][3]['area'] = float('inf')
    gt['annotations'][9]['area'] = float('nan')
    with pytest.raises(GroundTruthFormatError,
                       match=r"2 annotations have NaN or infinity in 'area' \(first: annotation "
                             rf"id {gt['annotations'][3]['id']}, area inf\)"):
        evaluate_lvis(_dump_nan(tmp_path / 'gt.json', gt), res, 'bbox', backend=backend)

    gt = copy.deepcopy(data['gt'])
    ann = gt['annotations'][5]
    ann['segmentation'][0][3] = float('-inf')
    with pytest.raises(GroundTruthFormatError,
                       match=rf"annotation id {ann['id']}: 'segmentation' polygon holds NaN"):
        evaluate_lvis(_dump_nan(tmp_path / 'gt.json', gt), data['segm'][:500], 'segm',
                      backend=backend)
    ann['segmentation'][0][3] = 'x'
    with pytest.raises(GroundTruthFormatError,
                       match=rf"annotation id {ann['id']}: 'segmentation' must be a list of poly"):
        evaluate_lvis(gt, data['segm'][:500], 'segm', backend=backend)


def _runs_of(mask: np.ndarray) -> list:
    """Run lengths of a mask read column by column, background first (the RLE definition)."""
    flat = mask.reshape(-1, order='F').astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    edges = np.r_[0, change, flat.size]
    runs = np.diff(edges).tolist()
    if flat.size and flat[0] == 1:
        runs = [0] + runs
    return runs


def test_rle_decoder_reads_what_pycocotools_writes():
    rng = np.random.default_rng(0)
    masks, strings, areas = [], [], []
    for i in range(300):
        h, w = int(rng.integers(1, 90)), int(rng.integers(1, 90))
        kind = i % 4
        if kind == 0:    # noise: many short runs, negative deltas
            m = rng.random((h, w)) < rng.uniform(0.05, 0.95)
        elif kind == 1:  # one rectangle: long runs
            m = np.zeros((h, w), bool)
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            m[y0:rng.integers(y0, h + 1), x0:rng.integers(x0, w + 1)] = True
        elif kind == 2:  # empty or full
            m = np.full((h, w), bool(i % 8 == 2))
        else:            # large image, small blob: runs needing several characters
            h, w = 2000, 3000
            m = np.zeros((h, w), bool)
            m[1500:1530, 100:2900:3] = True
        enc = pycocotools_mask.encode(np.asfortranarray(m.astype(np.uint8)))
        masks.append(m)
        strings.append(enc['counts'])
        areas.append(h * w)
        runs = rle_format.decode_counts(enc['counts'])
        assert runs == _runs_of(m)
        assert sum(runs) == h * w and sum(runs[1::2]) == int(m.sum())
    # as str (JSON) and bytes (pycocotools), all at once
    mixed = [s.decode('ascii') if i % 2 else s for i, s in enumerate(strings)]
    problem, total = rle_format.check_counts(mixed, np.array(areas))
    assert (problem == rle_format.OK).all() and total.tolist() == areas
    assert max(map(len, strings)) > 1000


def test_rle_check_rejects_what_pycocotools_would_misread():
    rng = np.random.default_rng(1)
    good = []
    for _ in range(200):
        h, w = int(rng.integers(2, 60)), int(rng.integers(2, 60))
        m = np.asfortranarray((rng.random((h, w)) < 0.3).astype(np.uint8))
        good.append((pycocotools_mask.encode(m)['counts'].decode('ascii'), h * w))
    cases = []
    for s, area in good:
        i = int(rng.integers(len(s)))
        cases.append((s[:i] + chr(int(rng.integers(32, 127))) + s[i + 1:], area))  # one char
        cases.append((s[:-1], area))                                            # truncated
        cases.append((s, area + 1))                                             # wrong size
    problem, total = rle_format.check_counts([c for c, _ in cases], np.array([a for _, a in cases]))
    for (s, area), code, tot in zip(cases, problem.tolist(), total.tolist()):
        try:
            runs = rle_format.decode_counts(s)
        except rle_format.RLEStringError:
            assert code != rle_format.OK, s
            continue
        assert code == (rle_format.OK if sum(runs) == area else rle_format.WRONG_TOTAL), (s, area)
        assert tot == sum(runs)
    assert (problem[2::3] == rle_format.WRONG_TOTAL).all()
    R = rle_format
    assert {R.BAD_CHARACTER, R.TRUNCATED, R.BAD_RUN} <= set(problem.tolist())
    for bad, code in [('0\x00', R.BAD_CHARACTER), ('é0', R.BAD_CHARACTER), ('P', R.TRUNCATED),
                      ('PPPPPP1', R.RUN_TOO_LONG), ('@', R.BAD_RUN)]:
        assert rle_format.check_counts([bad], np.array([4]))[0][0] == code, bad
        with pytest.raises(rle_format.RLEStringError) as e:
            rle_format.decode_counts(bad)
        assert e.value.code == code
    assert rle_format.decode_counts('') == []
    assert rle_format.check_counts([''], np.array([4]))[0][0] == rle_format.WRONG_TOTAL


HOSTILE_CHILD = textwrap.dedent('''
    import json, sys
    from iif.evaluation import GroundTruthFormatError, ResultsFormatError, evaluate_lvis
    gt, dt, iou, backend = sys.argv[1:5]
    try:
        evaluate_lvis(gt, dt, iou, backend=backend)
    except (GroundTruthFormatError, ResultsFormatError) as e:
        print(type(e).__name__, e)
        sys.exit(3)
    print('evaluated')
''')


def _short_rle(counts: str, h: int, w: int) -> str:
    """A well-formed compressed RLE whose runs stop short of h * w (the last two dropped)."""
    runs = rle_format.decode_counts(counts)[:-2]
    return pycocotools_mask.frPyObjects({'counts': runs, 'size': [h, w]}, h, w)['counts'].decode()


@pytest.mark.parametrize('backend', ['fast', 'lvis'])
def test_corrupt_rle_strings_fail_clearly_instead_of_hanging(data, tmp_path, backend):
    """pycocotools loops forever on RLE runs that stop short; both inputs are checked first."""
    gt = data['gt']
    hw = {img['id']: (img['height'], img['width']) for img in gt['images']}
    ann = gt['annotations'][0]
    h, w = hw[ann['image_id']]
    mask = pycocotools_mask.merge(pycocotools_mask.frPyObjects(ann['segmentation'], h, w))
    mask['counts'] = mask['counts'].decode()
    # a detection that is an exact copy of that ground truth, then the same with a short mask
    exact = {'image_id': ann['image_id'], 'category_id': ann['category_id'], 'score': 0.99,
             'bbox': ann['bbox'], 'segmentation': mask}
    short = copy.deepcopy(exact)
    short['segmentation']['counts'] = _short_rle(mask['counts'], h, w)
    res = data['segm'][:400]
    gt_path = synthetic.write_json(str(tmp_path / 'gt.json'), gt)
    dt_path = synthetic.write_json(str(tmp_path / 'dt.json'), res[:123] + [short] + res[123:])
    good_path = synthetic.write_json(str(tmp_path / 'good.json'), [exact] + res)
    # ground truth given as compressed RLE, the same annotation short
    gt_rle = copy.deepcopy(gt)
    gt_rle['annotations'][0]['segmentation'] = short['segmentation']
    gt_rle_path = synthetic.write_json(str(tmp_path / 'gt_rle.json'), gt_rle)

    def run(gt_file, dt_file):
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
        try:
            p = subprocess.run([sys.executable, '-c', HOSTILE_CHILD, gt_file, dt_file, 'segm',
                                backend], capture_output=True, text=True, timeout=120, env=env)
        except subprocess.TimeoutExpired:
            pytest.fail(f'evaluation of {os.path.basename(dt_file)} against '
                        f'{os.path.basename(gt_file)} hung (killed after 120 s)')
        return p.returncode, p.stdout + p.stderr

    rc, out = run(gt_path, good_path)
    assert rc == 0 and 'evaluated' in out, out
    rc, out = run(gt_path, dt_path)
    assert rc == 3, out
    assert out.startswith('ResultsFormatError'), out
    assert ("1 of 401 entries: 'segmentation' counts is not a valid compressed RLE: decoded run "
            "lengths that do not sum to height x width (first: entry 123 of") in out
    assert f'size [{h}, {w}] needs {h * w}' in out
    rc, out = run(gt_rle_path, good_path)
    assert rc == 3, out
    assert out.startswith('GroundTruthFormatError'), out
    assert f"first: annotation id {ann['id']}: decoded run lengths that do not sum" in out


def test_dense_images_bound_box_iou_memory(monkeypatch):
    """60 objects of one category and 300 detections of it per image: every detection pairs with
    60 ground truths. The box-IoU and matching steps work through blocks of pairs, so the peak
    memory does not grow with the number of pairs in a chunk; the numbers stay lvis-api's."""
    gt = synthetic.generate_dense_gt(60, num_categories=10, seed=3)
    res = [r for part in synthetic.iter_dense_results(gt, 'bbox', seed=3) for r in part]
    pairs = len(res) * 60
    assert pairs == 60 * 300 * 60
    ref, got = _assert_parity(gt, res, 'bbox')
    assert 0.05 < got['AP'] < 0.95
    g = groundtruth.parse_gt(gt, 'bbox')

    def peak_bytes(block):
        monkeypatch.setattr(fast, 'PAIR_BLOCK', block)
        tracemalloc.start()
        try:
            metrics = fast.evaluate(g, res, 'bbox', 300)
            return tracemalloc.get_traced_memory()[1], metrics
        finally:
            tracemalloc.stop()

    small, m_small = peak_bytes(20_000)
    large, m_large = peak_bytes(pairs * 2)  # one block: all pairs at once, the old behaviour
    assert m_small == m_large == got
    # all pairs at once holds ~150 bytes a pair; blocks keep ~8 (the IoU values) plus a block
    assert large > 100 * pairs
    assert small < 25 * pairs, (small, large)


# ----------------------------------------------------------------------------- byte-level scan

def _scan_reference(body: bytes):
    """What the general path makes of a piece: orjson's dicts through _fast_columns."""
    import orjson
    try:
        entries = orjson.loads(b'[' + body + b']')
    except orjson.JSONDecodeError:
        return 'invalid JSON'
    return results_module._fast_columns(entries, 'segm')


def _same_columns(got, ref) -> bool:
    for k in range(5):
        if (got[k] is None) != (ref[k] is None):
            return False
        if got[k] is not None and not (got[k].dtype == ref[k].dtype
                                       and np.array_equal(got[k], ref[k])):
            return False
    return ([c.decode() for c in got[5]] == list(ref[5])) and got[6] == ref[6]


def _writers(res):
    mmdet_order = [{'image_id': r['image_id'], 'bbox': r['bbox'], 'score': r['score'],
                    'category_id': r['category_id'], 'segmentation': r['segmentation']}
                   for r in res]
    no_bbox = [{k: v for k, v in r.items() if k != 'bbox'} for r in res]
    return {'json.dump': json.dumps(res).encode(),
            'mmdet key order': json.dumps(mmdet_order).encode(),
            'compact': json.dumps(res, separators=(',', ':')).encode(),
            'indent': json.dumps(res, indent=2).encode(),
            'no bbox': json.dumps(no_bbox).encode()}


def test_segm_scan_reads_what_orjson_reads(data):
    """The scan applies to the usual writers' shapes and gives the general path's columns."""
    from iif.evaluation import scan
    res = data['segm'][:300]
    for name, text in _writers(res).items():
        body = text.strip()[1:-1]
        got = scan.segm_columns(body)
        assert got is not None, f'the scan did not apply to the {name} shape'
        assert _same_columns(got, _scan_reference(body)), name


def test_segm_scan_falls_back_on_anything_unusual(data):
    """Every variant either scans to the general path's columns or is left to it (None);
    the scan never accepts what orjson rejects."""
    from iif.evaluation import scan
    res = copy.deepcopy(data['segm'][:40])
    backslash = next(i for i, r in enumerate(res) if '\\' in r['segmentation']['counts'])
    base = json.dumps(res).encode()[1:-1]
    first = json.dumps(res[0]).encode()
    second = json.dumps(res[1]).encode()
    sub = {
        'score true': (b'"score": ', b'"score": true, "x": '),
        'nan score': (b'"score": ', b'"score": NaN, "s": '),
        'float id': (b'"image_id": ', b'"image_id": 1.0, "i": '),
        'leading zero': (b'"category_id": ', b'"category_id": 01, "c": '),
        'plus sign': (b'"score": ', b'"score": +'),
        'bare point': (b'"score": ', b'"score": .'),
        'nested score': (b'"score": ', b'"score": [1], "t": '),
        'extra key': (b'"score": ', b'"area": 3, "score": '),
        'big id': (b'"image_id": ', b'"image_id": 99999999999999999999, "j": '),
        'uescape': (b'"counts": "', b'"counts": "\\u0041'),
        'control char': (b'"counts": "', b'"counts": "\x01'),
        'odd escape': (b'"counts": "', b'"counts": "\\q'),
        'value spaces': (b'"score": ', b'"score":  '),
        'structure spaces': (b'"segmentation": {', b'"segmentation":{'),
    }
    variants = {}
    for name, (old, new) in sub.items():
        variants[name] = base.replace(second, second.replace(old, new, 1), 1)
    # a box with 3 numbers next to one with 5: same total, wrong per entry
    b0, b1 = json.dumps(res[0]['bbox']).encode(), json.dumps(res[1]['bbox']).encode()
    variants['3 and 5 numbers'] = (base.replace(b0, b0[:-1] + b', 1.0]', 1)
                                   .replace(b1, b1[:b1.rindex(b',')] + b']', 1))
    variants['lone backslash'] = base.replace(first, first.replace(b'"}}', b'\\"}}'), 1)
    variants['duplicate key'] = base.replace(first, first.replace(b'"score"', b'"image_id"'), 1)
    variants['one entry'] = first
    variants['trailing comma'] = base + b','
    for name, body in variants.items():
        got, ref = scan.segm_columns(body), _scan_reference(body)
        if got is not None:
            assert ref is not None and ref != 'invalid JSON', name
            assert _same_columns(got, ref), name
    # escaped backslashes in RLE strings are common and must be read, not left to orjson
    assert b'\\\\' in base
    got = scan.segm_columns(base)
    assert got is not None
    assert got[5][backslash].decode() == res[backslash]['segmentation']['counts']
    assert scan.segm_columns(variants['uescape']) is not None  # decoded by orjson: 'A'
    assert scan.segm_columns(variants['value spaces']) is not None  # JSON whitespace in a value
    assert scan.segm_columns(variants['structure spaces']) is None  # the shape differs by entry
    assert scan.segm_columns(variants['3 and 5 numbers']) is None


def test_scanned_rle_strings_copy_out_as_decoded_json_strings(data):
    """The scan keeps RLE strings as offsets into the piece; copying some out (what the
    evaluator keeps and checks) gives the JSON-decoded strings, escaped backslashes undone, in
    the order asked, and the RLE check reads the buffer as it reads a list of strings."""
    from iif.evaluation import scan
    res = data['segm'][:400]
    body = json.dumps(res).encode()[1:-1]
    assert body.count(b'\\\\') > 50  # many strings hold an escaped backslash
    cols = scan.segm_columns(body)
    strings = cols[5]
    assert isinstance(strings, rle_format.RLEStrings)
    want = [r['segmentation']['counts'].encode() for r in res]
    rng = np.random.default_rng(3)
    idx = rng.permutation(len(res))[:150]
    kept = strings.take(idx)
    assert kept.tolist() == [want[i] for i in idx.tolist()]
    assert len(kept.data) == sum(len(want[i]) for i in idx.tolist())  # contiguous copy
    order = rng.permutation(idx.size)
    assert kept.reordered(order).tolist() == [want[i] for i in idx[order].tolist()]
    both = rle_format.RLEStrings.concat([kept, strings.take(idx[:5])])
    assert both.tolist() == [want[i] for i in idx.tolist() + idx[:5].tolist()]
    areas = cols[4][:, 0] * cols[4][:, 1]
    got = rle_format.check_counts(kept.reordered(order), areas[idx[order]])
    ref = rle_format.check_counts([want[i] for i in idx[order].tolist()], areas[idx[order]])
    assert (got[0] == rle_format.OK).all() and np.array_equal(got[1], ref[1])
    # a corrupt string is found in the buffer as in a list
    bad = [want[0][:-1], want[1]]
    got = rle_format.check_counts(rle_format.RLEStrings.from_strings(bad), areas[:2])
    assert got[0].tolist() == rle_format.check_counts(bad, areas[:2])[0].tolist()
    assert got[0][0] != rle_format.OK


def test_segm_scan_numbers_in_every_json_form(data):
    """Scores and boxes written as integers, exponents, -0 or long decimals, and ids near the
    int64 limit, are read by the scan exactly as the general path reads them."""
    from iif.evaluation import scan
    res = copy.deepcopy(data['segm'][:60])
    forms = [0, -0.0, 1e-05, 2.5e+300, 7, 0.30000000000000004, 123456789.123456789, 1.0]
    for k, r in enumerate(res):
        r['score'] = forms[k % len(forms)]
        r['bbox'] = [forms[(k + j) % len(forms)] for j in range(4)]
    res[3]['image_id'] = 2 ** 63 - 1
    body = json.dumps(res).encode()[1:-1].replace(b'"score": 0,', b'"score": -0,', 1)
    got, ref = scan.segm_columns(body), _scan_reference(body)
    assert got is not None and _same_columns(got, ref)
    assert got[0][3] == 2 ** 63 - 1 and got[2][2] == 1e-05
    # an integer past int64 or a decimal where an integer belongs: left to the general path
    for bad in (b'"image_id": 9223372036854775808', b'"image_id": 1.5'):
        variant = body.replace(b'"image_id": 9223372036854775807', bad, 1)
        assert scan.segm_columns(variant) is None, bad


def test_scanned_files_evaluate_like_lvis_api(data, tmp_path, monkeypatch):
    """Files in the scanned shapes (also split into tiny pieces) give lvis-api's numbers, and
    the fast backend really read them through the scan."""
    from iif.evaluation import scan
    gt, res = data['gt'], data['segm']
    gt_path = synthetic.write_json(str(tmp_path / 'gt.json'), gt)
    calls = Counter()
    real = scan.segm_columns

    def counting(body):
        out = real(body)
        calls['scanned' if out is not None else 'general'] += 1
        return out
    monkeypatch.setattr(fast, 'segm_columns', counting)
    ref = None
    for name, text in _writers(res).items():
        path = str(tmp_path / f'{name}.json')
        with open(path, 'wb') as f:
            f.write(text)
        if ref is None or name == 'no bbox':
            ref = evaluate_lvis(gt_path, path, 'segm', backend='lvis')
        for chunk_bytes in (jsonstream.CHUNK_BYTES, 5000):
            monkeypatch.setattr(jsonstream, 'CHUNK_BYTES', chunk_bytes)
            calls.clear()
            got = evaluate_lvis(gt_path, path, 'segm')
            assert calls['scanned'] > 0 and calls['general'] <= 1, (name, calls)
            assert _max_diff(ref, got) <= TOL, name

"""LVIS evaluator: parity with lvis-api 0.5.3, input handling, validation and the `iif eval` CLI.

Data come from iif.evaluation.synthetic (deterministic, LVIS-shaped, small).
"""
from __future__ import annotations

import copy
import json
import logging
import math
import warnings
from collections import Counter

import lvis  # noqa: F401  (pinned: the parity tests need lvis-api; missing it is a failure)
import numpy as np
import pycocotools.mask as pycocotools_mask
import pytest

from iif.evaluation import (METRIC_NAMES, GroundTruthFormatError, ResultsFormatError,
                            evaluate_lvis, format_metrics_table)
from iif.evaluation import fast, inputs, synthetic

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
    g = inputs.parse_gt(gt, 'segm')
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
    monkeypatch.setattr(inputs, 'CHUNK_BYTES', 777)
    assert evaluate_lvis(gt_path, shards, 'segm') == from_list


def test_chunked_reader_yields_every_entry_in_order(tmp_path):
    entries = [{'k': i, 's': 'x}, {' * (i % 3), 'n': {'a': [i, {'b': '}, {'}]}} for i in range(500)]
    path = str(tmp_path / 'r.json')
    for dump in (lambda f: json.dump(entries, f), lambda f: json.dump(entries, f, indent=2)):
        with open(path, 'w') as f:
            dump(f)
        for chunk_bytes in (1, 50, 300, 10 ** 6):
            got = [e for part in inputs.iter_file_entries(path, chunk_bytes) for e in part]
            assert got == entries
    with open(path, 'w') as f:
        f.write('[]')
    assert [e for part in inputs.iter_file_entries(path, 10) for e in part] == []


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


def test_cli_missing_file_fails_clearly(data, tmp_path, capsys):
    from iif.cli import main
    gt_path = synthetic.write_json(str(tmp_path / 'gt.json'), data['gt'])
    rc = main(['eval', '--gt', gt_path, '--dt', str(tmp_path / 'nope.json'), '--iou', 'bbox'])
    err = capsys.readouterr().err
    assert rc != 0
    assert 'results file not found' in err and 'nope.json' in err
    rc = main(['eval', '--gt', str(tmp_path / 'nogt.json'), '--dt', gt_path])
    assert rc != 0 and 'nogt.json' in capsys.readouterr().err

"""The fast LVIS evaluator in two processes (reading and evaluation split with a forked helper):
the one-process numbers and errors, clear failures, no helper left behind.

Data come from benchmarks/lvis_workload.py (deterministic, LVIS-shaped, small); result files are
read in small pieces so that both processes read many of them.
"""
from __future__ import annotations

import copy
import json
import os
import signal
import sys
import time
from collections import Counter

import numpy as np
import pytest

from iif.evaluation import (GroundTruthFormatError, ResultsFormatError, WorkerFailed,
                            evaluate_lvis, evaluate_lvis_iou_types)
from iif.evaluation import fast, groundtruth, jsonstream
from iif.evaluation.api import process_plan

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))  # the workload generator is not library code
import lvis_workload as synthetic  # noqa: E402

PIECE_BYTES = 6000  # ~25 segm results a piece


# Children of the test process that were there before the test started: in the full suite an
# earlier test may leave a long-lived child of its own (seen in the image: one such process), and
# only the evaluator's helpers are this file's business.
_CHILDREN_BEFORE: set = set()


@pytest.fixture(autouse=True)
def _note_children_before():
    _CHILDREN_BEFORE.clear()
    _CHILDREN_BEFORE.update(_all_children())
    yield


def _children() -> list:
    """Children of this process started during the test (running or not yet reaped)."""
    return [pid for pid in _all_children() if pid not in _CHILDREN_BEFORE]


def _all_children() -> list:
    """Processes whose parent is this one (running or not yet reaped)."""
    me, out = os.getpid(), []
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                with open(f'/proc/{name}/stat') as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(')', 1)[1].split()[1]) == me:
                out.append(int(name))
    return out


@pytest.fixture(scope='module')
def workload(tmp_path_factory):
    """Ground truth and results with score ties, images over 300 detections, duplicates."""
    d = tmp_path_factory.mktemp('two_processes')
    gt = synthetic.generate_gt(40, seed=7)
    res = {'bbox': synthetic.generate_results(gt, 'bbox', seed=7),
           'segm': synthetic.generate_results(gt, 'segm', seed=7)}
    rng = np.random.default_rng(7)
    for rs in res.values():  # more ties, also across images
        for i in rng.choice(len(rs), len(rs) // 10, replace=False):
            rs[i]['score'] = 0.5
    res['segm_no_bbox'] = [{k: v for k, v in r.items() if k != 'bbox'} for r in res['segm']]
    per_image = Counter(r['image_id'] for r in res['bbox'])
    assert max(per_image.values()) > 300
    return {'dir': d, 'gt': gt, 'gt_path': synthetic.write_json(str(d / 'gt.json'), gt), **res}


def _write_shards(d, name: str, results: list) -> list:
    """Four shards in four writers' shapes; the last one has an extra key in every entry, a
    shape the segm scanner leaves to orjson."""
    paths = []
    for k, part in enumerate(synthetic.split_shards(results, 4)):
        p = str(d / f'{name}.rank{k}.json')
        with open(p, 'w') as f:
            if k == 0:
                json.dump(part, f)                              # mmdet's ', ' separators
            elif k == 1:
                json.dump(part, f, separators=(',', ':'))       # compact
            elif k == 2:
                json.dump(part, f, indent=1)                    # one line per value
            else:
                json.dump([dict(r, extra=k) for r in part], f)  # not the scanner's shape
        paths.append(p)
    return paths


class _Spy:
    """Counts, in this process, what the reading did: two processes or one, scan or orjson."""

    def __init__(self, monkeypatch):
        self.calls = Counter()
        two, scan = fast._read_in_two_processes, fast.segm_columns

        def two_processes(*a, **k):
            out = two(*a, **k)
            self.calls['two processes' if out is not None else 'fell back'] += 1
            return out

        def scanner(body):
            out = scan(body)
            self.calls['scanned' if out is not None else 'orjson'] += 1
            return out
        monkeypatch.setattr(fast, '_read_in_two_processes', two_processes)
        monkeypatch.setattr(fast, 'segm_columns', scanner)


@pytest.mark.parametrize('kind', ['segm', 'segm_no_bbox', 'bbox'])
def test_two_processes_give_the_one_process_numbers(workload, kind, monkeypatch):
    iou = kind[:4]
    monkeypatch.setattr(jsonstream, 'CHUNK_BYTES', PIECE_BYTES)
    shards = _write_shards(workload['dir'], kind, workload[kind])
    pieces = [sum(1 for _ in jsonstream.iter_file_entries(p)) for p in shards]
    assert min(pieces) >= 8, pieces  # many pieces of both parities in every shard
    spy = _Spy(monkeypatch)
    gt = workload['gt_path']
    for max_dets in (20, 300):  # 20: many images over the limit, across pieces of both readers
        one = evaluate_lvis(gt, shards, iou, max_dets=max_dets, processes=1)
        assert spy.calls['two processes'] == 0
        two = evaluate_lvis(gt, shards, iou, max_dets=max_dets, processes=2)
        assert spy.calls['two processes'] == 1 and spy.calls['fell back'] == 0
        if iou == 'segm':  # pieces of both kinds (this process's count)
            assert spy.calls['scanned'] > 0 and spy.calls['orjson'] > 0, spy.calls
        spy.calls.clear()
        assert two == one  # exactly
        assert two == evaluate_lvis(gt, shards, iou, max_dets=max_dets, backend='lvis')
    # in-memory results: read here, evaluated in two processes
    assert evaluate_lvis(workload['gt'], workload[kind], iou, processes=2) == one
    # many small category chunks on both sides of the split
    monkeypatch.setattr(fast, 'CHUNK_DETS', 500)
    assert evaluate_lvis(gt, shards, iou, processes=2) == one


def _piece_of_each_entry(path: str) -> list:
    return [k for k, part in enumerate(jsonstream.iter_file_entries(path)) for _ in part]


def _piece_of(path: str, entry: int) -> int:
    """The piece (of the two-process reading) that holds results[entry]; the first piece that is
    not valid JSON on its own for any entry from there on."""
    seen = 0
    pieces = jsonstream.iter_file_entries(path, only=lambda k: True)
    try:
        for k, part in enumerate(pieces):
            seen += len(part)
            if entry < seen:
                return k
    except jsonstream.WholeFileNeeded:  # this piece is not valid JSON on its own
        return k + 1
    raise AssertionError(f'no entry {entry}')


def _errors(call) -> tuple:
    with pytest.raises(Exception) as e:
        call()
    return type(e.value), str(e.value)


def _break(entry: dict, problem: str, gt: dict) -> None:
    if problem == 'score':
        entry['score'] = 'high'
    elif problem == 'image_id':
        entry['image_id'] = 10 ** 9
    elif problem == 'rle':
        entry['segmentation']['counts'] = entry['segmentation']['counts'][:-1]
        entry['category_id'] = next(  # paired with ground truth, so its mask is checked
            a['category_id'] for a in gt['annotations'] if a['image_id'] == entry['image_id'])
    else:
        entry['score'] = float('nan')  # json.dump writes NaN, which orjson rejects


@pytest.mark.parametrize('problem', ['score', 'image_id', 'rle', 'nan'])
def test_input_errors_are_the_one_process_errors(workload, tmp_path, problem, monkeypatch):
    """A bad entry in a piece that the helper reads (odd number), in one that this process reads,
    or both, gives the one-process path's error class and message; so does a piece that needs
    the whole file parsed (NaN)."""
    monkeypatch.setattr(jsonstream, 'CHUNK_BYTES', PIECE_BYTES)
    res = workload['segm'][:2000]
    path = str(tmp_path / 'r.json')
    with open(path, 'w') as f:
        json.dump(res, f)
    piece = _piece_of_each_entry(path)
    helper_entry = piece.index(5) + 4
    mine_entry = piece.index(10) + 4
    spy = _Spy(monkeypatch)
    last_entry = len(res) - 2  # in the last piece: no piece after it to stop the reading
    for bad, parities in (([helper_entry], [1]), ([mine_entry], [0]),
                          ([helper_entry, mine_entry], [1, 0]), ([last_entry], [piece[-1] % 2])):
        broken = copy.deepcopy(res)
        for i in bad:
            _break(broken[i], problem, workload['gt'])
        with open(path, 'w') as f:
            json.dump(broken, f)
        known = len(bad) if problem != 'nan' else 1  # _piece_of stops at an invalid piece
        assert [_piece_of(path, i) % 2 for i in bad[:known]] == parities[:known]
        one = _errors(lambda: evaluate_lvis(workload['gt_path'], path, 'segm', processes=1))
        two = _errors(lambda: evaluate_lvis(workload['gt_path'], path, 'segm', processes=2))
        assert one[0] is ResultsFormatError and f'entry {min(bad)} of' in one[1], one
        assert two == one
        assert spy.calls['fell back'] == 1 and spy.calls['two processes'] == 0
        spy.calls.clear()
    assert _children() == []


def test_ground_truth_error_during_evaluation_is_the_one_process_error(workload):
    """Ground truth that cannot be rasterised fails during the evaluation (as in lvis-api); with
    the categories split between two processes the error is the one-process path's, whether
    the helper's categories or both processes' have such an annotation."""
    gt = copy.deepcopy(workload['gt'])
    res = workload['segm']
    g = groundtruth.parse_gt(gt, 'segm')
    dets = fast.load_detections(g, res, 'segm', 300)
    split = fast._Evaluator(g, dets, 'segm')._split_point()
    pairs = {(r['image_id'], r['category_id']) for r in res}
    anns = [a for a in gt['annotations'] if (a['image_id'], a['category_id']) in pairs]
    cat_idx, _ = g.category_index(np.array([a['category_id'] for a in anns]))
    helper_ann = anns[int(np.flatnonzero(cat_idx >= split)[-1])]
    mine_ann = anns[int(np.flatnonzero(cat_idx < split)[0])]
    for ann in (helper_ann, mine_ann):
        ann['segmentation'] = [[1.0, 2.0, 3.0]]   # 3 numbers: pycocotools cannot read it
        one = _errors(lambda: evaluate_lvis(gt, res, 'segm', processes=1))
        two = _errors(lambda: evaluate_lvis(gt, res, 'segm', processes=2))
        assert one[0] is GroundTruthFormatError, one
        assert f"annotation id {ann['id']}: cannot rasterise" in one[1], one
        assert two == one
    assert _children() == []


@pytest.mark.parametrize('step', ['reading', 'evaluating'])
def test_a_killed_helper_is_a_clear_error(workload, step, monkeypatch):
    monkeypatch.setattr(jsonstream, 'CHUNK_BYTES', PIECE_BYTES)
    path = synthetic.write_json(str(workload['dir'] / 'kill.json'), workload['segm'])
    if step == 'reading':
        real = fast._read_share

        def read_share(*args):
            if args[-1] == 1:  # the helper's share
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args)
        monkeypatch.setattr(fast, '_read_share', read_share)
    else:
        def curves_of(self, c0, c1):
            os.kill(os.getpid(), signal.SIGKILL)
        monkeypatch.setattr(fast._Evaluator, '_curves_of', curves_of)
    with pytest.raises(WorkerFailed, match=rf'helper process {step} .*ended without a result '
                                           r'\(killed by signal 9 \(SIGKILL\)'):
        evaluate_lvis(workload['gt_path'], path, 'segm', processes=2)
    assert _children() == []


def test_the_helper_is_stopped_when_this_process_fails(workload, tmp_path, monkeypatch):
    real = fast._Evaluator.run
    parent = os.getpid()
    finished = tmp_path / 'helper finished'

    def run(self, *args):
        if os.getpid() == parent:
            raise KeyboardInterrupt  # not an evaluation error: nothing is retried
        time.sleep(10)
        real(self, *args)
        finished.touch()
    monkeypatch.setattr(fast._Evaluator, 'run', run)
    t = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        evaluate_lvis(workload['gt'], workload['segm'], 'segm', processes=2)
    assert time.perf_counter() - t < 8  # not waiting for the helper's work
    assert _children() == []
    time.sleep(0.5)
    assert not finished.exists()


def test_iou_types_with_a_second_process_for_segm(workload, tmp_path):
    """bbox and segm side by side, segm itself in two processes (3 in all, the default on 2+
    CPUs): the numbers of one process, and an input error of either type raised as it is."""
    files = {iou: synthetic.write_json(str(tmp_path / f'{iou}.json'), workload[iou])
             for iou in ('bbox', 'segm')}
    one = evaluate_lvis_iou_types(workload['gt_path'], files, processes=1)
    assert evaluate_lvis_iou_types(workload['gt_path'], files, processes=3) == one
    assert evaluate_lvis_iou_types(workload['gt_path'], files, processes=4) == one
    bad = copy.deepcopy(workload['segm'])
    bad[-5]['score'] = 'high'
    synthetic.write_json(files['segm'], bad)
    one = _errors(lambda: evaluate_lvis_iou_types(workload['gt_path'], files, processes=1))
    three = _errors(lambda: evaluate_lvis_iou_types(workload['gt_path'], files, processes=3))
    assert one[0] is ResultsFormatError and three == one
    assert _children() == []


def test_process_plan(monkeypatch):
    both = ['bbox', 'segm']
    assert process_plan(both, 1) == {'bbox': 1, 'segm': 0}  # segm after bbox, here
    assert process_plan(both, 2) == {'bbox': 1, 'segm': 1}
    assert process_plan(both, 3) == {'bbox': 1, 'segm': 2}
    assert process_plan(both, 4) == process_plan(both, 9) == {'bbox': 2, 'segm': 2}
    assert process_plan(['segm'], 2) == {'segm': 2}
    assert process_plan(both, 4, backend='lvis') == {'bbox': 1, 'segm': 1}
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: {0, 1}, raising=False)
    assert process_plan(both) == {'bbox': 1, 'segm': 2}
    assert process_plan(['segm']) == {'segm': 2}
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: {0}, raising=False)
    assert process_plan(both) == {'bbox': 1, 'segm': 0}
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match='processes must be'):
            process_plan(both, bad)
        with pytest.raises(ValueError, match='processes must be'):
            evaluate_lvis({}, [], 'bbox', processes=bad)

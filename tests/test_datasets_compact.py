"""The compact LVIS dataset (default) yields exactly what mmdet's lvis-api path yields."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from mmcv import Config
from mmcv.parallel import DataContainer

from conftest import CONFIGS

from iif.datasets import CompactRecords, IIFLVISV1Dataset  # noqa: F401 - registers the datasets


def _build(cfg_dict, compact: bool):
    from mmdet.datasets import build_dataset
    cfg = Config(dict(cfg=cfg_dict)).cfg  # a deep copy
    inner = cfg.dataset if cfg.type == 'ClassBalancedDataset' else cfg
    inner.compact_annotations = compact
    return build_dataset(cfg)


def _same(a, b, where: str) -> None:
    if isinstance(a, DataContainer):
        assert isinstance(b, DataContainer), where
        assert (a.stack, a.cpu_only, a.padding_value) == (b.stack, b.cpu_only, b.padding_value)
        return _same(a.data, b.data, where)
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _same(a[k], b[k], f'{where}.{k}')
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f'{where}[{i}]')
    elif hasattr(a, 'masks'):  # BitmapMasks / PolygonMasks
        assert type(a) is type(b) and (a.height, a.width) == (b.height, b.width), where
        _same(a.masks, b.masks, f'{where}.masks')
    else:
        assert a == b, where


def _sample(dataset, idx: int, seed: int):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return dataset[idx]


def _compare(old, new, samples) -> None:
    """Every index of ``samples``: same sample; every image: same infos, annotations, cats."""
    base_old = getattr(old, 'dataset', old)
    base_new = getattr(new, 'dataset', new)
    assert isinstance(base_new.data_infos, CompactRecords)
    assert not isinstance(base_old.data_infos, CompactRecords)
    assert len(old) == len(new) and len(base_old) == len(base_new)
    assert getattr(old, 'repeat_indices', None) == getattr(new, 'repeat_indices', None)
    assert base_old.img_ids == base_new.img_ids
    assert base_old.cat_ids == base_new.cat_ids and base_old.cat2label == base_new.cat2label
    assert np.array_equal(base_old.flag, base_new.flag)
    for i in range(len(base_old)):
        assert base_old.data_infos[i] == base_new.data_infos[i], i
        _same(base_old.get_ann_info(i), base_new.get_ann_info(i), f'ann_info[{i}]')
        assert base_old.get_cat_ids(i) == base_new.get_cat_ids(i), i
    for idx in samples:
        _same(_sample(old, idx, idx), _sample(new, idx, idx), f'sample[{idx}]')


@pytest.fixture(scope='module')
def smoke_cfg(smoke_workdir):
    cfg = Config.fromfile(str(CONFIGS / 'smoke' / 'iif_r18_fpn_smoke.py'))
    root = str(smoke_workdir / 'data' / 'smoke') + '/'
    for part in (cfg.data.train.dataset, cfg.data.test):
        part.ann_file = part.ann_file.replace('data/smoke/', root)
        part.img_prefix = root
    cfg.data.train.oversample_thr = 0.3  # some images repeated: RFS reads get_cat_ids
    return cfg


def test_smoke_train_samples_equal(smoke_cfg):
    old = _build(smoke_cfg.data.train, compact=False)
    new = _build(smoke_cfg.data.train, compact=True)
    assert len(new) > len(new.dataset)  # RFS repeated something
    _compare(old, new, range(len(old)))


def test_smoke_test_samples_equal_and_evaluation(smoke_cfg):
    old = _build(smoke_cfg.data.test, compact=False)
    new = _build(smoke_cfg.data.test, compact=True)
    _compare(old, new, range(len(old)))
    # ground-truth boxes as detections: both paths evaluate to the same numbers
    results = []
    for i in range(len(old)):
        ann = old.get_ann_info(i)
        per_class = [np.zeros((0, 5), np.float32) for _ in old.cat_ids]
        for box, label in zip(ann['bboxes'], ann['labels']):
            per_class[label] = np.vstack([per_class[label], np.append(box, 0.9)[None]])
        results.append([c.astype(np.float32) for c in per_class])
    assert old.evaluate(results, metric='bbox') == new.evaluate(results, metric='bbox')
    assert new.evaluate(results, metric='bbox')['bbox_AP'] > 0.5


def test_full_size_slice_equal(tmp_path):
    """1% of the synthetic LVIS v1 (1,002 images, 12,701 masks, 1,203 classes) under the real
    LVIS train config with RFS 1e-3: every image's infos and annotations, and the pipeline's
    samples for a slice."""
    from iif.scale_data import generate_lvis_scale
    root = tmp_path / 'lvis'
    generate_lvis_scale(root, fraction=0.01)
    cfg = Config.fromfile(str(CONFIGS / 'iif' / 'iif_r50_fpn_rfs_4x4_1x_lvis_v1.py'))
    cfg.data.train.dataset.ann_file = str(root / 'annotations' / 'lvis_v1_train.json')
    cfg.data.train.dataset.img_prefix = str(root) + '/'
    old = _build(cfg.data.train, compact=False)
    new = _build(cfg.data.train, compact=True)
    assert len(new.dataset) == 1002 and len(new) > 1002
    _compare(old, new, list(range(0, len(old), 97)))


def test_compact_is_the_default_and_records_behave_as_a_list():
    import inspect
    from iif.datasets import IIFLVISV05Dataset, _CompactLVISAnnotations
    default = inspect.signature(_CompactLVISAnnotations.__init__).parameters['compact_annotations']
    assert default.default is True
    assert issubclass(IIFLVISV05Dataset, _CompactLVISAnnotations)
    items = [dict(a=1, b=[1.5, 2.25]), [], 'x', dict(id=7, neg=[3, 4])]
    records = CompactRecords(items)
    assert len(records) == 4 and list(records) == items and records[-1] == items[-1]
    assert records[1:3] == items[1:3]
    first = records[0]
    first['a'] = 99  # a fresh object per access: the store is read-only
    assert records[0] == items[0]
    with pytest.raises(IndexError):
        records[4]
    assert records.nbytes > 0


def test_streaming_parse_equals_json_load(tmp_path):
    import json
    from iif.datasets import parse_lvis_streaming
    from iif.errors import UserError
    data = dict(info={'v': 1}, annotations=[dict(id=1, image_id=3, category_id=2,
                                                 segmentation=[[1.5, 2.25, 3.0, 0.1]]),
                                            dict(id=2, image_id=3, category_id=1, bbox=[])],
                images=[dict(id=3, width=4)], categories=[], empty=[])
    for indent in (None, 2):  # compact and pretty-printed files
        path = tmp_path / f'a{indent}.json'
        path.write_text(json.dumps(data, indent=indent))
        anns = []
        rest = parse_lvis_streaming(path, anns.append)
        assert anns == data['annotations']
        assert rest == {k: v for k, v in data.items() if k != 'annotations'}
    bad = tmp_path / 'bad.json'
    bad.write_text('{"images": [], "annotations": [{"id": 1,}]}')
    with pytest.raises(UserError, match='bad.json: invalid JSON'):
        parse_lvis_streaming(bad, anns.append)
    bad.write_text('[1, 2]')
    with pytest.raises(UserError, match='not a JSON annotation file'):
        parse_lvis_streaming(bad, anns.append)

"""The synthetic LVIS v1 (iif smoke-data --scale lvis_v1): LVIS's counts and shape, seeded,
cached."""
from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pytest

from conftest import REPO, cpu_env, run

from iif import scale_data
from iif.errors import UserError


def test_full_size_assignment_has_lvis_v1_counts():
    """At full size every class lies in exactly its bundled number of images with its number of
    instances, and every one of the 100,170 images has an annotation."""
    cats = scale_data.lvis_v1_categories()
    image_count = np.array([c['image_count'] for c in cats])
    instance_count = np.array([c['instance_count'] for c in cats])
    num_images, num_instances = scale_data.lvis_v1_split_sizes()['train']
    assert (len(cats), num_images, num_instances) == (1203, 100170, 1270141)
    assert scale_data.lvis_v1_split_sizes()['val'] == (19809, 244707)
    img, cat = scale_data._assign(np.random.default_rng(0), num_images, image_count,
                                  instance_count)
    assert len(img) == num_instances
    assert np.array_equal(np.bincount(cat, minlength=1203), instance_count)
    pairs = np.unique(img * 2000 + cat)
    assert np.array_equal(np.bincount(pairs % 2000, minlength=1203), image_count)
    assert len(np.unique(img)) == num_images


@pytest.fixture(scope='module')
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp('scale') / 'lvis'
    paths = scale_data.generate_lvis_scale(root, fraction=0.004)
    return root, {s: json.loads(p.read_text()) for s, p in paths.items()}


def test_small_tree_is_lvis_shaped(small):
    root, data = small
    train, val = data['train'], data['val']
    assert len(train['images']) == round(100170 * 0.004)
    assert len(train['annotations']) == round(1270141 * 0.004)
    assert len(val['annotations']) == round(244707 * 0.004)
    assert len(train['categories']) == 1203
    table = {c['id']: c['frequency'] for c in scale_data.lvis_v1_categories()}
    assert {c['id']: c['frequency'] for c in train['categories']} == table
    # the file's per-class counts describe the file, and every class has a training image
    images_of, instances_of = defaultdict(set), defaultdict(int)
    present = defaultdict(set)
    for a in train['annotations']:
        images_of[a['category_id']].add(a['image_id'])
        instances_of[a['category_id']] += 1
        present[a['image_id']].add(a['category_id'])
    for c in train['categories']:
        assert c['image_count'] == len(images_of[c['id']]) >= 1
        assert c['instance_count'] == instances_of[c['id']]
    ids = [a['id'] for d in (train, val) for a in d['annotations']]
    assert len(set(ids)) == len(ids)  # unique across the two files, as in LVIS
    for img in train['images']:
        assert present[img['id']], 'every image has an annotation'
        assert not set(img['neg_category_ids']) & present[img['id']]
        assert set(img['not_exhaustive_category_ids']) <= present[img['id']]
        path = root / img['coco_url'].replace('http://images.cocodataset.org/', '')
        assert path.stat().st_nlink > 10  # one shared file per image size
    assert any(img['neg_category_ids'] for img in train['images'])
    assert any(img['not_exhaustive_category_ids'] for img in train['images'])
    verts = []
    for a in train['annotations'][:2000]:
        poly = a['segmentation'][0]
        xs, ys = poly[0::2], poly[1::2]
        verts.append(len(xs))
        x, y, w, h = a['bbox']
        assert (x, y) == (min(xs), min(ys)) and abs(x + w - max(xs)) < 0.02
        assert a['area'] > 0 and abs(y + h - max(ys)) < 0.02
    assert 30 < np.mean(verts) < 70 and min(verts) >= 6  # LVIS-like polygon detail


def test_seeded_and_cached(small, tmp_path):
    root, _ = small
    train = root / 'annotations' / 'lvis_v1_train.json'
    before = train.stat().st_mtime_ns
    messages = []
    scale_data.generate_lvis_scale(root, fraction=0.004, log=messages.append)
    assert train.stat().st_mtime_ns == before and 'already in' in messages[0]
    again = scale_data.generate_lvis_scale(tmp_path / 'again', fraction=0.004)
    assert again['train'].read_bytes() == train.read_bytes()
    assert again['val'].read_bytes() == (root / 'annotations' / 'lvis_v1_val.json').read_bytes()
    other = scale_data.generate_lvis_scale(tmp_path / 'again', fraction=0.004, seed=1)
    assert other['train'].read_bytes() != train.read_bytes()  # new seed: regenerated


def test_bad_fraction_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match='scale-fraction'):
        scale_data.generate_lvis_scale(tmp_path, fraction=1.5)
    result = run(['python', '-c', 'import sys; from iif.cli import main; sys.exit(main())',
                  'smoke-data', '--scale', 'lvis_v1', '--scale-fraction', '0',
                  '--root', tmp_path / 'x'], cwd=tmp_path,
                 env=cpu_env(PYTHONPATH=REPO))
    assert result.returncode != 0 and '--scale-fraction must be in (0, 1]' in result.stderr
    assert not (tmp_path / 'x' / 'annotations').exists()

"""Deterministic LVIS-shaped ground truth and detection results, for tests and benchmarks.

The data follow LVIS v1's shape: 1203 categories split 337 rare / 461 common / 405 frequent (scaled
for fewer categories), frequent categories far more likely to appear, ~12 polygon instances per
image over a few categories, object sizes spanning small/medium/large, negative and
not-exhaustive category ids per image, and up to (and sometimes over) 300 scored detections per
image: jittered copies of ground truth (true and duplicate positives at a spread of IoUs),
detections of negative categories, and detections of categories the image says nothing about
(which federated evaluation ignores). Scores are partly quantised so that ties are common.

Everything is a function of (seed, image index), so a workload of any size is reproducible and can
be streamed to disk image by image.
"""
from __future__ import annotations

import os
from typing import Dict, Iterable, Iterator, List

import numpy as np

VERSION = 2  # bump when the generated data change (benchmarks cache workloads by it)
LVIS_V1_GROUPS = (337, 461, 405)  # rare, common, frequent categories in LVIS v1
IMAGE_SIZES = ((480, 640), (640, 480), (427, 640), (640, 427), (375, 500), (500, 375),
               (512, 512), (360, 640))
VERTICES = 8


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def _categories(num_categories: int) -> List[dict]:
    total = sum(LVIS_V1_GROUPS)
    counts = [round(num_categories * g / total) for g in LVIS_V1_GROUPS[:2]]
    counts.append(num_categories - sum(counts))
    freqs = ['r'] * counts[0] + ['c'] * counts[1] + ['f'] * counts[2]
    order = _rng(12345, num_categories).permutation(num_categories)  # interleave the groups
    return [{'id': i + 1, 'name': f'category_{i + 1}', 'frequency': freqs[order[i]],
             'synset': f'synthetic.n.{i + 1:04d}'} for i in range(num_categories)]


def _polygons(rng, n: int, h: int, w: int, cx=None, cy=None, radius=None) -> np.ndarray:
    """n star-shaped polygons (n, VERTICES, 2), clipped to the image."""
    if cx is None:
        radius = np.exp(rng.uniform(np.log(3.0), np.log(220.0), n))  # small .. large objects
        cx = rng.uniform(0, w, n)
        cy = rng.uniform(0, h, n)
    ang = np.sort(rng.uniform(0, 2 * np.pi, (n, VERTICES)), axis=1)
    rad = radius[:, None] * rng.uniform(0.55, 1.0, (n, VERTICES))
    xs = np.clip(cx[:, None] + rad * np.cos(ang), 0, w)
    ys = np.clip(cy[:, None] + rad * np.sin(ang), 0, h)
    return np.round(np.stack([xs, ys], axis=2), 2)


def _shoelace(poly: np.ndarray) -> np.ndarray:
    x, y = poly[..., 0], poly[..., 1]
    return 0.5 * np.abs(np.sum(x * np.roll(y, -1, -1) - np.roll(x, -1, -1) * y, axis=-1))


def _bbox(poly: np.ndarray) -> np.ndarray:
    lo = poly.min(axis=-2)
    hi = poly.max(axis=-2)
    return np.round(np.concatenate([lo, hi - lo], axis=-1), 2)


def generate_gt(num_images: int, num_categories: int = 1203, seed: int = 0,
                degenerate_frac: float = 0.002) -> dict:
    """LVIS-format ground truth (dict) with polygon annotations."""
    cats = _categories(num_categories)
    group = np.array(['rcf'.index(c['frequency']) for c in cats])
    # how likely each category is to be in an image: frequent >> common >> rare
    weight = (np.array([0.3, 1.0, 12.0])[group]
              * _rng(seed, 1 << 30).uniform(0.2, 1.0, num_categories))
    weight /= weight.sum()
    images, anns = [], []
    ann_id = 1
    for i in range(num_images):
        rng = _rng(seed, i)
        h, w = IMAGE_SIZES[rng.integers(len(IMAGE_SIZES))]
        k = min(num_categories, 1 + rng.poisson(2.2))
        pos = rng.choice(num_categories, size=k, replace=False, p=weight)
        n_inst = np.minimum(rng.geometric(0.3, size=k), 40)
        if rng.random() < 0.02:  # a crowded category: many instances of one class
            n_inst[0] = rng.integers(20, 60)
        img_id = 1000 + 7 * i  # not contiguous, not starting at 0
        for c, n in zip(pos.tolist(), n_inst.tolist()):
            polys = _polygons(rng, n, h, w)
            two_part = rng.random(n) < 0.1
            for j in range(n):
                parts = [polys[j]]
                if two_part[j]:
                    parts.append(_polygons(rng, 1, h, w, cx=polys[j][:, 0].mean(keepdims=True) + 5,
                                           cy=polys[j][:, 1].mean(keepdims=True) + 5,
                                           radius=np.array([4.0]))[0])
                allp = np.concatenate(parts)
                area = float(sum(_shoelace(p) for p in parts))
                if rng.random() < degenerate_frac:
                    area = 0.0  # lvis-api drops annotations with area 0
                anns.append({'id': ann_id, 'image_id': img_id, 'category_id': c + 1,
                             'segmentation': [p.reshape(-1).tolist() for p in parts],
                             'area': round(area, 2), 'bbox': _bbox(allp).tolist()})
                ann_id += 1
        others = np.setdiff1d(np.arange(num_categories), pos)
        n_neg = min(others.size, rng.poisson(6) if rng.random() < 0.9 else 0)
        neg = rng.choice(others, size=n_neg, replace=False) if n_neg else np.zeros(0, int)
        nel = pos[rng.random(k) < 0.12]
        if rng.random() < 0.02 and others.size:  # not-exhaustive id without annotations
            nel = np.append(nel, rng.choice(others))
        images.append({'id': img_id, 'height': h, 'width': w,
                       'coco_url': f'http://images.cocodataset.org/val2017/{img_id:012d}.jpg',
                       'neg_category_ids': sorted((neg + 1).tolist()),
                       'not_exhaustive_category_ids': sorted((nel + 1).tolist())})
    return {'info': {'description': f'synthetic LVIS-shaped data, seed {seed}'},
            'images': images, 'annotations': anns, 'categories': cats, 'licenses': []}


def iter_image_results(gt: dict, iou_type: str = 'bbox', seed: int = 0,
                       dets_per_image: int = 300, over_limit_frac: float = 0.1,
                       with_bbox: bool = True, tie_frac: float = 0.3) -> Iterator[List[dict]]:
    """Per image, a list of LVIS result dicts (mmdet's format: segm results carry a bbox too)."""
    if iou_type == 'segm':
        import pycocotools.mask as mask_utils
    cat_ids = np.array([c['id'] for c in gt['categories']])
    by_image: Dict[int, List[dict]] = {}
    for a in gt['annotations']:
        by_image.setdefault(a['image_id'], []).append(a)
    for i, img in enumerate(gt['images']):
        rng = _rng(seed, i, 7)
        h, w = img['height'], img['width']
        anns = by_image.get(img['id'], [])
        n_total = dets_per_image
        if rng.random() < over_limit_frac:
            n_total += int(rng.integers(1, 120))  # lvis-api keeps the top 300 by score
        elif rng.random() < 0.1:
            n_total = int(rng.integers(0, dets_per_image))
        polys, cats, scores = [], [], []
        # jittered copies of ground truth: hits, duplicates and poor localisations
        n_src = min(int(n_total * 0.45), 4 * len(anns) + 8) if anns else 0
        if n_src:
            src = rng.integers(len(anns), size=n_src)
            base = np.stack([np.asarray(anns[j]['segmentation'][0]).reshape(VERTICES, 2)
                             for j in src])
            size = np.sqrt(np.maximum([anns[j]['area'] for j in src], 4.0))
            sigma = rng.uniform(0.0, 0.35, len(src))
            shift = rng.normal(0, 1, (len(src), 1, 2)) * (sigma * size)[:, None, None]
            scale = np.exp(rng.normal(0, 1, (len(src), 1, 1)) * sigma[:, None, None])
            centre = base.mean(axis=1, keepdims=True)
            jit = np.clip((base - centre) * scale + centre + shift, 0, [w, h])
            polys.append(np.round(jit, 2))
            c = np.array([anns[j]['category_id'] for j in src])
            confuse = rng.random(len(src)) < 0.1
            c[confuse] = rng.choice(cat_ids, size=int(confuse.sum()))
            cats.append(c)
            scores.append(np.clip(0.95 - sigma * 2 + rng.normal(0, 0.15, len(src)), 0.001, 1.0))
        n_left = n_total - sum(len(c) for c in cats)
        neg = img['neg_category_ids']
        n_neg = min(n_left, int(n_left * 0.15)) if neg else 0
        if n_neg:
            polys.append(_polygons(rng, n_neg, h, w))
            cats.append(rng.choice(neg, size=n_neg))
            scores.append(rng.uniform(0.001, 0.8, n_neg))
        n_rand = n_left - n_neg
        if n_rand > 0:
            polys.append(_polygons(rng, n_rand, h, w))
            cats.append(rng.choice(cat_ids, size=n_rand))
            scores.append(rng.uniform(0.001, 0.6, n_rand))
        if not polys:
            yield []
            continue
        polys = np.concatenate(polys)
        cats = np.concatenate(cats)
        scores = np.concatenate(scores)
        tie = rng.random(scores.size) < tie_frac
        scores = np.where(tie, np.round(scores, 2), np.round(scores, 6))
        order = rng.permutation(scores.size)  # results are not sorted by score
        polys, cats, scores = polys[order], cats[order], scores[order]
        boxes = _bbox(polys)
        keep = (boxes[:, 2] > 0) | (rng.random(len(boxes)) < 0.5)  # a few zero-size boxes remain
        polys, cats, scores, boxes = polys[keep], cats[keep], scores[keep], boxes[keep]
        out = [{'image_id': img['id'], 'category_id': int(c), 'score': float(s)}
               for c, s in zip(cats.tolist(), scores.tolist())]
        if iou_type == 'bbox' or with_bbox:
            for r, b in zip(out, boxes.tolist()):
                r['bbox'] = b
        if iou_type == 'segm':
            rles = mask_utils.frPyObjects([p.reshape(-1).tolist() for p in polys], h, w)
            for r, rle in zip(out, rles):
                r['segmentation'] = {'size': [h, w], 'counts': rle['counts'].decode('ascii')}
        yield out


def generate_dense_gt(num_images: int, objects_per_image: int = 60, num_categories: int = 1203,
                      seed: int = 0) -> dict:
    """Crowded ground truth: every image holds ``objects_per_image`` objects of one category.

    The shape that stresses per-(image, category) work: each detection of that category pairs
    with every object in its image. The category is the same in every image (the first one).
    """
    cats = _categories(num_categories)
    images, anns = [], []
    ann_id = 1
    for i in range(num_images):
        rng = _rng(seed, i, 3)
        h, w = IMAGE_SIZES[rng.integers(len(IMAGE_SIZES))]
        img_id = 1000 + 7 * i
        polys = _polygons(rng, objects_per_image, h, w,
                          cx=rng.uniform(0, w, objects_per_image),
                          cy=rng.uniform(0, h, objects_per_image),
                          radius=np.exp(rng.uniform(np.log(4.0), np.log(60.0), objects_per_image)))
        for p in polys:
            anns.append({'id': ann_id, 'image_id': img_id, 'category_id': 1,
                         'segmentation': [p.reshape(-1).tolist()],
                         'area': round(float(_shoelace(p)), 2), 'bbox': _bbox(p).tolist()})
            ann_id += 1
        images.append({'id': img_id, 'height': h, 'width': w,
                       'coco_url': f'http://images.cocodataset.org/val2017/{img_id:012d}.jpg',
                       'neg_category_ids': [], 'not_exhaustive_category_ids': []})
    return {'info': {'description': f'synthetic dense data, seed {seed}'},
            'images': images, 'annotations': anns, 'categories': cats, 'licenses': []}


def iter_dense_results(gt: dict, iou_type: str = 'bbox', seed: int = 0,
                       dets_per_image: int = 300) -> Iterator[List[dict]]:
    """Per image, ``dets_per_image`` detections of its objects' category: jittered copies."""
    if iou_type == 'segm':
        import pycocotools.mask as mask_utils
    by_image: Dict[int, List[dict]] = {}
    for a in gt['annotations']:
        by_image.setdefault(a['image_id'], []).append(a)
    for i, img in enumerate(gt['images']):
        anns = by_image.get(img['id'], [])
        if not anns:
            yield []
            continue
        rng = _rng(seed, i, 9)
        h, w = img['height'], img['width']
        src = rng.integers(len(anns), size=dets_per_image)
        base = np.stack([np.asarray(anns[j]['segmentation'][0]).reshape(VERTICES, 2)
                         for j in src])
        size = np.sqrt(np.maximum([anns[j]['area'] for j in src], 4.0))
        sigma = rng.uniform(0.0, 0.4, src.size)
        shift = rng.normal(0, 1, (src.size, 1, 2)) * (sigma * size)[:, None, None]
        polys = np.round(np.clip(base + shift, 0, [w, h]), 2)
        scores = np.round(np.clip(0.95 - sigma * 2 + rng.normal(0, 0.1, src.size), 0.001, 1), 4)
        boxes = _bbox(polys)
        out = [{'image_id': img['id'], 'category_id': anns[j]['category_id'], 'score': float(s),
                'bbox': b} for j, s, b in zip(src.tolist(), scores.tolist(), boxes.tolist())]
        if iou_type == 'segm':
            rles = mask_utils.frPyObjects([p.reshape(-1).tolist() for p in polys], h, w)
            for r, rle in zip(out, rles):
                r['segmentation'] = {'size': [h, w], 'counts': rle['counts'].decode('ascii')}
        yield out


def generate_results(gt: dict, iou_type: str = 'bbox', seed: int = 0, **kwargs) -> List[dict]:
    """All results of :func:`iter_image_results` in one list."""
    return [r for rs in iter_image_results(gt, iou_type, seed, **kwargs) for r in rs]


def write_json(path: str, obj) -> str:
    import orjson
    with open(path, 'wb') as f:
        f.write(orjson.dumps(obj))
    return path


def write_json_list(path: str, parts: Iterable[List[dict]], pretty_sep: bool = True) -> int:
    """Stream lists of dicts into one JSON list file; returns the number of entries.

    ``pretty_sep`` writes json.dump's ', ' separators between entries (mmdet's result files
    look like that); the reader must handle both.
    """
    import orjson
    sep = b', ' if pretty_sep else b','
    n = 0
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(b'[')
        first = True
        for part in parts:
            if not part:
                continue
            body = orjson.dumps(part)[1:-1]
            if pretty_sep:
                body = body.replace(b'},{"image_id"', b'}, {"image_id"')
            f.write(body if first else sep + body)
            first = False
            n += len(part)
        f.write(b']')
    os.replace(tmp, path)
    return n


def split_shards(results: List[dict], num_shards: int) -> List[List[dict]]:
    """Split a result list into contiguous per-rank shards (concatenation gives it back)."""
    bounds = np.linspace(0, len(results), num_shards + 1).round().astype(int)
    return [results[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

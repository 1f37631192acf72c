"""A synthetic LVIS v1 of the real size and shape, to rehearse the data path at scale.

The train and val files have LVIS v1's image, annotation and category counts (from
``iif/data/lvis_split_stats.tsv``) and, in train, every category's frequency group, image count
and instance count from ``iif/data/lvis_v1_categories.csv`` (so ``iif weights --ann`` on the
train file gives the bundled weights). Masks are polygons with LVIS-like vertex counts (the
file is about as large as the real 1.1 GB one); images carry ``neg_category_ids`` and
``not_exhaustive_category_ids``. The pixels are one flat-colour JPEG per image size, hard-linked
to every image name, so 120k images cost a few KB of disk.

``fraction`` < 1 scales images and per-class counts down (CI smoke); the frequency groups stay
those of the table. Output is deterministic for a (fraction, seed) pair and cached: a manifest
records what was written, and a second call with the same arguments returns at once.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from iif.errors import UserError
from iif.fsutil import atomic_write, write_text_atomic

GENERATOR_VERSION = 2
MANIFEST = 'synthetic_lvis.json'
# (width, height) of COCO-like images and how often each occurs
IMAGE_SIZES = ((640, 480), (480, 640), (640, 427), (427, 640), (640, 360))
IMAGE_SIZE_P = (0.45, 0.15, 0.2, 0.1, 0.1)
VAL_FIRST_ID = 1_000_001
CHUNK = 50_000  # annotations formatted per JSON chunk (bounds the generator's memory)


def _data_file(name: str) -> Path:
    return Path(__file__).resolve().parent / 'data' / name


def lvis_v1_split_sizes() -> Dict[str, Tuple[int, int]]:
    """{'train': (images, instances), 'val': (...)} from the bundled split table."""
    sizes = {}
    with open(_data_file('lvis_split_stats.tsv'), newline='', encoding='utf-8') as f:
        for row in csv.DictReader(f, delimiter='\t'):
            if row['version'] == 'v1' and row['split'] in ('train', 'val'):
                sizes[row['split']] = (int(row['num_images']), int(row['num_instances']))
    return sizes


def lvis_v1_categories() -> List[dict]:
    with open(_data_file('lvis_v1_categories.csv'), newline='', encoding='utf-8') as f:
        rows = sorted(csv.DictReader(f), key=lambda r: int(r['id']))
    return [dict(id=int(r['id']), name=r['name'], synset=r['synset'], frequency=r['frequency'],
                 image_count=int(r['image_count']), instance_count=int(r['instance_count']))
            for r in rows]


def _scaled_counts(image_count: np.ndarray, instance_count: np.ndarray, num_images: int,
                   num_instances: int, ratio: float, every_category: bool
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Per-class (images, instances) scaled by ``ratio``; instances sum to ``num_instances``.

    ``every_category``: each category keeps at least one image (a train file, so that every
    IIF weight is defined)."""
    if ratio == 1.0:
        return image_count.copy(), instance_count.copy()
    imgs = np.minimum(np.rint(image_count * ratio), num_images).astype(np.int64)
    if every_category:
        imgs = np.maximum(imgs, 1)
    inst = np.where(imgs > 0, np.maximum(np.rint(instance_count * ratio), imgs), 0)
    inst = inst.astype(np.int64)
    diff = num_instances - int(inst.sum())
    if diff >= 0:
        inst[np.argmax(inst)] += diff
    else:  # take the surplus from the classes with instances to spare, in proportion
        slack = inst - imgs
        if slack.sum() < -diff:
            raise UserError(f'synthetic LVIS: fraction too small for {num_instances} '
                            'instances; use a larger --scale-fraction')
        take = np.floor(slack * (-diff / slack.sum())).astype(np.int64)
        rest = -diff - int(take.sum())
        take[np.argsort(-(slack - take), kind='stable')[:rest]] += 1
        inst -= take
    if imgs.sum() < num_images:
        raise UserError('synthetic LVIS: fraction too small to give every image an annotation')
    return imgs, inst


def _assign(rng: np.random.Generator, num_images: int, image_count: np.ndarray,
            instance_count: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(image index, category index) of every annotation, sorted by image then category.

    Category c lies in exactly image_count[c] distinct images with instance_count[c] instances;
    every image gets at least one category (images left empty take a pair from a busy image).
    """
    cats = np.repeat(np.arange(len(image_count)), image_count)
    imgs = np.concatenate([rng.choice(num_images, size=int(k), replace=False)
                           for k in image_count])
    per_image = np.bincount(imgs, minlength=num_images)
    empty = np.flatnonzero(per_image == 0)
    if len(empty):
        busy_pairs = np.flatnonzero(per_image[imgs] >= 3)
        # one donor pair per busy image, so no donor image drops below 2 categories
        _, first = np.unique(imgs[busy_pairs], return_index=True)
        donors = rng.permutation(busy_pairs[first])
        if len(donors) < len(empty):
            raise UserError('synthetic LVIS: too few annotations to give every image one')
        imgs[donors[:len(empty)]] = empty
    extra = np.empty(len(cats), dtype=np.int64)
    start = 0
    for c, k in enumerate(image_count):  # long-tailed instances per (image, category) pair
        if k == 0:
            continue
        p = rng.gamma(0.5, size=int(k)) + 1e-9
        extra[start:start + k] = rng.multinomial(int(instance_count[c] - k), p / p.sum())
        start += k
    reps = 1 + extra
    ann_img = np.repeat(imgs, reps)
    ann_cat = np.repeat(cats, reps)
    order = np.lexsort((ann_cat, ann_img))
    return ann_img[order], ann_cat[order]


def _geometry(rng: np.random.Generator, widths: np.ndarray, heights: np.ndarray):
    """Polygons in their images: (vertex offsets, flat xy coords, bbox xywh, area)."""
    n = len(widths)
    # LVIS-like polygon detail: most 15-60 vertices, a long tail of detailed outlines
    verts = np.clip(np.rint(rng.lognormal(np.log(42), 0.6, size=n)), 6, 400).astype(np.int64)
    side = np.minimum(widths, heights)
    size = 6 * (0.9 * side / 6) ** rng.random(n)  # log-uniform object size, 6 px .. 0.9 side
    sw = np.clip(size * rng.uniform(0.6, 1.4, size=n), 4, widths - 1)
    sh = np.clip(size * rng.uniform(0.6, 1.4, size=n), 4, heights - 1)
    cx = rng.uniform(sw / 2, widths - sw / 2)
    cy = rng.uniform(sh / 2, heights - sh / 2)
    offsets = np.concatenate([[0], np.cumsum(verts)])
    owner = np.repeat(np.arange(n), verts)
    step = np.arange(offsets[-1]) - offsets[owner]
    angle = 2 * np.pi * (step + rng.uniform(-0.3, 0.3, size=len(owner))) / verts[owner]
    radius = rng.uniform(0.7, 1.0, size=len(owner))
    xs = np.round(cx[owner] + 0.5 * sw[owner] * radius * np.cos(angle), 2)
    ys = np.round(cy[owner] + 0.5 * sh[owner] * radius * np.sin(angle), 2)
    x0 = np.minimum.reduceat(xs, offsets[:-1])
    y0 = np.minimum.reduceat(ys, offsets[:-1])
    x1 = np.maximum.reduceat(xs, offsets[:-1])
    y1 = np.maximum.reduceat(ys, offsets[:-1])
    nxt = np.arange(len(owner)) + 1
    nxt[offsets[1:] - 1] = offsets[:-1]  # close every ring
    cross = xs * ys[nxt] - xs[nxt] * ys
    area = np.round(0.5 * np.abs(np.add.reduceat(cross, offsets[:-1])), 2)
    bbox = np.round(np.stack([x0, y0, x1 - x0, y1 - y0], axis=1), 2)
    coords = np.empty(2 * len(owner))
    coords[0::2], coords[1::2] = xs, ys
    return 2 * offsets, coords, bbox, area


def _dumps():
    try:
        import orjson
        return orjson.dumps
    except ImportError:  # pragma: no cover - orjson is in the lock file
        return lambda obj: json.dumps(obj, separators=(',', ':')).encode()


def _write_split(path: Path, rng: np.random.Generator, split: str, first_id: int,
                 num_images: int, image_count: np.ndarray, instance_count: np.ndarray,
                 categories: List[dict], first_ann_id: int
                 ) -> Tuple[List[Tuple[int, int, int]], int]:
    """Write one split's JSON; return [(image id, width, height)] and the next annotation id."""
    dumps = _dumps()
    size_idx = rng.choice(len(IMAGE_SIZES), size=num_images, p=IMAGE_SIZE_P)
    wh = np.array(IMAGE_SIZES, dtype=np.float64)[size_idx]
    ann_img, ann_cat = _assign(rng, num_images, image_count, instance_count)
    cat_ids = np.array([c['id'] for c in categories])
    # per image: categories present (sorted), for the neg / not-exhaustive lists
    bounds = np.searchsorted(ann_img, np.arange(num_images + 1))
    folder = 'val2017' if split == 'val' else 'train2017'
    images = []
    num_cats = len(categories)
    n_neg = rng.integers(0, 9, size=num_images)
    neg_draw = rng.integers(0, num_cats, size=(num_images, 8))
    ne_draw = rng.random(num_images)
    for k in range(num_images):
        present = np.unique(ann_cat[bounds[k]:bounds[k + 1]])
        neg = np.setdiff1d(neg_draw[k, :n_neg[k]], present)
        not_exhaustive = present[:1 + int(ne_draw[k] < 0.1)] if ne_draw[k] < 0.3 else present[:0]
        image_id = first_id + k
        w, h = IMAGE_SIZES[size_idx[k]]
        images.append(dict(
            id=image_id, width=w, height=h, license=1, date_captured='2013-11-14 16:28:13',
            coco_url=f'http://images.cocodataset.org/{folder}/{image_id:012d}.jpg',
            flickr_url='', neg_category_ids=cat_ids[neg].tolist(),
            not_exhaustive_category_ids=cat_ids[not_exhaustive].tolist()))
    ann_id = first_ann_id
    with atomic_write(path, 'wb') as f:
        head = dict(info=dict(description=f'IIF kit synthetic LVIS v1 ({split}), not real data',
                              version='1.0', year=2026),
                    licenses=[dict(id=1, name='CC0', url='')], categories=categories)
        f.write(dumps(head)[:-1] + b',"images":')
        f.write(dumps(images))
        f.write(b',"annotations":[')
        for s in range(0, len(ann_img), CHUNK):
            img = ann_img[s:s + CHUNK]
            offsets, coords, bbox, area = _geometry(rng, wh[img, 0], wh[img, 1])
            flat, boxes, areas = coords.tolist(), bbox.tolist(), area.tolist()
            offs = offsets.tolist()
            img_ids = (img + first_id).tolist()
            cids = cat_ids[ann_cat[s:s + CHUNK]].tolist()
            anns = [dict(id=ann_id + i, image_id=img_ids[i], category_id=cids[i],
                         segmentation=[flat[offs[i]:offs[i + 1]]], area=areas[i],
                         bbox=boxes[i]) for i in range(len(img_ids))]
            ann_id += len(anns)
            if s:
                f.write(b',')
            f.write(dumps(anns)[1:-1])
        f.write(b']}')
    return [(first_id + k, *IMAGE_SIZES[size_idx[k]]) for k in range(num_images)], ann_id


def _write_images(root: Path, split: str, images: List[Tuple[int, int, int]]) -> None:
    """One flat JPEG per size under ``_pixels/``, hard-linked to every image name."""
    from PIL import Image
    folder = root / ('val2017' if split == 'val' else 'train2017')
    folder.mkdir(parents=True, exist_ok=True)
    blobs = root / '_pixels'
    blobs.mkdir(exist_ok=True)
    for w, h in IMAGE_SIZES:
        blob = blobs / f'{w}x{h}.jpg'
        if not blob.is_file():
            Image.new('RGB', (w, h), (90, 110, 130)).save(blob, quality=90)
    for image_id, w, h in images:
        target = folder / f'{image_id:012d}.jpg'
        if not target.exists():
            try:
                os.link(blobs / f'{w}x{h}.jpg', target)
            except OSError:  # a file system without hard links: a (small) copy
                target.write_bytes((blobs / f'{w}x{h}.jpg').read_bytes())


def generate_lvis_scale(root: os.PathLike, fraction: float = 1.0, seed: int = 0,
                        force: bool = False, log=print) -> Dict[str, Path]:
    """Write (or reuse) a synthetic LVIS v1 tree under ``root``; return the two JSON paths."""
    if not 0 < fraction <= 1:
        raise UserError(f'--scale-fraction must be in (0, 1], got {fraction}')
    root = Path(root)
    out = {s: root / 'annotations' / f'lvis_v1_{s}.json' for s in ('train', 'val')}
    sizes = lvis_v1_split_sizes()
    wanted = dict(generator=GENERATOR_VERSION, fraction=fraction, seed=seed)
    manifest = root / MANIFEST
    if not force and manifest.is_file() and all(p.is_file() for p in out.values()):
        recorded = json.loads(manifest.read_text())
        if recorded.get('params') == wanted and all(
                recorded.get('bytes', {}).get(s) == p.stat().st_size for s, p in out.items()):
            log(f'synthetic LVIS v1 (fraction {fraction}, seed {seed}) already in {root}')
            return out
    cats = lvis_v1_categories()
    image_count = np.array([c['image_count'] for c in cats], dtype=np.int64)
    instance_count = np.array([c['instance_count'] for c in cats], dtype=np.int64)
    categories = [dict(id=c['id'], name=c['name'], synset=c['synset'], synonyms=[c['name']],
                       **{'def': f'synthetic {c["name"]}'}, frequency=c['frequency'],
                       image_count=int(i), instance_count=int(n))
                  for c, i, n in zip(cats, image_count, instance_count)]
    rng = np.random.default_rng(seed)
    train_images, train_instances = sizes['train']
    val_images, val_instances = sizes['val']
    n_train = max(1, int(round(train_images * fraction)))
    m_train = int(round(train_instances * fraction))
    tr_img, tr_inst = _scaled_counts(image_count, instance_count, n_train, m_train, fraction,
                                     every_category=True)
    if fraction != 1.0:  # the file's categories describe the file (as in LVIS)
        categories = [dict(c, image_count=int(i), instance_count=int(n))
                      for c, i, n in zip(categories, tr_img, tr_inst)]
    n_val = max(1, int(round(val_images * fraction)))
    m_val = int(round(val_instances * fraction))
    va_img, va_inst = _scaled_counts(image_count, instance_count, n_val, m_val,
                                     val_images * fraction / train_images,
                                     every_category=False)
    if manifest.exists():
        manifest.unlink()  # a half-written tree is never taken for a finished one
    done = {}
    next_ann = 1
    for split, first_id, n, imgs, inst in (('train', 1, n_train, tr_img, tr_inst),
                                           ('val', VAL_FIRST_ID, n_val, va_img, va_inst)):
        log(f'writing {out[split]} ({n} images, {int(inst.sum())} annotations)')
        images, next_ann = _write_split(out[split], rng, split, first_id, n, imgs, inst,
                                        categories, next_ann)
        _write_images(root, split, images)
        done[split] = out[split].stat().st_size
    write_text_atomic(manifest, json.dumps(dict(params=wanted, bytes=done), indent=1) + '\n')
    return out


def default_root(fraction: float) -> str:
    return 'data/lvis_v1_synthetic' if fraction == 1.0 else f'data/lvis_v1_synthetic_{fraction:g}'


__all__ = ['generate_lvis_scale', 'lvis_v1_split_sizes', 'lvis_v1_categories', 'default_root']

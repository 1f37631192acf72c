"""A tiny, deterministic LVIS-v1-format dataset for demos and tests.

Images of coloured shapes (one category per shape/colour pair) with polygon masks, the LVIS
fields mmdet and the evaluators read (``coco_url``, ``neg_category_ids``,
``not_exhaustive_category_ids``, per-category ``frequency``/``image_count``/``instance_count``)
and the real layout: ``annotations/lvis_v1_{train,val}.json``, ``train2017/``, ``val2017/``.
Frequency groups follow the categories' relative frequency in this small set (LVIS's absolute
thresholds of 10/100 images would make every category rare here).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from iif.fsutil import write_text_atomic

# name, shape, RGB colour, frequency group, how often it is placed in a training image
CATEGORIES: Sequence[Tuple[str, str, Tuple[int, int, int], str, float]] = (
    ('red_disc', 'disc', (220, 40, 40), 'f', 0.80),
    ('green_square', 'square', (40, 190, 60), 'f', 0.70),
    ('blue_triangle', 'triangle', (50, 80, 220), 'f', 0.60),
    ('yellow_disc', 'disc', (230, 210, 40), 'c', 0.30),
    ('magenta_square', 'square', (200, 50, 200), 'c', 0.25),
    ('cyan_triangle', 'triangle', (40, 200, 210), 'c', 0.20),
    ('white_disc', 'disc', (245, 245, 245), 'r', 0.07),
    ('orange_square', 'square', (245, 140, 30), 'r', 0.05),
)
IMAGE_SIZE = (160, 128)  # width, height
SPLITS = {'train': dict(images=32, seed=0, first_id=1),
          'val': dict(images=16, seed=1, first_id=100001)}


def _polygon(shape: str, cx: float, cy: float, r: float) -> List[float]:
    if shape == 'disc':
        points = [(cx + r * math.cos(a), cy + r * math.sin(a))
                  for a in np.linspace(0, 2 * math.pi, 20, endpoint=False)]
    elif shape == 'square':
        points = [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    else:  # triangle
        points = [(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    return [round(float(v), 2) for p in points for v in p]


def _area(poly: List[float]) -> float:
    xs, ys = np.array(poly[0::2]), np.array(poly[1::2])
    return float(0.5 * abs(np.dot(xs, np.roll(ys, 1)) - np.dot(ys, np.roll(xs, 1))))


def _split(split: str, rng: np.random.RandomState, num_images: int, first_id: int,
           force_every_category: bool):
    from PIL import Image, ImageDraw
    images, annotations, pictures = [], [], {}
    width, height = IMAGE_SIZE
    for k in range(num_images):
        image_id = first_id + k
        wanted = [c for c, spec in enumerate(CATEGORIES) if rng.rand() < spec[4]]
        if force_every_category:  # val: every category in some image, so APr/APc/APf exist
            wanted.append(k % len(CATEGORIES))
        if not wanted:
            wanted = [int(rng.randint(len(CATEGORIES)))]
        background = tuple(int(v) for v in rng.randint(0, 70, size=3))
        picture = Image.new('RGB', (width, height), background)
        draw = ImageDraw.Draw(picture)
        placed: List[Tuple[float, float, float]] = []
        for c in sorted(set(wanted)):
            for _ in range(1 + int(rng.rand() < 0.3)):
                for _attempt in range(20):  # keep shapes apart so every mask is visible
                    r = float(rng.uniform(10, 24))
                    cx = float(rng.uniform(r + 2, width - r - 2))
                    cy = float(rng.uniform(r + 2, height - r - 2))
                    if all(math.hypot(cx - x, cy - y) > r + rr + 3 for x, y, rr in placed):
                        break
                else:
                    continue
                placed.append((cx, cy, r))
                name, shape, colour, _, _ = CATEGORIES[c]
                poly = _polygon(shape, cx, cy, r)
                draw.polygon(list(zip(poly[0::2], poly[1::2])), fill=colour)
                xs, ys = poly[0::2], poly[1::2]
                x0, y0 = min(xs), min(ys)
                annotations.append(dict(
                    id=0, image_id=image_id, category_id=c + 1, segmentation=[poly],
                    area=round(_area(poly), 2),
                    bbox=[round(x0, 2), round(y0, 2), round(max(xs) - x0, 2),
                          round(max(ys) - y0, 2)]))
        present = {a['category_id'] for a in annotations if a['image_id'] == image_id}
        absent = [c + 1 for c in range(len(CATEGORIES)) if c + 1 not in present]
        negatives = sorted(int(c) for c in rng.choice(absent, size=min(2, len(absent)),
                                                      replace=False)) if absent else []
        not_exhaustive = sorted(present)[:1] if rng.rand() < 0.15 else []
        folder = f'{split}2017'
        images.append(dict(
            id=image_id, width=width, height=height, license=1, date_captured='2026-01-01',
            coco_url=f'http://images.cocodataset.org/{folder}/{image_id:012d}.jpg',
            flickr_url='', neg_category_ids=negatives,
            not_exhaustive_category_ids=not_exhaustive))
        pictures[f'{folder}/{image_id:012d}.jpg'] = picture
    return images, annotations, pictures


def generate(root: os.PathLike, force: bool = False) -> Dict[str, Path]:
    """Write the dataset under ``root`` (idempotent: same bytes every time)."""
    root = Path(root)
    out = {s: root / 'annotations' / f'lvis_v1_{s}.json' for s in SPLITS}
    if not force and all(p.is_file() for p in out.values()):
        return out
    splits = {}
    for split, spec in SPLITS.items():
        rng = np.random.RandomState(spec['seed'])
        splits[split] = _split(split, rng, spec['images'], spec['first_id'],
                               force_every_category=(split == 'val'))
    train_images, train_anns, _ = splits['train']
    image_count = {c + 1: len({a['image_id'] for a in train_anns if a['category_id'] == c + 1})
                   for c in range(len(CATEGORIES))}
    instance_count = {c + 1: sum(a['category_id'] == c + 1 for a in train_anns)
                      for c in range(len(CATEGORIES))}
    categories = [{'id': c + 1, 'name': name, 'synset': f'{name}.n.01', 'synonyms': [name],
                   'def': f'a {name.replace("_", " ")}', 'frequency': group,
                   'image_count': image_count[c + 1], 'instance_count': instance_count[c + 1]}
                  for c, (name, _, _, group, _) in enumerate(CATEGORIES)]
    next_id = 1
    for split, (images, anns, pictures) in splits.items():
        for a in anns:
            a['id'] = next_id
            next_id += 1
        for rel, picture in pictures.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            picture.save(path, quality=95)
        data = dict(info=dict(description=f'IIF kit smoke dataset ({split})', version='1.0'),
                    licenses=[dict(id=1, name='CC0', url='')], images=images,
                    annotations=anns, categories=categories)
        write_text_atomic(out[split], json.dumps(data))
    return out

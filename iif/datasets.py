"""LVIS datasets whose evaluation uses the kit's evaluator (fast by default, lvis-api on request).

mmdet's LVIS datasets gather every result on one process and run lvis-api; these keep mmdet's
loading (LVIS v1 image paths from ``coco_url``, v0.5 from ``file_name``) and evaluate LVIS-format
result lists, in memory or as per-process shard files.

By default (``compact_annotations=True``) the annotations are held in a few numpy buffers
instead of lvis-api's per-annotation dicts (see :class:`CompactRecords`): mmdet's path keeps
~1.3M dicts and lists per process for LVIS v1 train, and every DataLoader worker copies the
pages it touches (reference counts and the garbage collector write to them), so host memory
grows with iterations. The samples are the same (``tests/test_datasets_compact.py``);
``compact_annotations=False`` gives mmdet's original path. docs/data-scale.md has the numbers.
"""
from __future__ import annotations

import io
import os
import pickle
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from mmdet.datasets import LVISV05Dataset, LVISV1Dataset
from mmdet.datasets.builder import DATASETS

from iif.errors import UserError
from iif.evaluation import evaluate_lvis, format_metrics_table
from iif.hostmem import release_freed_memory
from iif.lvisjson import stream_annotations
from iif.metrics import IOU_TYPES

DEFAULT_BACKEND = 'fast'


def _xyxy_to_xywh(box: np.ndarray) -> List[float]:
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    return [x1, y1, x2 - x1, y2 - y1]


def detections_to_lvis(result, image_id: int, cat_ids: Sequence[int]
                       ) -> Tuple[List[dict], List[dict]]:
    """One image's mmdet result -> LVIS results-format dicts (bbox list, segm list).

    ``result`` is ``bbox_results`` or ``(bbox_results, segm_results)`` with one array/list per
    class; masks must already be RLE-encoded (``encode_mask_results``).
    """
    if isinstance(result, tuple):
        det, seg = result
        if isinstance(seg, tuple):  # (masks, mask_scores) from detectors with mask scoring
            seg, mask_scores = seg
        else:
            mask_scores = None
    else:
        det, seg, mask_scores = result, None, None
    bbox_out, segm_out = [], []
    for label, boxes in enumerate(det):
        category_id = cat_ids[label]
        for i, box in enumerate(boxes):
            entry = dict(image_id=image_id, category_id=category_id, bbox=_xyxy_to_xywh(box),
                         score=float(box[4]))
            bbox_out.append(entry)
            if seg is not None:
                rle = dict(seg[label][i])
                if isinstance(rle['counts'], bytes):
                    rle['counts'] = rle['counts'].decode()
                score = float(mask_scores[label][i]) if mask_scores is not None else entry['score']
                segm_out.append(dict(entry, score=score, segmentation=rle))
    return bbox_out, segm_out


def flatten_metrics(metrics_by_iou: Dict[str, Dict[str, float]]) -> Dict[str, float]:
    """{'bbox': {'AP': ..}} -> {'bbox_AP': ..}, mmdet's naming for logs and save_best."""
    return {f'{iou}_{k}': v for iou, metrics in metrics_by_iou.items() for k, v in metrics.items()}


class CompactRecords(Sequence):
    """A read-only list of picklable objects stored as one numpy byte buffer plus offsets.

    A numpy buffer is a single Python object, so forked DataLoader workers share its pages
    (nothing writes to them); each item is unpickled on access (a fresh object every time).
    """

    def __init__(self, items: Iterable):
        buf, ends = io.BytesIO(), []
        for item in items:
            buf.write(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))
            ends.append(buf.tell())
        self._set(buf, ends)

    @classmethod
    def from_buffer(cls, buf: io.BytesIO, ends: List[int]) -> 'CompactRecords':
        """Records already pickled one after the other into ``buf``, ending at ``ends``."""
        records = cls.__new__(cls)
        records._set(buf, ends)
        return records

    def _set(self, buf: io.BytesIO, ends: List[int]) -> None:
        self._buf = np.frombuffer(buf.getbuffer(), dtype=np.uint8)
        self._offsets = np.zeros(len(ends) + 1, dtype=np.int64)
        self._offsets[1:] = ends

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return [self[i] for i in range(*idx.indices(len(self)))]
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f'record {idx} out of range ({len(self)})')
        return pickle.loads(self._buf[self._offsets[idx]:self._offsets[idx + 1]])

    @property
    def nbytes(self) -> int:
        return int(self._buf.nbytes + self._offsets.nbytes)


class _AnnotationStore:
    """Receives parsed annotations one at a time: each is pickled into one growing buffer."""

    def __init__(self):
        self._buf = io.BytesIO()
        self._ends: List[int] = []
        self._img: List[int] = []
        self._cat: List[int] = []

    def add(self, ann: dict) -> None:
        self._buf.write(pickle.dumps(ann, protocol=pickle.HIGHEST_PROTOCOL))
        self._ends.append(self._buf.tell())
        self._img.append(ann['image_id'])
        self._cat.append(ann['category_id'])

    def finish(self) -> Tuple[np.ndarray, np.ndarray]:
        self.records = CompactRecords.from_buffer(self._buf, self._ends)
        img, cat = np.array(self._img, dtype=np.int64), np.array(self._cat, dtype=np.int64)
        del self._buf, self._ends, self._img, self._cat
        return img, cat


def parse_lvis_streaming(path, on_annotation: Callable[[dict], None]) -> dict:
    """Parse an LVIS/COCO JSON file like ``json.load`` but hand each element of the top-level
    ``annotations`` array to ``on_annotation`` instead of keeping it; return the other keys.

    The file is read in chunks (:func:`iif.lvisjson.stream_annotations`), so the peak is one
    chunk plus what ``on_annotation`` keeps (lvis-api holds ~5x the file as Python objects).
    """
    streamed = stream_annotations(path, on_annotation)
    if 'annotations' in streamed.top:  # present but not a list
        raise UserError(f'{path}: not a JSON annotation file ("annotations" is not a list); '
                        'check the file or download it again')
    return streamed.top


class _CompactLVISAnnotations:
    """lvis-api loading semantics without lvis-api's in-memory index (mixed in before mmdet).

    ``data_infos``, ``img_ids``, ``cat_ids``, ``cat2label``, ``get_ann_info``, ``get_cat_ids``
    and ``_filter_imgs`` give what mmdet's LVIS datasets give; ``coco`` (the ``lvis.LVIS``
    object) is loaded from the file only when something asks for it.
    """

    def __init__(self, *args, compact_annotations: bool = True, **kwargs):
        self.compact_annotations = compact_annotations
        super().__init__(*args, **kwargs)
        if compact_annotations:
            if not isinstance(self.data_infos, CompactRecords):  # filtered by mmdet: a list
                self.data_infos = CompactRecords(self.data_infos)
            release_freed_memory()

    # -- the lvis.LVIS object, for code outside the training data path
    @property
    def coco(self):
        if '_lvis_api' not in self.__dict__:
            from lvis import LVIS
            self.__dict__['_lvis_api'] = LVIS(getattr(self, '_gt_path', self.ann_file))
        return self.__dict__['_lvis_api']

    @coco.setter
    def coco(self, value):
        self.__dict__['_lvis_api'] = value

    def _image_filename(self, info: dict) -> str:
        raise NotImplementedError

    def load_annotations(self, ann_file):
        if not self.compact_annotations:
            return super().load_annotations(ann_file)
        # absolute: evaluation (and ``coco``) read the file later, maybe from another cwd
        self._gt_path = os.path.abspath(ann_file)
        store = _AnnotationStore()
        top = parse_lvis_streaming(ann_file, store.add)
        # lvis-api indexes categories and images by id in file order (a dict: last one wins)
        cats = {c['id']: c for c in top.get('categories', [])}
        self.cat_ids = list(cats)
        self.cat2label = {cat_id: i for i, cat_id in enumerate(self.cat_ids)}
        images = {img['id']: img for img in top.get('images', [])}
        del top
        self.img_ids = list(images)
        self._img_id_sorted = np.array(self.img_ids, dtype=np.int64)
        self._img_pos_sorted = np.argsort(self._img_id_sorted, kind='stable')
        self._img_id_sorted = self._img_id_sorted[self._img_pos_sorted]
        # annotations grouped by image row, file order inside a group (lvis-api's img_ann_map)
        ann_img, ann_cat = store.finish()
        k = np.minimum(np.searchsorted(self._img_id_sorted, ann_img), len(self.img_ids) - 1)
        found = self._img_id_sorted[k] == ann_img if len(self.img_ids) else ann_img < 0
        row_of = np.where(found, self._img_pos_sorted[k] if len(self.img_ids) else -1, -1)
        keep = np.flatnonzero(row_of >= 0)  # annotations of images not in the file: unused
        order = keep[np.argsort(row_of[keep], kind='stable')]
        self._ann_order = order
        self._ann_cats = ann_cat[order]
        self._ann_cat_offsets = np.zeros(len(self.img_ids) + 1, dtype=np.int64)
        np.cumsum(np.bincount(row_of[keep], minlength=len(self.img_ids)),
                  out=self._ann_cat_offsets[1:])
        self._ann_records = store.records
        infos = CompactRecords(dict(img, filename=self._image_filename(img))
                               for img in images.values())
        del images
        release_freed_memory()
        return infos

    def _position(self, img_id: int) -> int:
        """Row of an image id in the loaded file (before filtering)."""
        k = int(np.searchsorted(self._img_id_sorted, img_id))
        if k == len(self._img_id_sorted) or self._img_id_sorted[k] != img_id:
            return -1
        return int(self._img_pos_sorted[k])

    def _anns_of(self, img_id: int) -> list:
        pos = self._position(img_id)
        if pos < 0:
            return []
        rows = self._ann_order[self._ann_cat_offsets[pos]:self._ann_cat_offsets[pos + 1]]
        return [self._ann_records[int(r)] for r in rows]

    def get_ann_info(self, idx):
        if not self.compact_annotations:
            return super().get_ann_info(idx)
        img_info = self.data_infos[idx]
        return self._parse_ann_info(img_info, self._anns_of(img_info['id']))

    def get_cat_ids(self, idx):
        if not self.compact_annotations:
            return super().get_cat_ids(idx)
        pos = self._position(self.data_infos[idx]['id'])
        if pos < 0:
            return []
        return self._ann_cats[self._ann_cat_offsets[pos]:self._ann_cat_offsets[pos + 1]].tolist()

    def _filter_imgs(self, min_size=32):
        if not self.compact_annotations:
            return super()._filter_imgs(min_size)
        # mmdet keeps an image when it has an annotation of one of cat_ids (if filter_empty_gt)
        # and its shorter side is >= min_size
        in_cats = np.isin(self._ann_cats, np.array(self.cat_ids, dtype=np.int64))
        rows = np.repeat(np.arange(len(self.img_ids)), np.diff(self._ann_cat_offsets))
        has_cat = np.bincount(rows[in_cats], minlength=len(self.img_ids)) > 0
        valid_inds, valid_img_ids = [], []
        for i in range(len(self.data_infos)):
            img_info = self.data_infos[i]
            if self.filter_empty_gt and not has_cat[self._position(img_info['id'])]:
                continue
            if min(img_info['width'], img_info['height']) >= min_size:
                valid_inds.append(i)
                valid_img_ids.append(self.img_ids[i])
        self.img_ids = valid_img_ids
        return valid_inds

    def _ground_truth(self):
        """What the evaluator reads: the file (compact) or lvis-api's parsed dict."""
        return self._gt_path if self.compact_annotations else self.coco.dataset


class _KitLVISEvaluation:
    """Evaluation shared by the v1 and v0.5 datasets (mixed in before mmdet's class)."""

    def __init__(self, *args, eval_backend: str = DEFAULT_BACKEND, **kwargs):
        self.eval_backend = eval_backend
        super().__init__(*args, **kwargs)

    def results_to_lvis(self, results: Iterable, indices: Optional[Sequence[int]] = None
                        ) -> Tuple[List[dict], List[dict]]:
        indices = range(len(self)) if indices is None else indices
        bbox, segm = [], []
        for idx, result in zip(indices, results):
            b, s = detections_to_lvis(result, self.img_ids[idx], self.cat_ids)
            bbox += b
            segm += s
        return bbox, segm

    def evaluate_lvis_results(self, results_by_iou: Dict[str, object], logger=None,
                              backend: Optional[str] = None) -> Dict[str, Dict[str, float]]:
        """``results_by_iou`` maps 'bbox'/'segm' to a result list or a list of shard files."""
        backend = backend or self.eval_backend
        metrics = {}
        for iou_type, results in results_by_iou.items():
            metrics[iou_type] = evaluate_lvis(self._ground_truth(), results, iou_type=iou_type,
                                              backend=backend)
        table = format_metrics_table(metrics)
        if logger is not None and hasattr(logger, 'info'):
            logger.info(f'LVIS evaluation ({backend}):\n{table}')
        else:
            print(f'LVIS evaluation ({backend}):\n{table}', flush=True)
        return metrics

    def evaluate(self, results, metric=IOU_TYPES, logger=None, backend: Optional[str] = None,
                 **kwargs) -> Dict[str, float]:
        metrics = [metric] if isinstance(metric, str) else list(metric)
        unknown = [m for m in metrics if m not in IOU_TYPES]
        if unknown:
            raise KeyError(f'metric {unknown} is not supported: use {list(IOU_TYPES)}')
        bbox, segm = self.results_to_lvis(results)
        chosen = {k: v for k, v in (('bbox', bbox), ('segm', segm)) if k in metrics}
        return flatten_metrics(self.evaluate_lvis_results(chosen, logger, backend))


@DATASETS.register_module()
class IIFLVISV1Dataset(_KitLVISEvaluation, _CompactLVISAnnotations, LVISV1Dataset):
    """mmdet's LVISV1Dataset evaluated by the kit's evaluator (``eval_backend``: fast | lvis),
    annotations held compactly unless ``compact_annotations=False``."""

    def _image_filename(self, info: dict) -> str:
        # as mmdet: v1 takes the train2017/ or val2017/ path from coco_url
        return info['coco_url'].replace('http://images.cocodataset.org/', '')


@DATASETS.register_module()
class IIFLVISV05Dataset(_KitLVISEvaluation, _CompactLVISAnnotations, LVISV05Dataset):
    """mmdet's LVISV05Dataset evaluated by the kit's evaluator (``eval_backend``: fast | lvis),
    annotations held compactly unless ``compact_annotations=False``."""

    def _image_filename(self, info: dict) -> str:
        # as mmdet: COCO_val2014_000000000000.jpg -> 000000000000.jpg
        name = info['file_name']
        return name[-16:] if name.startswith('COCO') else name


__all__ = ['CompactRecords', 'IIFLVISV1Dataset', 'IIFLVISV05Dataset', 'detections_to_lvis',
           'flatten_metrics', 'parse_lvis_streaming']

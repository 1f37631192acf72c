"""IIF at inference: the smoke IIF model's detection scores are softmax(w * z) of its bbox head's
logits z (w: the IIF weights of the training annotations, 1 for background), not softmax(z).
The weights are computed here from the annotation file, independently of the loss's buffer."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmcv import Config

import iif.mmdet_plugins  # noqa: F401  registers the components
from iif import weights
from iif.engine.entry import build_model

from conftest import SMOKE_IIF


@pytest.fixture
def model_and_weights(smoke_workdir, monkeypatch):
    monkeypatch.chdir(smoke_workdir)  # the config reads data/smoke/ relative to the cwd
    cfg = Config.fromfile(str(SMOKE_IIF))
    torch.manual_seed(0)
    model = build_model(cfg, str(SMOKE_IIF))
    model.init_weights()
    # spread the classifier's logits (the config starts it at a constant 0.001, where w * z and
    # z give nearly the same softmax) so the two activations differ clearly
    torch.nn.init.normal_(model.roi_head.bbox_head.fc_cls.weight, std=0.2)
    torch.nn.init.normal_(model.roi_head.bbox_head.fc_cls.bias, std=1.0)
    model.eval()
    ann = smoke_workdir / 'data' / 'smoke' / 'annotations' / 'lvis_v1_train.json'
    w = weights.compute_weights(weights.counts_from_annotations(ann), 'raw')
    assert len(w) == 8 and min(w) > 0 and max(w) / min(w) > 1.2  # distinct per class
    return model, torch.tensor(list(w) + [1.0])


def image_batch():
    torch.manual_seed(1)
    img = torch.randn(1, 3, 256, 320)
    meta = dict(img_shape=(256, 320, 3), ori_shape=(256, 320, 3), pad_shape=(256, 320, 3),
                scale_factor=np.ones(4, dtype=np.float32), flip=False, flip_direction=None,
                batch_input_shape=(256, 320))
    return img, [meta]


def test_bbox_head_scores_are_softmax_of_iif_scaled_logits(model_and_weights):
    model, w = model_and_weights
    head = model.roi_head.bbox_head
    logits = []
    hook = head.register_forward_hook(lambda module, inputs, out: logits.append(out[0]))
    img, metas = image_batch()
    with torch.no_grad():
        feats = model.extract_feat(img)
        proposals = model.rpn_head.simple_test_rpn(feats, metas)
        # rcnn_test_cfg=None: the head returns every RoI's class scores before NMS
        _, scores = model.roi_head.simple_test_bboxes(feats, metas, proposals, None)
    hook.remove()
    z, = logits
    scores, = scores
    assert z.shape == scores.shape == (len(proposals[0]), 9) and len(z) > 50
    torch.testing.assert_close(scores, F.softmax(z * w, dim=-1), rtol=1e-5, atol=1e-6)
    plain = F.softmax(z, dim=-1)
    assert (scores - plain).abs().max() > 0.05, 'IIF must change the scores'


def test_detections_carry_iif_scores(model_and_weights):
    """The full simple_test (NMS, top-k) keeps scores taken from softmax(w * z)."""
    model, w = model_and_weights
    model.test_cfg.rcnn.score_thr = 0.0
    logits = []
    hook = model.roi_head.bbox_head.register_forward_hook(
        lambda module, inputs, out: logits.append(out[0]))
    img, metas = image_batch()
    with torch.no_grad():
        bbox_results, _ = model.simple_test(img, metas)[0]
    hook.remove()
    z, = logits
    iif_scores = F.softmax(z * w, dim=-1)[:, :-1]
    plain_scores = F.softmax(z, dim=-1)[:, :-1]
    matched_iif = matched_plain = total = 0
    for cls, dets in enumerate(bbox_results):
        for score in dets[:, 4]:
            total += 1
            matched_iif += bool(torch.isclose(iif_scores[:, cls], torch.tensor(score),
                                              rtol=1e-5, atol=1e-7).any())
            matched_plain += bool(torch.isclose(plain_scores[:, cls], torch.tensor(score),
                                                rtol=1e-5, atol=1e-7).any())
    assert total > 20
    assert matched_iif == total
    assert matched_plain < total / 2

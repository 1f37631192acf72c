"""IIFLoss and IIFNormedLinear against hand computations."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmdet.models.builder import build_loss
from mmdet.models.utils import NormedLinear, build_linear_layer

import iif.mmdet_plugins  # noqa: F401  registers the components
from iif import weights
from iif.models import IIFLoss, IIFNormedLinear

from conftest import REPO


def write_weights_csv(path: Path, values, variant='raw') -> str:
    header = ['id', 'name', 'frequency', 'image_count', 'instance_count'] + weights.VARIANTS
    lines = [','.join(header)]
    for i, v in enumerate(values, start=1):
        lines.append(','.join([str(i), f'c{i}', 'f', '1', '1'] + [repr(float(v))] * 14))
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def test_forward_backward_match_hand_computation(tmp_path):
    w = [2.0, 0.5, 1.5]
    loss = build_loss(dict(type='IIFLoss', variant='raw',
                           weights=write_weights_csv(tmp_path / 'w.csv', w), num_classes=3))
    z = torch.tensor([[1.0, -2.0, 0.5, 0.3], [0.2, 0.1, -1.0, 2.0]], requires_grad=True)
    labels = torch.tensor([2, 3])  # class 2 and background (index 3)
    out = loss(z, labels)

    # by hand: scaled logits s = (w1 z1, w2 z2, w3 z3, 1 * z_bg), CE = -log softmax(s)[label]
    scale = torch.tensor(w + [1.0])
    per_sample = []
    for row, label in zip(z.detach(), labels):
        s = row * scale
        per_sample.append(-(s[label] - math.log(sum(math.exp(v) for v in s.tolist()))))
    assert out.item() == pytest.approx(sum(per_sample) / 2, rel=1e-6)

    out.backward()
    # d/dz_j of CE(s) = (softmax(s)_j - onehot_j) * scale_j, averaged over the 2 samples
    expected = torch.stack([(F.softmax(r.detach() * scale, 0) - F.one_hot(label, 4)) * scale
                            for r, label in zip(z, labels)]) / 2
    torch.testing.assert_close(z.grad, expected)


def test_equals_softmax_cross_entropy_when_weights_are_one(tmp_path):
    loss = IIFLoss(variant='raw', weights=write_weights_csv(tmp_path / 'ones.csv', [1.0] * 5))
    torch.manual_seed(0)
    z = torch.randn(64, 6)
    labels = torch.randint(0, 6, (64,))
    sample_weights = torch.rand(64)
    torch.testing.assert_close(loss(z, labels), F.cross_entropy(z, labels))
    torch.testing.assert_close(
        loss(z, labels, weight=sample_weights, avg_factor=20.0),
        (F.cross_entropy(z, labels, reduction='none') * sample_weights).sum() / 20.0)
    torch.testing.assert_close(loss.get_activation(z), F.softmax(z, -1))


def test_activation_is_softmax_of_scaled_logits():
    loss = IIFLoss(variant='base10_obj', weights='lvis_v1', num_classes=1203)
    w = torch.tensor(weights.load_weights('lvis_v1', 'base10_obj') + [1.0])
    torch.manual_seed(1)
    z = torch.randn(7, 1204)
    torch.testing.assert_close(loss.get_activation(z), F.softmax(z * w, dim=-1))
    assert loss.get_cls_channels(1203) == 1204
    acc = loss.get_accuracy(z, torch.zeros(7, dtype=torch.long))
    assert set(acc) == {'acc'}


def test_weights_are_a_buffer_that_follows_the_module():
    loss = IIFLoss(variant='raw', weights='lvis_v0.5', num_classes=1230)
    assert 'iif_weights' in dict(loss.named_buffers())
    assert loss.iif_weights[-1].item() == 1.0  # background
    assert loss.to(torch.float64).iif_weights.dtype == torch.float64
    assert 'iif_weights' not in loss.state_dict(), 'the config, not the checkpoint, owns them'


def test_no_cuda_calls_in_the_package():
    offenders = [str(p) for p in (REPO / 'iif').rglob('*.py') if '.cuda()' in p.read_text()]
    assert not offenders, f'device-specific .cuda() calls: {offenders}'


def test_class_count_mismatch_is_a_clear_error():
    with pytest.raises(weights.WeightsError, match='1203 classes but the head has num_classes=80'):
        IIFLoss(variant='raw', weights='lvis_v1', num_classes=80)
    loss = IIFLoss(variant='raw', weights='lvis_v1')
    with pytest.raises(weights.WeightsError, match='bbox head has num_classes=8'):
        loss.get_cls_channels(8)


def test_unknown_variant_is_a_clear_error():
    with pytest.raises(weights.WeightsError, match='unknown IIF variant .cubic.'):
        IIFLoss(variant='cubic')


def test_sigmoid_is_refused():
    with pytest.raises(weights.WeightsError, match='softmax loss'):
        IIFLoss(use_sigmoid=True)


def test_normed_linear_equals_mmdet_for_positive_weights_and_flips_negative(tmp_path):
    torch.manual_seed(0)
    positive = write_weights_csv(tmp_path / 'pos.csv', [0.5, 3.0, 7.0])
    layer = build_linear_layer(dict(type='IIFNormedLinear', tempearture=8, weights=positive),
                               in_features=16, out_features=4)
    assert isinstance(layer, IIFNormedLinear)
    with torch.no_grad():  # unit-scale vectors, so eps=1e-6 in the norms is negligible
        layer.weight.normal_()
    plain = NormedLinear(16, 4, tempearture=8)
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(5, 16)
    torch.testing.assert_close(layer(x), plain(x), rtol=1e-5, atol=1e-5)

    negative = write_weights_csv(tmp_path / 'neg.csv', [-2.0, 1.0, 1.0])
    flipped = IIFNormedLinear(16, 4, tempearture=8, weights=negative)
    flipped.load_state_dict(layer.state_dict())
    out, ref = flipped(x), plain(x)
    torch.testing.assert_close(out[:, 0], -ref[:, 0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out[:, 1:], ref[:, 1:], rtol=1e-5, atol=1e-5)


def test_normed_linear_class_count_mismatch():
    with pytest.raises(weights.WeightsError, match='IIFNormedLinear: .* 1203 classes'):
        IIFNormedLinear(16, 9, weights='lvis_v1')

"""FASA (iif.models.fasa, FASAHook): the statistics, sampling and adaptation against hand
computations; affinity propagation; every FASA config builds; the RSB backbone's missing
checkpoint error; and CPU training on the small dataset in which virtual features are sampled
and the sampling probabilities adapt and are checkpointed: 2 epochs in 1 process, 2 epochs in
2 processes, a third epoch resumed from the 1-process run (on 2 processes: much quicker than
one 2-thread process on 2 cores), and tools/dist_test.sh on a FASA checkpoint."""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmcv import Config

import iif.mmdet_plugins  # noqa: F401  registers the kit's components
from iif.engine.entry import build_model
from iif.errors import UserError
from iif.models import fasa
from iif.models.affinity_propagation import affinity_propagation
from iif.models.fasa import FASAShared2FCBBoxHead
from iif.models.fasa_cascade import FASACascadeRoIHead
from iif.models.fasa_hook import FASAHook
from iif.models.local_pretrained import BackboneCheckpointError

from conftest import CONFIGS, REPO, cpu_env, explain, run

FASA_CONFIGS = sorted((CONFIGS / 'fasa').glob('*.py')) + \
    sorted((CONFIGS / 'smoke' / 'fasa').glob('*.py'))
RSB = CONFIGS / 'fasa' / 'fasa_iof_base10_r50_rfs_cos_norm_4x4_1x_rsb_lvis_v1.py'
SMOKE_FASA_IIF = CONFIGS / 'smoke' / 'fasa' / 'fasa_iif_r18_fpn_smoke.py'
SMOKE_FASA_IOF = CONFIGS / 'smoke' / 'fasa' / 'fasa_iof_base10_r18_fpn_smoke.py'
SMOKE_CASCADE = CONFIGS / 'smoke' / 'fasa' / 'fasa_iif_cascade_r18_fpn_smoke.py'
CASCADE = CONFIGS / 'fasa' / 'fasa_iif_cascade_r101_rfs_cos_norm_4x4_2x_lvis_v1.py'
HEAD = 'roi_head.bbox_head.'
UP, DOWN = 1.1, 0.9


# ------------------------------------------------------------------------------ helpers
def write_counts(path: Path, images_per_class) -> Path:
    """An annotation file whose class k has one instance in each image of images_per_class[k]."""
    pairs = [(c + 1, i) for c, images in enumerate(images_per_class) for i in images]
    anns = [dict(id=k, image_id=image, category_id=cat)
            for k, (cat, image) in enumerate(pairs, start=1)]
    num_images = max(i for images in images_per_class for i in images)
    path.write_text(json.dumps(dict(
        images=[dict(id=i) for i in range(1, num_images + 1)], annotations=anns,
        categories=[dict(id=c + 1, name=f'c{c + 1}') for c in range(len(images_per_class))])))
    return path


@pytest.fixture
def tiny_counts(tmp_path) -> Path:
    """3 classes with 1, 2 and 4 instances (in 1, 1 and 2 of 4 images)."""
    return write_counts(tmp_path / 'tiny.json', [[1], [2, 2], [3, 3, 4, 4]])


def tiny_head(counts: Path, num_classes: int = 3, **fasa_cfg) -> FASAShared2FCBBoxHead:
    torch.manual_seed(0)
    head = FASAShared2FCBBoxHead(
        in_channels=4, roi_feat_size=1, fc_out_channels=3, num_classes=num_classes,
        instance_counts=str(counts), fasa_cfg=fasa_cfg,
        loss_cls=dict(type='IIFLoss', variant='raw', weights=str(counts),
                      num_classes=num_classes))
    head.init_weights()
    return head


def targets(labels):
    labels = torch.as_tensor(labels)
    n = labels.numel()
    return dict(rois=torch.zeros(n, 5), labels=labels, label_weights=torch.ones(n),
                bbox_targets=torch.zeros(n, 4), bbox_weights=torch.zeros(n, 4))


def forward_loss(head, x, labels):
    """One bbox-head step as StandardRoIHead runs it; returns (losses, classifier input)."""
    cls_score, bbox_pred = head(x)
    features = head._fasa_features.detach().clone()
    t = targets(labels)
    losses = head.loss(cls_score, bbox_pred, t['rois'], t['labels'], t['label_weights'],
                       t['bbox_targets'], t['bbox_weights'])
    return losses, features, cls_score


def iif_raw_weights(counts_path: Path) -> torch.Tensor:
    data = json.loads(counts_path.read_text())
    n_images = len(data['images'])
    images = {c['id']: set() for c in data['categories']}
    for a in data['annotations']:
        images[a['category_id']].add(a['image_id'])
    return torch.tensor([math.log(n_images / len(images[c])) for c in sorted(images)] + [1.0])


def instance_counts(path: Path):
    data = json.loads(Path(path).read_text())
    ids = sorted(c['id'] for c in data['categories'])
    return [sum(a['category_id'] == c for a in data['annotations']) for c in ids]


# ------------------------------------------------------------------ the math by hand
def test_initial_probabilities_by_hand():
    # inverse counts 1, 1/2, 1/4 -> normalised 4/7, 2/7, 1/7
    assert fasa.initial_probabilities([1, 2, 4]).tolist() == pytest.approx([4 / 7, 2 / 7, 1 / 7])
    assert fasa.initial_probabilities([1, 2, 4], scale=2.0, power=2.0).tolist() == \
        pytest.approx([2 * (4 / 7) ** 2, 2 * (2 / 7) ** 2, 2 * (1 / 7) ** 2])
    assert fasa.initial_probabilities([1, 2, 4], scale=3.0).tolist() == \
        pytest.approx([1.0, 6 / 7, 3 / 7])  # 12/7 clamped to 1


def test_head_starts_from_the_counts_of_its_annotation_file(tiny_counts):
    head = tiny_head(tiny_counts, instance_prob_scale=0.5)
    assert head.fasa_prob.tolist() == pytest.approx([0.5 * 4 / 7, 0.5 * 2 / 7, 0.5 * 1 / 7])


def test_running_statistics_by_hand():
    mean, var, updates = torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3)
    # class 0: (1,2), (3,4) -> mean (2,3), unbiased variance (2,2); class 2: one sample
    x = torch.tensor([[1., 2.], [3., 4.], [7., 9.]])
    counts, bm, bv = fasa.class_moments(x, torch.tensor([0, 0, 2]), 3)
    assert counts.tolist() == [2, 0, 1]
    fasa.update_running_stats(mean, var, updates, counts, bm, bv, decay=0.1)
    assert mean.tolist() == [[2, 3], [0, 0], [7, 9]]  # first update: set
    assert var.tolist() == [[2, 2], [0, 0], [0, 0]]   # a single sample has variance 0
    assert updates.tolist() == [1, 0, 1]
    # class 0 again: (5,6), (5,8) -> mean (5,7), variance (0,2); decayed 0.1 towards it
    counts, bm, bv = fasa.class_moments(torch.tensor([[5., 6.], [5., 8.]]),
                                        torch.tensor([0, 0]), 3)
    fasa.update_running_stats(mean, var, updates, counts, bm, bv, decay=0.1)
    assert mean[0].tolist() == pytest.approx([0.1 * 5 + 0.9 * 2, 0.1 * 7 + 0.9 * 3])
    assert var[0].tolist() == pytest.approx([0.9 * 2, 0.1 * 2 + 0.9 * 2])
    assert mean[2].tolist() == [7, 9] and updates.tolist() == [2, 0, 1]


def test_head_tracks_the_positive_classifier_inputs(tiny_counts):
    head = tiny_head(tiny_counts)
    head.train()
    head.fasa_set_epoch(0)
    x = torch.randn(5, 4, 1, 1)
    labels = [0, 0, 2, 3, 3]  # 3 is background: not tracked
    _, features, _ = forward_loss(head, x, labels)
    assert torch.allclose(head.fasa_mean[0], features[:2].mean(0))
    assert torch.allclose(head.fasa_var[0], features[:2].var(0, unbiased=True))
    assert torch.allclose(head.fasa_mean[2], features[2])
    assert head.fasa_updates.tolist() == [1, 0, 1]
    assert torch.count_nonzero(head.fasa_mean[1]) == 0
    first = head.fasa_mean[0].clone()
    _, features, _ = forward_loss(head, torch.randn(2, 4, 1, 1), [0, 0])
    assert torch.allclose(head.fasa_mean[0], 0.1 * features.mean(0) + 0.9 * first)


def test_virtual_feature_sampling_by_hand():
    mean = torch.tensor([[1., 2.], [3., 4.], [5., 6.], [7., 8.]])
    var = torch.tensor([[4., 1.], [0., 0.], [1., 9.], [1., 1.]])
    prob = torch.tensor([0.5, 1.0, 0.5, 1.0])
    seen = torch.tensor([True, True, True, False])  # class 3 has no statistics yet
    g = torch.Generator().manual_seed(3)
    feats, labels = fasa.sample_virtual_features(mean, var, prob, seen, generator=g)
    g = torch.Generator().manual_seed(3)
    u = torch.rand(4, generator=g)
    expected = [c for c in range(4) if u[c] < prob[c] and c != 3]
    z = torch.randn(len(expected), 2, generator=g)
    assert labels.tolist() == expected and 1 in expected
    for row, c in enumerate(expected):
        assert feats[row].tolist() == pytest.approx((mean[c] + var[c].sqrt() * z[row]).tolist())
    # p 1 and 0, and the moments of many draws
    torch.manual_seed(0)
    draws = [fasa.sample_virtual_features(mean, var, torch.tensor([1., 0., 1., 1.]), seen)
             for _ in range(4000)]
    assert all(drawn.tolist() == [0, 2] for _, drawn in draws)
    class2 = torch.stack([f[1] for f, _ in draws])
    assert class2.mean(0).tolist() == pytest.approx([5, 6], abs=0.15)
    assert class2.var(0).tolist() == pytest.approx([1, 9], rel=0.1)


def test_augmentation_loss_goes_through_the_iif_loss(tiny_counts):
    head = tiny_head(tiny_counts)
    head.train()
    head.fasa_set_epoch(0)
    losses, _, _ = forward_loss(head, torch.randn(4, 4, 1, 1), [0, 1, 2, 3])
    assert float(losses['loss_cls_aug']) == 0.0  # first epoch: statistics only
    # from the second epoch, with p_c = 1 and zero variance, the virtual feature of class c
    # is its mean: loss 0.1 * mean_c CE(w * fc_cls(mean_c), c)
    head.fasa_set_epoch(1)
    head.fasa_prob.fill_(1.0)
    x = torch.randn(4, 4, 1, 1)
    cls_score, bbox_pred = head(x)
    head.fasa_var.zero_()
    t = targets([3, 3, 3, 3])  # background only: the statistics stay as they are
    mean = head.fasa_mean.clone()
    losses = head.loss(cls_score, bbox_pred, *t.values())
    w = iif_raw_weights(tiny_counts)
    logits = F.linear(mean, head.fc_cls.weight, head.fc_cls.bias) * w
    expected = 0.1 * F.cross_entropy(logits, torch.arange(3))
    assert float(losses['loss_cls_aug']) == pytest.approx(float(expected), rel=1e-5)
    losses['loss_cls_aug'].backward()
    assert head.fc_cls.weight.grad is not None and head.fc_cls.weight.grad.abs().sum() > 0


def test_training_without_the_hook_is_refused(tiny_counts):
    head = tiny_head(tiny_counts)
    head.train()
    with pytest.raises(UserError, match="FASAHook"):
        forward_loss(head, torch.randn(2, 4, 1, 1), [0, 1])


def test_head_argument_errors(tiny_counts):
    with pytest.raises(UserError, match='unknown fasa_cfg keys'):
        tiny_head(tiny_counts, decay=0.2)
    with pytest.raises(ValueError, match='1203 classes but the head has num_classes=3'):
        FASAShared2FCBBoxHead(in_channels=4, roi_feat_size=1, fc_out_channels=3,
                              num_classes=3, instance_counts='lvis_v1')


def test_adaptation_rule_by_hand():
    prob = torch.tensor([0.5, 0.95, 0.2, 0.4, 0.3])
    clusters = torch.tensor([0, 0, 1, 1, -1])  # class 4 has no statistics: no group
    prev = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0])
    loss = torch.tensor([0.5, 1.2, 2.0, 0.5, 0.1])  # group 0: -0.3, group 1: +0.5
    valid = torch.ones(5, dtype=torch.bool)
    new, factor = fasa.adapt_probabilities(prob, clusters, loss, valid, prev, valid, UP, DOWN)
    assert factor.tolist() == pytest.approx([UP, UP, DOWN, DOWN, 1.0])
    assert new.tolist() == pytest.approx([0.55, 1.0, 0.18, 0.36, 0.3])  # 1.045 clamped
    # a class without a loss in either pass does not count in its group's change
    valid_now = torch.tensor([True, True, False, True, True])
    new, factor = fasa.adapt_probabilities(prob, clusters, loss, valid_now, prev, valid, UP, DOWN)
    assert factor.tolist() == pytest.approx([UP, UP, UP, UP, 1.0])  # group 1: -0.5 only


# Six classes; 0 and 5 never seen (zero means). Squared distances by hand (exact in float32):
SIX_MEANS = [[0, 0], [1, 0], [1.25, 0.5], [4, 4], [4.5, 3.5], [0, 0]]
SIX_D2 = [[0, 1, 1.8125, 32, 32.5, 0],
          [1, 0, 0.3125, 25, 24.5, 1],
          [1.8125, 0.3125, 0, 19.8125, 19.5625, 1.8125],
          [32, 25, 19.8125, 0, 0.5, 32],
          [32.5, 24.5, 19.5625, 0.5, 0, 32.5],
          [0, 1, 1.8125, 32, 32.5, 0]]


@pytest.mark.parametrize('rules', ['research', 'earlier'])
def test_head_adaptation_from_validation_losses(tmp_path, rules):
    """Two validation passes through the head's loss; p_c updated by the rules computed here.
    research: signal_c = (sum of class c's RoI losses) / (all 10 RoIs, background included),
    groups by affinity propagation (random_state 1) on the positive squared distances SIX_D2
    of all six class means, group change = sum over members of (pass 2 - pass 1).
    earlier (options mean_fg / negative_seen): mean loss over the class's RoIs, groups on
    the negative distances of the four seen classes."""
    counts = write_counts(tmp_path / 'six.json', [[1], [2, 2], [3], [3, 4], [5], [6]])
    options = {} if rules == 'research' else dict(adapt_signal='mean_fg',
                                                  grouping='negative_seen')
    head = tiny_head(counts, num_classes=6, **options)
    p0 = head.fasa_prob.clone()
    head.fasa_mean.copy_(F.pad(torch.tensor(SIX_MEANS, dtype=torch.float32), (0, 1)))
    head.fasa_updates.copy_(torch.tensor([0., 1, 1, 1, 1, 0]))
    head.eval()
    x = torch.randn(10, 4, 1, 1)
    labels = torch.tensor([0, 1, 1, 2, 3, 3, 4, 5, 6, 6])  # 6: background
    w = iif_raw_weights(counts)

    def validation_pass():
        head.fasa_start_validation()
        cls_score, bbox_pred = head(x)
        t = targets(labels)
        with torch.no_grad():
            head.loss(cls_score, bbox_pred, *t.values())
        per = F.cross_entropy(cls_score.detach() * w, labels, reduction='none')
        if rules == 'research':
            return torch.tensor([float(per[labels == c].sum()) / 10 for c in range(6)])
        return torch.tensor([float(per[labels == c].mean()) for c in range(6)])

    signal1 = validation_pass()
    info = head.fasa_adapt()
    assert not info['compared'] and torch.equal(head.fasa_prob, p0)  # first pass: baseline
    assert head.fasa_prev_loss.tolist() == pytest.approx(signal1.tolist(), rel=1e-5)
    assert head.fasa_prev_valid.tolist() == [True] * 6

    # raising the logits of classes 1 and 2 lowers their losses and raises those of 3 and 4
    with torch.no_grad():
        head.fc_cls.bias[1:3] += 3
    signal2 = validation_pass()
    assert (signal2[1:3] < signal1[1:3]).all() and (signal2[3:5] > signal1[3:5]).all()
    info = head.fasa_adapt()
    if rules == 'research':
        result = affinity_propagation(np.array(SIX_D2, dtype=np.float32), random_state=1)
        assert result.converged and result.labels.tolist() == [0] * 6  # see below
    else:
        d2 = np.array(SIX_D2)[1:5, 1:5]
        off_diagonal = -d2[~np.eye(4, dtype=bool)]
        result = affinity_propagation(-d2, preference=np.median(off_diagonal), random_state=0)
        assert result.labels.tolist() == [0, 0, 1, 1]  # {1, 2} and {3, 4}
    groups = result.labels.tolist()
    members_of = [list(range(6))] * 1 if rules == 'research' else \
        [[1 + i for i, g in enumerate(groups) if g == k] for k in sorted(set(groups))]
    factor = torch.ones(6)
    for members in members_of:
        change = float(signal2[members].sum() - signal1[members].sum())
        factor[members] = UP if change < 0 else DOWN
    assert info['compared'] and info['clusters'] == len(members_of)
    assert head.fasa_prob.tolist() == pytest.approx((p0 * factor).tolist())
    assert head.fasa_prev_loss.tolist() == pytest.approx(signal2.tolist(), rel=1e-5)
    assert not head._fasa_accumulating and float(head._fasa_val_count.sum()) == 0
    if rules == 'earlier':
        assert factor.tolist() == pytest.approx([1.0, UP, UP, DOWN, DOWN, 1.0])


# ------------------------------------------------------------ the research rules by hand
def test_research_signal_is_a_share_of_all_val_rois():
    # 3 classes + background: loss sums 0.6, 0, 0.9 and 2.0 over 2, 0, 3 and 5 RoIs
    loss_sum = torch.tensor([0.6, 0.0, 0.9, 2.0])
    count = torch.tensor([2.0, 0.0, 3.0, 5.0])
    signal, valid, usable = fasa.validation_signal(loss_sum, count, 3, 'research')
    assert signal.tolist() == pytest.approx([0.06, 0.0, 0.09])  # / 10 RoIs
    assert valid.tolist() == [True, True, True] and usable
    signal, valid, usable = fasa.validation_signal(loss_sum, count, 3, 'mean_fg')
    assert signal.tolist() == pytest.approx([0.3, 0.0, 0.3])
    assert valid.tolist() == [True, False, True] and usable
    _, _, usable = fasa.validation_signal(torch.zeros(4), torch.zeros(4), 3, 'research')
    assert not usable
    _, _, usable = fasa.validation_signal(torch.tensor([0, 0, 0, 2.]),
                                          torch.tensor([0, 0, 0, 5.]), 3, 'mean_fg')
    assert not usable  # background only: nothing to compare for mean_fg


def test_research_group_change_sums_every_member():
    """Groups {0, 1} and {2, 3}. Research: class 1 had no RoIs before (signal 0) and now has
    some, so group 0 changes by (0.05 + 0.02) - (0.06 + 0) = +0.01 (p_c down); group 1 by
    (0.09 + 0) - (0.09 + 0.01) = -0.01 (p_c up). The earlier rule drops class 1 (no loss in
    the first pass) and class 3 (none now): group 0 -0.01 (up), group 1 0 (unchanged)."""
    prob = torch.tensor([0.5, 0.4, 0.3, 0.2])
    clusters = torch.tensor([0, 0, 1, 1])
    before = torch.tensor([0.06, 0.0, 0.09, 0.01])
    now = torch.tensor([0.05, 0.02, 0.09, 0.0])
    every = torch.ones(4, dtype=torch.bool)
    new, factor = fasa.adapt_probabilities(prob, clusters, now, every, before, every, UP, DOWN)
    assert factor.tolist() == pytest.approx([DOWN, DOWN, UP, UP])
    assert new.tolist() == pytest.approx([0.45, 0.36, 0.33, 0.22])
    _, factor = fasa.adapt_probabilities(
        prob, clusters, now, torch.tensor([True, True, True, False]), before,
        torch.tensor([True, False, True, True]), UP, DOWN)
    assert factor.tolist() == pytest.approx([UP, UP, 1.0, 1.0])


def test_research_grouping_uses_positive_distances_over_all_classes():
    mean = torch.tensor(SIX_MEANS, dtype=torch.float32)
    seen = torch.tensor([False, True, True, True, True, False])
    d2 = fasa.research_squared_distances(mean)
    assert d2.dtype == np.float32 and d2.tolist() == SIX_D2  # exact in float32
    clusters, info = fasa.group_classes(mean, seen, 'research')
    # what scikit-learn 1.7.2 gives for AffinityPropagation(affinity='precomputed',
    # random_state=1).fit(SIX_D2 as float32): one cluster around class 4 (19 iterations)
    result = affinity_propagation(np.array(SIX_D2, dtype=np.float32), random_state=1)
    assert result.converged and result.iterations == 19
    assert result.labels.tolist() == [0] * 6 and result.exemplars.tolist() == [4]
    assert clusters.tolist() == [0] * 6 and info == dict(clusters=1, converged=True)
    # the median of the whole matrix (zeros on the diagonal included) is the preference
    assert np.median(np.array(SIX_D2)) == 1.8125
    assert affinity_propagation(np.array(SIX_D2, dtype=np.float32), preference=1.8125,
                                random_state=1).labels.tolist() == [0] * 6
    # the earlier rule: negative distances among the 4 seen classes -> {1, 2}, {3, 4}
    clusters, info = fasa.group_classes(mean, seen, 'negative_seen')
    assert clusters.tolist() == [-1, 0, 0, 1, 1, -1] and info['clusters'] == 2


def test_unconverged_affinity_propagation_gives_no_groups_by_default(monkeypatch):
    mean = torch.tensor(SIX_MEANS, dtype=torch.float32)
    seen = torch.ones(6, dtype=torch.bool)
    original = fasa.affinity_propagation
    monkeypatch.setattr(fasa, 'affinity_propagation',
                        lambda *args, **kwargs: original(*args, max_iter=10, **kwargs))
    clusters, info = fasa.group_classes(mean, seen, 'research', 'no_groups')
    assert clusters.tolist() == [-1] * 6 and info == dict(clusters=0, converged=False)
    clusters, info = fasa.group_classes(mean, seen, 'research', 'last_exemplars')
    assert clusters.tolist() == [0] * 6 and info == dict(clusters=1, converged=False)


def test_fasa_rule_options_are_checked(tiny_counts):
    with pytest.raises(UserError, match="grouping='negative' is not one of 'research', "
                                        "'negative_seen'"):
        tiny_head(tiny_counts, grouping='negative')
    with pytest.raises(UserError, match='virtual_rng'):
        tiny_head(tiny_counts, virtual_rng='shared')
    with pytest.raises(UserError, match='aug_start_epoch=-1'):
        tiny_head(tiny_counts, aug_start_epoch=-1)
    head = tiny_head(tiny_counts)
    assert {k: head.fasa_cfg[k] for k in fasa.FASA_CHOICES} == dict(
        grouping='research', unconverged='no_groups', adapt_signal='research',
        virtual_rng='per_rank')


def test_aug_start_epoch_none_never_samples(tiny_counts):
    head = tiny_head(tiny_counts, aug_start_epoch=None)
    head.train()
    head.fasa_prob.fill_(1.0)
    for epoch in (0, 1, 5):
        head.fasa_set_epoch(epoch, seed=1)
        losses, _, _ = forward_loss(head, torch.randn(4, 4, 1, 1), [0, 1, 2, 3])
        assert float(losses['loss_cls_aug']) == 0.0
    assert head.fasa_updates.tolist() == [3, 3, 3]  # the statistics are still kept


# ------------------------------------------------------ virtual features: per-rank draws
def drawn_features(head, steps: int = 3):
    """The virtual features one process draws in ``steps`` training steps."""
    out = []
    for _ in range(steps):
        features, labels = fasa.sample_virtual_features(head.fasa_mean, head.fasa_var,
                                                        head.fasa_prob, head.fasa_updates > 0,
                                                        generator=head._fasa_generator)
        out.append((features.clone(), labels.clone()))
    return out


def same_draws(a, b) -> bool:
    return all(torch.equal(fa, fb) and torch.equal(la, lb) for (fa, la), (fb, lb) in zip(a, b))


def fake_runner(model, epoch: int, rank: int, seed=11):
    return SimpleNamespace(model=model, epoch=epoch, rank=rank, meta=dict(seed=seed),
                           logger=None)


def test_virtual_features_per_rank_and_exact_on_resume(tiny_counts):
    """FASAHook seeds each head's generator from (run seed, epoch, rank, head): the ranks draw
    differently, and a fresh process (a resumed run) restoring the checkpoint draws exactly
    what the uninterrupted run drew in that epoch."""
    head = tiny_head(tiny_counts)
    head.fasa_mean.normal_()
    head.fasa_var.uniform_(0.5, 2.0)
    head.fasa_updates.fill_(1)
    head.fasa_prob.fill_(0.7)
    hook = FASAHook()
    hook.before_run(fake_runner(head, 0, 0))
    hook.before_train_epoch(fake_runner(head, 3, 0))
    rank0 = drawn_features(head)
    state = head.state_dict()

    resumed = tiny_head(tiny_counts)
    resumed.load_state_dict(state)
    torch.manual_seed(12345)  # the global RNG is not what the draws depend on
    hook2 = FASAHook()
    hook2.before_run(fake_runner(resumed, 3, 0))
    hook2.before_train_epoch(fake_runner(resumed, 3, 0))
    assert same_draws(drawn_features(resumed), rank0)

    hook2.before_train_epoch(fake_runner(resumed, 3, 1))
    assert not same_draws(drawn_features(resumed), rank0)  # another rank
    hook2.before_train_epoch(fake_runner(resumed, 4, 0))
    assert not same_draws(drawn_features(resumed), rank0)  # another epoch
    hook2.before_train_epoch(fake_runner(resumed, 3, 0, seed=12))
    assert not same_draws(drawn_features(resumed), rank0)  # another run seed
    assert fasa.virtual_feature_seed(11, 3, 0) == fasa.virtual_feature_seed(11, 3, 0)
    assert len({fasa.virtual_feature_seed(11, 3, 0, stream) for stream in range(3)}) == 3
    assert 0 <= fasa.virtual_feature_seed(2 ** 40, 10 ** 6, 7, 2) < 2 ** 63

    # the earlier rule: the global RNG, identical on every rank once seeded alike
    shared = tiny_head(tiny_counts, virtual_rng='global')
    shared.load_state_dict(state)
    hook3 = FASAHook()
    hook3.before_run(fake_runner(shared, 3, 0))
    draws = []
    for rank in (0, 1):
        hook3.before_train_epoch(fake_runner(shared, 3, rank))
        assert shared._fasa_generator is None
        torch.manual_seed(5)
        draws.append(drawn_features(shared))
    assert same_draws(*draws)


def test_state_is_in_the_state_dict_and_loads_back(tiny_counts):
    head = tiny_head(tiny_counts)
    for name in fasa.STATE_BUFFERS:
        assert name in head.state_dict()
    assert '_fasa_val_loss' not in head.state_dict()
    head.fasa_prob.mul_(1.1)
    head.fasa_mean.normal_()
    other = tiny_head(tiny_counts)
    other.load_state_dict(head.state_dict())
    assert torch.equal(other.fasa_prob, head.fasa_prob)
    assert torch.equal(other.fasa_mean, head.fasa_mean)


def _two_rank_worker(rank, init_file, out_dir):
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=2)
    torch.manual_seed(rank)
    x = torch.randn(5, 3) + rank
    labels = torch.tensor([0, 0, 1, 2, 2]) if rank == 0 else torch.tensor([0, 2, 2, 2, 2])
    counts, mean, var = fasa.class_moments(x, labels, 4)
    torch.save(dict(x=x, labels=labels, counts=counts, mean=mean, var=var),
               Path(out_dir) / f'rank{rank}.pt')
    dist.barrier()  # no destroy_process_group: with gloo it can deadlock at teardown


def test_class_moments_are_pooled_over_processes(tmp_path):
    workers = torch.multiprocessing.spawn(
        _two_rank_worker, args=(str(tmp_path / 'init'), str(tmp_path)), nprocs=2, join=False)
    deadline = time.time() + 300
    while not workers.join(timeout=5):
        if time.time() > deadline:
            for process in workers.processes:
                process.kill()
            pytest.fail('the 2-process gloo workers did not finish in 300 s')
    r0, r1 = (torch.load(tmp_path / f'rank{r}.pt') for r in (0, 1))
    x, labels = torch.cat([r0['x'], r1['x']]), torch.cat([r0['labels'], r1['labels']])
    for r in (r0, r1):
        assert r['counts'].tolist() == [3, 1, 6, 0]
        for c in (0, 2):
            assert torch.allclose(r['mean'][c], x[labels == c].mean(0), atol=1e-6)
            assert torch.allclose(r['var'][c], x[labels == c].var(0), atol=1e-5)
        assert torch.allclose(r['var'][1], torch.zeros(3))


# ------------------------------------------------------------------ affinity propagation
def test_affinity_propagation_two_obvious_clusters():
    x = np.array([0.0, 0.1, 0.2, 10.0, 10.1, 10.2])[:, None]
    result = affinity_propagation(-(x - x.T) ** 2)
    assert result.converged
    assert result.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert result.exemplars.tolist() == [1, 4]  # the middle point of each, ascending


def test_affinity_propagation_blobs_and_edge_cases():
    rng = np.random.RandomState(0)
    points = np.concatenate([rng.randn(15, 2), rng.randn(15, 2) + [9, 0],
                             rng.randn(15, 2) + [0, 9]])
    s = -((points[:, None] - points[None]) ** 2).sum(-1)
    labels = affinity_propagation(s).labels
    assert len(set(labels)) == 3
    for k in range(3):
        assert len(set(labels[15 * k:15 * (k + 1)])) == 1
    assert affinity_propagation(np.zeros((1, 1))).labels.tolist() == [0]
    equal = np.full((4, 4), -1.0)
    assert affinity_propagation(equal, preference=-2.0).labels.tolist() == [0, 0, 0, 0]
    assert affinity_propagation(equal, preference=0.0).labels.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match='square'):
        affinity_propagation(np.zeros((2, 3)))


# ------------------------------------------------------------------------------ configs
@pytest.mark.parametrize('config', FASA_CONFIGS, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_fasa_config_builds_on_cpu(config, smoke_workdir, monkeypatch, tmp_path):
    monkeypatch.chdir(smoke_workdir)
    cfg = Config.fromfile(str(config))
    if cfg.model.backbone.get('type') == 'LocalPretrainedResNet':  # the RSB configs
        fake = tmp_path / 'rsb.pth'
        fake.write_bytes(b'x')  # only its existence is checked when building
        cfg.merge_from_dict({'model.backbone.init_cfg.checkpoint': str(fake)})
    model = build_model(cfg, str(config))
    cascade = 'cascade' in config.name
    heads = list(model.roi_head.bbox_head) if cascade else [model.roi_head.bbox_head]
    assert all(isinstance(head, FASAShared2FCBBoxHead) for head in heads)
    head = heads[0]
    assert cfg.workflow == [('train', 1), ('val', 1)]
    assert dict(type='FASAHook') in cfg.custom_hooks
    name = config.name
    iif_variant = 'iif' in name or 'iof' in name
    for stage in heads:
        assert type(stage.fc_cls).__name__ == 'NormedLinear'
        assert stage.fc_cls.tempearture == (8 if iif_variant else 20)
        assert type(stage.loss_cls).__name__ == ('IIFLoss' if iif_variant else 'CrossEntropyLoss')
        assert {k: stage.fasa_cfg[k] for k in fasa.FASA_CHOICES} == dict(
            grouping='research', unconverged='no_groups', adapt_signal='research',
            virtual_rng='per_rank')  # the research rules
        assert stage.fasa_cfg['aug_start_epoch'] == (None if cascade else 1)
    mask_heads = list(model.roi_head.mask_head) if cascade else [model.roi_head.mask_head]
    for mask_head in mask_heads:
        assert type(mask_head.conv_logits).__name__ == 'NormedConv2d'
        assert mask_head.conv_logits.tempearture == 20
    if cascade:
        assert isinstance(model.roi_head, FASACascadeRoIHead) and len(heads) == 3
        assert model.roi_head.stage_loss_weights == [1, 0.5, 0.25]
        assert [list(h.bbox_coder.stds) for h in heads] == [
            [0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1], [0.33, 0.33, 0.067, 0.067]]
        assert not any(h.reg_class_agnostic for h in heads)
        assert [r.assigner.pos_iou_thr for r in cfg.model.train_cfg.rcnn] == [0.5, 0.6, 0.7]
        assert cfg.model.test_cfg.rcnn.nms.iou_threshold == 0.3
        assert head.loss_cls.variant == 'raw'
        if 'smoke' not in str(config):
            assert cfg.model.backbone.depth == 101 and cfg.fp16 == dict(loss_scale=512.0)
            assert cfg.model.train_cfg.rpn_proposal.max_per_img == 2000
    elif 'iof_base10' in name:
        assert head.loss_cls.variant == 'base10_obj'
        assert cfg.model.test_cfg.rcnn.nms.iou_threshold == 0.3
    elif 'iif' in name:
        assert head.loss_cls.variant == 'raw'
        assert cfg.model.test_cfg.rcnn.nms.iou_threshold == 0.5
    if 'smoke' in str(config):
        assert cfg.runner.max_epochs == 2
        assert head.fasa_prob.tolist() == pytest.approx(fasa.initial_probabilities(
            instance_counts(smoke_workdir / 'data/smoke/annotations/lvis_v1_train.json')).tolist())
    else:
        assert cfg.data.train.oversample_thr == 1e-3 and head.num_classes == 1203
    if '_rsb' in config.name:  # the RSB config and its GIoU twin
        assert cfg.optimizer.type == 'AdamW' and cfg.optimizer.lr == 2e-4
        assert cfg.optimizer.weight_decay == 0.05 and cfg.runner.max_epochs == 12
        assert cfg.lr_config.step == [8, 11] and cfg.model.test_cfg.rcnn.mask_thr_binary == 0.4
        assert cfg.model.backbone.init_cfg.prefix == 'backbone.'
    elif 'smoke' not in str(config):
        assert cfg.runner.max_epochs == 24 and cfg.lr_config.step == [16, 22]


def test_rsb_without_backbone_checkpoint_names_the_option(tmp_path):
    cfg = Config.fromfile(str(RSB))
    with pytest.raises(UserError, match=r'model\.backbone\.init_cfg\.checkpoint') as error:
        build_model(cfg, str(RSB))
    assert 'no backbone checkpoint is set' in str(error.value)
    assert 'resnet50_8xb256-rsb-a1-600e_in1k' in str(error.value)
    cfg.merge_from_dict({'model.backbone.init_cfg.checkpoint': str(tmp_path / 'missing.pth')})
    with pytest.raises(UserError, match='backbone checkpoint not found'):
        build_model(cfg, str(RSB))
    cfg.merge_from_dict({'model.backbone.init_cfg.checkpoint': 'https://example.org/r.pth'})
    with pytest.raises(UserError, match='must be a local file') as error:
        build_model(cfg, str(RSB))
    assert isinstance(error.value.__cause__, BackboneCheckpointError)
    # checked again when the weights are loaded (the file may have gone since the build)
    fake = tmp_path / 'rsb.pth'
    fake.write_bytes(b'x')
    cfg.merge_from_dict({'model.backbone.init_cfg.checkpoint': str(fake)})
    model = build_model(cfg, str(RSB))
    fake.unlink()
    with pytest.raises(BackboneCheckpointError, match='backbone checkpoint not found'):
        model.backbone.init_weights()


def test_rsb_preflight_refuses_before_anything_starts(smoke_workdir, tmp_path):
    """tools/train.py --check-only (what dist_train.sh runs first) stops with the option."""
    smoke = 'data/smoke/'
    ann = smoke + 'annotations/lvis_v1_{}.json'
    wd = tmp_path / 'wd'
    result = run([sys.executable, REPO / 'tools' / 'train.py', RSB, '--check-only',
                  '--work-dir', wd, '--cfg-options',
                  f'data.train.dataset.ann_file={ann.format("train")}',
                  f'data.train.dataset.img_prefix={smoke}',
                  f'data.val.ann_file={ann.format("val")}', f'data.val.img_prefix={smoke}'],
                 cwd=smoke_workdir)
    assert result.returncode == 2, explain(result)
    assert 'Traceback' not in result.stderr, explain(result)
    assert 'error: ' in result.stderr
    assert '--cfg-options model.backbone.init_cfg.checkpoint=' in result.stderr
    assert not wd.exists()


# ------------------------------------------------------------------- training on CPU
def fasa_state(checkpoint: Path):
    ckpt = torch.load(checkpoint, map_location='cpu')
    return {k[len(HEAD):]: v for k, v in ckpt['state_dict'].items()
            if k.startswith(HEAD + 'fasa_')}, ckpt['meta']


def expected_adaptation(before: dict, after: dict) -> torch.Tensor:
    """Recompute one epoch's update from two checkpoints by the research rules: groups by
    affinity propagation (random_state 1) on the positive squared distances of all class
    means, none if it did not converge; a group's change is the sum over all members of the
    stored signal (loss share of all val RoIs) after minus before."""
    result = affinity_propagation(fasa.research_squared_distances(after['fasa_mean']),
                                  random_state=1)
    factor = torch.ones_like(before['fasa_prob'])
    if result.converged:
        for g in set(result.labels.tolist()):
            members = torch.as_tensor(result.labels == g)
            change = float(after['fasa_prev_loss'][members].double().sum()
                           - before['fasa_prev_loss'][members].double().sum())
            factor[members] = UP if change < 0 else DOWN if change > 0 else 1.0
    return (before['fasa_prob'] * factor).clamp(0, 1)


def log_records(work_dir: Path):
    (log_json,) = sorted(work_dir.glob('*.log.json'))[-1:]
    return [json.loads(line) for line in log_json.read_text().splitlines()[1:] if line.strip()]


def check_two_epochs(work_dir: Path, output: str, smoke_workdir: Path, processes: int):
    """epoch_1.pth: the initial p_c and the first validation losses; epoch_2.pth: p_c
    updated exactly as recomputed from the checkpoints; virtual features from epoch 2."""
    s1, meta1 = fasa_state(work_dir / 'epoch_1.pth')
    s2, meta2 = fasa_state(work_dir / 'epoch_2.pth')
    assert meta1['fasa_adapted_after_val'] and meta2['fasa_adapted_after_val']
    p0 = fasa.initial_probabilities(
        instance_counts(smoke_workdir / 'data/smoke/annotations/lvis_v1_train.json'))
    assert torch.allclose(s1['fasa_prob'], p0)
    assert bool(s1['fasa_prev_valid'].all())  # the small val set has every class
    assert bool((s1['fasa_updates'] > 0).all())
    assert not torch.allclose(s2['fasa_prob'], s1['fasa_prob'])
    assert torch.allclose(s2['fasa_prob'], expected_adaptation(s1, s2), rtol=1e-5)
    ratios = (s2['fasa_prob'] / s1['fasa_prob']).tolist()
    assert all(r == pytest.approx(UP) or r == pytest.approx(DOWN) for r in ratios), ratios
    records = log_records(work_dir)
    train = [r for r in records if r.get('mode') == 'train']
    val = [r for r in records if r.get('mode') == 'val']
    assert all(r['loss_cls_aug'] == 0 for r in train if r['epoch'] == 1)
    assert any(r['loss_cls_aug'] > 0 for r in train if r['epoch'] == 2)
    assert [r['epoch'] for r in val] == [1, 2]
    assert 'loss_cls_val' in val[0] and 'fasa_prob_mean' in val[0]
    assert 'FASA after epoch 1' in output and 'p_c unchanged (first validation pass' in output
    assert 'FASA after epoch 2' in output and 'class groups (affinity propagation)' in output
    if processes > 1:
        assert f'FASA: state identical on all {processes} processes' in output
    return s2


@pytest.fixture(scope='module')
def single_run(smoke_workdir):
    work_dir = smoke_workdir / 'work_dirs' / 'fasa_iif_1proc'
    result = run([sys.executable, REPO / 'tools' / 'train.py', SMOKE_FASA_IIF, '--work-dir',
                  work_dir, '--seed', 3, '--no-validate'], cwd=smoke_workdir)
    assert result.returncode == 0, explain(result)
    return work_dir, result.stdout + result.stderr


@pytest.mark.slow
def test_training_samples_virtual_features_and_adapts(single_run, smoke_workdir):
    work_dir, output = single_run
    check_two_epochs(work_dir, output, smoke_workdir, processes=1)


@pytest.mark.slow
def test_resumed_run_continues_with_the_adapted_state(single_run, smoke_workdir):
    """--resume-from epoch_2.pth of the 1-process run, on 2 processes (the quicker way on
    2 cores), for a third epoch."""
    work_dir, _ = single_run
    resumed = smoke_workdir / 'work_dirs' / 'fasa_iif_resumed'
    result = run(['bash', REPO / 'tools' / 'dist_train.sh', SMOKE_FASA_IIF, 2, '--work-dir',
                  resumed, '--seed', 3, '--no-validate', '--resume-from',
                  work_dir / 'epoch_2.pth', '--cfg-options', 'runner.max_epochs=3'],
                 cwd=smoke_workdir, env=cpu_env())
    assert result.returncode == 0, explain(result)
    output = result.stdout + result.stderr
    assert 'resumed epoch 2' in output
    s2, _ = fasa_state(work_dir / 'epoch_2.pth')
    s3, _ = fasa_state(resumed / 'epoch_3.pth')
    # the restored losses of epoch 2 are the baseline: epoch 3 compares and updates p_c
    # from epoch 2's values (a fresh state would record a first pass and keep p_c)
    assert 'FASA after epoch 3' in output and 'first validation pass' not in output
    assert 'FASA: state identical on all 2 processes' in output
    assert not torch.allclose(s3['fasa_prob'], s2['fasa_prob'])
    assert torch.allclose(s3['fasa_prob'], expected_adaptation(s2, s3), rtol=1e-5)
    assert bool((s3['fasa_updates'] > s2['fasa_updates']).all())
    train = [r for r in log_records(resumed) if r.get('mode') == 'train']
    assert train and all(r['epoch'] == 3 for r in train)
    assert any(r['loss_cls_aug'] > 0 for r in train)


@pytest.fixture(scope='module')
def two_process_run(smoke_workdir):
    work_dir = smoke_workdir / 'work_dirs' / 'fasa_iof_2proc'
    result = run(['bash', REPO / 'tools' / 'dist_train.sh', SMOKE_FASA_IOF, 2, '--work-dir',
                  work_dir, '--seed', 5, '--no-validate'], cwd=smoke_workdir, env=cpu_env())
    assert result.returncode == 0, explain(result)
    return work_dir, result.stdout + result.stderr


@pytest.mark.slow
def test_two_process_training(two_process_run, smoke_workdir):
    work_dir, output = two_process_run
    check_two_epochs(work_dir, output, smoke_workdir, processes=2)
    assert json.loads((work_dir / 'run.json').read_text())['world_size'] == 2


@pytest.mark.slow
def test_fasa_checkpoint_is_testable(two_process_run, smoke_workdir):
    work_dir, _ = two_process_run
    result = run(['bash', REPO / 'tools' / 'dist_test.sh', SMOKE_FASA_IOF,
                  work_dir / 'epoch_2.pth', 2, '--work-dir', work_dir], cwd=smoke_workdir,
                 env=cpu_env())
    assert result.returncode == 0, explain(result)
    metrics = json.loads((sorted(work_dir.glob('test_*'))[-1] / 'metrics.json').read_text())
    for iou in ('bbox', 'segm'):
        m = metrics[iou]
        # every frequency group of the smoke val set is evaluated (-1: nothing evaluated), and
        # its shapes are small or medium, never large
        assert min(m[k] for k in ('AP', 'AP50', 'APr', 'APc', 'APf', 'AR@300')) >= 0, m
        assert m['APl'] == -1 and m['AP'] <= m['AP50']


# ------------------------------------------------------------------------ cascade FASA
def test_cascade_refuses_plain_stage_heads_and_differing_rules(smoke_workdir, monkeypatch):
    monkeypatch.chdir(smoke_workdir)
    cfg = Config.fromfile(str(SMOKE_CASCADE))
    stage = cfg.model.roi_head.bbox_head[1]
    for key in ('instance_counts', 'fasa_cfg'):
        stage.pop(key)
    stage.type = 'Shared2FCBBoxHead'
    with pytest.raises(UserError, match=r"stage 1 \(Shared2FCBBoxHead\) is not"):
        build_model(cfg, str(SMOKE_CASCADE))
    cfg = Config.fromfile(str(SMOKE_CASCADE))
    cfg.model.roi_head.bbox_head[2].fasa_cfg.decay_ratio = 0.2
    with pytest.raises(UserError, match=r"fasa_cfg differ in \['decay_ratio'\]"):
        build_model(cfg, str(SMOKE_CASCADE))


@pytest.mark.slow
def test_cascade_trains_every_stage_with_fasa(smoke_workdir):
    """The smoke cascade for 2 epochs with virtual features from epoch 2 (the FASA-intended
    cascade, aug_start_epoch=1): every stage samples virtual features and adapts its own p_c
    by the research rules; all three heads' states are in the checkpoint."""
    work_dir = smoke_workdir / 'work_dirs' / 'fasa_cascade'
    options = [f'model.roi_head.bbox_head.{i}.fasa_cfg.aug_start_epoch=1' for i in range(3)]
    result = run([sys.executable, REPO / 'tools' / 'train.py', SMOKE_CASCADE, '--work-dir',
                  work_dir, '--seed', 3, '--no-validate', '--cfg-options', *options],
                 cwd=smoke_workdir)
    assert result.returncode == 0, explain(result)
    output = result.stdout + result.stderr
    ckpts = [torch.load(work_dir / f'epoch_{e}.pth', map_location='cpu') for e in (1, 2)]
    for i in range(3):
        prefix = f'roi_head.bbox_head.{i}.'
        s1, s2 = ({k[len(prefix):]: v for k, v in c['state_dict'].items()
                   if k.startswith(prefix + 'fasa_')} for c in ckpts)
        assert set(s1) == set(fasa.STATE_BUFFERS)
        assert bool((s2['fasa_updates'] > s1['fasa_updates']).all())
        assert torch.allclose(s2['fasa_prob'], expected_adaptation(s1, s2), rtol=1e-5)
        assert f'FASA (roi_head.bbox_head.{i}) after epoch 2' in output
    train = [r for r in log_records(work_dir) if r.get('mode') == 'train']
    for i in range(3):
        assert all(r[f's{i}.loss_cls_aug'] == 0 for r in train if r['epoch'] == 1)
        assert any(r[f's{i}.loss_cls_aug'] > 0 for r in train if r['epoch'] == 2)

"""FASA for mmdet 2.x: Feature Augmentation and Sampling Adaptation (Zang et al., ICCV 2021,
"FASA: Feature Augmentation and Sampling Adaptation for Long-Tailed Instance Segmentation").

The bbox head keeps, for every class, a running mean and variance of the features of its
positive RoIs at the input of the classifier. From ``aug_start_epoch`` (the second epoch) on,
each training step draws class c with probability p_c, samples one virtual feature from
N(mean_c, var_c) for each drawn class and adds its classification loss (weight 0.1) through
the head's own ``loss_cls`` (so IIF scaling applies to the virtual features as well).

p_c starts proportional to the inverse instance count. After each epoch a validation pass
(``workflow = [('train', 1), ('val', 1)]``; :class:`iif.models.fasa_hook.FASAHook` switches
the head's modes) accumulates every class's classification loss over the val RoIs; classes are
grouped by affinity propagation on their feature means, and a group's p_c is multiplied by 1.1
when its loss fell since the previous epoch and by 0.9 when it rose, clamped to [0, 1].

By default every step follows the research code (kostas1515/iif, instance_segmentation/mmdet/
models/roi_heads/bbox_heads/fasa_bbox_head.py); ``fasa_cfg`` names the kit's earlier rules,
which are deviations (docs/fasa.md):

* ``grouping='research'``: affinity propagation (scikit-learn's, random_state 1) on the
  POSITIVE squared distances between the float32 means of ALL classes (a class without
  statistics has a zero mean), used as similarities, preference = median of the whole matrix.
  ``'negative_seen'``: negative squared distances (float64) among the classes with statistics,
  preference = median of the off-diagonal entries, random_state 0.
* ``unconverged='no_groups'``: affinity propagation that has not converged after 200
  iterations gives no groups, so p_c stays (scikit-learn 0.23-1.0). ``'last_exemplars'``: use
  the last iteration's exemplars (scikit-learn >= 1.1). The research's scikit-learn version is
  not recorded.
* ``adapt_signal='research'``: class c's signal is the sum of its val RoI losses divided by the
  number of ALL val RoIs, background included (0 for a class without RoIs); a group's change is
  the sum over all its members of (this pass - previous pass). ``'mean_fg'``: the mean loss
  over the class's own RoIs, summed over the members with RoIs in both passes.
* ``virtual_rng='per_rank'``: virtual features are drawn from a generator seeded from
  (run seed, epoch, rank, head), so processes draw differently (as the research's unseeded
  processes did) and a resumed run draws exactly as an uninterrupted one. ``'global'``: the
  global torch RNG, which EpochSeedHook seeds identically on every process.
* ``aug_start_epoch=None`` never samples virtual features (what the research's cascade FASA
  runs did, see configs/fasa/fasa_iif_cascade_r101_rfs_cos_norm_4x4_2x_lvis_v1.py).

Everything the method learns lives in registered buffers (``fasa_*``): it follows the module
to any device and is saved in, and resumed from, checkpoints. In distributed runs the
statistics and the validation losses are summed over all processes, so every process holds
the same state (the research kept the feature statistics per process and saved rank 0's: a
documented deviation, which keeps resumed runs exact).
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist
from mmcv.runner import force_fp32
from mmdet.models.builder import HEADS
from mmdet.models.roi_heads.bbox_heads import ConvFCBBoxHead, Shared2FCBBoxHead

from iif.errors import UserError
from iif.weights import WeightsError, load_counts

from .affinity_propagation import affinity_propagation

FASA_DEFAULTS = dict(
    decay_ratio=0.1,          # weight of the new batch in the running mean/variance
    loss_aug_weight=0.1,      # weight of the virtual features' classification loss
    instance_prob_scale=1.0,  # p_c = scale * (normalised 1 / instance count) ** power
    instance_prob_power=1.0,
    dynamic_up=1.1,           # p_c factor for a group whose validation loss fell
    dynamic_down=0.9,         # ... and rose
    aug_start_epoch=1,        # 0-based epoch from which virtual features are sampled (None: never)
    grouping='research',      # or 'negative_seen' (see the module docstring)
    unconverged='no_groups',  # or 'last_exemplars'
    adapt_signal='research',  # or 'mean_fg'
    virtual_rng='per_rank',   # or 'global'
)

# The accepted values of the rule switches; the first is the research behaviour.
FASA_CHOICES = dict(grouping=('research', 'negative_seen'),
                    unconverged=('no_groups', 'last_exemplars'),
                    adapt_signal=('research', 'mean_fg'),
                    virtual_rng=('per_rank', 'global'))

# scikit-learn's random_state in the research's AffinityPropagation call.
RESEARCH_AP_RANDOM_STATE = 1

# Buffers that make up FASA's state (saved in checkpoints).
STATE_BUFFERS = ('fasa_mean', 'fasa_var', 'fasa_updates', 'fasa_prob', 'fasa_prev_loss',
                 'fasa_prev_valid')


class FASAConfigError(UserError, ValueError):
    """A FASA head or hook set up in a way that cannot work (the entry scripts print it
    without a traceback)."""


# ----------------------------------------------------------------------- the math, testable
def initial_probabilities(instance_count, scale: float = 1.0, power: float = 1.0) -> torch.Tensor:
    """p_c = clamp(scale * (inv_c / sum(inv)) ** power, 0, 1) with inv_c = 1 / instance count."""
    counts = torch.as_tensor(instance_count, dtype=torch.float64)
    if (counts <= 0).any():
        raise WeightsError('FASA: instance counts must be positive')
    inverse = 1.0 / counts
    return (scale * (inverse / inverse.sum()) ** power).clamp(0, 1).float()


def _all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def class_moments(features: torch.Tensor, labels: torch.Tensor,
                  num_classes: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class count, mean and unbiased variance of ``features`` (n, d) (0 variance for a
    single sample), summed over every process of a distributed run (two passes: sums, then
    squared deviations from the global mean, which is exact where sum-of-squares is not)."""
    d = features.size(1)
    packed = features.new_zeros(num_classes, d + 1)
    packed[:, :d].index_add_(0, labels, features)
    packed[:, d].index_add_(0, labels, torch.ones_like(labels, dtype=features.dtype))
    _all_reduce_sum(packed)
    counts = packed[:, d]
    mean = packed[:, :d] / counts.clamp(min=1)[:, None]
    squares = features.new_zeros(num_classes, d)
    squares.index_add_(0, labels, (features - mean[labels]) ** 2)
    _all_reduce_sum(squares)
    var = squares / (counts - 1).clamp(min=1)[:, None]
    return counts, mean, var


def update_running_stats(mean: torch.Tensor, var: torch.Tensor, updates: torch.Tensor,
                         batch_counts: torch.Tensor, batch_mean: torch.Tensor,
                         batch_var: torch.Tensor, decay: float) -> None:
    """In place: classes present for the first time take the batch's moments; the others
    move ``decay`` of the way towards them."""
    present = batch_counts > 0
    first = present & (updates == 0)
    later = present & (updates > 0)
    mean[first] = batch_mean[first]
    var[first] = batch_var[first]
    mean[later] = decay * batch_mean[later] + (1 - decay) * mean[later]
    var[later] = decay * batch_var[later] + (1 - decay) * var[later]
    updates[present] += 1


def sample_virtual_features(mean: torch.Tensor, var: torch.Tensor, prob: torch.Tensor,
                            seen: torch.Tensor, generator: Optional[torch.Generator] = None
                            ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Draw each class with probability ``prob`` (classes never ``seen`` are skipped) and one
    feature from N(mean_c, diag(var_c)) per drawn class. Returns (features, labels). The
    random numbers come from ``generator`` (on its device, then moved) or the global RNG."""
    num_classes, d = mean.shape
    where = generator.device if generator is not None else mean.device
    drawn = torch.rand(num_classes, generator=generator, device=where).to(mean.device) < prob
    labels = torch.nonzero(drawn & seen, as_tuple=False).squeeze(1)
    noise = torch.randn(labels.numel(), d, generator=generator, device=where).to(mean.device)
    return mean[labels] + var[labels].clamp(min=0).sqrt() * noise, labels


def virtual_feature_seed(seed: int, epoch: int, rank: int, stream: int = 0) -> int:
    """The seed of one process's virtual-feature generator for one epoch: a hash of
    (run seed, epoch, rank, stream), so that epochs, processes and heads draw independently
    and the same (seed, epoch, rank) always draws the same (a resumed run included)."""
    words = [int(seed) % 2 ** 63, int(epoch), int(rank), int(stream)]
    low, high = np.random.SeedSequence(words).generate_state(2, dtype=np.uint32)
    return ((int(high) & 0x7FFFFFFF) << 32) | int(low)  # < 2 ** 63


def squared_distances(points: torch.Tensor) -> np.ndarray:
    """(n, n) squared Euclidean distances in float64, clamped at 0 (grouping 'negative_seen')."""
    p = points.detach().double().cpu()
    sq = (p * p).sum(1)
    return (sq[:, None] - 2 * p @ p.T + sq[None, :]).clamp(min=0).numpy()


def research_squared_distances(mean: torch.Tensor) -> np.ndarray:
    """The research's distance matrix: |m_i|^2 - 2 m_i.m_j + |m_j|^2 in float32 on the
    means' device, not clamped (rounding can leave tiny non-zero values on the diagonal and
    tiny negative ones elsewhere; affinity propagation receives it as computed)."""
    m = mean.detach().float()
    sq = m.square().sum(1)
    return (sq[:, None] - 2 * (m @ m.T) + sq[None, :]).cpu().numpy()


def validation_signal(loss_sum: torch.Tensor, roi_count: torch.Tensor, num_classes: int,
                      mode: str = 'research') -> Tuple[torch.Tensor, torch.Tensor, bool]:
    """Per-class adaptation signal from one validation pass. ``loss_sum`` and ``roi_count``
    have num_classes + 1 entries (background last): the summed classification loss and the
    number of val RoIs of each label. Returns (signal (C,), valid (C,) bool, usable).

    'research': signal_c = loss_sum_c / (number of ALL RoIs, background included), 0 for a
    class without RoIs, every class valid. 'mean_fg': signal_c = loss_sum_c / roi_count_c,
    valid only where the class has RoIs. ``usable`` is False when there is nothing to compare
    (no RoIs at all, or no foreground RoI for 'mean_fg')."""
    loss_sum, roi_count = loss_sum.double(), roi_count.double()
    fg_loss, fg_count = loss_sum[:num_classes], roi_count[:num_classes]
    if mode == 'research':
        total = float(roi_count.sum())
        signal = fg_loss / total if total > 0 else torch.zeros_like(fg_loss)
        return signal.float(), torch.ones_like(fg_count, dtype=torch.bool), total > 0
    valid = fg_count > 0
    signal = torch.where(valid, fg_loss / fg_count.clamp(min=1), torch.zeros_like(fg_loss))
    return signal.float(), valid, bool(valid.any())


def adapt_probabilities(prob: torch.Tensor, clusters: torch.Tensor, loss: torch.Tensor,
                        valid: torch.Tensor, prev_loss: torch.Tensor, prev_valid: torch.Tensor,
                        up: float = 1.1, down: float = 0.9) -> Tuple[torch.Tensor, torch.Tensor]:
    """FASA's sampling adaptation. ``clusters`` (C,) gives each class's group (-1: none). A
    group's change is the sum of ``loss`` minus the sum of ``prev_loss`` over its classes that
    are valid in both passes (with the research signal every class is valid, so this is the
    research's sum over all members of t1 - t0); it multiplies the group's p_c by ``up`` when
    negative (the loss fell) and by ``down`` when positive. Returns (new p clamped to [0, 1],
    per-class factor)."""
    both = valid & prev_valid & (clusters >= 0)
    factor = torch.ones_like(prob)
    grouped = clusters >= 0
    if grouped.any():
        k = int(clusters.max()) + 1
        sums = torch.zeros(2, k, dtype=torch.float64, device=prob.device)
        sums[0].index_add_(0, clusters[both], loss[both].double())
        sums[1].index_add_(0, clusters[both], prev_loss[both].double())
        group_delta = sums[0] - sums[1]
        group_factor = torch.ones(k, dtype=prob.dtype, device=prob.device)
        group_factor[group_delta < 0] = up
        group_factor[group_delta > 0] = down
        factor[grouped] = group_factor[clusters[grouped]]
    return (prob * factor).clamp(0, 1), factor


def group_classes(mean: torch.Tensor, seen: torch.Tensor, grouping: str = 'research',
                  unconverged: str = 'no_groups') -> Tuple[torch.Tensor, Dict[str, object]]:
    """Each class's group (-1: none) by affinity propagation on the class means, under the
    rules of :data:`FASA_CHOICES` (see the module docstring). Returns (clusters, info)."""
    num_classes = mean.size(0)
    clusters = torch.full((num_classes,), -1, dtype=torch.long, device=mean.device)
    if grouping == 'research':
        members = torch.arange(num_classes, device=mean.device)
        result = affinity_propagation(research_squared_distances(mean),
                                      random_state=RESEARCH_AP_RANDOM_STATE)
    else:
        members = torch.nonzero(seen, as_tuple=False).squeeze(1)
        if members.numel() == 0:
            return clusters, dict(clusters=0, converged=True)
        similarity = -squared_distances(mean[members])
        n = similarity.shape[0]
        off_diagonal = similarity[~np.eye(n, dtype=bool)]
        preference = float(np.median(off_diagonal)) if n > 1 else None
        result = affinity_propagation(similarity, preference=preference, random_state=0)
    info: Dict[str, object] = dict(clusters=int(result.exemplars.size),
                                   converged=result.converged)
    if result.converged or unconverged == 'last_exemplars':
        clusters[members] = torch.as_tensor(result.labels, dtype=torch.long,
                                            device=mean.device)
    else:
        info['clusters'] = 0  # scikit-learn 0.23-1.0: no clusters without convergence
    return clusters, info


# ------------------------------------------------------------------------------ the heads
class FASAMixin:
    """FASA for mmdet's ConvFCBBoxHead family; mixed in before the mmdet head class."""

    def __init__(self, *args, instance_counts: str = 'lvis_v1', fasa_cfg: Optional[dict] = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        cfg = dict(FASA_DEFAULTS)
        unknown = sorted(set(fasa_cfg or {}) - set(cfg))
        if unknown:
            raise FASAConfigError(f'unknown fasa_cfg keys {unknown}; '
                                  f'known: {", ".join(FASA_DEFAULTS)}')
        cfg.update(fasa_cfg or {})
        for key, choices in FASA_CHOICES.items():
            if cfg[key] not in choices:
                raise FASAConfigError(f'fasa_cfg {key}={cfg[key]!r} is not one of '
                                      f'{", ".join(map(repr, choices))} ({choices[0]!r} is the '
                                      'research behaviour; see docs/fasa.md)')
        start = cfg['aug_start_epoch']
        if start is not None and (isinstance(start, bool) or not isinstance(start, int)
                                  or start < 0):
            raise FASAConfigError(f'fasa_cfg aug_start_epoch={start!r} must be a 0-based epoch '
                                  '(int >= 0) or None (never sample virtual features)')
        self.fasa_cfg = cfg
        if getattr(self.loss_cls, 'use_sigmoid', False):
            raise FASAConfigError('the FASA head needs a softmax classification loss '
                                  '(CrossEntropyLoss with use_sigmoid=False, or IIFLoss)')
        if not self.with_cls:
            raise FASAConfigError('the FASA head needs the classification branch')

        counts = load_counts(instance_counts)
        if len(counts.instance_count) != self.num_classes:
            raise WeightsError(
                f'instance_counts={instance_counts!r} has {len(counts.instance_count)} '
                f'classes but the head has num_classes={self.num_classes}; pass the training '
                "annotation file of this dataset (or 'lvis_v1' / 'lvis_v0.5')")
        empty = [f'{i} ({n})' for i, n, m in zip(counts.ids, counts.names,
                                                   counts.instance_count) if m <= 0]
        if empty:
            raise WeightsError(f'instance_counts: {counts.source} has classes without '
                               f'training instances, so FASA\'s 1/count is undefined: '
                               f'{", ".join(empty[:20])}')
        prob = initial_probabilities(counts.instance_count, cfg['instance_prob_scale'],
                                     cfg['instance_prob_power'])
        c, d = self.num_classes, self.cls_last_dim
        self.register_buffer('fasa_mean', torch.zeros(c, d))
        self.register_buffer('fasa_var', torch.zeros(c, d))
        self.register_buffer('fasa_updates', torch.zeros(c))  # statistic updates per class
        self.register_buffer('fasa_prob', prob)
        self.register_buffer('fasa_prev_loss', torch.zeros(c))  # previous validation pass
        self.register_buffer('fasa_prev_valid', torch.zeros(c, dtype=torch.bool))
        # this validation pass, per label (background last): not state, so not saved
        self.register_buffer('_fasa_val_loss', torch.zeros(c + 1, dtype=torch.float64),
                             persistent=False)
        self.register_buffer('_fasa_val_count', torch.zeros(c + 1, dtype=torch.float64),
                             persistent=False)
        self._fasa_epoch: Optional[int] = None  # set by FASAHook before every train epoch
        self._fasa_generator: Optional[torch.Generator] = None  # virtual_rng='per_rank'
        self._fasa_accumulating = False
        self._fasa_features: Optional[torch.Tensor] = None

    # -- modes, driven by FASAHook
    def fasa_set_epoch(self, epoch: int, seed: Optional[int] = None, rank: int = 0,
                       stream: int = 0) -> None:
        """Start a training epoch. With ``virtual_rng='per_rank'`` and a run seed, the
        virtual features of this epoch come from a generator seeded from (seed, epoch,
        rank, stream); without a seed (or with 'global') from the global torch RNG."""
        self._fasa_epoch = int(epoch)
        self._fasa_accumulating = False
        self._fasa_generator = None
        if self.fasa_cfg['virtual_rng'] == 'per_rank' and seed is not None:
            self._fasa_generator = torch.Generator(device='cpu')
            self._fasa_generator.manual_seed(virtual_feature_seed(seed, epoch, rank, stream))

    def fasa_start_validation(self) -> None:
        self._fasa_val_loss.zero_()
        self._fasa_val_count.zero_()
        self._fasa_accumulating = True

    @property
    def fasa_augmenting(self) -> bool:
        start = self.fasa_cfg['aug_start_epoch']
        return self._fasa_epoch is not None and start is not None and self._fasa_epoch >= start

    # -- forward: also keep the classifier's input for the loss
    def _branch(self, x, convs, fcs):
        for conv in convs:
            x = conv(x)
        if x.dim() > 2:
            if self.with_avg_pool:
                x = self.avg_pool(x)
            x = x.flatten(1)
        for fc in fcs:
            x = self.relu(fc(x))
        return x

    def forward(self, x):
        for conv in self.shared_convs:
            x = conv(x)
        if self.num_shared_fcs > 0:
            if self.with_avg_pool:
                x = self.avg_pool(x)
            x = x.flatten(1)
            for fc in self.shared_fcs:
                x = self.relu(fc(x))
        x_cls = self._branch(x, self.cls_convs, self.cls_fcs)
        x_reg = self._branch(x, self.reg_convs, self.reg_fcs)
        # only when a loss follows (training / validation pass), never at inference
        self._fasa_features = x_cls if (self.training or self._fasa_accumulating) else None
        cls_score = self.fc_cls(x_cls) if self.with_cls else None
        bbox_pred = self.fc_reg(x_reg) if self.with_reg else None
        return cls_score, bbox_pred

    @force_fp32(apply_to=('cls_score', 'bbox_pred'))
    def loss(self, cls_score, bbox_pred, rois, labels, label_weights, bbox_targets,
             bbox_weights, reduction_override=None):
        losses = super().loss(cls_score, bbox_pred, rois, labels, label_weights, bbox_targets,
                              bbox_weights, reduction_override=reduction_override)
        features, self._fasa_features = self._fasa_features, None
        if self.training:
            if self._fasa_epoch is None:
                raise FASAConfigError(
                    f'{type(self).__name__} is training without FASAHook: add '
                    "dict(type='FASAHook') to custom_hooks and use workflow = "
                    "[('train', 1), ('val', 1)] (see configs/fasa/)")
            if features is None or features.size(0) != labels.size(0):
                raise RuntimeError(f'{type(self).__name__}.loss needs the forward pass of the '
                                   'same RoIs just before it')
            self.fasa_update_statistics(features, labels, label_weights)
            losses['loss_cls_aug'] = self.fasa_augmentation_loss(cls_score)
        elif self._fasa_accumulating and cls_score is not None and cls_score.numel() > 0:
            self.fasa_accumulate_validation_loss(cls_score, labels, label_weights)
        return losses

    # -- FASA steps
    def _foreground(self, labels, label_weights):
        return (labels >= 0) & (labels < self.num_classes) & (label_weights > 0)

    @torch.no_grad()
    def fasa_update_statistics(self, features, labels, label_weights) -> None:
        """Running moments of the positive RoIs' classifier inputs (every process calls this
        once per step: the sums are all-reduced)."""
        pos = self._foreground(labels, label_weights)
        counts, mean, var = class_moments(features.detach()[pos].float(), labels[pos],
                                          self.num_classes)
        update_running_stats(self.fasa_mean, self.fasa_var, self.fasa_updates, counts, mean,
                             var, self.fasa_cfg['decay_ratio'])

    def fasa_augmentation_loss(self, cls_score: Optional[torch.Tensor]) -> torch.Tensor:
        zero = self.fasa_prob.new_zeros(())
        if not self.fasa_augmenting:
            return zero
        features, labels = sample_virtual_features(self.fasa_mean, self.fasa_var,
                                                   self.fasa_prob, self.fasa_updates > 0,
                                                   generator=self._fasa_generator)
        if labels.numel() == 0:
            return zero
        scores = self.fc_cls(features.to(self.fc_cls.weight.dtype)).float()
        weights = scores.new_full((labels.numel(),), self.fasa_cfg['loss_aug_weight'])
        return self.loss_cls(scores, labels, weights, avg_factor=float(labels.numel()))

    @torch.no_grad()
    def fasa_accumulate_validation_loss(self, cls_score, labels, label_weights) -> None:
        """Sum every val RoI's classification loss (label weight and loss_weight applied, as
        the research's loss with reduction 'none') and count the RoIs, per label."""
        per_sample = self.loss_cls(cls_score, labels, label_weights, reduction_override='none')
        per_sample = per_sample.reshape(labels.numel(), -1).sum(1)
        known = (labels >= 0) & (labels <= self.num_classes)
        self._fasa_val_loss.index_add_(0, labels[known], per_sample[known].double())
        self._fasa_val_count.index_add_(0, labels[known],
                                        torch.ones_like(per_sample[known], dtype=torch.float64))

    @torch.no_grad()
    def fasa_adapt(self) -> Dict[str, object]:
        """End of a validation pass: compare every class's signal with the previous pass,
        regroup the classes and update p_c. Every process calls it (the sums are
        all-reduced). Returns a summary for the log."""
        cfg = self.fasa_cfg
        self._fasa_accumulating = False
        packed = torch.stack([self._fasa_val_loss, self._fasa_val_count])
        _all_reduce_sum(packed)
        total, count = packed
        signal, valid, usable = validation_signal(total, count, self.num_classes,
                                                  cfg['adapt_signal'])
        seen = self.fasa_updates > 0
        info: Dict[str, object] = dict(classes_with_loss=int((count[:self.num_classes] > 0).sum()),
                                       classes_seen=int(seen.sum()), compared=False)
        if not usable:
            info['reason'] = 'no RoIs in this validation pass; previous losses kept'
            self._fasa_val_loss.zero_()
            self._fasa_val_count.zero_()
            info.update(prob_min=float(self.fasa_prob.min()),
                        prob_mean=float(self.fasa_prob.mean()),
                        prob_max=float(self.fasa_prob.max()))
            return info
        if not bool(self.fasa_prev_valid.any()):
            info['reason'] = 'first validation pass: per-class losses recorded'
        elif cfg['grouping'] == 'negative_seen' and not bool(seen.any()):
            info['reason'] = 'no class has feature statistics yet'
        else:
            clusters, ap = group_classes(self.fasa_mean, seen, cfg['grouping'],
                                         cfg['unconverged'])
            new_prob, factor = adapt_probabilities(
                self.fasa_prob, clusters, signal.to(self.fasa_prob.device),
                valid.to(self.fasa_prob.device), self.fasa_prev_loss, self.fasa_prev_valid,
                cfg['dynamic_up'], cfg['dynamic_down'])
            self.fasa_prob.copy_(new_prob)
            info.update(compared=True, clusters=ap['clusters'], converged=ap['converged'],
                        raised=int((factor > 1).sum()), lowered=int((factor < 1).sum()))
        self.fasa_prev_loss.copy_(signal)
        self.fasa_prev_valid.copy_(valid)
        self._fasa_val_loss.zero_()
        self._fasa_val_count.zero_()
        info.update(prob_min=float(self.fasa_prob.min()), prob_mean=float(self.fasa_prob.mean()),
                    prob_max=float(self.fasa_prob.max()))
        return info

    @torch.no_grad()
    def fasa_sync(self) -> float:
        """Give every process rank 0's FASA state; returns the largest difference that was
        found (0 when the all-reduced updates kept the processes in step, as they should)."""
        if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return 0.0
        diff = self.fasa_mean.new_zeros((), dtype=torch.float64)
        for name in STATE_BUFFERS:
            buf = getattr(self, name)
            # a copy in float64, which holds every value exactly (gloo has no bool)
            ref = buf.to(torch.float64, copy=True)
            dist.broadcast(ref, 0)
            diff = torch.maximum(diff, (buf.to(torch.float64) - ref).abs().max())
            buf.copy_(ref.to(buf.dtype))
        dist.all_reduce(diff, op=dist.ReduceOp.MAX)
        return float(diff)


@HEADS.register_module()
class FASAShared2FCBBoxHead(FASAMixin, Shared2FCBBoxHead):
    """mmdet's Shared2FCBBoxHead with FASA.

    Args (besides Shared2FCBBoxHead's):
        instance_counts: per-class instance counts for the initial p_c: a bundled table
            (``lvis_v1``, ``lvis_v0.5``) or the training annotation ``.json``.
        fasa_cfg: overrides of :data:`FASA_DEFAULTS` (decay_ratio, loss_aug_weight,
            instance_prob_scale, instance_prob_power, dynamic_up, dynamic_down,
            aug_start_epoch).
    """


@HEADS.register_module()
class FASAConvFCBBoxHead(FASAMixin, ConvFCBBoxHead):
    """mmdet's ConvFCBBoxHead (any conv/fc layout) with FASA; arguments as
    :class:`FASAShared2FCBBoxHead`."""

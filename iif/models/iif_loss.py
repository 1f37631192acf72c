"""IIFLoss: softmax cross-entropy on logits scaled by Inverse Image Frequency weights."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.builder import LOSSES
from mmdet.models.losses import accuracy
from mmdet.models.losses.utils import weight_reduce_loss

from iif.weights import WeightsError

from ._weights import iif_weight_vector


@LOSSES.register_module()
class IIFLoss(nn.Module):
    """Softmax cross-entropy on ``w * z``: foreground logits times their IIF weight, the
    background logit (mmdet's last channel) times 1.0. The same scaling is applied at test time
    through ``get_activation``, so scores are ``softmax(w * z)``.

    Args:
        variant: one of :data:`iif.weights.VARIANTS` (``raw``, ``smooth``, ..., ``base10_obj``).
        weights: where the per-class counts or weights come from: a bundled dataset name
            (``lvis_v1``, ``lvis_v0.5``), an LVIS/COCO annotation ``.json``, or a ``.csv``
            written by ``iif weights``.
        num_classes: number of foreground classes; checked against the weights and the head.
        reduction, loss_weight: as in mmdet's CrossEntropyLoss.
    """

    def __init__(self, variant: str = 'raw', weights: str = 'lvis_v1',
                 num_classes: Optional[int] = None, reduction: str = 'mean',
                 loss_weight: float = 1.0, ignore_index: int = -100, use_sigmoid: bool = False):
        super().__init__()
        if use_sigmoid:  # accepted so configs can switch type from CrossEntropyLoss
            raise WeightsError('IIFLoss is a softmax loss: use_sigmoid=True is not supported')
        vector = iif_weight_vector(weights, variant, num_classes, owner='IIFLoss')
        self.variant = variant
        self.num_classes = len(vector) - 1
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index
        # A buffer follows the module across devices; not persistent: the config defines the
        # weights, checkpoints hold what was learned.
        self.register_buffer('iif_weights', vector, persistent=False)
        # Tell mmdet's bbox heads to use our channels, activation and accuracy.
        self.custom_cls_channels = True
        self.custom_activation = True
        self.custom_accuracy = True

    def get_cls_channels(self, num_classes: int) -> int:
        if num_classes != self.num_classes:
            raise WeightsError(
                f'IIFLoss has weights for {self.num_classes} classes but the bbox head has '
                f'num_classes={num_classes}; set the head\'s num_classes to the dataset\'s class '
                f'count or pass IIFLoss the weights of that dataset')
        return num_classes + 1

    def scale(self, cls_score: torch.Tensor) -> torch.Tensor:
        return cls_score * self.iif_weights.to(cls_score.dtype)

    def get_activation(self, cls_score: torch.Tensor) -> torch.Tensor:
        return F.softmax(self.scale(cls_score), dim=-1)

    def get_accuracy(self, cls_score: torch.Tensor, labels: torch.Tensor) -> dict:
        # the prediction is the argmax of the scaled logits
        return dict(acc=accuracy(self.scale(cls_score), labels))

    def forward(self, cls_score, label, weight=None, avg_factor=None, reduction_override=None,
                **kwargs):
        assert reduction_override in (None, 'none', 'mean', 'sum')
        reduction = reduction_override or self.reduction
        loss = F.cross_entropy(self.scale(cls_score), label, reduction='none',
                               ignore_index=self.ignore_index)
        if weight is not None:
            weight = weight.float()
        loss = weight_reduce_loss(loss, weight=weight, reduction=reduction,
                                  avg_factor=avg_factor)
        return self.loss_weight * loss

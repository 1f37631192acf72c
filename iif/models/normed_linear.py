"""IIFNormedLinear: a cosine classifier whose class vectors are scaled by IIF weights."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmdet.models.utils import NormedLinear
from mmdet.models.utils.builder import LINEAR_LAYERS

from ._weights import iif_weight_vector


@LINEAR_LAYERS.register_module()
class IIFNormedLinear(NormedLinear):
    """mmdet's NormedLinear (cosine similarity times a temperature) with every class vector
    multiplied by its IIF weight (background by 1.0) before normalisation, as in the research.

    Note: for a positive weight the scale cancels in the normalisation (up to ``eps``), so
    the layer then equals NormedLinear; a negative weight (``prob``/``normit``/``gombit`` for
    classes in more than half of the images) flips that class vector. Use it together with
    IIFLoss to get the IIF scaling of the cosine logits.

    Args (besides NormedLinear's ``tempearture``, ``power``, ``eps``):
        variant, weights: as in :class:`iif.models.IIFLoss`.
    """

    def __init__(self, in_features: int, out_features: int, *args, variant: str = 'raw',
                 weights: str = 'lvis_v1', **kwargs):
        super().__init__(in_features, out_features, *args, **kwargs)
        vector = iif_weight_vector(weights, variant, out_features - 1, owner='IIFNormedLinear')
        self.variant = variant
        self.register_buffer('iif_weights', vector, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scaled = self.weight * self.iif_weights.to(self.weight.dtype)[:, None]
        weight = scaled / (scaled.norm(dim=1, keepdim=True).pow(self.power) + self.eps)
        x = x / (x.norm(dim=1, keepdim=True).pow(self.power) + self.eps)
        return F.linear(x * self.tempearture, weight, self.bias)

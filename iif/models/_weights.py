"""Turn a weights source into the (num_classes + 1,) tensor the IIF modules multiply logits by."""
from __future__ import annotations

from typing import Optional

import torch

from iif.weights import VARIANTS, WeightsError, load_weights


def iif_weight_vector(source: str, variant: str, num_classes: Optional[int],
                      owner: str) -> torch.Tensor:
    """IIF weights of the foreground classes followed by 1.0 for the background logit.

    ``source`` is a bundled dataset name (``lvis_v1``), an annotation ``.json`` or a weights
    ``.csv`` from ``iif weights``; ``owner`` names the module in error messages.
    """
    if variant not in VARIANTS:
        raise WeightsError(f'{owner}: unknown IIF variant {variant!r}; '
                           f'choose one of: {", ".join(VARIANTS)}')
    foreground = load_weights(source, variant)
    if num_classes is not None and len(foreground) != num_classes:
        raise WeightsError(
            f'{owner}: the weights source {source!r} has {len(foreground)} classes but the head '
            f'has num_classes={num_classes}. Use the weights of the dataset you train on (e.g. '
            f'weights=\'lvis_v1\' for 1203 classes, \'lvis_v0.5\' for 1230, or the training '
            f'annotation file) or fix num_classes in the config.')
    return torch.tensor(list(foreground) + [1.0], dtype=torch.float32)

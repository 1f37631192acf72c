"""MMDetection components of the kit; importing this package registers them."""
from .iif_loss import IIFLoss
from .normed_linear import IIFNormedLinear

__all__ = ['IIFLoss', 'IIFNormedLinear']

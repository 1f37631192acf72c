"""MMDetection components of the kit; importing this package registers them."""
from .iif_loss import IIFLoss
from .normed_linear import IIFNormedLinear
from .fasa import FASAConvFCBBoxHead, FASAShared2FCBBoxHead
from .fasa_cascade import FASACascadeRoIHead
from .local_pretrained import LocalPretrainedResNet, LocalPretrainedResNeXt

__all__ = ['IIFLoss', 'IIFNormedLinear', 'FASAShared2FCBBoxHead', 'FASAConvFCBBoxHead',
           'FASACascadeRoIHead', 'LocalPretrainedResNet', 'LocalPretrainedResNeXt']

"""Inverse Image Frequency (IIF) for long-tailed LVIS detection and segmentation.

Importing ``iif`` registers its MMDetection components (losses, linear layers, heads, datasets,
hooks) when mmdet is installed, so configs only need
``custom_imports = dict(imports=['iif'], allow_failed_imports=False)``. Without mmdet (for example
a machine that only computes weights) the package still imports and ``iif weights`` works.
"""
import warnings
from importlib.util import find_spec

__version__ = '0.1.0'

# mmcv 1.7 announces its 2.0 rename on every import; the kit pins 1.7.2 on purpose.
warnings.filterwarnings('ignore', message='On January 1, 2023, MMCV will release v2.0.0')

if find_spec('mmdet') is not None:
    from . import mmdet_plugins  # noqa: F401  (registers components)

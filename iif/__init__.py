"""Inverse Image Frequency (IIF) for long-tailed LVIS detection and segmentation.

Importing ``iif`` (or any module outside ``iif.mmdet_plugins``, ``iif.models``, ``iif.engine``
and ``iif.datasets``) loads neither torch nor mmdet: ``iif --help``, ``iif weights`` and
``iif eval`` start in a fraction of a second. Configs register the kit's MMDetection
components with ``custom_imports = dict(imports=['iif.mmdet_plugins'],
allow_failed_imports=False)``.
"""
import warnings

__version__ = '0.1.0'

# mmcv 1.7 announces its 2.0 rename on every import; the kit pins 1.7.2 on purpose. Set here
# (no import needed) so that it holds whichever kit module loads mmcv first.
warnings.filterwarnings('ignore', message='On January 1, 2023, MMCV will release v2.0.0')

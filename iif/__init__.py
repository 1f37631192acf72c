"""Inverse Image Frequency (IIF) for long-tailed LVIS detection and segmentation.

Importing ``iif`` (or any module outside ``iif.mmdet_plugins``, ``iif.models`` and
``iif.engine``) loads neither torch nor mmdet: ``iif --help``, ``iif weights`` and
``iif eval`` start in a fraction of a second. Configs register the kit's MMDetection
components with ``custom_imports = dict(imports=['iif.mmdet_plugins'],
allow_failed_imports=False)``.
"""

__version__ = '0.1.0'

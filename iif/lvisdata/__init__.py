"""LVIS v1 + COCO 2017 data: download, verify and lay out the tree the configs read.

Standard library only (orjson is used when present), so it works without torch or mmdet.

    from iif.lvisdata import verify_root, require_root
    problems = verify_root('data/lvis_v1', level='fast')   # [] when the tree is usable
"""
from .catalog import ARCHIVES, DataError, annotation_path, default_root, image_relpath
from .download import DownloadResult, Downloader, download
from .verify import DataRootError, VerifyReport, require_root, verify_report, verify_root

__all__ = ['ARCHIVES', 'DataError', 'DataRootError', 'DownloadResult', 'Downloader',
           'VerifyReport', 'annotation_path', 'default_root', 'download', 'image_relpath',
           'require_root', 'verify_report', 'verify_root']

"""Registers every mmdet/mmcv component of the kit: the LVIS datasets, IIFLoss and the normed
linear layers, the heads, the hooks. Configs import it with
``custom_imports = dict(imports=['iif.mmdet_plugins'], allow_failed_imports=False)``; the run
logic (:mod:`iif.engine.entry`) imports it too, so a config without that line still works."""
import logging
from importlib.util import find_spec


def _import_lvis_quietly() -> None:
    """lvis-api calls logging.basicConfig on import, which makes every mmdet log line print
    twice; with a handler on the root logger for the moment of import, that call does nothing."""
    if find_spec('lvis') is None:
        return
    root = logging.getLogger()
    placeholder = logging.NullHandler()
    root.addHandler(placeholder)
    try:
        import lvis  # noqa: F401
    finally:
        root.removeHandler(placeholder)


_import_lvis_quietly()

from . import datasets  # noqa: F401,E402  the LVIS datasets (v1, v0.5)
from . import models  # noqa: F401,E402  IIFLoss, IIFNormedLinear
from .engine import hooks  # noqa: F401,E402  ShardedEvalHook, NonFiniteLossHook
from .models import fasa_hook  # noqa: F401,E402  FASAHook

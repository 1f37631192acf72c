"""What both halves of the input reading share: IoU types, the input error classes, JSON parsing."""
from __future__ import annotations

import json
import os
from typing import Union

from iif.errors import MissingFileError, UserError
from iif.metrics import IOU_TYPES  # noqa: F401  (re-exported: the evaluation's IoU types)

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is in the lock file; stdlib is the fallback
    orjson = None

class ResultsFormatError(UserError, ValueError):
    """The detection results are malformed (missing fields, unknown ids, NaN scores, ...)."""


class GroundTruthFormatError(UserError, ValueError):
    """The LVIS ground-truth annotations are malformed."""


PathLike = Union[str, os.PathLike]


def loads_json(data: bytes):
    if orjson is not None:
        return orjson.loads(data)
    return json.loads(data)


def is_path(x) -> bool:
    return isinstance(x, (str, os.PathLike))


def read_file_bytes(path: PathLike, what: str) -> bytes:
    if not os.path.isfile(path):
        raise MissingFileError(f'{what} file not found: {os.fspath(path)}')
    with open(path, 'rb') as f:
        return f.read()


def parse_json_file(path: PathLike, what: str, err_cls):
    data = read_file_bytes(path, what)
    try:
        return loads_json(data)
    except ValueError:
        pass
    try:  # stdlib json accepts NaN/Infinity, which json.dump writes for non-finite floats
        return json.loads(data)
    except ValueError as e:
        raise err_cls(f'{what} file {os.fspath(path)} is not valid JSON: {e}') from None


"""iif env: the software and hardware a run would record (env.json)."""
from __future__ import annotations

import json

HELP = 'print the environment record (python, torch, CUDA, cuDNN, mmcv, mmdet, GPUs, commit)'


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    from iif.engine.records import collect_env
    print(json.dumps(collect_env(), indent=2))
    return 0

"""What every run writes next to its outputs: the resolved config, the command, the seed, the
software/hardware environment and the final metrics, so a number can be traced to its run."""
from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, Optional

import iif
from iif.clock import now
from iif.fsutil import write_json_atomic
from iif.paths import KIT_ROOT


def _version(module_name: str) -> Optional[str]:
    try:
        module = __import__(module_name)
    except Exception:  # noqa: BLE001 - a missing package is recorded as None
        return None
    return getattr(module, '__version__', None)


def git_commit() -> Optional[str]:
    """The kit's commit: from git when run from a checkout, else baked into the image."""
    try:
        out = subprocess.run(['git', '-C', str(KIT_ROOT), 'rev-parse', 'HEAD'],
                             capture_output=True, text=True, timeout=5)
        if out.returncode == 0:
            dirty = subprocess.run(['git', '-C', str(KIT_ROOT), 'status', '--porcelain',
                                    '--untracked-files=no'], capture_output=True, text=True,
                                   timeout=5).stdout.strip()
            return out.stdout.strip() + ('-dirty' if dirty else '')
    except (OSError, subprocess.SubprocessError):
        pass
    return os.environ.get('IIF_GIT_COMMIT') or None


def collect_env() -> Dict[str, object]:
    import torch
    env: Dict[str, object] = {
        'python': sys.version.split()[0],
        'platform': platform.platform(),
        'torch': torch.__version__,
        'torch_cuda': torch.version.cuda,
        'cudnn': torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        'cuda_available': torch.cuda.is_available(),
        'gpus': [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        'torchvision': _version('torchvision'),
        'mmcv': _version('mmcv'),
        'mmdet': _version('mmdet'),
        'lvis': _version('lvis') or _pkg_version('lvis'),
        'numpy': _version('numpy'),
        'iif': iif.__version__,
        'git_commit': git_commit(),
        'image': os.environ.get('IIF_IMAGE_VERSION'),
        # TF32 (Ampere/Hopper): torch 2.1 allows it for convolutions by default; --no-tf32
        # turns both off for fp32 as on the research's V100s
        'tf32': {'matmul': torch.backends.cuda.matmul.allow_tf32,
                 'cudnn': torch.backends.cudnn.allow_tf32},
    }
    try:
        from mmcv.ops import get_compiler_version, get_compiling_cuda_version
        env['mmcv_ops_compiler'] = get_compiler_version()
        env['mmcv_ops_cuda'] = get_compiling_cuda_version()
    except Exception as e:  # noqa: BLE001 - recorded, the run decides whether it matters
        env['mmcv_ops_error'] = str(e)
    return env


def _pkg_version(name: str) -> Optional[str]:
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # noqa: BLE001
        return None


def command_line(argv: Optional[Iterable[str]] = None) -> str:
    argv = list(sys.argv if argv is None else argv)
    return ' '.join(shlex.quote(a) for a in [sys.executable] + argv)


def write_run_records(run_dir: Path, cfg, *, kind: str, seed: Optional[int], world_size: int,
                      device: str, extra: Optional[dict] = None) -> None:
    """config.py, command.txt, run.json (seed, processes, device, times) and env.json; a
    resumed run keeps the earlier attempts (command lines appended, records under
    ``previous_attempts``)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg.dump(str(run_dir / 'config.py'))
    launcher_env = {k: os.environ[k] for k in ('WORLD_SIZE', 'MASTER_PORT', 'IIF_DEVICE',
                                               'CUDA_VISIBLE_DEVICES') if k in os.environ}
    # a resumed run appends: every attempt's command line and record stay in the work dir
    with open(run_dir / 'command.txt', 'a') as f:
        f.write(' '.join(f'{k}={v}' for k, v in launcher_env.items())
                + (' ' if launcher_env else '') + command_line() + '\n')
    run = dict(kind=kind, seed=seed, deterministic=bool(cfg.get('deterministic', False)),
               world_size=world_size, device=device, started=now(),
               config=cfg.filename, work_dir=str(run_dir))
    run.update(extra or {})
    previous = run_dir / 'run.json'
    if previous.is_file():
        try:
            earlier = json.loads(previous.read_text())
        except ValueError:
            earlier = None
        if isinstance(earlier, dict):
            history = earlier.pop('previous_attempts', [])
            run['previous_attempts'] = history + [earlier]
    write_json_atomic(run_dir / 'run.json', run)
    write_json_atomic(run_dir / 'env.json', collect_env())


def write_metrics(run_dir: Path, metrics_by_iou: Dict[str, Dict[str, float]],
                  extra: Optional[dict] = None, names: Iterable[str] = ('metrics.json',)) -> None:
    """{'bbox': {AP, AP50, ..., APf}, 'segm': {...}} plus where it came from."""
    payload = dict(metrics_by_iou)
    payload.update(extra or {})
    payload['written'] = now()
    for name in names:
        write_json_atomic(Path(run_dir) / name, payload)

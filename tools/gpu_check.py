"""GPU acceptance run: python tools/gpu_check.py [--gpus 2] [--iters 20] [--skip-smoke] ...

Thin wrapper over iif.engine.gpu_check; see docs/cuda.md ("make gpu-check")."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too

from iif.engine.gpu_check import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())

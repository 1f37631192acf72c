"""Evaluate a checkpoint on LVIS: python tools/test.py CONFIG CHECKPOINT [--eval bbox segm] ...

Thin wrapper over iif.engine.entry; see docs/running.md ("Entry scripts")."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too

from iif.engine.entry import test_main  # noqa: E402

if __name__ == '__main__':
    sys.exit(test_main())

"""Train a detector: python tools/train.py CONFIG [--work-dir DIR] [--auto-resume] ...

Thin wrapper over iif.engine.entry; see docs/running.md ("Entry scripts")."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, too

from iif.engine.entry import train_main  # noqa: E402

if __name__ == '__main__':
    sys.exit(train_main())

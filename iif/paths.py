"""Where the kit is: the checkout (or image directory) that holds ``iif/``, ``tools/`` and
``configs/``, so commands run from any working directory find the kit's own scripts."""
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parents[1]

"""iif demo: the main job end to end on the built-in small dataset, on whatever device is here.

Generates data/smoke (if missing), trains the smoke IIF config (resuming a finished or
interrupted demo run), evaluates the final checkpoint and prints the LVIS AP table."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HELP = 'train and evaluate IIF on the built-in small dataset; prints the LVIS AP table'
DEFAULT_CONFIG = 'configs/smoke/iif_r18_fpn_smoke.py'


def add_arguments(parser) -> None:
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help=f'smoke config to train (default: {DEFAULT_CONFIG})')
    parser.add_argument('--work-dir', default='work_dirs/demo',
                        help='where the demo run lives (default: work_dirs/demo)')
    parser.add_argument('--seed', type=int, default=0)


def run(args) -> int:
    from iif import smoke_data
    from iif.paths import KIT_ROOT

    config = Path(args.config)
    if not config.is_absolute() and not config.exists():
        config = KIT_ROOT / args.config  # run from anywhere: the kit's own configs
    started = time.time()
    smoke_data.generate('data/smoke')
    print('[demo] data: data/smoke (built-in small LVIS-format dataset)', flush=True)
    train = [sys.executable, str(KIT_ROOT / 'tools' / 'train.py'), str(config),
             '--work-dir', args.work_dir, '--seed', str(args.seed), '--auto-resume',
             '--no-validate']
    print('[demo] training: ' + ' '.join(train), flush=True)
    if subprocess.call(train) != 0:
        print('[demo] training failed; see the messages above', file=sys.stderr)
        return 1
    from iif.checkpoints import find_latest_checkpoint
    checkpoint = find_latest_checkpoint(args.work_dir)
    test = [sys.executable, str(KIT_ROOT / 'tools' / 'test.py'), str(config), checkpoint,
            '--work-dir', args.work_dir]
    print('[demo] evaluating: ' + ' '.join(test), flush=True)
    if subprocess.call(test) != 0:
        print('[demo] evaluation failed; see the messages above', file=sys.stderr)
        return 1
    print(f'[demo] done in {time.time() - started:.0f} s; run records in {args.work_dir}',
          flush=True)
    return 0

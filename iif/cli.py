"""The ``iif`` command: one sub-command per module under ``iif/commands``.

Sub-command modules are imported only when chosen, so ``iif weights`` starts without torch.
Each module defines ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.

A :class:`iif.errors.UserError` (bad input, missing data) prints ``iif COMMAND: error: ...`` and
exits with status 2; any other exception is a bug and shows its traceback (status 1).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

# name -> module under iif.commands
COMMANDS = {
    'weights': 'weights',
    'eval': 'eval',
    'data': 'data',
    'smoke-data': 'smoke_data',
    'demo': 'demo',
    'env': 'env',
    'reproduce': 'reproduce',
}


def _load(name: str):
    return importlib.import_module(f'iif.commands.{COMMANDS[name]}')


def build_parser(selected: Optional[str] = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='iif', description='Inverse Image Frequency kit')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name in COMMANDS:
        if name == selected:
            module = _load(name)
            module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
        else:  # only the chosen command's module is imported
            sub.add_parser(name, add_help=False)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    selected = next((a for a in argv if not a.startswith('-')), None)
    if selected not in COMMANDS:
        parser = argparse.ArgumentParser(prog='iif', description='Inverse Image Frequency kit')
        parser.add_argument('command', choices=sorted(COMMANDS))
        if selected is None and not argv:
            parser.print_help()
            return 2
        parser.parse_args(argv[:1] if selected else argv)  # prints usage and exits 2
    args = build_parser(selected).parse_args(argv)
    from iif.errors import UserError
    try:
        return int(_load(selected).run(args) or 0)
    except UserError as e:
        print(f'iif {selected}: error: {e}', file=sys.stderr)
        return e.exit_code


if __name__ == '__main__':
    sys.exit(main())

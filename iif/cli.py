"""The ``iif`` command: one sub-command per module under ``iif/commands``.

Each module defines ``HELP`` (one line, shown by ``iif --help``), ``add_arguments(parser)`` and
``run(args) -> int``, and imports nothing heavy at module level: ``iif --help`` reads every
module's ``HELP``, and only the chosen command's ``add_arguments`` and ``run`` execute, so no
command loads torch or mmdet before it needs them.

A :class:`iif.errors.UserError` (bad input, missing data) prints ``iif COMMAND: error: ...`` and
exits with status 2; any other exception is a bug and shows its traceback (status 1).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

# name -> module under iif.commands, in the order `iif --help` lists them
COMMANDS = {
    'demo': 'demo',
    'data': 'data',
    'smoke-data': 'smoke_data',
    'reproduce': 'reproduce',
    'eval': 'eval',
    'weights': 'weights',
    'env': 'env',
}


def _load(name: str):
    return importlib.import_module(f'iif.commands.{COMMANDS[name]}')


def build_parser(selected: Optional[str] = None) -> argparse.ArgumentParser:
    """Every command with its one-line help; the arguments of ``selected`` only."""
    parser = argparse.ArgumentParser(
        prog='iif', description='Inverse Image Frequency (IIF) kit for long-tailed LVIS',
        epilog='`iif COMMAND --help` shows the options of one command.')
    from iif import __version__
    parser.add_argument('--version', action='version', version=f'iif {__version__}')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', title='commands')
    for name in COMMANDS:
        module = _load(name)
        if name == selected:
            module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
        else:
            sub.add_parser(name, help=module.HELP, add_help=False)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    selected = next((a for a in argv if not a.startswith('-')), None)
    parser = build_parser(selected if selected in COMMANDS else None)
    args = parser.parse_args(argv)  # an unknown command: usage and status 2
    if args.command is None:
        parser.print_help()
        return 2
    from iif.errors import UserError
    try:
        return int(_load(args.command).run(args) or 0)
    except UserError as e:
        print(f'iif {args.command}: error: {e}', file=sys.stderr)
        return e.exit_code


if __name__ == '__main__':
    sys.exit(main())

"""Sub-commands of the ``iif`` CLI (see iif/cli.py)."""

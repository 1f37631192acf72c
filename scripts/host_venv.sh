#!/usr/bin/env bash
# A small host virtual environment with the tools of scripts/host-requirements.txt; prints its
# bin directory. Created once under .cache/host-venv.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=$ROOT/.cache/host-venv
REQ=$ROOT/scripts/host-requirements.txt
if [ ! -f "$VENV/.installed" ] || [ "$REQ" -nt "$VENV/.installed" ]; then
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet -r "$REQ" >&2
    touch "$VENV/.installed"
fi
echo "$VENV/bin"

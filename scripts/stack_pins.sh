#!/usr/bin/env bash
# The headline pins of requirements.lock on one line (for the image's io.iif.stack-pins label).
set -euo pipefail
grep -E '^(torch|torchvision|mmcv-full|mmdet|lvis|numpy)==' "$(dirname "$0")/../requirements.lock" \
    | sed 's/[[:space:]]*\\$//' | tr '\n' ' ' | sed 's/ $//'

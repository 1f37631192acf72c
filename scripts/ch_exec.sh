#!/usr/bin/env bash
# A CONTAINER_RUN for Charliecloud that keeps the caller's working directory (ch-run starts in
# / otherwise): CONTAINER_RUN=scripts/ch_exec.sh with CH_IMAGE_DIR (the image directory) and
# CH_RUN_ARGS (extra ch-run options, e.g. bind mounts) in the environment of every task.
set -euo pipefail
: "${CH_IMAGE_DIR:?set CH_IMAGE_DIR to the Charliecloud image directory}"
export USER=${USER:-$(id -un)}  # ch-run refuses to start without it
# shellcheck disable=SC2086  # CH_RUN_ARGS is a word list
exec ch-run ${CH_RUN_ARGS:-} -c "$PWD" "$CH_IMAGE_DIR" -- "$@"

#!/usr/bin/env bash
# The kit's test suite (`make test`, called by CI): lint, build the image, the pytest suite
# inside the image, then the compose services driven from the host (tests/container).
# Everything runs on CPU processes (compose.cpu.yaml), so it needs Docker but no GPU.
# Scratch outputs go to .cache/suite/, never to your work_dirs/ or results/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

suite_started=$(date +%s)
step_started=$suite_started
step() {
    local now
    now=$(date +%s)
    [ -n "${current_step:-}" ] && echo "== done: $current_step ($((now - step_started)) s)"
    current_step=$1
    step_started=$now
    echo "== step: $current_step"
}

export COMPOSE_FILE=compose.yaml:compose.cpu.yaml
GIT_COMMIT=${GIT_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
STACK_PINS=${STACK_PINS:-$(scripts/stack_pins.sh)}
export GIT_COMMIT STACK_PINS
export WORK_DIRS=$ROOT/.cache/suite/work_dirs
export RESULTS_DIR=$ROOT/.cache/suite/results
rm -rf "$ROOT/.cache/suite"

step "lint (ruff, hadolint, compose schema, bash -n)"
scripts/lint.sh

step "write .env and the mounted folders"
scripts/write_env.sh .env

step "build the image ($(grep '^IIF_IMAGE=' .env | cut -d= -f2), base ${BASE_IMAGE:-nvidia/cuda default})"
docker compose build train
docker image ls "$(grep '^IIF_IMAGE=' .env | cut -d= -f2)"

step "pytest inside the image"
docker compose run --rm tests

step "services driven from the host (tests/container)"
BIN=$(scripts/host_venv.sh)
"$BIN/python" -m pytest -q -p no:cacheprovider tests/container

step "finished"
echo "== test suite passed in $(( $(date +%s) - suite_started )) s"

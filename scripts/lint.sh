#!/usr/bin/env bash
# ruff on the Python code (rules in pyproject.toml), the package's import rule
# (scripts/check_imports.py: torch/mmcv/mmdet only on its mmdet side), hadolint on the
# Dockerfile, the Compose-spec JSON schema on compose.yaml, the generated configs/<family>/README.md
# files, bash -n on scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(scripts/host_venv.sh)
echo "+ ruff check ."
"$BIN/ruff" check .
echo "+ scripts/check_imports.py"
"$BIN/python" scripts/check_imports.py
echo "+ hadolint docker/Dockerfile"
"$BIN/hadolint" docker/Dockerfile
echo "+ check-jsonschema --builtin-schema vendor.compose-spec compose.yaml"
"$BIN/check-jsonschema" --builtin-schema vendor.compose-spec compose.yaml
echo "+ python3 scripts/config_readmes.py --check"
"$BIN/python" scripts/config_readmes.py --check
for script in scripts/*.sh tools/*.sh docker/entrypoint.sh .ci/run; do
    bash -n "$script"
done
echo "lint: ok"

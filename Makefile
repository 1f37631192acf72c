# IIF kit: every target prints the command it runs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# CPU=1 runs the services on CPU processes (compose.cpu.yaml); by default it is chosen when the
# Docker engine has no NVIDIA runtime.
CPU ?= $(shell docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q nvidia || echo 1)
COMPOSE_FILES := -f compose.yaml $(if $(filter 1 yes true,$(CPU)),-f compose.cpu.yaml)
COMPOSE ?= docker compose $(COMPOSE_FILES)
PYTHON ?= python3
VENV ?= .venv
# train and reproduce-variants: 4 GPUs, the research recipe's 4 x 4 images (other counts need
# ARGS=--scale-lr or ARGS=--allow-batch-change); evaluate: 1 unless GPUS is given
GPUS ?= 4
TEST_GPUS := $(if $(filter file,$(origin GPUS)),1,$(GPUS))
GIT_COMMIT := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# the pinned stack, read from the lock file for the image's labels
STACK_PINS := $(shell scripts/stack_pins.sh)
export GIT_COMMIT STACK_PINS

define run
	@echo '+ $(1)'
	@$(1)
endef

# Variables (`make help` prints these lines): NAME=value on the command line, e.g.
# make train CONFIG=configs/iif/iif_r50_fpn_4x4_1x_lvis_v1.py GPUS=4 ARGS=--auto-resume
#> CONFIG      config file for train and evaluate (configs/<family>/<name>.py)
#> CKPT        checkpoint that evaluate tests (work_dirs/<config name>/epoch_12.pth)
#> GPUS        processes: GPUs, or CPU processes with CPU=1 (train, reproduce-variants: 4; evaluate: 1)
#> CPU         1: run on CPU processes (compose.cpu.yaml); empty: GPUs; default: 1 without the NVIDIA runtime
#> ARGS        extra options passed on (tools/train.py, tools/test.py, iif reproduce run, iif data ...)
#> SEEDS       reproduce-variants: seeds, e.g. 1,2,3 (every variant once per seed; default 1)
#> VARIANTS    reproduce-variants: variant names, e.g. raw,base10_obj (default: every config)
#> CONFIG_DIR  reproduce-variants: config set (default configs/iif/variants; configs/smoke/variants)
#> BASE_IMAGE  build: base image (default nvidia/cuda:12.1.1-cudnn8-devel-ubuntu22.04)
#> TORCH_CUDA_ARCH_LIST  build: GPU architectures for mmcv's CUDA ops (default 7.0;...;9.0)
#> CUDA_TOOLKIT  build: base (the base image's nvcc) or debian (Debian's CUDA 12.4; docs/cuda.md)
#> MAX_JOBS    build: mmcv sources compiled at once (default: the CPU count; lower it if memory runs out)
#> EXTRA_CA    build: a CA certificate to trust (TLS-inspecting proxy)
#> PYTHON      setup: the Python that creates .venv (3.10 or 3.11)
#> VENV        setup, demo-local, test-local: the local virtual environment (default .venv)

.PHONY: help
help:  ## list the targets and the variables
	@echo 'targets:'
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'
	@echo 'variables (make TARGET NAME=value):'
	@grep -E '^#> ' $(MAKEFILE_LIST) | sed 's/^#> /  /'

.PHONY: env
env:  ## write .env (your UID/GID, LVIS_ROOT, ...) and create the mounted folders as you
	$(call run,scripts/write_env.sh .env)

.PHONY: build
build: env  ## build the image (BASE_IMAGE=, TORCH_CUDA_ARCH_LIST=, EXTRA_CA=path/to/ca.crt)
ifneq ($(EXTRA_CA),)
	$(call run,cp "$(EXTRA_CA)" docker/certs/extra-ca.crt)
endif
	$(call run,$(COMPOSE) build train)

.PHONY: demo
demo: env  ## train + evaluate IIF on the built-in small dataset, print the AP table
	$(call run,$(COMPOSE) run --rm demo)

.PHONY: train
train: env  ## train CONFIG on GPUS GPUs: make train CONFIG=configs/... GPUS=4 [ARGS=...]
	@test -n "$(CONFIG)" || { echo "usage: make train CONFIG=configs/... GPUS=4" >&2; exit 2; }
	$(call run,$(COMPOSE) run --rm train $(CONFIG) $(GPUS) $(ARGS))

.PHONY: test
test:  ## the kit's test suite (lint, image build, pytest in the image, the services); what CI runs
ifneq ($(CONFIG)$(CKPT),)
	@echo 'error: make test runs the test suite; to evaluate a checkpoint use: make evaluate CONFIG=$(CONFIG) CKPT=$(CKPT)' >&2; exit 2
else
	$(call run,scripts/run_test_suite.sh)
endif

.PHONY: evaluate
evaluate:  ## evaluate a checkpoint: make evaluate CONFIG=configs/... CKPT=.../epoch_12.pth [GPUS=1]
	@test -n "$(CONFIG)" -a -n "$(CKPT)" || { echo "usage: make evaluate CONFIG=configs/... CKPT=work_dirs/.../epoch_12.pth [GPUS=4]" >&2; exit 2; }
	$(call run,$(MAKE) --no-print-directory env)
	$(call run,$(COMPOSE) run --rm test $(CONFIG) $(CKPT) $(TEST_GPUS) $(ARGS))

.PHONY: gpu-check
gpu-check: env  ## GPU host acceptance run: CUDA ops vs CPU, 2-GPU train/resume/test, throughput [ARGS=]
ifneq ($(filter 1 yes true,$(CPU)),)
	@echo "error: Docker has no NVIDIA runtime here (CPU=$(CPU)): the GPU check needs GPUs; install the NVIDIA Container Toolkit (docs/cuda.md)" >&2; exit 2
endif
	$(call run,docker compose -f compose.yaml run --rm gpu-check $(ARGS))

.PHONY: reproduce-variants
reproduce-variants: env  ## train + evaluate every IIF variant: [GPUS=4 VARIANTS=raw,base10_obj SEEDS=1,2,3 CONFIG_DIR=...]
	$(call run,$(COMPOSE) run --rm reproduce --gpus $(GPUS) $(if $(VARIANTS),--variants $(VARIANTS)) $(if $(SEEDS),--seeds $(SEEDS)) $(if $(CONFIG_DIR),--config-dir $(CONFIG_DIR)) $(ARGS))

.PHONY: reproduce-status
reproduce-status: env  ## progress of the reproduce queue
	$(call run,$(COMPOSE) run --rm --entrypoint /usr/local/bin/iif-entrypoint reproduce reproduce-status $(ARGS))

.PHONY: data
data: env  ## download + verify LVIS v1 and COCO 2017 into LVIS_ROOT
	$(call run,$(COMPOSE) run --rm data download $(ARGS))

.PHONY: verify-data
verify-data: env  ## check the LVIS_ROOT tree (counts, every image present)
	$(call run,$(COMPOSE) run --rm data verify $(ARGS))

.PHONY: tensorboard
tensorboard: env  ## TensorBoard on work_dirs at http://localhost:6006
	$(call run,$(COMPOSE) up tensorboard)

.PHONY: lint
lint:  ## ruff, hadolint, the compose schema, the generated config READMEs, bash -n
	$(call run,scripts/lint.sh)

.PHONY: setup
setup: $(VENV)/.installed  ## local virtual environment with the pinned stack (no Docker)

$(VENV)/.installed: requirements.lock scripts/install_stack.sh pyproject.toml
	$(call run,$(PYTHON) -m venv $(VENV))
	$(call run,PYTHON=$(VENV)/bin/python scripts/install_stack.sh all requirements.lock)
	$(call run,$(VENV)/bin/pip install --no-deps --no-build-isolation -e .)
	@touch $@

.PHONY: demo-local
demo-local: setup  ## the demo in the local environment
	$(call run,$(VENV)/bin/iif demo)

.PHONY: test-local
test-local: setup  ## the test suite (without the container tests) in the local environment
	$(call run,$(VENV)/bin/python -m pytest -q tests --ignore=tests/container)

.PHONY: clean
clean:  ## remove caches and test leftovers (keeps work_dirs/, results/, data/ and .env)
	$(call run,rm -rf .pytest_cache .cache/lint-venv .cache/host-venv docker/certs/host-ca-bundle.crt)
	$(call run,find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +)

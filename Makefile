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
# ARGS=--scale-lr or ARGS=--allow-batch-change); evaluating a checkpoint: 1 unless GPUS is given
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

.PHONY: help
help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

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
test:  ## with CONFIG= CKPT= [GPUS=]: evaluate a checkpoint; without: the kit's test suite
ifneq ($(CONFIG),)
	@test -n "$(CKPT)" || { echo "usage: make test CONFIG=configs/... CKPT=work_dirs/.../epoch_12.pth [GPUS=4]" >&2; exit 2; }
	$(call run,$(MAKE) --no-print-directory env)
	$(call run,$(COMPOSE) run --rm test $(CONFIG) $(CKPT) $(TEST_GPUS) $(ARGS))
else
	$(call run,scripts/run_test_suite.sh)
endif

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
lint:  ## hadolint (Dockerfile) and the compose-spec schema check (compose.yaml)
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

# irp: `make up` starts the stack, `make test` runs every test. Only Python 3.11+ and make needed.
SHELL := /bin/bash
PY_BOOT ?= $(shell command -v python3.11 || command -v python3)
UV ?= $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PY_BOOT) -m uv
endif

.PHONY: up test lint bench sync uv clean prefect-yaml

uv:
	@$(UV) --version >/dev/null 2>&1 || { echo "uv not found: installing it with pip"; \
	  $(PY_BOOT) -m pip install --quiet uv || $(PY_BOOT) -m pip install --quiet --user --break-system-packages uv; }

# Bytecode compiled once at install: a flow run is a new process, and on machines that set
# PYTHONDONTWRITEBYTECODE each one would otherwise recompile Prefect (5 s instead of 2 s).
sync: uv
	$(UV) sync --frozen --compile-bytecode
	@$(UV) run --frozen python -m compileall -q irp models tasks flows deployments migrations >/dev/null

up: sync
	$(UV) run irp up

lint: sync
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy irp models tasks flows deployments benchmarks
	$(UV) run lint-imports

test: lint
	$(UV) run pytest

# prefect.yaml is written from the deployments serve builds (tests check it is up to date).
prefect-yaml: sync
	env -u IRP_PLAN_FILE $(UV) run python -m deployments.prefect_yaml

bench: sync
	$(UV) run python -m benchmarks

clean:
	rm -rf .irp .pytest_cache .mypy_cache .ruff_cache

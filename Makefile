# nnviz-widget: the two commands users need are `make demo` and `make test`.
#
#   make setup   .venv (torch CPU first, then the package editable with its test tools and
#                tensorflow-cpu), js/node_modules, and the JS bundle. Idempotent and fast when
#                nothing changed: pip only reruns when pyproject.toml is newer than .venv/.stamp,
#                npm ci only when js/package*.json changed; the bundle is always rebuilt (~2 s),
#                because the build hook's `skip-if-exists` would keep a stale one.
#   make demo    setup, then JupyterLab on notebooks/quickstart.ipynb (127.0.0.1 only).
#   make test    setup, then ruff format --check, ruff check, mypy, tsc + the JS tests, pytest
#                (unit, browser, JupyterLab, notebooks). Every check runs even if an earlier one
#                failed; the exit status is non-zero if any failed.
#   make screenshots  setup, then every lesson in notebooks/ run in JupyterLab + headless
#                Chromium: docs/gallery/<lesson>.png and .html (scripts/screenshots.py).
#
# Variables: PYTEST_ARGS (e.g. make test PYTEST_ARGS="-x -k lab"), ALLOW_NO_TESTS=1 (pytest's
# exit 5, "no tests collected", is then reported but not a failure; .ci/run sets it),
# NNVIZ_TIMINGS=<file> (each step appends "name seconds status" to it), DEMO_PORT.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.stamp
JS_STAMP := js/node_modules/.package-lock.json
TORCH_VERSION ?= 2.13.0
PYTEST_ARGS ?=
ALLOW_NO_TESTS ?=
DEMO_PORT ?= 8888
TIMED := scripts/timed
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help setup browser bundle demo screenshots test check-format check-lint check-types check-js check-pytest \
	clean distclean

help:
	@echo "make demo   - set up (first run: a few minutes) and open notebooks/quickstart.ipynb in JupyterLab"
	@echo "make test   - set up, then ruff, mypy, tsc + JS tests, pytest (unit, browser, lab, notebooks)"
	@echo "make screenshots - run every lesson in JupyterLab: docs/gallery/*.png and *.html"
	@echo "make setup  - only the set-up step (.venv, js/node_modules, the JS bundle)"
	@echo "make clean  - remove build and test outputs (keeps .venv and node_modules)"

# ---------------------------------------------------------------------------------------------
# setup

$(PY):
	python3 -m venv $(VENV)

$(JS_STAMP): js/package.json $(wildcard js/package-lock.json)
	@command -v npm >/dev/null || { echo "npm not found: install node and npm (apt-get install -y nodejs npm)"; exit 1; }
	cd js && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
	@touch $@

# Always rebuilt: ~2 s, and the only way a JS change reaches nnviz_widget/static/widget.js.
bundle: $(JS_STAMP)
	cd js && npm run --silent build
	@test -s nnviz_widget/static/widget.js || { echo "the JS build made no nnviz_widget/static/widget.js"; exit 1; }

# torch goes first and alone (lightning and transformers, installed after it, then keep it): pinned, it resolves to the CPU wheel; unpinned (or pulled in by
# another requirement) it would be the multi-GB CUDA build. The bundle is built before the
# editable install so the build hook finds it and skips its own npm run.
# hatchling + hatch-jupyter-builder: for the wheel test's `--no-isolation` build.
$(STAMP): pyproject.toml | $(PY) bundle
	$(PY) -m pip install --disable-pip-version-check "torch==$(TORCH_VERSION)"
	$(PY) -m pip install --disable-pip-version-check -e ".[test,lightning,transformers]" tensorflow-cpu \
		hatchling hatch-jupyter-builder
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)" >/dev/null
	@touch $@

setup: $(STAMP) bundle

# The browser and JupyterLab tests drive Debian's Chromium (never a downloaded browser). As root
# it is installed when missing; otherwise the run stops here, naming the one command to run.
CHROMIUM := /usr/bin/chromium
browser:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Chromium (apt-get install chromium) for the browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		[ -x $(CHROMIUM) ] || { echo "apt-get ran but $(CHROMIUM) is still missing"; exit 1; }; \
	else \
		echo "The browser tests need Chromium at $(CHROMIUM). Install it with:"; \
		echo "    sudo apt-get update && sudo apt-get install -y chromium"; \
		echo "then run make test again."; \
		exit 1; \
	fi

# ---------------------------------------------------------------------------------------------
# demo

# The token is made here (and passed in the environment, not on the command line) so that the
# URL straight to the notebook can be printed before the server's own log starts.
demo: setup
	@token=$$($(PY) -c 'import secrets; print(secrets.token_hex(24))'); \
	echo; \
	echo "Starting JupyterLab on notebooks/quickstart.ipynb. Open:"; \
	echo; \
	echo "    http://127.0.0.1:$(DEMO_PORT)/lab/tree/notebooks/quickstart.ipynb?token=$$token"; \
	echo; \
	echo "then Run -> Run All Cells. Ctrl-C twice stops the server."; \
	echo; \
	JUPYTER_TOKEN=$$token exec $(VENV)/bin/jupyter lab notebooks/quickstart.ipynb \
		--ServerApp.ip=127.0.0.1 --ServerApp.port=$(DEMO_PORT) --ServerApp.port_retries=0 \
		$(ROOT_FLAG)

# The README gallery: one screenshot and one exported page per lesson.
screenshots: setup browser
	$(PY) scripts/screenshots.py

# ---------------------------------------------------------------------------------------------
# test: every check runs (make -k), the status is non-zero if any failed.

test: setup browser
	@$(MAKE) --no-print-directory -k check-format check-lint check-types check-js check-pytest

check-format:
	@$(TIMED) "ruff format --check" $(VENV)/bin/ruff format --check .

check-lint:
	@$(TIMED) "ruff check" $(VENV)/bin/ruff check .

check-types:
	@$(TIMED) mypy $(VENV)/bin/mypy

check-js:
	@$(TIMED) "tsc + js tests" bash -c 'cd js && npx tsc --noEmit && npm test'

check-pytest:
	@rc=0; $(TIMED) pytest $(PY) -m pytest --durations=15 $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then \
		echo "pytest collected no tests (exit 5)."; \
		if [ "$(ALLOW_NO_TESTS)" = 1 ]; then echo "ALLOW_NO_TESTS=1: not counted as a failure."; exit 0; fi; \
		echo "Set ALLOW_NO_TESTS=1 to accept that."; \
	fi; \
	exit $$rc

# ---------------------------------------------------------------------------------------------

clean:
	rm -rf dist build test-artifacts bench/out js/test-dist .pytest_cache .mypy_cache .ruff_cache

distclean: clean
	rm -rf $(VENV) js/node_modules nnviz_widget/static

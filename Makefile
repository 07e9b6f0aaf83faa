# Two commands: `make demo` and `make test`. Each bootstraps everything on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The CPU build of PyTorch; a bare `torch` requirement would pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.deepscope-installed
WEB_STAMP := web/node_modules/.installed
STATIC := src/deepscope/server/static/index.html

.PHONY: demo test setup web lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -e ".[dev]"
	touch $(STAMP)

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $(WEB_STAMP)

$(STATIC): $(WEB_STAMP) $(shell find web/src -type f 2>/dev/null) web/index.html web/vite.config.ts
	cd web && npm run --silent build

web: $(STATIC)

setup: $(STAMP) web

chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

demo: setup
	$(VENV)/bin/deepscope demo --serve

test: setup chromium
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/lint-imports --no-cache
	cd web && npm run --silent typecheck && npm run --silent test
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/overhead.py
	$(PY) bench/store.py

clean:
	rm -rf $(VENV) web/node_modules src/deepscope/server/static

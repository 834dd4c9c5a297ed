# Practice Helpdesk: everything runs from .venv/bin, no activation needed.
# `make run` serves the demo; `make test` runs the whole suite (see README).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: install browsers test run check bench bench-diagnostics

install: $(STAMP)

# Reinstall only when pyproject.toml changes, so `make test` stays quick.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

# Debian's Chromium, driven by Playwright in the browser tests (no browser download).
browsers:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update && apt-get install -y chromium; \
	fi

test: install browsers
	$(BIN)/pytest $(PYTEST_ARGS)

run: install
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi demo load --if-empty
	$(BIN)/python wsgi.py

# Models and migrations agree: migrate a database (default: a scratch SQLite file; or
# CHECK_DATABASE_URL, an empty scratch database), then `alembic check`.
check: install
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	export HELPDESK_INSTANCE_DIR="$$tmp" HELPDESK_DATABASE_URL="$${CHECK_DATABASE_URL:-sqlite:///$$tmp/check.db}"; \
	$(BIN)/flask --app wsgi db upgrade && $(BIN)/flask --app wsgi db check

# The quick benchmarks; `make bench-diagnostics` builds a 1M-booking database first (~12 min once).
bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/kb_search.py
	$(BIN)/python bench/chat.py

bench-diagnostics: install
	$(BIN)/python bench/diagnostics.py

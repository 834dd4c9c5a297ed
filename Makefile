# Practice Helpdesk: everything runs from .venv/bin, no activation needed.
# `make run` serves the demo; `make test` runs the whole suite (see README).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: install test-deps test test-shifted run check bench bench-diagnostics cluster

install: $(STAMP)

# Reinstall only when pyproject.toml changes, so `make test` stays quick.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

# Debian's packages the tests drive for real: Chromium (browser tests, through Playwright; no
# browser download), faketime (`make test-shifted`), HAProxy (tests/cluster, `make cluster`) and
# Dovecot (the IMAP server of tests/helpdesk/requests/mail). Installed once, when missing.
DEBIAN_TEST_PACKAGES := chromium faketime haproxy dovecot-imapd
test-deps:
	@missing=$$(for p in $(DEBIAN_TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages for the tests:" $$missing; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

# N web processes (default 2) + a worker on PostgreSQL (database helpdesk_cluster, created if
# missing) and Redis, behind HAProxy on CLUSTER_PORT (8080); Ctrl+C stops it all (deploy/cluster.py).
N ?= 2
cluster: install test-deps
	N=$(N) $(BIN)/python deploy/cluster.py

test: install test-deps
	$(BIN)/pytest $(PYTEST_ARGS)

# The non-browser suite with the clock DAYS ahead, so no test can depend on today's date.
# FAKETIME_DISABLE_SHM: without it libfaketime can deadlock threads. The cluster tests are left out:
# they time real processes and a proxy.
DAYS ?= 400
test-shifted: install test-deps
	FAKETIME_DISABLE_SHM=1 faketime -f "+$(DAYS)d" $(BIN)/pytest -m "not browser" --ignore=tests/cluster $(PYTEST_ARGS)

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

# Two commands for a newcomer:
#   make run    set up, write the demo export, run the daemon once, show the alerts
#   make test   set up and run the whole test suite (SQLite and, where installed, PostgreSQL)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench system-deps clean-demo

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/aewatch init
	$(BIN)/aewatch demo
	$(BIN)/aewatch run --once
	@echo
	$(BIN)/aewatch alerts list
	@echo
	$(BIN)/aewatch status
	@echo
	$(BIN)/aewatch counts --by term --min-grade 3
	@echo
	@echo "Emails written to var/outbox/ (file transport; set [smtp].host to send for real):"
	@ls var/outbox | head -n 20

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

bench: $(STAMP)
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b; done

# Debian packages the full test suite (PostgreSQL; Chromium and its driver for the browser
# tests of `aewatch serve`), PDF reports and `make bench` (the sqlite3 shell) need (run as root).
system-deps:
	apt-get update -qq
	apt-get install -y -qq postgresql sqlite3 libpango-1.0-0 libpangoft2-1.0-0 \
		libharfbuzz-subset0 fonts-dejavu-core poppler-utils chromium chromium-driver

clean-demo:
	rm -rf var

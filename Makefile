# attribution-db: every verb of the project. `make help` lists them.
# Set DATABASE_URL (a libpq URI) to aim any target at an existing database instead of
# the project's local PostgreSQL (data in .pg/, 127.0.0.1:$(ATTRIBUTION_DB_PORT)).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CLI := $(BIN)/attribution-db
SQL_DIRS := sql/migrations sql/policies sql/views

export ATTRIBUTION_DB_PORT ?= 54329

.PHONY: help venv migrate status rollback refresh refresh-sidecar docs docs-check test check lint-sql fix-sql db-start db-stop db-status psql clean

help: ## list every target with one line each
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

venv: $(STAMP) ## create .venv and install the project with its dev tools

migrate: $(STAMP) ## apply pending migrations (starts the local server unless DATABASE_URL is set)
	@$(CLI) migrate

status: $(STAMP) ## show applied and pending migrations
	@$(CLI) status

rollback: $(STAMP) ## roll back the latest migration (ALL=1 rolls back every one)
	@$(CLI) rollback $(if $(ALL),--all)

refresh: $(STAMP) ## refresh the materialized views once if older than TTL (TTL=30, FORCE=1)
	@$(CLI) refresh --ttl $(or $(TTL),30) $(if $(FORCE),--force)

refresh-sidecar: $(STAMP) ## refresh every EVERY seconds (default 10) until SIGTERM, logging each
	@$(CLI) refresh --ttl $(or $(TTL),30) --every $(or $(EVERY),10)

docs: $(STAMP) ## regenerate docs/data_dictionary.md and docs/erd.md from a freshly migrated database
	@$(CLI) docs

docs-check: $(STAMP) ## fail when a committed document in docs/ is stale (writes nothing)
	@$(CLI) docs --check

test: lint-sql check ## lint the SQL, then run every check on a throwaway server (or DATABASE_URL)

check: $(STAMP) ## run the checks only (pytest; ARGS=... passes options)
	@$(BIN)/pytest $(ARGS)

lint-sql: $(STAMP) ## lint every migration with sqlfluff
	@$(BIN)/sqlfluff lint --disable-progress-bar $(SQL_DIRS)

fix-sql: $(STAMP) ## let sqlfluff fix what it can in the SQL files
	@$(BIN)/sqlfluff fix --disable-progress-bar $(SQL_DIRS)

db-start: $(STAMP) ## start the local PostgreSQL (creating it on first use)
	@$(CLI) server start

db-stop: $(STAMP) ## stop the local PostgreSQL
	@$(CLI) server stop

db-status: $(STAMP) ## say whether the local PostgreSQL is running
	@$(CLI) server status

psql: $(STAMP) ## open psql on the database in use
	@$(CLI) psql

clean: ## stop the local server and delete .venv and .pg (all local data)
	@if [ -x $(CLI) ]; then $(CLI) server stop || true; fi
	rm -rf $(VENV) .pg
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

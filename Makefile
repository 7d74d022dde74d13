# attribution-db: every verb of the project. `make help` lists them.
# Set DATABASE_URL (a libpq URI) to aim any target at an existing database instead of
# the project's local PostgreSQL (127.0.0.1:$(ATTRIBUTION_DB_PORT); data in .pg/, or as
# root in /var/lib/attribution-db/<checkout>-<hash>/: `make db-status` says where).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
SCALE ?= small
# The RLS overhead (src/attribution_db/bench/rls.py): alternating pgbench rounds, seconds per side.
RLS_ROUNDS ?= 30
RLS_SECONDS ?= 4
CLI := $(BIN)/attribution-db
# The migration folders, as yoyo.ini lists them (a new folder needs no change here).
SQL_DIRS := $(shell sed -n 's/^sources *= *//p' yoyo.ini)
MIGRATION_FILES := $(filter-out %.rollback.sql,$(wildcard $(addsuffix /*.sql,$(SQL_DIRS))))
ROLLBACK_FILES := $(wildcard $(addsuffix /*.rollback.sql,$(SQL_DIRS)))
# squawk reads .squawk.toml itself, but an --exclude on its command line replaces the file's
# list, so rollback files get the file's exclusions plus their own: a rollback exists to drop
# what its migration created (ban-drop-table, -column, -view, -function, -constraint, and
# dropping an index without CONCURRENTLY inside the rollback's transaction), nothing else is relaxed.
SQUAWK_CONFIG_EXCLUDED := $(shell $(PYTHON) -c 'import tomllib; print(",".join(tomllib.load(open(".squawk.toml", "rb"))["excluded_rules"]))')
SQUAWK_ROLLBACK_EXCLUDED := $(SQUAWK_CONFIG_EXCLUDED),ban-drop-table,ban-drop-column,ban-drop-view,ban-drop-function,ban-drop-constraint,require-concurrent-index-deletion

export ATTRIBUTION_DB_PORT ?= 54329

.PHONY: help venv migrate status rollback mark break-lock manifest schema verify refresh refresh-sidecar docs docs-check test check mutate lint-sql fix-sql db-start db-stop db-status psql bench bench-report rehearse clean

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

rollback: $(STAMP) ## roll back exactly the latest migration (N=3: the latest 3; ALL=1: every one)
	@$(CLI) rollback $(if $(filter 1,$(ALL)),--all,$(if $(N),--count $(N)))

mark: $(STAMP) ## record migration ID=<id> as applied without running it (recovery after a killed run)
	@$(if $(ID),$(CLI) mark $(ID),echo 'usage: make mark ID=<migration id>' >&2; exit 2)

break-lock: $(STAMP) ## remove a stale migration lock left by a killed run
	@$(CLI) break-lock

manifest: $(STAMP) ## add new migration files to sql/manifest.sha256 (recorded ones never change)
	@$(CLI) manifest

schema: $(STAMP) ## regenerate sql/schema.sql and sql/catalog.json from a freshly migrated throwaway database
	@$(CLI) schema

verify: $(STAMP) ## check the live database (DATABASE_URL or local) against the migrations, read-only (JSON=1, MAX_AGE=s, SKIP_ROLLUPS=1)
	@$(CLI) verify $(if $(JSON),--json) $(if $(MAX_AGE),--max-age $(MAX_AGE)) $(if $(OWNER),--owner $(OWNER)) $(if $(SKIP_ROLLUPS),--skip-rollups)

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

mutate: $(STAMP) ## break the schema with each mutation of checks/mutations/*.yaml; fail naming survivors (ONLY=id1,id2 JOBS=2)
	@$(CLI) mutate $(if $(ONLY),--only $(ONLY)) $(if $(JOBS),--jobs $(JOBS))

lint-sql: $(STAMP) ## lint every migration with sqlfluff (style) and squawk (safety on a busy server)
	@$(BIN)/sqlfluff lint --disable-progress-bar $(SQL_DIRS)
	@$(if $(MIGRATION_FILES),$(BIN)/squawk --reporter gcc $(MIGRATION_FILES))
	@$(if $(ROLLBACK_FILES),$(BIN)/squawk --reporter gcc --exclude=$(SQUAWK_ROLLBACK_EXCLUDED) $(ROLLBACK_FILES))
	@echo "squawk: $(words $(MIGRATION_FILES)) migration and $(words $(ROLLBACK_FILES)) rollback files pass"

fix-sql: $(STAMP) ## let sqlfluff fix what it can in the SQL files
	@$(BIN)/sqlfluff fix --disable-progress-bar $(SQL_DIRS)

db-start: $(STAMP) ## start the local PostgreSQL (creating it on first use)
	@$(CLI) server start

db-stop: $(STAMP) ## stop the local PostgreSQL
	@$(CLI) server stop

db-status: $(STAMP) ## say whether the local PostgreSQL is running and where its data is
	@$(CLI) server status

psql: $(STAMP) ## open psql on the database in use
	@$(CLI) psql

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	@touch $@

bench: $(BENCH_STAMP) ## benchmark query paths, RLS overhead, ingestion, refresh (SCALE=small|medium|large, KEEP=1, RLS_ROUNDS=30, RLS_SECONDS=4)
	@$(CLI) bench run --scale $(SCALE) $(if $(KEEP),--keep) --rls-rounds $(RLS_ROUNDS) --rls-seconds $(RLS_SECONDS)
	@$(CLI) bench report

bench-report: $(BENCH_STAMP) ## rewrite docs/performance.md and its plot from bench/results/
	@$(CLI) bench report

rehearse: $(BENCH_STAMP) ## roll back and re-apply the latest migrations under load, measuring each (SCALE=, KEEP=1, N=)
	@$(CLI) rehearse --scale $(SCALE) $(if $(KEEP),--keep) $(if $(N),--count $(N))

clean: ## stop the local server and delete its data (make db-status says where) and .venv
	@PYTHONPATH=src $(PYTHON) -m attribution_db.cluster remove
	rm -rf $(VENV) .pg
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

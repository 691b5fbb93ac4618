# One command surface for schoolgraph. Everything installs into .venv from requirements.lock.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-citus lint schema lock clean bench bench-roster bench-audit bench-audit-load bench-learning bench-partners

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## make run: migrate (as the owner), then seed the demo if the database is empty and serve on
## http://127.0.0.1:8000 (as the runtime role: serve never migrates)
run: install
	$(BIN)/schoolgraph db upgrade
	$(BIN)/schoolgraph serve --demo

## make test: the whole suite on real PostgreSQL (TEST_DATABASE_URL, or an embedded server)
test: install
	$(BIN)/pytest

## make test-citus: the suite with every table distributed on a throwaway 3-node Citus cluster (ADR 0019):
## builds Citus if missing, starts the cluster (.data/citus), runs pytest on its coordinator, stops it.
## CITUS_VENDOR names the folder with the Citus source and its build and cluster scripts.
CITUS_VENDOR ?= ../shared/vendor/citus
test-citus: install
	CITUS_VENDOR=$(abspath $(CITUS_VENDOR)) scripts/test-citus.sh $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

## make schema: re-export the three schemas (*.graphql) and their permission matrices (docs/permissions*.md)
schema: install
	$(BIN)/python -m graph.export
	$(BIN)/python -m graph.platform.export

## make bench: every benchmark, ratios against a reference measured in the same run
bench: install
	$(BIN)/python -m bench

bench-roster: install
	$(BIN)/python -m bench bench.roster

bench-audit: install
	$(BIN)/python -m bench bench.audit

## make bench-audit-load: two server instances x 200 writing clients for a bounded time (5xx, writes lost, p95)
bench-audit-load: install
	$(BIN)/python -m bench bench.audit_load

bench-learning: install
	$(BIN)/python -m bench bench.learning

bench-partners: install
	$(BIN)/python -m bench bench.partners

## make lock: re-pin requirements.lock from the current environment (after changing pyproject.toml)
lock: install
	$(BIN)/pip freeze --exclude-editable | grep -v '^schoolgraph' > requirements.lock

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache

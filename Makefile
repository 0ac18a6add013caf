# salesbi — the README's two commands are `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run test bench bench-callbacks lint demo clean

## venv: create .venv and install the project with dev extras (again only when pyproject.toml
## or constraints.txt changes). constraints.txt pins every transitive dependency; refresh it
## with `.venv/bin/pip freeze --exclude-editable > constraints.txt` after changing pins.
venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -c constraints.txt -e '.[dev]'
	@touch $@

## run: create the database (with demo data when empty), build the star schema and serve on
## http://127.0.0.1:8050 (the demo logins are printed: password "demo")
run: venv
	$(BIN)/salesbi init-db --demo-if-empty
	$(BIN)/salesbi etl run
	$(BIN)/salesbi serve

## test: lint, layer contracts, then the test suite (slow tests excluded by pytest config) on
## two pytest-xdist workers, the browser tests together on one
test: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest -q -n 2 --dist loadgroup

## bench: run every bench/bench_*.py; results go to bench/results/*.json
bench: venv
	$(BIN)/python -m bench

## bench-callbacks: page callbacks over HTTP against gunicorn (result cache off), p50/p95 per
## page, sequential and 8 concurrent users, worker memory, SQL ratio; 1M-line SQLite demo in
## var/bench-1m (built on first use). ARGS=--standard for the 10M-line PostgreSQL dataset.
bench-callbacks: venv
	$(BIN)/python -m bench.bench_callbacks $(ARGS)

## lint: ruff and mypy on the typed packages
lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy core etl

## demo: (re)generate deterministic demo data in the configured database
demo: venv
	$(BIN)/salesbi demo

## clean: remove caches and build leftovers (keeps .venv packages and var/, which holds your data;
## the install stamp goes too, so the next make re-registers the editable install)
clean:
	rm -rf .pytest_cache .ruff_cache .mypy_cache .hypothesis build dist *.egg-info $(STAMP)
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

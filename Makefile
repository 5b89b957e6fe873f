# The commands of the README: `make run`, `make test` and `make demo`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= data
DOMAIN ?= 127.0.0.1:8000
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: run test test-postgres lint demo bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Initialise a local SQLite instance under ./data the first time, then serve it.
run: $(STAMP)
	@if [ ! -f $(DATA_DIR)/fediverse-share.toml ]; then \
	  $(BIN)/fediverse-share --data-dir $(DATA_DIR) init --domain $(DOMAIN) \
	    --community neighbours --community-name "Neighbours" --currency NBR \
	    --allow-http --allow-private-addresses; \
	fi
	@echo "Open http://$(DOMAIN)/@neighbours — add members with:"
	@echo "  $(BIN)/fediverse-share --data-dir $(DATA_DIR) user add NAME"
	$(BIN)/fediverse-share --data-dir $(DATA_DIR) serve --host 127.0.0.1 --port 8000

# Three communities on 127.0.0.1:8001-8003 peer, swap and pay each other, then stop.
demo: $(STAMP)
	$(BIN)/fediverse-share demo

test: $(STAMP)
	$(BIN)/pytest -q

test-postgres: $(STAMP)
	FEDIVERSE_SHARE_TEST_DATABASE_URL=$(TEST_POSTGRES_URL) $(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	for script in bench/*.py; do $(BIN)/python $$script; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test chat bench lint typecheck catalogs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24,<27"
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

catalogs: $(STAMP)
	$(BIN)/pybabel compile --domain ascolto --directory locales --use-fuzzy --statistics 2>&1 | tail -n 2

run: catalogs
	$(BIN)/ascolto db upgrade
	$(BIN)/ascolto run

test: catalogs
	$(BIN)/lint-imports --config pyproject.toml
	$(BIN)/mypy
	$(BIN)/pytest -q

bench: catalogs
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var/*.sqlite3* .pytest_cache .mypy_cache

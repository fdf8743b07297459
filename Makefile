# Two commands do all set-up on a fresh machine: `make run` and `make test`.
# Dependencies come from requirements.lock (exact versions, SHA-256 of every file); `make lock`
# rebuilds it from the ranges in pyproject.toml (README "Dependencies and the lock file").
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
LOCK_INPUTS := pyproject.toml requirements-build.in
LOCK_FLAGS ?=

.PHONY: run test chat bench lint typecheck catalogs clean lock

$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
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

# uv comes from the lock itself (the dev extra). The lock is universal: every platform's wheels are hashed.
lock: $(STAMP)
	$(BIN)/uv pip compile $(LOCK_INPUTS) --extra dev --generate-hashes --universal --python-version 3.11 \
		--index-url https://pypi.org/simple --quiet --output-file $(LOCK) $(LOCK_FLAGS)

clean:
	rm -rf $(VENV) var/*.sqlite3* .pytest_cache .mypy_cache

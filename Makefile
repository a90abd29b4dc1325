# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap idempotently.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
# CPU build from local disk; installed before the project so no CUDA build is pulled.
TORCH   := torch==2.13.0

.PHONY: demo test test-all bootstrap lint bench clean

bootstrap: $(VENV)/.installed devnet/node_modules/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $@

devnet/node_modules/.installed: devnet/package.json devnet/package-lock.json
	cd devnet && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

## demo: start Anvil, deploy, fetch MNIST, run a 4-party DPPDL simulation, print the table
demo: bootstrap
	$(BIN)/dppdl demo

## test: unit, contract and integration tests (about 7 minutes here; the budget is 10)
test: bootstrap
	$(BIN)/python -m pytest -q -m "not slow"

test-all: bootstrap
	$(BIN)/python -m pytest -q

lint: bootstrap
	$(BIN)/ruff check dppdl storage tests benchmarks
	$(BIN)/mypy dppdl storage

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

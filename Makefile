# citymesh: `make up` runs the platform on this machine, `make test` checks it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
BUF    := npx --yes @bufbuild/buf@1.50.0
GEN    := services/citymesh/api

.PHONY: venv proto proto-check docs nats-users lint test up bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

## Generate the Python code of proto/ into services/citymesh/api.
proto: venv
	$(BIN)/python tools/genproto.py

## Fail when the committed generated code is not what `make proto` produces.
proto-check: proto
	@git diff --exit-code --stat -- $(GEN) && test -z "$$(git status --porcelain -- $(GEN))" \
	  || { echo "generated code in $(GEN) is stale: run 'make proto' and commit it"; exit 1; }

## Regenerate the generated parts of README.md (the settings table).
docs: venv
	$(BIN)/python tools/docs.py

## Write infra/nats/auth-values.yaml, the chart's NATS users, from runtime/natsauth.py.
nats-users: venv
	$(BIN)/python tools/natsusers.py

lint: venv
	cd proto && $(BUF) lint
	$(BIN)/ruff check services tests tools
	$(BIN)/ruff format --check services tests tools
	$(BIN)/mypy
	$(BIN)/lint-imports

test: proto-check lint
	$(BIN)/pytest

## Run the platform here: nats-server, every service, the city simulator and a live status.
up: venv
	$(BIN)/citymesh up

## Measure ingest throughput against a raw JetStream baseline.
bench: venv
	$(BIN)/citymesh bench ingest

clean:
	rm -rf $(VENV) .citymesh .pytest_cache .mypy_cache .ruff_cache

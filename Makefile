# The two commands of the README: `make demo` and `make test`. Each creates .venv if needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-web serve clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,postgres,spark,territory-check]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/proxisante demo

# pytest exits 5 when it collects no test: that is a failure, said plainly.
test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

# mypy reads its settings (files = src/proxisante, pydantic plugin) from pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

bench-web: $(STAMP)
	$(BIN)/python bench/web.py

serve: $(STAMP)
	$(BIN)/proxisante serve

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# The two front doors: `make run` and `make test`. Both build .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test lint bench package clean
STAGE ?= dev

$(INSTALLED): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(INSTALLED)
	PYTHONUNBUFFERED=1 $(BIN)/python -m devtools.local_stack

test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

package: $(INSTALLED)
	$(BIN)/python -m devtools.deployment package --stage $(STAGE)

bench: $(INSTALLED)
	$(BIN)/python bench/run.py

lint: $(INSTALLED)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache

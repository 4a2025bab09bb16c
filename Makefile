# The two front doors: `make run` and `make test`. Both build .venv themselves.
# Python 3.13, the Lambda runtime the package targets: on PATH, or from pyenv.
PYTHON ?= $(shell for py in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13; do \
	"$$py" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null && { echo "$$py"; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test lint bench package clean
STAGE ?= dev

$(INSTALLED): requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.13 is required (python3.13 on PATH or pyenv 3.13.x)"; exit 1; }
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

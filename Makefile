# The two front doors: `make run` and `make test`. Both build .venv themselves.
# Python 3.13, the Lambda runtime the package targets: on PATH, or from pyenv.
PYTHON ?= $(shell for py in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13; do \
	"$$py" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null && { echo "$$py"; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEPLOY_VENV := .venv-deploy
BENCH_VENV := .venv-bench

.PHONY: run test test-fast check openapi bench package preflight clean
STAGE ?= dev

$(INSTALLED): requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.13 is required (python3.13 on PATH or pyenv 3.13.x)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(INSTALLED)
	PYTHONUNBUFFERED=1 $(BIN)/python -m devtools.local_stack

# Everything CI runs: the static gate, then every tier of tests.
test: check
	$(BIN)/python -m pytest

# The inner loop: unit and API tests only (under a minute).
test-fast: $(INSTALLED)
	$(BIN)/python -m pytest -m "unit or api"

# Lint, format and type gate (mypy --strict over the files pyproject.toml names).
check: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

$(DEPLOY_VENV)/.installed: requirements-deploy.txt
	$(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-deploy.txt
	touch $@

# The CloudFormation template and the Lambda zip in build/STAGE, checked by cfn-lint and checkov.
package: $(INSTALLED) $(DEPLOY_VENV)/.installed
	$(BIN)/python -m devtools.deployment package --stage $(STAGE)

# Before the first deploy of a stage: the signing secret and API Gateway's logging role exist.
preflight: $(INSTALLED)
	$(BIN)/python -m devtools.deployment preflight --stage $(STAGE)

# Its own venv: the detectors it compares against bring SciPy, pandas and more.
$(BENCH_VENV)/.installed: requirements.txt requirements-dev.txt requirements-bench.txt
	@test -n "$(PYTHON)" || { echo "Python 3.13 is required (python3.13 on PATH or pyenv 3.13.x)"; exit 1; }
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $@

# Figures, not pass/fail: the ingest handler, a 24-hour Holter upload, the codec, and the beat
# detector beside NeuroKit2 and XQRS.
bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python bench/run.py
	$(BENCH_VENV)/bin/python bench/uploads.py
	$(BENCH_VENV)/bin/python bench/compression.py
	$(BENCH_VENV)/bin/python bench/rhythm.py

# chalicelib/openapi.json (served) from openapi.yaml (edited); a test keeps them equal.
openapi: $(INSTALLED)
	$(BIN)/python -m devtools.openapi

clean:
	rm -rf $(VENV) $(DEPLOY_VENV) $(BENCH_VENV) build .pytest_cache .ruff_cache .mypy_cache .schemathesis

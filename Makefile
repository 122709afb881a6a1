# kadam_nb: `make demo` runs a small pipeline end to end, `make test` runs every check.
# Both set everything up themselves on a fresh Debian 12 machine (as root: system packages too).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kadam-installed

.PHONY: test demo lint typecheck venv system clean

test: venv system lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: venv system
	@scripts/docker-up.sh
	$(BIN)/kadam run notebooks/01-quickstart.ipynb $(DEMO_ARGS)

lint: venv
	$(BIN)/ruff check kadam_nb tests
	$(BIN)/ruff format --check kadam_nb tests

typecheck: venv
	$(BIN)/mypy

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

system:
	scripts/system-deps.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info

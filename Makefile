# kadam_nb: `make demo` runs a small pipeline end to end, `make test` runs every check.
# Both set everything up themselves on a fresh Debian 12 machine (as root: system packages too).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.kadam-installed

.PHONY: test demo lint typecheck venv system clean bench bench-quick

test: venv system lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The benchmark suite (docs/benchmarks.md): `bench` runs everything (under 15 minutes) and
# writes the results; `bench-quick` (under 2 minutes) fails only on a large regression. `make
# test` runs the quick mode as tests/test_bench_quick.py, on the test session's Docker engine.
bench: venv system
	@scripts/docker-up.sh
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-quick: venv system
	@scripts/docker-up.sh
	$(BIN)/python -m bench.run --quick $(BENCH_ARGS)

demo: venv system
	@scripts/docker-up.sh
	$(BIN)/kadam run notebooks/01-quickstart.ipynb $(DEMO_ARGS)

lint: venv
	$(BIN)/ruff check kadam_nb tests bench
	$(BIN)/ruff format --check kadam_nb tests bench

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

# Two commands on a fresh machine (Python >= 3.10 and make):
#   make demo   serves the demo on http://127.0.0.1:8000
#   make test   runs every check
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test tools lint typecheck pytest docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m recipes.demo

test: tools lint typecheck pytest docs

# Real tools the tests run: Debian's htpasswd (apache2-utils) makes the
# password files the auth tests read. Installed when missing and root.
tools:
	@command -v htpasswd >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
		apt-get update -qq && apt-get install -y -qq apache2-utils >/dev/null; } || \
		echo "htpasswd missing: install apache2-utils (the auth tests need it)"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest --cov --cov-report=term-missing $(PYTEST_ARGS)

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) site .coverage .pytest_cache .mypy_cache .ruff_cache

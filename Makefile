# Two commands on a fresh machine (Python >= 3.10 and make):
#   make demo   serves the demo on http://127.0.0.1:8000 (make demo PORT=8001)
#   make test   runs every check
# and three that need neither the dev tools nor Debian's programs:
#   make dist        builds the sdist and the wheel into dist/ and checks them
#   make docs-serve  serves the docs on http://127.0.0.1:8000 (DOCS_PORT=...)
#   make docs        builds the docs into site/, strictly
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_STAMP := $(VENV)/.demo-stamp
PORT ?= 8000
# Small environments of their own: building a wheel and reading the docs
# need neither the dev extra nor the Debian programs the tests use.
DIST_VENV := .venv-dist
DIST_STAMP := $(DIST_VENV)/.installed-stamp
DOCS_VENV := .venv-docs
DOCS_STAMP := $(DOCS_VENV)/.installed-stamp
DOCS_PORT ?= 8000

.PHONY: demo test tools lint typecheck pytest versions docs docs-serve dist bench soak clean

# The demo needs only the library and its extras; the test run needs the dev
# tools, servers and frameworks, and Debian's programs (see tools).
$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all]'
	touch $(DEMO_STAMP)

$(STAMP): pyproject.toml | tools
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	@$(BIN)/python -m recipes.demo --port $(PORT)

test: tools lint typecheck pytest versions docs

# Real programs the tests run, from Debian: htpasswd (apache2-utils) writes
# the password files; apache2 serves mod_wsgi, whose pip build needs apxs
# (apache2-dev); nginx is the reverse proxy; wrk drives the end-to-end
# benchmark; setpriv (util-linux) lets root drop to nobody for Apache;
# redis-server is the shared store RateLimit is tested on; chromium and
# chromium-driver are the headless browser for the CORS/CSP/CSRF recipe;
# curl runs the docs' commands as a reader would (test_newcomer.py).
# Installed when missing and root; otherwise the run stops here.
DEBIAN_TOOLS := htpasswd:apache2-utils apxs:apache2-dev apache2:apache2 nginx:nginx wrk:wrk setpriv:util-linux \
	redis-server:redis-server chromium:chromium chromedriver:chromium-driver curl:curl
tools:
	@missing=""; \
	for pair in $(DEBIAN_TOOLS); do \
		command -v $${pair%%:*} >/dev/null 2>&1 || [ -x /usr/sbin/$${pair%%:*} ] || \
			missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing Debian packages:$$missing"; \
			apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "the tests need these Debian packages:$$missing (apt-get install as root)"; \
			exit 1; \
		fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest --cov --cov-report=term-missing $(PYTEST_ARGS)

# The in-process suite on every supported Python, 3.10 to 3.13 (noxfile.py):
# a venv per version under .nox, reused; one version: make versions NOX_ARGS="-s tests-3.12".
# Under CI=true a missing interpreter fails the run; elsewhere it is skipped.
versions: $(STAMP)
	$(BIN)/nox $(NOX_ARGS)

$(DIST_STAMP):
	$(PYTHON) -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DIST_VENV)/bin/python -m pip install --quiet build twine
	touch $(DIST_STAMP)

# The sdist and the wheel, from the files in this folder, then twine's check
# of what PyPI would show. tests/integration/test_wheel.py installs the wheel
# into a clean environment and runs the in-process tests against it.
dist: $(DIST_STAMP)
	rm -rf dist
	$(DIST_VENV)/bin/python -m build --outdir dist .
	$(DIST_VENV)/bin/python -m twine check --strict dist/*

# Only what the docs need (the docs dependency group in pyproject.toml):
# no dev tools, no Debian programs, not even wsgimw itself.
$(DOCS_STAMP): pyproject.toml
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DOCS_VENV)/bin/python -m pip install --quiet --group docs
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs build --strict --quiet

docs-serve: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs serve --strict --dev-addr 127.0.0.1:$(DOCS_PORT)

# The long soak (issue 17): SOAK_ARGS="--seconds 300" for a longer one.
soak: $(STAMP)
	$(BIN)/python -m bench.soak --seconds 120 $(SOAK_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.scaleout $(filter --fast,$(BENCH_ARGS))

clean:
	rm -rf $(VENV) $(DIST_VENV) $(DOCS_VENV) .nox site dist build .coverage .pytest_cache .mypy_cache .ruff_cache

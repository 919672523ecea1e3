# `make run` and `make test` set themselves up: they create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check
# npm packages the tests check against (pinned in tests/npm/package-lock.json), kept out of git.
NPM_DIR   := tests/npm
NPM_STAMP := $(NPM_DIR)/node_modules/.installed

.PHONY: run test lint audit build check clean bench bench-profile docs docs-build

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt
	touch $@

$(VENV)/.test: requirements-test.txt $(VENV)/.runtime
	$(PIP) -r requirements-test.txt
	touch $@

$(VENV)/.audit: requirements-audit.txt $(VENV)/.runtime
	$(PIP) -r requirements-audit.txt
	touch $@

$(VENV)/.docs: requirements-docs.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements-docs.txt
	touch $@

$(VENV)/.bench: bench/requirements.txt $(VENV)/.runtime
	$(PIP) -r bench/requirements.txt
	touch $@

run: $(VENV)/.runtime
	$(PY) -m feedsvc serve --content content --host 127.0.0.1 --port $(PORT)

$(NPM_STAMP): $(NPM_DIR)/package.json $(NPM_DIR)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(NPM_DIR) --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "npm not found: the JSON Feed schema tests will skip (fail under FEEDSVC_REQUIRE_TOOLS=1)"; \
	fi

# The suite runs on TEST_WORKERS processes (pytest-xdist), each test file whole on one of them: a file's
# module fixtures (servers, Jekyll builds, the installed package) are made once. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test: lint docs-build $(NPM_STAMP) $(VENV)/.audit
	$(PY) scripts/audit.py --offline-ok
	$(PY) -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

# The pages in docs/: `make docs` serves a live preview at http://127.0.0.1:8001 (DOCS_PORT); `make test` builds
# them with --strict into site/ (git-ignored), so a broken link or anchor, or a page missing from nav, fails.
DOCS_PORT ?= 8001
docs: $(VENV)/.docs
	$(VENV)/bin/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

docs-build: $(VENV)/.docs
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir site

# Exit 1 on a known vulnerability, 2 when the vulnerability database cannot be reached.
audit: $(VENV)/.audit
	$(PY) scripts/audit.py

# ruff, then mypy --strict over feedsvc/ (both configured in pyproject.toml).
lint: $(VENV)/.test
	$(VENV)/bin/ruff check feedsvc tests scripts bench
	$(VENV)/bin/mypy

check: $(VENV)/.runtime
	$(PY) -m feedsvc check --content content

build: $(VENV)/.runtime
	$(PY) -m feedsvc build --content content --out build

# Quick benchmark (1k posts, a few minutes); FULL=1 runs 1k, 10k and 100k. Results in bench/results/.
bench: $(VENV)/.bench
	$(PY) -m bench.run $(if $(FULL),--full)

bench-profile: $(VENV)/.bench
	$(PY) -m bench.profile $(if $(POSTS),--posts $(POSTS))

clean:
	rm -rf $(VENV) build site .pytest_cache .mypy_cache $(NPM_DIR)/node_modules

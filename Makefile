# `make run` and `make test` set themselves up: they create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: run test lint build check clean bench bench-profile

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt
	touch $@

$(VENV)/.test: requirements-test.txt $(VENV)/.runtime
	$(PIP) -r requirements-test.txt
	touch $@

$(VENV)/.bench: bench/requirements.txt $(VENV)/.runtime
	$(PIP) -r bench/requirements.txt
	touch $@

run: $(VENV)/.runtime
	$(PY) -m feedsvc serve --content content --host 127.0.0.1 --port $(PORT)

test: lint
	$(PY) -m pytest

lint: $(VENV)/.test
	$(VENV)/bin/ruff check feedsvc tests bench

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
	rm -rf $(VENV) build .pytest_cache

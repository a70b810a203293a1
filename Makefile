# authgate — `make run` starts a demo behind Caddy, `make test` runs every check.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test lint format unit e2e bench system-deps services clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $@

run: install
	$(PY) -m authgate.demo.run

# Debian packages the end-to-end tests drive: nginx, Chromium (+ driver), wrk for bench/.
system-deps:
	@bash scripts/system-deps.sh

# PostgreSQL and Redis run on these machines already; start them if they are down.
services:
	@bash scripts/services.sh

lint: install
	$(VENV)/bin/ruff check src tests $(wildcard bench)
	$(VENV)/bin/ruff format --check src tests $(wildcard bench)
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix src tests $(wildcard bench)
	$(VENV)/bin/ruff format src tests $(wildcard bench)

unit: install
	$(VENV)/bin/pytest tests/unit -q

e2e: install system-deps services
	$(VENV)/bin/pytest tests/e2e -q

test: install system-deps services lint
	$(VENV)/bin/pytest -q

bench: install system-deps
	$(PY) bench/forward_auth.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache test-output

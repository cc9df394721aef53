# The two set-up commands: `make run` (serve with a sandbox Redmine) and `make test` (the whole
# suite, with its own sandbox Redmine, PostgreSQL and Chromium). `make unit` runs the fast tests.
VENV ?= .venv
PYTEST_ARGS ?=

.PHONY: run test unit venv sandbox-redmine sandbox-test-redmine sandbox-postgres sandbox-browser \
	stop-sandbox lint docs bench

$(VENV)/.installed: setup.cfg pyproject.toml sandbox/python.sh
	sandbox/python.sh $(VENV)
	touch $@

venv: $(VENV)/.installed

run: $(VENV)/.installed
	VENV=$(VENV) sandbox/run.sh

# `make run`'s Redmine (instance default, 127.0.0.1:3000) and the tests' own (instance test, :3001).
sandbox-redmine:
	sandbox/redmine.sh up run

sandbox-test-redmine:
	sandbox/redmine.sh up test

sandbox-postgres:
	sandbox/postgres.sh

sandbox-browser:
	sandbox/browser.sh

stop-sandbox:
	sandbox/redmine.sh stop all

test: $(VENV)/.installed sandbox-test-redmine sandbox-postgres sandbox-browser
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# No root, no services: the pure and recorded-payload tests, rule tests, lint and the CLI.
unit: $(VENV)/.installed
	$(VENV)/bin/pytest -m "not services" --ignore=tests/integration $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check connector rules webhooks ticketwarden tests bench
	$(VENV)/bin/mypy

docs: $(VENV)/.installed
	$(VENV)/bin/python -m ticketwarden.gendocs

# Throughput and latency beside same-run references (bench/README.md); BENCH_SCALE=0.2 for a quick look.
bench: $(VENV)/.installed
	$(VENV)/bin/python -m bench.run

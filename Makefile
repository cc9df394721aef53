# The two set-up commands: `make run` (serve with a sandbox Redmine) and `make test`.
VENV ?= .venv
PYTEST_ARGS ?=

.PHONY: run test venv sandbox-redmine sandbox-postgres sandbox-browser stop-sandbox lint docs

$(VENV)/.installed: setup.cfg pyproject.toml sandbox/python.sh
	sandbox/python.sh $(VENV)
	touch $@

venv: $(VENV)/.installed

run: $(VENV)/.installed
	VENV=$(VENV) sandbox/run.sh

sandbox-redmine:
	sandbox/redmine.sh

sandbox-postgres:
	sandbox/postgres.sh

sandbox-browser:
	sandbox/browser.sh

stop-sandbox:
	sandbox/redmine.sh stop

test: $(VENV)/.installed sandbox-redmine sandbox-postgres sandbox-browser
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check connector rules webhooks ticketwarden tests
	$(VENV)/bin/mypy

docs: $(VENV)/.installed
	$(VENV)/bin/python -m ticketwarden.gendocs

# Chores. The two set-up commands are scripts/start and scripts/test (see README).
VENV ?= .venv
PY := $(VENV)/bin/python
MANAGE := DEBUG=1 $(PY) manage.py

.PHONY: run test lint fmt migrations messages postgres-start postgres-stop

run:  ## install and start web server + worker on http://127.0.0.1:8000
	scripts/start

test:  ## install test dependencies, lint, run the suite on SQLite and PostgreSQL
	scripts/test

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 $(VENV)/bin/mypy
	$(MANAGE) check
	$(MANAGE) makemigrations --check --dry-run

fmt:
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations:
	$(MANAGE) makemigrations

messages:  ## refresh and compile the catalogs: Simplified Chinese, and English (its templates are what llmplatform.sentences reads)
	$(MANAGE) makemessages -l zh_Hans -l en --no-obsolete --ignore=.venv --ignore=var
	$(MANAGE) compilemessages --ignore=.venv

postgres-start:
	scripts/services/postgres.sh start

postgres-stop:
	scripts/services/postgres.sh stop

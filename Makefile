# Two entry points: `make serve` and `make test`. Both set everything up from the project's files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup serve test check bench schemas clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=23,<27"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

serve: $(STAMP)
	$(BIN)/gunicorn --config gunicorn.conf.py wsgi:app

test: $(STAMP)
	$(BIN)/policy-service check --strict rules
	$(BIN)/policy-service test rules --min-coverage 100
	POLICY_SERVICE_REQUIRE_POSTGRES=1 scripts/with-postgres $(BIN)/python -m pytest

check: $(STAMP)
	$(BIN)/policy-service check rules

bench: $(STAMP)
	$(BIN)/python bench/bench_decisions.py

schemas: $(STAMP)
	$(BIN)/policy-service schemas --write schemas

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache

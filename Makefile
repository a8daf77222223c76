# KIM Lotse — one command each. See README.md.
SHELL := /bin/bash
export PYTHONPATH := $(CURDIR)
PY := .venv/bin/python
RASA := $(CURDIR)/.venv-rasa/bin/rasa

.PHONY: setup run test lint typecheck unit rasa-validate rasa-test bench reliability clean lock

setup:            ## create both venvs, migrate, seed, train the model when nlu/ changed
	bash scripts/setup.sh

run:              ## start Rasa, the action server and the app together (Ctrl-C stops all three)
	$(PY) -m cli run

test: lint typecheck rasa-validate rasa-test unit   ## the whole suite

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

typecheck:
	.venv/bin/mypy lotse bot services rendering cli console actions storage translations scheduler

rasa-validate:
	cd nlu && $(RASA) data validate --config config.yml --domain domain --data data

rasa-test:        ## Rasa conversation tests (dialogue policies on the trained model)
	cd nlu && $(RASA) test core --model ../var/models/lotse.tar.gz --stories tests/stories \
	    --out ../var/rasa-test-results --fail-on-prediction-errors

unit:             ## pytest: unit, storage (SQLite + PostgreSQL), end-to-end with the real stack
	$(PY) -m pytest

bench:
	$(PY) -m bench

reliability:      ## the 25 reference tests at full size (soaks, crash runs); figures in var/reliability.md
	LOTSE_RELIABILITY=full $(PY) -m pytest tests/reliability -p no:cacheprovider
	$(PY) -m tests.reliability.report full

clean:
	rm -rf var/ .venv .venv-rasa

lock:             ## regenerate the hashed locks from requirements/*.in (needs network; uv is fetched)
	bash scripts/lock.sh

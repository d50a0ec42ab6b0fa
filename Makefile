# One command per job; each sets up first (idempotent). See README.
PYTHON ?= python3
export PYTHON

.PHONY: setup test test-fast demo lint train-all

setup:
	bash scripts/setup.sh

test: setup
	$(PYTHON) -m pytest -q

test-fast: setup
	$(PYTHON) -m pytest -q -m "not slow"

demo: setup
	bash scripts/demo.sh

lint:
	$(PYTHON) -m ruff check .

train-all: setup
	bash scripts/train_all.sh

# smallfast: the commands a fresh machine needs. Each target creates or reuses the virtual environment in $(VENV).
VENV   ?= .venv
PYTHON ?= python3
# torch pinned to the release this project is tested with; override with `make TORCH="torch torchvision" ...`
TORCH  ?= torch==2.14.1 torchvision==0.29.1
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.smallfast-installed

.PHONY: install demo test sync nbtest pytest readme docs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

## the main job: load data, take 10 images per class, train, print test accuracy
demo: install
	$(BIN)/smallfast-demo

## the tests: library and notebooks in sync, every notebook runs, pytest
test: install sync nbtest pytest

sync: install
	PATH=$(BIN):$$PATH sh tools/check_sync.sh

nbtest: install
	$(BIN)/nbdev-test --n-workers 2 --do-print --timing

pytest: install
	$(BIN)/python -m pytest tests

## the documentation site, into docs/, from the notebooks' stored outputs (no Quarto needed)
docs: install
	$(BIN)/python tools/build_docs.py

readme: install
	$(BIN)/python tools/make_readme.py

clean:
	rm -rf $(VENV) _proc docs test-artifacts

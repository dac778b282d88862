# smallfast: the commands a fresh machine needs. Each target creates or reuses the virtual environment in $(VENV).
VENV   ?= .venv
PYTHON ?= python3
# torch pinned to the release this project is tested with; override with `make TORCH="torch torchvision" ...`
TORCH  ?= torch==2.14.1 torchvision==0.29.1
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.smallfast-installed

.PHONY: install data demo test sync nbtest pytest readme docs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e '.[dev]'
# the notebooks store the kernelspec as nbdev-clean writes it (display name = name): name the kernel so, and JupyterLab opens them unchanged
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name python3 > /dev/null
	touch $(STAMP)

## the main job: load data, take 10 images per class, train, print test accuracy
demo: install
	$(BIN)/smallfast-demo

## the data the notebooks and tests read: Fashion-MNIST from Debian's package (as root, where apt-get is), else downloaded into smallfast's cache
## (from FASHION_URL when given, e.g. `make data FASHION_URL=https://a.mirror/fashion-mnist`: the folder of the four .gz files)
FASHION_URL ?=
HAS_FASHION = $(BIN)/python -c "from smallfast.data import fashion_mnist; fashion_mnist()" >/dev/null 2>&1
data: install
	@$(HAS_FASHION) || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && echo "make: installing Debian's dataset-fashion-mnist" && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; } || true
	@$(HAS_FASHION) || { echo "make: downloading Fashion-MNIST into smallfast's cache"; \
	  $(BIN)/python -c "from smallfast.data import *; fashion_mnist(download=True, url='$(FASHION_URL)' or FASHION_URL)" 2>&1 | tail -1; } || true
	@$(HAS_FASHION) || { echo "make: Fashion-MNIST is missing and could not be installed or downloaded here: run 'sudo apt-get install dataset-fashion-mnist', or 'make data' where the network allows, or 'make data FASHION_URL=<a mirror>'" >&2; exit 1; }

## the tests: library and notebooks in sync, every notebook runs, pytest (needs Fashion-MNIST: `make data` gets it)
test: install data sync nbtest pytest

sync: install
	PATH=$(BIN):$$PATH sh tools/check_sync.sh

nbtest: install data
	$(BIN)/nbdev-test --n-workers 2 --do-print --timing

pytest: install data
	$(BIN)/python -m pytest tests

## the documentation site, into docs/, from the notebooks' stored outputs (no Quarto needed)
docs: install
	$(BIN)/python tools/build_docs.py

readme: install
	$(BIN)/python tools/make_readme.py

clean:
	rm -rf $(VENV) _proc docs test-artifacts

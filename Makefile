# Two commands do everything on a fresh machine (Python 3.10+, make, Node.js, the package registries):
#   make site   build the course site into _build/html (the default)
#   make test   unit tests, every notebook through nbval (natively and with another CPU's
#               kernels), the site build and a browser check
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
CHROMIUM ?= /usr/bin/chromium
export LLMCOURSE_CACHE ?= $(HOME)/.cache/llmcourse
export TIKTOKEN_CACHE_DIR ?= $(LLMCOURSE_CACHE)/tiktoken
export PYTHONHASHSEED := 0
NOTEBOOKS := $(sort $(wildcard book/*.ipynb))

.PHONY: all site test install assets vendor chromium lint unit nbval nbval-other nbval-portable \
	site-check notebooks bench \
	course-model instruct-model clean

all: site

## set-up ---------------------------------------------------------------------------
$(BIN)/.installed: pyproject.toml requirements-lock.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements-lock.txt -e ".[book,test]"
	touch $@

install: $(BIN)/.installed

assets: install
	$(PY) -m llmcourse.assets fetch --all

vendor: install assets
	$(PY) scripts/vendor.py

chromium:
	@command -v $(CHROMIUM) >/dev/null || { \
	  echo "installing Debian's chromium for the browser check"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium >/dev/null; }

## the site -------------------------------------------------------------------------
site: vendor
	$(PY) scripts/check_notebooks.py $(NOTEBOOKS)
	rm -rf _build/html
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "site: _build/html/index.html"

## the tests ------------------------------------------------------------------------
lint: install
	$(BIN)/ruff check llmcourse tests benchmarks scripts
	$(BIN)/ruff format --check llmcourse tests benchmarks scripts

unit: assets
	$(BIN)/pytest -q tests llmcourse

# Every notebook through nbval (scripts/run_nbval.py): as this machine computes (nbval), under
# another CPU's kernels (nbval-other, part of make test), under each of four (nbval-portable).
# README, "Tests and numerics".
nbval: assets
	$(PY) scripts/run_nbval.py $(NOTEBOOKS)

OTHER_KERNELS ?= ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1
nbval-other: assets
	$(PY) scripts/run_nbval.py --setting "$(OTHER_KERNELS)" $(NOTEBOOKS)

nbval-portable: assets
	$(PY) scripts/run_nbval.py --portable $(NOTEBOOKS)

site-check: chromium site
	$(PY) tests/site_check.py _build/html

# Two jobs at a time, each on one thread (more busy threads than cores make PyTorch's threads
# wait on each other): nbval natively and nbval-other side by side, then the site build with
# its browser check and the unit tests as a lane frees.
test: lint assets
	OMP_NUM_THREADS=1 $(MAKE) --no-print-directory -j2 --output-sync=target \
	  nbval-other nbval site-check unit

## for authors ----------------------------------------------------------------------
# Re-run every notebook top to bottom and store its outputs (and widget state) in place.
notebooks: assets
	$(PY) scripts/run_notebooks.py $(NOTEBOOKS)

# Every benchmark (about 9 minutes on 2 cores): results in benchmarks/results/, a table of ratios
bench: assets
	$(PY) -m benchmarks

# Pretrain the course model again (checkpoints/: weights and model card). About 25 minutes on
# 2 CPU cores; an interrupted run continues with: $(PY) -m llmcourse.pretrain --resume
course-model: assets
	$(PY) -m llmcourse.pretrain

# Fine-tune the course model on chapter 7.2's instructions again (checkpoints/instruct-model.*).
# About 15 minutes on 2 CPU cores; an interrupted run continues with:
# $(PY) -m llmcourse.instruct_model --resume
instruct-model: assets
	$(PY) -m llmcourse.instruct_model

clean:
	rm -rf _build vendor vendor.tmp

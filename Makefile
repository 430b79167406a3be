# The course's commands. The README's two commands are `make lab` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup lab test bench checkpoints execute sync bank clean

# Pinned CPU torch first (an unpinned torch pulls a multi-GB CUDA build), then the course.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

lab: setup
	HF_HUB_OFFLINE=1 $(BIN)/jupyter lab notebooks/00_start_here.ipynb

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

bench: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m course_lib.tools.bench

checkpoints: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m course_lib.tools.checkpoints all

# Re-execute one notebook from its py:percent twin and keep the pair in sync:
#   make execute NB=notebooks/01_vit_patches.py
execute: setup
	$(BIN)/jupytext --set-kernel python3 --sync $(NB)
	HF_HUB_OFFLINE=1 $(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=300 $(NB:.py=.ipynb)
	$(BIN)/jupytext --sync $(NB:.py=.ipynb)

sync: setup
	$(BIN)/jupytext --sync notebooks/*.py

# The interview bank as Markdown pages (one per topic), readable without Jupyter.
bank: setup
	$(BIN)/python -m course_lib.interview.bank docs/interview

clean:
	rm -rf $(VENV) build *.egg-info

# The course's commands. The README's two commands are `make lab` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup lab test test-browser bench checkpoints execute sync clean

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

# JupyterLab on 127.0.0.1 in Debian's chromium (apt-get install chromium); screenshots in build/browser/.
test-browser: setup
	COURSE_BROWSER_TEST=1 HF_HUB_OFFLINE=1 $(BIN)/python -m pytest tests/browser -p no:randomly

bench: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m course_lib.tools.bench

checkpoints: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m course_lib.tools.checkpoints all

# Re-execute one notebook from its py:percent twin and keep the pair in sync:
#   make execute NB=notebooks/01_vit_patches.py
execute: setup
	$(BIN)/jupytext --set-kernel python3 --sync $(NB)
	HF_HUB_OFFLINE=1 $(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=300 --ExecutePreprocessor.store_widget_state=False $(NB:.py=.ipynb)
	# merge consecutive prints into one stream output, as JupyterLab does on load (else trusting or saving changes the file)
	$(BIN)/jupyter nbconvert --to notebook --inplace --CoalesceStreamsPreprocessor.enabled=True $(NB:.py=.ipynb)
	# saved explorers keep their static view only (a trusted lab with no kernel cannot draw a widget)
	$(BIN)/python -m course_lib.widgets $(NB:.py=.ipynb)
	$(BIN)/jupytext --sync $(NB:.py=.ipynb)

sync: setup
	$(BIN)/jupytext --sync notebooks/*.py

clean:
	rm -rf $(VENV) build *.egg-info

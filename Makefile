# The course's commands. The README's two commands are `make lab` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup lab test test-browser bench checkpoints execute sync bank clean student site teaching

# Pinned CPU torch first (an unpinned torch pulls a multi-GB CUDA build), then the course.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# JupyterLab at notebook 00, as any user (adds --allow-root for root). Options:
#   make lab PORT=9000 IP=0.0.0.0 LAB_ARGS="--no-browser"   (course_lib/tools/lab.py explains them)
PORT     ?=
IP       ?=
LAB_ARGS ?=
lab: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m course_lib.tools.lab --port "$(PORT)" --ip "$(IP)" -- $(LAB_ARGS)

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

# Teaching (docs/teaching.md): the student edition (no solutions), the rendered course, the guide's numbers.
STUDENT_DIR ?= build/student
SITE_DIR    ?= build/site
student: setup
	$(BIN)/python -m course_lib.tools.student $(STUDENT_DIR)

site: setup
	$(BIN)/python -m course_lib.tools.site $(SITE_DIR)

teaching: setup
	$(BIN)/python -m course_lib.tools.teaching

sync: setup
	$(BIN)/jupytext --sync notebooks/*.py

# The interview bank as Markdown pages (one per topic), readable without Jupyter.
bank: setup
	$(BIN)/python -m course_lib.interview.bank docs/interview

clean:
	rm -rf $(VENV) build *.egg-info

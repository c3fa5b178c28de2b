# Module 8 lab, "Advanced AI Agent Patterns".  Start here: `make lab`, `make test`.
PYTHON    ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
NOTEBOOKS ?=

.PHONY: lab test course cassettes bench clean

# One virtual environment for learning and testing; rebuilt when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@# uv installs the course in seconds where pip takes most of a minute (bench/course_time.py).
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e ".[dev]"
	$(BIN)/python -m labkit.local --install
	@# No "Jupyter news" pop-up in a learner's Lab.
	$(BIN)/jupyter labextension disable --level=sys_prefix \
	  @jupyterlab/apputils-extension:announcements >/dev/null 2>&1
	touch $@

# Jupyter refuses root unless told; containers and CI machines often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(VENV)/.installed  ## JupyterLab on 127.0.0.1, notebooks/ as its root
	$(BIN)/jupyter lab --ip=127.0.0.1 --ServerApp.root_dir=notebooks $(ALLOW_ROOT) $(LAB_ARGS)

test: $(VENV)/.installed  ## unit tests, local-model tests and nbval over every notebook
	$(BIN)/python -m pytest

course: $(VENV)/.installed  ## run every notebook headless (or NOTEBOOKS="00_setup ...")
	$(BIN)/python -m labkit.course $(NOTEBOOKS)

cassettes: $(VENV)/.installed  ## re-record from a live model (LABKIT_BACKEND=local by default)
	$(BIN)/python -m labkit.course --record $(NOTEBOOKS)
	LABKIT_BACKEND=replay LABKIT_RECORD=0 $(BIN)/python -m labkit.course --inplace $(NOTEBOOKS)

bench: $(VENV)/.installed  ## the course's timing figures, as ratios
	$(BIN)/python bench/course_time.py

clean:
	rm -rf $(VENV) *.egg-info

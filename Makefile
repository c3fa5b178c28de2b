# Module 8 lab, "Advanced AI Agent Patterns".  Start here: `make lab`, `make test`.
PYTHON    ?= python3
VENV      := .venv
BIN       := $(VENV)/bin
NOTEBOOKS ?=

SUBMISSIONS ?=

.PHONY: lab test system-packages course cassettes release grade bench constraints clean

# One virtual environment for learning and testing; rebuilt when the package list changes.
# constraints.txt pins every package to the version the notebooks' saved outputs were made
# with (nbval compares them exactly): a new release elsewhere cannot change a lesson.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	@# uv installs the course in seconds where pip takes most of a minute (bench/course_time.py).
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e ".[dev]"
	$(BIN)/python -m labkit.llm.local_model --install
	@# No "Jupyter news" pop-up in a learner's Lab.
	$(BIN)/jupyter labextension disable --level=sys_prefix \
	  @jupyterlab/apputils-extension:announcements >/dev/null 2>&1
	touch $@

# The grading extra for tests and instructors. nbgrader is used from the command line only:
# its Lab and server extensions are switched off, so a learner's Lab stays as it was.
$(VENV)/.grading: $(VENV)/.installed
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e ".[dev,grading]"
	$(BIN)/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader >/dev/null 2>&1
	for extension in formgrader validate_assignment assignment_list course_list; do \
	  $(BIN)/jupyter server extension disable --sys-prefix \
	    nbgrader.server_extensions.$$extension >/dev/null 2>&1; done
	touch $@

# Jupyter refuses root unless told; containers and CI machines often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(VENV)/.installed  ## JupyterLab on 127.0.0.1, notebooks/ as its root
	$(BIN)/jupyter lab --ip=127.0.0.1 --ServerApp.root_dir=notebooks $(ALLOW_ROOT) $(LAB_ARGS)

test: $(VENV)/.grading system-packages  ## unit, local-model, grading and browser tests; nbval over every notebook
	$(BIN)/python -m pytest

# Beyond Python, the tests need Debian's chromium (the browser test: Playwright's own browser
# download needs the internet) and bubblewrap (the grading sandbox). As root with apt-get they
# are installed here; otherwise their tests are skipped, and pytest's summary names the command.
SYSTEM_PACKAGES := chromium=/usr/bin/chromium bubblewrap=/usr/bin/bwrap
system-packages:
	@missing=""; for entry in $(SYSTEM_PACKAGES); do \
	  [ -x "$${entry#*=}" ] || missing="$$missing $${entry%%=*}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing$$missing with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing >/dev/null \
	    || echo "apt-get could not install$$missing: the tests that need them will be skipped"; \
	else echo "Not installed:$$missing (needs root and apt-get): the tests that need them will be skipped"; fi

course: $(VENV)/.installed  ## run every notebook headless (or NOTEBOOKS="00_setup ...")
	$(BIN)/python -m labkit.course $(NOTEBOOKS)

cassettes: $(VENV)/.installed  ## re-record from a live model (LABKIT_BACKEND=local by default), benchmarks too
	$(BIN)/python -m labkit.course --record $(NOTEBOOKS)
	LABKIT_BACKEND=replay LABKIT_RECORD=0 $(BIN)/python -m labkit.course --inplace $(NOTEBOOKS)

release: $(VENV)/.grading  ## release/: student notebooks, solutions and hidden tests removed
	$(BIN)/python -m labkit.grading.release

grade: $(VENV)/.grading  ## grade SUBMISSIONS=<dir>/<student>/<notebook>.ipynb in a sandbox [NOTEBOOKS=...]
	@test -n "$(SUBMISSIONS)" || { echo "Say which folder: make grade SUBMISSIONS=<dir>"; exit 2; }
	$(BIN)/python -m labkit.grading.grade $(SUBMISSIONS) $(if $(NOTEBOOKS),--notebooks $(NOTEBOOKS)) \
	  $(if $(CEILING),--ceiling $(CEILING))

bench: $(VENV)/.grading  ## the course's timing figures, as ratios
	$(BIN)/python bench/course_time.py
	$(BIN)/python bench/grade_throughput.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/faults.py
	$(BIN)/python bench/cost.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/ray_scaling.py
	$(BIN)/python bench/attacks.py
	$(BIN)/python bench/attribution.py

constraints: $(VENV)/.grading  ## after upgrading on purpose: pin what is installed now
	$(BIN)/uv pip freeze --python $(BIN)/python --exclude-editable > constraints.txt

clean:
	rm -rf $(VENV) *.egg-info

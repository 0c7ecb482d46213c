"""What a reader sees in the notebooks' text, checked statically on every solution and release.

- Matrices in the markdown have their rows separated by ``\\\\``: a lone ``\\ `` (TeX's control
  space) where a row break belongs renders the whole matrix as one row, with no error to see.
- Display math is closed: an odd number of ``$$`` in a cell swallows the text after it.
- Questions graded by a person (nbgrader "manually graded answer" cells) carry points, hold a
  model answer in the solution, and reach students empty ("YOUR ANSWER HERE").
- Visible test cells stay short (notebooks 04-07): the student reads what is checked, and the
  checking machinery lives in attnlab.exercise_checks.

That the formulas *render* without a MathJax error is tests/test_browser.py's job.
"""

from __future__ import annotations

import re

import nbformat
import pytest

from autograder import RELEASES, SOLUTIONS, assignments
from autograder.judge import split_hidden
from autograder.notebooks import nbgrader_meta

NOTEBOOKS = [(folder, aid) for aid in assignments() for folder in ("solutions", "notebooks")]
ROOTS = {"solutions": SOLUTIONS, "notebooks": RELEASES}
MATRIX = re.compile(r"\\begin\{(\w*matrix|array|cases|aligned|split)\}(.*?)\\end\{\1\}", re.S)
LONE_CONTROL_SPACE = re.compile(r"(?<!\\)(?:\\\\)*\\ ")  # an odd run of backslashes, then a space
MANUAL_04_07 = {"04_self_attention": {"answer_context_limits": 2},
                "05_multi_head": {"answer_heads_in_class": 1, "answer_brains": 1},
                "06_masking": {},
                "07_bertviz": {"answer_attention_explanation": 2}}
MAX_VISIBLE_TEST_LINES = 15


def _read(folder: str, aid: str):
    return nbformat.read(str(ROOTS[folder] / aid / f"{aid}.ipynb"), as_version=4)


def _manual(nb) -> dict:
    """Manually graded answer cells by grade_id."""
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells
            if nbgrader_meta(c).get("solution") and nbgrader_meta(c).get("grade")}


def rows_joined_by_a_control_space(markdown: str) -> list[str]:
    """The matrices of ``markdown`` that use ``\\ `` where a row break ``\\\\`` belongs."""
    return [m.group(0) for m in MATRIX.finditer(markdown) if LONE_CONTROL_SPACE.search(m.group(2))]


def test_the_matrix_check_catches_a_lone_backslash_and_passes_a_row_break():
    assert rows_joined_by_a_control_space(r"$X = \begin{bmatrix} 1 & 0 \ 0 & 1 \end{bmatrix}$")
    assert rows_joined_by_a_control_space(r"$\begin{matrix} a \\ b \ c \end{matrix}$")
    assert not rows_joined_by_a_control_space(r"$X = \begin{bmatrix} 1 & 0 \\ 0 & 1 \end{bmatrix}$")
    assert not rows_joined_by_a_control_space(r"$a\ b$ and $\begin{pmatrix} 1 \\ 2 \end{pmatrix}$")


@pytest.mark.parametrize("folder,aid", NOTEBOOKS)
def test_every_matrix_row_ends_with_a_row_break(folder, aid):
    bad = [(i, m) for i, c in enumerate(_read(folder, aid).cells) if c.cell_type == "markdown"
           for m in rows_joined_by_a_control_space(c.source)]
    assert bad == [], f"rows joined by '\\ ' instead of '\\\\' (cell, matrix): {bad[:3]}"


@pytest.mark.parametrize("folder,aid", NOTEBOOKS)
def test_display_math_is_closed(folder, aid):
    unclosed = [i for i, c in enumerate(_read(folder, aid).cells)
                if c.cell_type == "markdown" and c.source.count("$$") % 2]
    assert unclosed == [], f"cells with an odd number of $$: {unclosed}"


@pytest.mark.parametrize("aid", assignments())
def test_manual_answers_reach_students_empty_and_carry_points(aid):
    solution, release = _manual(_read("solutions", aid)), _manual(_read("notebooks", aid))
    assert list(release) == list(solution)
    for gid, cell in solution.items():
        meta = nbgrader_meta(cell)
        assert cell.cell_type == "markdown", f"{gid}: a written answer is a markdown cell"
        assert meta.get("points", 0) > 0 and not meta.get("locked"), gid
        assert len(cell.source.split()) >= 20, f"{gid}: the solution needs a model answer for instructors"
        assert release[gid].source.strip() == "YOUR ANSWER HERE", gid
        assert nbgrader_meta(release[gid]).get("points") == meta["points"], gid


@pytest.mark.parametrize("aid", sorted(MANUAL_04_07))
def test_the_lectures_questions_are_graded_by_a_person(aid):
    points = {gid: nbgrader_meta(c)["points"] for gid, c in _manual(_read("solutions", aid)).items()}
    assert points == MANUAL_04_07[aid]


@pytest.mark.parametrize("aid", sorted(MANUAL_04_07))
def test_visible_test_cells_are_short(aid):
    release = _read("notebooks", aid)
    long = {}
    for c in release.cells:
        meta = nbgrader_meta(c)
        if c.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            lines = [ln for ln in split_hidden(c.source)[0].splitlines() if ln.strip()]
            if len(lines) > MAX_VISIBLE_TEST_LINES or not lines[0].lstrip().startswith("#"):
                long[meta["grade_id"]] = len(lines)
    assert long == {}, f"visible test cells over {MAX_VISIBLE_TEST_LINES} lines, or not saying first what " \
                       f"they check: {long}"

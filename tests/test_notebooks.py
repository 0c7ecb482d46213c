"""Every notebook runs: solutions cleanly, releases only up to their stubs.

These execute the real notebooks in a real kernel (nbclient), as a student's
"Run All" would.
"""

from __future__ import annotations

import nbformat
import pytest

from autograder import RELEASES, SOLUTIONS
from autograder.notebooks import nbgrader_meta, solution_cells, test_cells
from conftest import ASSIGNMENTS, errors, execute, stderr_text

from alternatives import ALTERNATIVES


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_solution_runs_without_errors_or_stderr(aid, executed_solution):
    nb = executed_solution(aid)
    assert errors(nb) == []
    # nbgrader scores a graded cell zero if anything reaches stderr (e.g. a library warning).
    assert stderr_text(nb) == ""


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_solution_test_cells_report_success(aid, executed_solution):
    nb = executed_solution(aid)
    for gid, cell in test_cells(nb).items():
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert "✓" in text, f"{gid} printed no success line: {text!r}"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_stops_only_at_the_stubs(aid, executed_release):
    nb = executed_release(aid)
    by_id = {nbgrader_meta(c).get("grade_id"): c for c in nb.cells}
    # Every exercise stub raises NotImplementedError ...
    for gid in solution_cells(nb):
        assert [o.ename for o in by_id[gid].outputs if o.output_type == "error"] == ["NotImplementedError"], gid
    # ... every graded test fails on the stub ...
    for gid, cell in test_cells(nb).items():
        assert any(o.output_type == "error" for o in cell.outputs), f"{gid} passes on the empty release"
    # ... and nothing else breaks except through an unimplemented exercise (NotImplementedError
    # raised by a call to it, or NameError for a variable a stubbed step would have defined).
    unexpected = [e for e in errors(nb) if e[1] not in ("NotImplementedError", "NameError")]
    assert unexpected == []
    assert stderr_text(nb) == ""


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_has_stub_for_every_solution(aid):
    solution = nbformat.read(str(SOLUTIONS / aid / f"{aid}.ipynb"), as_version=4)
    release = nbformat.read(str(RELEASES / aid / f"{aid}.ipynb"), as_version=4)
    assert list(solution_cells(release)) == list(solution_cells(solution))
    for gid, cell in solution_cells(release).items():
        assert "raise NotImplementedError()" in cell.source, gid
        assert "BEGIN SOLUTION" not in cell.source
    for cell in test_cells(release).values():
        assert "HIDDEN TESTS" not in cell.source and "check_reference" not in cell.source


@pytest.mark.parametrize("aid,variant", [(a, v) for a in ALTERNATIVES for v in ALTERNATIVES[a]])
def test_other_correct_implementations_pass_every_test(aid, variant):
    """Loops, einsum, float32: the tests (visible and hidden) accept any correct answer."""
    path = SOLUTIONS / aid / f"{aid}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    cells = solution_cells(nb)
    for gid, source in ALTERNATIVES[aid][variant].items():
        cells[gid].source = source.strip()
    run = execute(nb, path.parent)
    assert errors(run) == []
    assert stderr_text(run) == ""

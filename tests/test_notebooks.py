"""Every notebook runs: solutions cleanly, releases only up to their stubs.

These execute the real notebooks in a real kernel (nbclient), as a student's
"Run All" would.
"""

from __future__ import annotations

import nbformat
import pytest

from autograder import RELEASES, SOLUTIONS
from autograder.notebooks import graded_cells, solution_cells
from conftest import ASSIGNMENTS, errors, stderr_text


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_solution_runs_without_errors_or_stderr(aid, executed_solution):
    nb = executed_solution(aid)
    assert errors(nb) == []
    # nbgrader scores a graded cell zero if anything reaches stderr (e.g. a library warning).
    assert stderr_text(nb) == ""


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_solution_test_cells_report_success(aid, executed_solution):
    nb = executed_solution(aid)
    for gid, cell in graded_cells(nb).items():
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert "✓" in text, f"{gid} printed no success line: {text!r}"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_stops_only_at_the_stubs(aid, executed_release):
    nb = executed_release(aid)
    stub_errors = ("NotImplementedError",)
    # An exercise stub raises NotImplementedError when it runs (a top-level step) or when
    # called (a function); a stubbed step leaves its variable undefined (NameError later).
    follow_on = ("NotImplementedError", "NameError")
    for gid, cell in solution_cells(nb).items():
        assert {o.ename for o in cell.outputs if o.output_type == "error"} <= set(stub_errors), gid
    # Every graded test fails on the stub, because of the stub ...
    for gid, cell in graded_cells(nb).items():
        enames = [o.ename for o in cell.outputs if o.output_type == "error"]
        assert enames and enames[0] in follow_on, f"{gid} does not fail on the release: {enames}"
    # ... and nothing else breaks for any other reason.
    assert [e for e in errors(nb) if e[1] not in follow_on] == []
    assert stderr_text(nb) == ""


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_has_stub_for_every_solution(aid):
    solution = nbformat.read(str(SOLUTIONS / aid / f"{aid}.ipynb"), as_version=4)
    release = nbformat.read(str(RELEASES / aid / f"{aid}.ipynb"), as_version=4)
    assert list(solution_cells(release)) == list(solution_cells(solution))
    for gid, cell in solution_cells(release).items():
        assert "raise NotImplementedError()" in cell.source, gid
        assert "BEGIN SOLUTION" not in cell.source
    for cell in graded_cells(release).values():
        assert "HIDDEN TESTS" not in cell.source and "check_reference" not in cell.source


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_is_clean_for_students(aid):
    """Released notebooks carry no outputs and no execution counts."""
    release = nbformat.read(str(RELEASES / aid / f"{aid}.ipynb"), as_version=4)
    for cell in release.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert release.metadata.kernelspec.name == "python3"


def _bound(source: str) -> set[str]:
    """Every name a cell binds at top level: assignments, definitions and imports."""
    import ast

    from autograder.instructor import _defined_names, _strip_magics

    fns, vars_ = _defined_names(source)
    names = fns | vars_
    for node in ast.parse(_strip_magics(source)).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_cells_the_grader_skips_define_nothing_anything_else_uses(aid):
    """The grader does not run cells tagged "demo" (autograder/worker.py): if a test, an answer
    or any later cell needed one of their names, grading would break."""
    from autograder.instructor import _used_names

    nb = nbformat.read(str(SOLUTIONS / aid / f"{aid}.ipynb"), as_version=4)
    for i, cell in enumerate(nb.cells):
        if "demo" not in cell.metadata.get("tags", []):
            continue
        assert cell.cell_type == "code" and "nbgrader" not in cell.metadata, i
        later = set().union(*[_used_names(c.source) for c in nb.cells[i + 1:]
                              if c.cell_type == "code" and "demo" not in c.metadata.get("tags", [])])
        assert not _bound(cell.source) & later, (i, _bound(cell.source) & later)

"""Reading and rewriting nbgrader notebooks."""

from __future__ import annotations

from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_cells(nb) -> dict[str, object]:
    """Solution cells by grade_id, in notebook order."""
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells
            if nbgrader_meta(c).get("solution") and c.cell_type == "code"}


def graded_cells(nb) -> dict[str, object]:
    """Autograder test cells (graded, not solution) by grade_id."""
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells
            if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")}


def strip_markers(source: str) -> str:
    """A solution cell's code as a student would have typed it (no nbgrader markers)."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in (BEGIN, END))


def read(path: Path):
    return nbformat.read(str(path), as_version=4)


def written_answers(nb) -> dict[str, object]:
    """Answers written in markdown and graded by a person, by grade_id, in notebook order."""
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells
            if nbgrader_meta(c).get("solution") and c.cell_type == "markdown"}


def fill(release_nb, solution_nb, grade_ids) -> object:
    """A copy of a released notebook with the given stubs (code, or written answers) replaced by
    the solution's."""
    nb = nbformat.from_dict(release_nb)
    solved = {**solution_cells(solution_nb), **written_answers(solution_nb)}
    for gid, cell in {**solution_cells(nb), **written_answers(nb)}.items():
        if gid in grade_ids:
            cell.source = strip_markers(solved[gid].source)
    return nb


SUPPORT_TAG = "support"


def load_functions(solution_nb, names) -> dict[str, object]:
    """Execute the named solution cells and return the objects they define.

    Code cells tagged ``support`` (given code an exercise builds on, e.g. the
    attention function from an earlier notebook) run too, in notebook order.
    """
    namespace: dict = {}
    for i, cell in enumerate(solution_nb.cells):
        gid = nbgrader_meta(cell).get("grade_id")
        is_support = SUPPORT_TAG in cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and (is_support or (gid in names and nbgrader_meta(cell).get("solution"))):
            exec(compile(strip_markers(cell.source), f"<cell {gid or i}>", "exec"), namespace)
    missing = [n for n in names if n not in namespace]
    if missing:
        raise KeyError(f"solution notebook defines no {missing}")
    return {n: namespace[n] for n in names}

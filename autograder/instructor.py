"""The instructor's side: what the source notebook asks, and its namespace run in the grader.

- :class:`Assignment` reads the instructor's source notebook: given cells, solution cells
  (what names each defines) and test cells (points, visible and hidden parts, which names
  they use).
- :class:`Context` runs the instructor's notebook (given cells and the solutions, never a
  student's code) once in the grader's process, and keeps a snapshot of the namespace as it
  stands before each test cell; each test is later judged on a copy of its snapshot.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import copy
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .notebooks import BEGIN, END, nbgrader_meta, read, strip_markers

HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


# --- the instructor's notebook ----------------------------------------------------


def _strip_magics(source: str) -> str:
    return "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _defined_names(source: str) -> tuple[set[str], set[str]]:
    """(functions, variables) a cell binds at top level (imports are not the student's)."""
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError:
        return set(), set()
    fns, vars_ = set(), set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            fns.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.With)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    vars_.add(sub.id)
    return fns, vars_ - fns


def _used_names(source: str) -> set[str]:
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def split_hidden(source: str) -> tuple[str, str]:
    """(visible code, hidden code) of a test cell."""
    visible, hidden, inside = [], [], False
    for line in source.splitlines():
        if line.strip() == HIDDEN_BEGIN:
            inside = True
        elif line.strip() == HIDDEN_END:
            inside = False
        else:
            (hidden if inside else visible).append(line)
    return "\n".join(visible), "\n".join(hidden)


@dataclass
class TestCell:
    index: int
    grade_id: str
    points: float
    source: str
    student_names: list[str]  # names defined by solution cells that this test uses
    used: set = field(default_factory=set)  # every name the test cell reads


@dataclass
class Assignment:
    aid: str
    nb: object
    solution_ids: list[str]
    stubs: dict[str, str]
    tests: list[TestCell]
    functions: set[str]  # every function a solution cell defines
    variables: set[str]
    specs: dict = field(default_factory=dict)  # FunctionSpec by name (exercise module)
    release: object = None  # the student release (what an empty submission is)
    manual: dict = field(default_factory=dict)  # answers graded by a person: grade_id -> points
    released: dict = field(default_factory=dict)  # every answer cell's released source, by grade_id

    def release_cells(self) -> list:
        return list(self.release.cells) if self.release is not None else []

    @classmethod
    def load(cls, aid: str, solutions: Path, releases: Path) -> "Assignment":
        from .spec import exercise_modules

        nb = read(solutions / aid / f"{aid}.ipynb")
        release_path = releases / aid / f"{aid}.ipynb"
        release = read(release_path) if release_path.exists() else None
        stubs = {}
        if release is not None:
            for c in release.cells:
                m = nbgrader_meta(c)
                if m.get("solution") and c.cell_type == "code":
                    stubs[m["grade_id"]] = c.source
        sol_ids, fns, vars_, tests = [], set(), set(), []
        for i, c in enumerate(nb.cells):
            m = nbgrader_meta(c)
            if c.cell_type != "code":
                continue
            if m.get("solution"):
                sol_ids.append(m["grade_id"])
                f, v = _defined_names(strip_markers(c.source))
                fns |= f
                vars_ |= v
                stubs.setdefault(m["grade_id"], _stub(c.source))
        for i, c in enumerate(nb.cells):
            m = nbgrader_meta(c)
            if c.cell_type == "code" and m.get("grade") and not m.get("solution"):
                used = _used_names(c.source)
                tests.append(TestCell(i, m["grade_id"], float(m.get("points", 0)), c.source,
                                      sorted(used & (fns | vars_)), used))
        mod = exercise_modules().get(aid)
        specs = dict(mod.FUNCTIONS) if mod else {}
        manual = {m["grade_id"]: float(m.get("points", 0)) for c in nb.cells
                  if (m := nbgrader_meta(c)).get("grade") and m.get("solution")}
        released = {m["grade_id"]: c.source for c in (release.cells if release is not None else [])
                    if (m := nbgrader_meta(c)).get("solution")}
        return cls(aid, nb, sol_ids, stubs, tests, fns, vars_, specs, release, manual, released)

    @property
    def max_score(self) -> float:
        return sum(t.points for t in self.tests)


def _stub(source: str) -> str:
    out, inside = [], False
    for line in source.splitlines():
        if line.strip() == BEGIN:
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
        elif line.strip() == END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


# --- the instructor's namespace, run here --------------------------------------------


class Context:
    """The instructor's notebook run in this process; a snapshot before each test cell."""

    def __init__(self, assignment: Assignment, cwd: Path):
        import os

        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        self.assignment = assignment
        self.snapshots: dict[int, dict] = {}
        self.problems: list[str] = []
        ns: dict = {"__name__": "__main__", "__builtins__": builtins}
        old = os.getcwd()
        os.chdir(cwd)
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                for i, c in enumerate(assignment.nb.cells):
                    if c.cell_type != "code":
                        continue
                    m = nbgrader_meta(c)
                    if m.get("grade") and not m.get("solution"):
                        self.snapshots[i] = dict(ns)
                        continue
                    try:
                        exec(compile(_strip_magics(strip_markers(c.source)), f"<instructor cell {i}>",
                                     "exec"), ns)
                    except Exception as exc:  # plots or widgets that need a browser, say
                        self.problems.append(f"instructor cell {i} did not run in the grader: "
                                             f"{type(exc).__name__}: {exc}")
                    plt.close("all")
        finally:
            os.chdir(old)
        self.solution_ns = ns

    def namespace(self, index: int, used: set[str]) -> dict:
        """A copy of snapshot ``index``; the plain data the test uses is copied deeply, so a
        test that changes it in place cannot change the next submission's test."""
        ns = dict(self.snapshots[index])
        for k in used & set(ns):
            v = ns[k]
            if isinstance(v, (np.ndarray, list, dict, set, np.random.Generator)):
                try:
                    ns[k] = copy.deepcopy(v)
                except Exception:
                    pass
        return ns

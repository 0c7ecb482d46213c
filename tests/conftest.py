"""Shared fixtures: executed notebooks and one real grading run, each made once per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the autograder package lives at the top level

from autograder import RELEASES, SOLUTIONS, assignments  # noqa: E402
from autograder.kernel_client import SteadyClient  # noqa: E402

ASSIGNMENTS = assignments()

# Float32 activations of the 6-layer model (hidden states, attentions, embeddings) computed
# twice, by two code paths or on two CPUs, agree to this fraction of the array's scale.
# Why 1e-4: float32 carries eps = 1.2e-7; a matrix product over 384 or 1536 terms rounds to a
# few 1e-6 of its operands' scale, and six layers of them, summed in another order by other
# SIMD kernels, stay near 1e-5 (measured: at most 2.5e-6 between ATen default/AVX2/AVX-512
# and OpenBLAS Haswell/Sandybridge/SkylakeX kernels, tests/test_cpu_kernels.py). A real change
# (another model, sentence or layer, a stale file) moves them by 1e-2 of scale or more.
# Elementwise relative tolerances are wrong here: entries near zero come out of cancellation
# and differ by up to 2% between kernels.
MODEL_F32_RTOL = 1e-4


def assert_close(actual, expected, *, rtol: float, atol: float = 0.0, what: str = "") -> None:
    """Assert ``actual`` equals ``expected`` under the course's rule (attnlab.checks.close):
    within ``rtol`` elementwise or of the expected array's largest magnitude, or ``atol``."""
    import numpy as np

    from attnlab.checks import scaled_atol

    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=scaled_atol(expected, rtol, atol),
                               err_msg=what)
# `make test` runs pytest from make: the tests' own `make` commands must not inherit that
# (MAKELEVEL makes make print "Entering directory" lines; MAKEFLAGS passes make's options on).
for _var in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES"):
    os.environ.pop(_var, None)
# Tests must never reach for the network: the packaged model and data are all local.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def execute(nb, cwd: Path, timeout: int = 120):
    """Run a notebook in a fresh kernel, keeping going past errors; returns it with outputs."""
    nb = nbformat.from_dict(nb)
    SteadyClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


# Appended to an executed notebook: every top-level variable that is plain data, as JSON.
_DUMP_VARIABLES = """
import json as __json, numpy as __np
def __plain(v):
    if isinstance(v, (__np.ndarray, __np.generic)) and v.dtype.kind in "biuf":
        return {"array": __np.asarray(v).tolist(), "dtype": str(v.dtype)}
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        items = [__plain(x) for x in v]
        return None if any(x is __skip for x in items) else items
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        items = {k: __plain(x) for k, x in v.items()}
        return None if any(x is __skip for x in items.values()) else items
    return __skip
__skip = object()
print("__VARIABLES__" + __json.dumps({k: __plain(v) for k, v in list(globals().items())
                                      if not k.startswith("_") and __plain(v) is not __skip}))
"""


def _revive(v):
    if isinstance(v, dict) and set(v) == {"array", "dtype"}:
        import numpy as np
        return np.asarray(v["array"], dtype=v["dtype"])
    if isinstance(v, list):
        return [_revive(x) for x in v]
    if isinstance(v, dict):
        return {k: _revive(x) for k, x in v.items()}
    return v


def errors(nb) -> list[tuple[str, str, str]]:
    """(grade_id or cell index, ename, evalue) for every error output."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                gid = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {i}")
                found.append((gid, out.ename, out.evalue))
    return found


def stderr_text(nb) -> str:
    return "".join(o.text for c in nb.cells for o in c.get("outputs", [])
                   if o.output_type == "stream" and o.name == "stderr")


_cache: dict = {}


@pytest.fixture(autouse=True)
def close_figures():
    """Close every figure a test drew, so none leaks into the next test's pictures."""
    yield
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


@pytest.fixture(scope="session")
def executed_solution():
    def get(aid: str):
        key = ("solution", aid)
        if key not in _cache:
            path = SOLUTIONS / aid / f"{aid}.ipynb"
            _cache[key] = execute(nbformat.read(str(path), as_version=4), path.parent)
        return _cache[key]
    return get


@pytest.fixture(scope="session")
def solution_variables():
    """The top-level variables of a solution notebook after "Run All", by name (arrays as
    NumPy arrays): what a student who ran the notebook would find in its kernel."""
    def get(aid: str) -> dict:
        key = ("variables", aid)
        if key not in _cache:
            import json

            path = SOLUTIONS / aid / f"{aid}.ipynb"
            nb = nbformat.read(str(path), as_version=4)
            nb.cells.append(nbformat.v4.new_code_cell(_DUMP_VARIABLES))
            nb = execute(nb, path.parent)
            text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
            assert "__VARIABLES__" in text, f"{aid}: the solution did not run to the end"
            _cache[key] = {k: _revive(v) for k, v in
                           json.loads(text.split("__VARIABLES__", 1)[1]).items()}
        return _cache[key]
    return get


@pytest.fixture(scope="session")
def executed_release():
    def get(aid: str):
        key = ("release", aid)
        if key not in _cache:
            path = RELEASES / aid / f"{aid}.ipynb"
            _cache[key] = execute(nbformat.read(str(path), as_version=4), path.parent)
        return _cache[key]
    return get


@pytest.fixture(scope="session")
def sample_grading(tmp_path_factory):
    """One real `make grade` run (nbgrader generate, autograde, feedback, export) on the samples."""
    from autograder.grade import grade

    out = tmp_path_factory.mktemp("grading")
    results = grade(ROOT / "data" / "samples", out)
    return out, {(r.student, r.assignment): r for r in results}


def perfect_submission(aid: str):
    """The release with every answer (code) filled in from the solution: a correct student."""
    from autograder.notebooks import fill, read, solution_cells

    solution = read(SOLUTIONS / aid / f"{aid}.ipynb")
    return fill(read(RELEASES / aid / f"{aid}.ipynb"), solution, list(solution_cells(solution)))


def submission_with(aid: str, **cells):
    """A correct student's notebook with the given answer cells (grade_id=source) changed."""
    from autograder.notebooks import solution_cells

    nb = perfect_submission(aid)
    answers = solution_cells(nb)
    for gid, src in cells.items():
        answers[gid].source = src
    return nb

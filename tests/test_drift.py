"""One source of truth: everything derived from solutions/ is up to date.

If one of these fails, run `make release` and/or `make data` and commit the result.
"""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest

from attnlab.checks import close
from attnlab.data import load_reference
from autograder import DATA, RELEASES, assignments
from autograder.build import build_release, build_samples, reference_arrays
from autograder.spec import exercise_modules


def _canonical(path) -> str:
    nb = nbformat.read(str(path), as_version=4)
    return json.dumps(nb, sort_keys=True, indent=1)


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    target = tmp_path_factory.mktemp("release")
    build_release(target)
    return target


@pytest.mark.parametrize("aid", assignments())
def test_release_equals_what_nbgrader_generates_now(aid, fresh_release):
    name = f"{aid}/{aid}.ipynb"
    assert _canonical(RELEASES / name) == _canonical(fresh_release / name), \
        "notebooks/ is stale: run `make release`"


def test_no_stray_release_folders():
    assert sorted(p.name for p in RELEASES.iterdir() if p.is_dir()) == assignments()


@pytest.mark.parametrize("aid", sorted(exercise_modules()))
def test_reference_outputs_equal_what_the_solutions_give_now(aid):
    manifest, stored = load_reference(aid)
    fresh = reference_arrays(aid)
    assert json.loads(str(fresh.pop("__manifest__"))) == manifest, "run `make data`"
    assert sorted(fresh) == sorted(stored), "run `make data`"
    for key, value in fresh.items():
        assert stored[key].dtype == value.dtype, key
        if value.dtype.kind in "fc":
            # Another CPU's BLAS and SIMD kernels round differently (float32 keeps that
            # difference): equal means equal under the rule the case is graded with
            # (attnlab.checks.close: the case's rtol, elementwise and of the array's scale).
            # A real change to a solution or a case moves results far more than that.
            fn, i = key.split("/")[:2]
            case = manifest[fn]["cases"][int(i)]
            assert close(stored[key], value, rtol=case["rtol"], atol=case["atol"], equal_nan=True), \
                f"{key} differs: run `make data`"
        else:
            assert np.array_equal(stored[key], value), f"{key} differs: run `make data`"


def test_every_assignment_has_reference_cases():
    assert sorted(exercise_modules()) == assignments()


def test_samples_equal_what_the_build_makes_now(tmp_path):
    build_samples(tmp_path)
    stored = sorted(p.relative_to(DATA / "samples") for p in (DATA / "samples").rglob("*.ipynb"))
    assert stored == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.ipynb"))
    for rel in stored:
        assert _canonical(DATA / "samples" / rel) == _canonical(tmp_path / rel), f"{rel}: run `make data`"

"""Regenerate everything derived from solutions/: releases, reference outputs, samples.

    python -m autograder.build                        # all three, every assignment
    python -m autograder.build release                # notebooks/ via nbgrader generate_assignment
    python -m autograder.build reference              # data/reference/<id>.npz
    python -m autograder.build samples                # data/samples/{perfect,partial,empty}/...
    python -m autograder.build all 04_self_attention  # just one assignment

Each writer takes a target folder, so the tests can regenerate into a temporary
folder and compare with what is committed (no drift).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import numpy as np

from attnlab.checks import close
from attnlab.data import ref_key

from . import DATA, RELEASES, REPO_ROOT, SOLUTIONS, assignments
from .notebooks import fill, load_functions, read, solution_cells, written_answers
from .spec import exercise_modules, split_outputs


def nbgrader_env() -> dict:
    """Environment for running nbgrader: it calls `alembic` from PATH."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def nbgrader(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the real nbgrader command line; raise with its output if it fails."""
    cmd = [str(Path(sys.executable).parent / "nbgrader"), *args]
    proc = subprocess.run(cmd, cwd=cwd, env=nbgrader_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"`nbgrader {' '.join(args)}` failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def build_release(target: Path = RELEASES, only: list[str] | None = None) -> None:
    """Student notebooks from solutions/ with nbgrader generate_assignment."""
    with tempfile.TemporaryDirectory() as tmp:
        for aid in only or assignments():
            nbgrader("generate_assignment", aid, "--force",
                     f"--CourseDirectory.root={REPO_ROOT}",
                     "--CourseDirectory.source_directory=solutions",
                     f"--CourseDirectory.release_directory={target}",
                     f"--CourseDirectory.db_url=sqlite:///{tmp}/gradebook.db",
                     cwd=Path(tmp))
            print(f"released {target / aid}")


def reference_arrays(aid: str) -> dict[str, np.ndarray]:
    """Every case's inputs, the solution's outputs, and each known mistake's outputs."""
    functions = exercise_modules()[aid].FUNCTIONS
    solved = load_functions(read(SOLUTIONS / aid / f"{aid}.ipynb"), list(functions))
    arrays: dict[str, np.ndarray] = {}
    manifest = {}
    for name, spec in functions.items():
        cases = []
        for i, case in enumerate(spec.cases):
            for j, arg in enumerate(case.args):
                arrays[ref_key(name, i, "arg", j)] = np.asarray(arg)
            outs = split_outputs(solved[name](*case.args, **case.kwargs), spec.outputs)
            for k, out in enumerate(outs):
                arrays[ref_key(name, i, "out", k)] = out
            distinct = []
            for m, mistake in enumerate(spec.mistakes):
                try:
                    wrong = split_outputs(mistake.fn(*case.args, **case.kwargs), spec.outputs)
                except Exception:
                    continue  # this mistake crashes on this case; the crash message teaches
                if any(w.shape != o.shape or not close(w, o, rtol=case.rtol, atol=case.atol)
                       for w, o in zip(wrong, outs)):
                    distinct.append(m)
                    for k, out in enumerate(wrong):
                        arrays[ref_key(name, i, "out", k, mistake=m)] = out
            cases.append(dict(desc=case.desc, nargs=len(case.args), kwargs=case.kwargs,
                              rtol=case.rtol, atol=case.atol, as_lists=case.as_lists,
                              mistakes=distinct))
        manifest[name] = dict(outputs=spec.outputs, strict_warnings=spec.strict_warnings,
                              cases=cases, mistakes=[m.hint for m in spec.mistakes])
    arrays["__manifest__"] = np.array(json.dumps(manifest, indent=1))
    return arrays


def build_reference(target: Path = DATA / "reference", only: list[str] | None = None) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for aid in only or exercise_modules():
        np.savez_compressed(target / f"{aid}.npz", **reference_arrays(aid))
        print(f"wrote {target / f'{aid}.npz'}")


SAMPLE_STUDENTS = ("perfect", "partial", "empty")


def build_samples(target: Path = DATA / "samples", releases: Path = RELEASES,
                  only: list[str] | None = None) -> None:
    """Three submissions per assignment in nbgrader's layout, for `make grade`.

    perfect: every stub filled with the solution, every written answer with the model answer
    (it then awaits a person); partial: the first half of the code stubs; empty: the release
    as handed out.
    """
    for aid in only or assignments():
        for student in SAMPLE_STUDENTS:
            shutil.rmtree(target / student / aid, ignore_errors=True)
        release = read(releases / aid / f"{aid}.ipynb")
        solution = read(SOLUTIONS / aid / f"{aid}.ipynb")
        gids = list(solution_cells(solution))
        filled = {"perfect": gids + list(written_answers(solution)), "partial": gids[: max(1, len(gids) // 2)],
                  "empty": []}
        for student in SAMPLE_STUDENTS:
            out = target / student / aid / f"{aid}.ipynb"
            out.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(fill(release, solution, filled[student]), str(out))
    print(f"wrote samples for {', '.join(only or assignments())} into {target}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", default="all", choices=["all", "release", "reference", "samples"])
    parser.add_argument("assignments", nargs="*", help="only these (default: all)")
    args = parser.parse_args(argv)
    unknown = set(args.assignments) - set(assignments())
    if unknown:
        parser.error(f"unknown assignment(s) {sorted(unknown)}; known: {assignments()}")
    only = args.assignments or None
    if args.what in ("all", "release"):
        build_release(only=only)
    if args.what in ("all", "reference"):
        build_reference(only=only)
    if args.what in ("all", "samples"):
        build_samples(only=only)


if __name__ == "__main__":
    main()

"""Regenerate everything derived from solutions/: releases, reference outputs, samples.

    python -m autograder.build                        # all three, every assignment
    python -m autograder.build release                # notebooks/ via nbgrader generate_assignment
    python -m autograder.build reference              # data/reference/<id>.npz
    python -m autograder.build samples                # data/samples/{perfect,partial,empty}/...
    python -m autograder.build all 04_self_attention  # just one assignment
    python -m autograder.build student-release DEST   # a students-only copy (make student-release)

Each writer takes a target folder, so the tests can regenerate into a temporary
folder and compare with what is committed (no drift).
"""

from __future__ import annotations

import argparse
import json
import os
import re
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


# A students-only copy of the course, for a graded class: what `make lab` and Binder need to run
# the releases, nothing that gives an answer away (solutions/, hidden tests' reference outputs
# in data/reference/, solved samples in data/samples/, the grader).
STUDENT_DIRS = ("notebooks", "attnlab", "data", "jupyter-student")
STUDENT_FILES = ("setup.mk", "requirements.txt", "requirements-nodeps.txt", "constraints.txt",
                 "pyproject.toml", "environment.yml", "postBuild")
PRIVATE_DATA = ("reference", "samples")
_JUNK = ("__pycache__", ".ipynb_checkpoints", "*.egg-info", ".venv", "build", "grading",
         "test-output", ".pytest_cache", "gradebook.db")

STUDENT_MAKEFILE = """\
# The attention course, students' copy. Quick start:  make lab
# The install steps are in setup.mk, the same file as the full course's.

include setup.mk
.DEFAULT_GOAL := help
.PHONY: help clean

help:
\t@echo "make lab        set up (once) and open JupyterLab on the notebooks"
\t@echo "make clean      remove the virtual environment (.venv)"

clean:
\trm -rf $(VENV)
"""

STUDENT_GITIGNORE = ".venv/\n__pycache__/\n*.egg-info/\n.ipynb_checkpoints/\n"


def student_readme(readme: str) -> str:
    """The students' README, taken from the course's: its title and lead, how to set up, and
    "For students". Left out: the Binder badge (it opens the open repository, solutions and
    all) and everything about tests, grading and contributing."""
    head, *rest = re.split(r"^(?=## )", readme, flags=re.M)
    sections = {s.split("\n", 1)[0][3:].strip(): s for s in rest}
    try:
        quick, students = sections["Quick start"], sections["For students"]
        platform = quick.split("\n", 1)[1].strip().split("\n\n", 1)[0]
        unix, windows = re.findall(r"```\w*\n.*?```", quick.split("### Without `make`", 1)[1],
                                   flags=re.S)[:2]
    except (KeyError, IndexError, ValueError) as err:
        raise ValueError("README.md no longer has the parts the students' README is made of "
                         "(## Quick start with its first paragraph and the Linux/macOS and Windows "
                         "blocks of ### Without `make`; ## For students)") from err
    lead = re.sub(r"\n{3,}", "\n\n", "\n".join(
        line for line in head.splitlines() if not line.startswith("[![")))
    return f"""{lead.strip()}

## Quick start

{platform}

```bash
make lab
```

`make lab` creates a virtual environment in `.venv`, installs everything and starts JupyterLab
on `notebooks/`; open the URL it prints (`PORT=9999 make lab` for another port).

Without `make`, the same steps by hand. On Linux or macOS:

{unix}

On Windows (cmd or PowerShell, Python 3.11 from python.org):

{windows}

Later, only the last line is needed to reopen the course. `make lab` also turns off nbgrader's
instructor extensions, which students do not need; without `make`, set the environment variable
`JUPYTER_CONFIG_PATH` to the full path of the `jupyter-student` folder before that line.

{students.strip()}
"""


def build_student_release(dest: Path, force: bool = False) -> list[Path]:
    """Write a students-only copy of the course into ``dest``; return the files written.

    ``dest`` must be empty or missing; with ``force`` its contents are replaced (a ``.git``
    folder is kept, so a repository a class is published from keeps its history).
    """
    dest = Path(dest).resolve()
    if dest == REPO_ROOT or REPO_ROOT.is_relative_to(dest) or any(
            dest.is_relative_to(REPO_ROOT / d) for d in STUDENT_DIRS):
        raise ValueError(f"{dest} is, holds or lies inside what is copied: choose another folder")
    # The releases are nbgrader's output; a hand-edited one must not carry an answer out.
    leaks = [str(p.relative_to(REPO_ROOT)) for p in sorted(RELEASES.glob("*/*.ipynb"))
             if re.search(r"BEGIN SOLUTION|BEGIN HIDDEN TESTS|check_reference\(", p.read_text())]
    if leaks:
        raise ValueError(f"{', '.join(leaks)} hold solutions or hidden tests: run `make release` first")
    present = sorted(p.name for p in dest.iterdir()) if dest.is_dir() else []
    if present and not force:
        raise FileExistsError(f"{dest} is not empty ({', '.join(present[:4])}"
                              f"{', ...' if len(present) > 4 else ''}): give an empty or new "
                              "folder, or --force (FORCE=1) to replace its contents")
    for name in present:
        if name != ".git":
            path = dest / name
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    dest.mkdir(parents=True, exist_ok=True)

    junk = shutil.ignore_patterns(*_JUNK)

    def ignore(folder, names):
        private = set(PRIVATE_DATA) if Path(folder) == DATA else set()
        return set(junk(folder, names)) | (private & set(names))
    for name in STUDENT_DIRS:
        shutil.copytree(REPO_ROOT / name, dest / name, ignore=ignore)
    for name in STUDENT_FILES:
        shutil.copy2(REPO_ROOT / name, dest / name)
    (dest / "Makefile").write_text(STUDENT_MAKEFILE)
    (dest / "README.md").write_text(student_readme((REPO_ROOT / "README.md").read_text()))
    (dest / ".gitignore").write_text(STUDENT_GITIGNORE)

    files = sorted(p for p in dest.rglob("*") if p.is_file() and p.relative_to(dest).parts[0] != ".git")

    def describe(name):
        inside = [p for p in files if p.relative_to(dest).parts[0] == name]
        return f"{name}/ ({len(inside)} file{'s' * (len(inside) != 1)})" if (dest / name).is_dir() else name
    top = sorted({p.relative_to(dest).parts[0] for p in files})
    left_out = sorted({n for n in os.listdir(REPO_ROOT) if n not in top and not junk("", [n])}
                      | {f"data/{d}" for d in PRIVATE_DATA if (DATA / d).exists()})
    size = sum(p.stat().st_size for p in files)
    print(f"wrote a students-only copy of the course into {dest}: {len(files)} files, "
          f"{size / 1e6:.1f} MB\n  " + "\n  ".join(describe(n) for n in top))
    print(f"left out: {', '.join(left_out)}")
    return files


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["student-release"]:
        parser = argparse.ArgumentParser(prog="python -m autograder.build student-release",
                                         description=build_student_release.__doc__.splitlines()[0])
        parser.add_argument("dest", type=Path, help="folder to write (empty or new)")
        parser.add_argument("--force", action="store_true",
                            help="replace the contents of a non-empty DEST (its .git is kept)")
        args = parser.parse_args(argv[1:])
        try:
            build_student_release(args.dest, force=args.force)
        except (FileExistsError, ValueError) as err:
            parser.exit(2, f"student-release: {err}\n")
        return
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

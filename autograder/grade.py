"""Autograde a folder (or zip) of submissions with real nbgrader.

    python -m autograder.grade [SUBMISSIONS] [--out OUT]

SUBMISSIONS is a folder (or .zip of one) in nbgrader's layout,
``<student>/<assignment>/<assignment>.ipynb``; by default the sample
submissions in ``data/samples``. Writes into OUT (default ``grading/``):

- ``grades.csv``     one row per student and assignment: score, max score, and
                     one column per graded test
- ``feedback/<student>/<assignment>.html``  nbgrader's feedback for each one
- ``nbgrader_export.csv``  nbgrader's own export of the gradebook
- ``course/``        the nbgrader course directory used (gradebook.db inside)
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from . import DATA, REPO_ROOT, SOLUTIONS, assignments
from .build import nbgrader


class UsageError(Exception):
    """A bad invocation: say what is wrong, exit non-zero, write nothing."""


@dataclass
class Result:
    student: str
    assignment: str
    score: float
    max_score: float
    tests: dict[str, float] = field(default_factory=dict)


def _safe_extract(zip_path: Path, target: Path) -> None:
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for member in zf.namelist():
                dest = (target / member).resolve()
                if not dest.is_relative_to(target.resolve()):
                    raise UsageError(f"{zip_path} contains an unsafe path: {member!r}")
            zf.extractall(target)
    except zipfile.BadZipFile as exc:
        raise UsageError(f"{zip_path} is not a readable zip file ({exc}).") from None


def _layout_root(folder: Path, known: list[str]) -> Path:
    """The folder whose children are student folders (a zip often adds one level)."""
    def has_layout(p: Path) -> bool:
        return any((s / a / f"{a}.ipynb").exists() for s in p.iterdir() if s.is_dir() for a in known)

    if has_layout(folder):
        return folder
    subdirs = [p for p in folder.iterdir() if p.is_dir()]
    if len(subdirs) == 1 and has_layout(subdirs[0]):
        return subdirs[0]
    raise UsageError(
        f"No submissions found in {folder}. Expected <student>/<assignment>/<assignment>.ipynb "
        f"with an assignment among: {', '.join(known)}.")


def find_submissions(root: Path, known: list[str]) -> dict[str, list[str]]:
    """Students by assignment: {assignment: [student, ...]}."""
    found: dict[str, list[str]] = {}
    for student in sorted(p for p in root.iterdir() if p.is_dir()):
        for aid in known:
            if (student / aid / f"{aid}.ipynb").exists():
                found.setdefault(aid, []).append(student.name)
    return found


def prepare_course(course: Path, aids: list[str]) -> None:
    """A fresh nbgrader course folder whose gradebook knows the assignments."""
    if course.exists():
        shutil.rmtree(course)
    (course / "source").mkdir(parents=True)
    for aid in aids:
        shutil.copytree(SOLUTIONS / aid, course / "source" / aid)
        nbgrader("generate_assignment", aid, "--force", *course_flags(course), cwd=course)


def course_flags(course: Path) -> list[str]:
    return [f"--CourseDirectory.root={course}", f"--CourseDirectory.db_url=sqlite:///{course}/gradebook.db"]


def read_results(course: Path, found: dict[str, list[str]]) -> list[Result]:
    from nbgrader.api import Gradebook

    results = []
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        for aid, students in found.items():
            for student in students:
                nb = gb.find_submission_notebook(aid, aid, student)
                tests = {g.name: g.score for g in nb.grades}  # our grade cells are all tests
                results.append(Result(student, aid, nb.score, nb.max_score, tests))
    return results


def write_csv(results: list[Result], path: Path) -> None:
    test_names = sorted({t for r in results for t in r.tests})
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "score", "max_score", *test_names])
        for r in sorted(results, key=lambda r: (r.student, r.assignment)):
            w.writerow([r.student, r.assignment, f"{r.score:g}", f"{r.max_score:g}",
                        *[f"{r.tests[t]:g}" if t in r.tests else "" for t in test_names]])


def print_table(results: list[Result]) -> None:
    width = max([len(r.student) for r in results] + [7])
    print(f"\n{'student':<{width}}  {'assignment':<18} {'score':>11}")
    for r in sorted(results, key=lambda r: (r.student, r.assignment)):
        print(f"{r.student:<{width}}  {r.assignment:<18} {r.score:>5g} / {r.max_score:<3g}")


def grade(submissions: Path, out: Path, timeout: int = 60) -> list[Result]:
    known = assignments()
    if not submissions.exists():
        raise UsageError(f"{submissions} does not exist. Pass a folder or a .zip of submissions.")
    with tempfile.TemporaryDirectory() as tmp:
        if submissions.is_file():
            if submissions.suffix != ".zip":
                raise UsageError(f"{submissions} is a file but not a .zip.")
            _safe_extract(submissions, Path(tmp))
            root = _layout_root(Path(tmp), known)
        else:
            root = _layout_root(submissions, known)
        found = find_submissions(root, known)

        out.mkdir(parents=True, exist_ok=True)
        course = out / "course"
        prepare_course(course, list(found))
        for aid, students in found.items():
            for student in students:
                dest = course / "submitted" / student / aid
                dest.mkdir(parents=True)
                shutil.copy(root / student / aid / f"{aid}.ipynb", dest / f"{aid}.ipynb")

    flags = course_flags(course)
    for aid, students in found.items():
        t = time.time()
        nbgrader("autograde", aid, "--force", *flags, f"--ExecutePreprocessor.timeout={timeout}", cwd=course)
        nbgrader("generate_feedback", aid, "--force", *flags, cwd=course)
        print(f"graded {aid}: {len(students)} submission(s) in {time.time() - t:.1f} s")
    nbgrader("export", *flags, f"--CsvExportPlugin.to={out / 'nbgrader_export.csv'}", cwd=course)

    feedback = out / "feedback"
    for aid, students in found.items():
        for student in students:
            src = course / "feedback" / student / aid / f"{aid}.html"
            (feedback / student).mkdir(parents=True, exist_ok=True)
            shutil.copy(src, feedback / student / f"{aid}.html")

    results = read_results(course, found)
    write_csv(results, out / "grades.csv")
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Autograde submissions with nbgrader.")
    parser.add_argument("submissions", nargs="?", type=Path, default=DATA / "samples",
                        help="folder or .zip in nbgrader layout (default: the samples in data/samples)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "grading", help="output folder")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per cell")
    args = parser.parse_args(argv)
    t = time.time()
    try:
        results = grade(args.submissions.resolve(), args.out.resolve(), args.timeout)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_table(results)
    print(f"\n{len(results)} submission(s) graded in {time.time() - t:.1f} s")
    print(f"grades:   {args.out.resolve() / 'grades.csv'}")
    print(f"feedback: {args.out.resolve() / 'feedback'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

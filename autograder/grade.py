"""Autograde a class: parallel, sandboxed, tamper-resistant, into a real nbgrader course.

    python -m autograder.grade [SUBMISSIONS] [--out OUT] [--course DIR] [--student ID ...]
                               [--assignment ID ...] [--jobs N] [--timeout S] [--memory-mb MB]
                               [--lms-pattern REGEX] [--no-sandbox]

SUBMISSIONS is a folder (or .zip of one) in nbgrader's layout,
``<student>/<assignment>/<assignment>.ipynb`` (with ``timestamp.txt`` if the exchange wrote
one), or an LMS download of flat files (``lms.py``); by default the sample submissions in
``data/samples``. With ``--course DIR`` the grades go into an existing nbgrader course: its
``submitted/`` is graded (unless SUBMISSIONS is given), into its gradebook, its ``autograded/``
and with its configuration (due dates, late-penalty plugin). Writes into OUT (default
``grading/``, or ``DIR/grading`` with ``--course``):

- ``grades.csv``     one row per submission in the gradebook: score, max score, late penalty,
                     answers awaiting a person, and one column per graded cell
- ``grades_by_student.csv``  one row per student, a column per assignment (for an LMS)
- ``class_report.html``  what the class got wrong: failures and named mistakes per test
- ``feedback/<student>/<assignment>.html``  what each failed test found, in words
- ``report.txt``     anything suspicious or broken, per submission, in words
- ``nbgrader_export.csv``  nbgrader's own export of the gradebook
- ``course/``        the grader's own nbgrader course (without ``--course``): source, submitted,
                     autograded, gradebook.db, for the formgrader and nbgrader's own commands
- ``.results/``      one result file per submission, keyed by a hash of the submission, its
                     timestamp and the grader: a re-run skips finished work and leaves the
                     gradebook entries of unchanged submissions (and any manual grading) alone

How a submission is graded (see ``worker.py``, ``judge.py``, ``sandbox.py``): the instructor's
source notebook is run with only the student's answer cells swapped in (matched by nbgrader
``grade_id``), in its own kernel inside a box (bubblewrap, cgroups) with a per-cell timeout and
memory, process, disk and output caps. The instructor's test cells do not run there: the grader
captures the student's variables and calls the student's functions on the tests' inputs (and on
fresh variants drawn with a secret seed), reads back plain ``.npy`` arrays, and runs the test
cells in its own process on those values. Scores go into the gradebook from this (the main)
process only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import secrets
import sys
import tempfile
import threading
import time
import zipfile
import re
from dataclasses import dataclass, replace
from pathlib import Path

from . import DATA, RELEASES, REPO_ROOT, SOLUTIONS, assignments
from .course import Course, CourseError, file_hash
from .intake import notebook_file_problem, read_bytes
from .lms import CANVAS
from .records import Job, Result

GRADER_VERSION = "3"
MAX_ZIP_MEMBERS = 20_000
MAX_ZIP_BYTES = 4 * 2**30


class UsageError(Exception):
    """A bad invocation: say what is wrong, exit non-zero, write nothing."""


# --- finding the submissions ------------------------------------------------------------


def _safe_extract(zip_path: Path, target: Path) -> None:
    """Extract a zip of submissions, refusing paths outside ``target`` and zip bombs."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            members = zf.infolist()
            if len(members) > MAX_ZIP_MEMBERS or sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise UsageError(f"{zip_path} holds more than {MAX_ZIP_MEMBERS} files or "
                                 f"{MAX_ZIP_BYTES // 2**30} GB once extracted; split it.")
            for member in zf.namelist():
                dest = (target / member).resolve()
                if not dest.is_relative_to(target.resolve()):
                    raise UsageError(f"{zip_path} contains an unsafe path: {member!r}")
            zf.extractall(target)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UsageError(f"{zip_path} is not a readable zip file ({exc}).") from None


def _has_layout(p: Path, known: list[str]) -> bool:
    return any((s / a).is_dir() for s in p.iterdir() if s.is_dir() for a in known)


def _layout_root(folder: Path, known: list[str], lms_pattern: str, staging: Path) -> tuple[Path, list[str]]:
    """The folder whose children are student folders (a zip often adds one level), or the
    staged copy of an LMS download of flat files. Returns (root, notes)."""
    from . import lms

    if _has_layout(folder, known):
        return folder, []
    subdirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))]
    if len(subdirs) == 1 and _has_layout(subdirs[0], known):
        return subdirs[0], []
    try:
        root, notes = lms.stage(folder, known, lms_pattern, staging)
    except (ValueError, re.error) as exc:
        raise UsageError(f"--lms-pattern: {exc}") from None
    if root.is_dir() and any(root.iterdir()):
        return root, notes
    raise UsageError(
        f"No submissions found in {folder}. Expected <student>/<assignment>/<assignment>.ipynb "
        f"with an assignment among: {', '.join(known)}; or an LMS download of files named like "
        f"lastfirst_12345_67890_{known[0]}.ipynb (see --lms-pattern).")


def find_submissions(root: Path, known: list[str], students: list[str] | None = None) -> dict[str, list[str]]:
    """Students by assignment: {assignment: [student, ...]} (any student folder with the
    assignment's folder, even if the notebook in it is misnamed or missing)."""
    found: dict[str, list[str]] = {}
    for student in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if students and student.name not in students:
            continue
        for aid in known:
            if (student / aid).is_dir():
                found.setdefault(aid, []).append(student.name)
    return found


def locate_notebook(folder: Path, aid: str) -> tuple[Path | None, str]:
    """The submitted notebook, and a note if it was not where it should be. A folder, a link
    or a device named like a notebook is not one: the note says so and nothing is read."""
    expected = folder / f"{aid}.ipynb"
    if expected.exists() or expected.is_symlink():
        why = notebook_file_problem(expected)
        return (None, why) if why else (expected, "")
    others = sorted(p for p in folder.rglob("*.ipynb")
                    if ".ipynb_checkpoints" not in p.parts and notebook_file_problem(p) is None)
    if len(others) == 1:
        return others[0], (f"The notebook was named {others[0].relative_to(folder)} instead of "
                           f"{aid}.ipynb; it was graded anyway. Please keep the original name.")
    if others:
        return None, (f"No {aid}.ipynb was found, but {len(others)} other notebooks were "
                      f"({', '.join(p.name for p in others[:5])}); none was graded.")
    return None, f"The folder {aid}/ contains no notebook."


def read_timestamp(folder: Path) -> str | None:
    """The submission's timestamp.txt (written by nbgrader's exchange), if any."""
    path = folder / "timestamp.txt"
    if not path.is_file() or path.is_symlink() or path.stat().st_size > 200:
        return None
    text = path.read_text(errors="replace").strip()
    return text or None


# --- outputs -------------------------------------------------------------------------


def _csv_field(value) -> str:
    """A value for a spreadsheet: never a formula (a student id starting with = would run)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "@", "\t", "\r") else text


def write_csv(results: list[Result], path: Path) -> None:
    test_names = sorted({t for r in results for t in r.tests})
    manual_names = sorted({t for r in results for t in r.manual})
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "score", "max_score", "auto_score", "auto_max", "late_penalty",
                    "awaiting_manual", *test_names, *manual_names])
        for r in sorted(results, key=lambda r: (r.student, r.assignment)):
            def cell(v):
                return "" if v is None else f"{v:g}"
            w.writerow([_csv_field(r.student), r.assignment, f"{r.score:g}", f"{r.max_score:g}",
                        f"{r.auto_score:g}", f"{r.auto_max:g}", f"{r.late_penalty:g}", len(r.awaiting),
                        *[cell(r.tests.get(t)) for t in test_names],
                        *[cell(r.manual.get(t)) if t in r.manual else "" for t in manual_names]])


def print_table(results: list[Result]) -> None:
    from .report import plain

    width = max([len(plain(r.student)) for r in results] + [7])
    print(f"\n{'student':<{width}}  {'assignment':<18} {'score':>11}")
    for r in sorted(results, key=lambda r: (r.student, r.assignment)):
        notes = ["(!)"] if r.problems or r.flags else []
        if r.awaiting:
            notes.append(f"{len(r.awaiting)} answer(s) await a person")
        if r.late_penalty:
            notes.append(f"late: -{r.late_penalty:g}")
        print(f"{plain(r.student):<{width}}  {r.assignment:<18} {r.score:>5g} / {r.max_score:<3g}"
              + ("  " + ", ".join(notes) if notes else ""))


# --- the run -----------------------------------------------------------------------------


def _source_digest() -> str:
    """Every line of code a judgement depends on: the grader, the exercises, and attnlab
    (its checks decide, its data and widgets run in the kernel)."""
    here = Path(__file__).parent
    return file_hash(*sorted(here.glob("*.py")), *sorted((here / "exercises").glob("*.py")),
                      *sorted((REPO_ROOT / "attnlab").glob("*.py")))


@dataclass
class Plan:
    root: Path  # student folders live here
    found: dict  # assignment -> students to grade now
    notes: list  # about the input itself (LMS files skipped, ...)


def plan(submissions: Path, only: list[str] | None, students: list[str] | None, tmp: Path,
         lms_pattern: str = CANVAS) -> Plan:
    """Validate the invocation and find the submissions; raises UsageError, writes nothing."""
    known = assignments()
    unknown = sorted(set(only or []) - set(known))
    if unknown:
        raise UsageError(f"unknown assignment(s) {', '.join(unknown)}; known: {', '.join(known)}.")
    if not submissions.exists():
        raise UsageError(f"{submissions} does not exist. Pass a folder or a .zip of submissions.")
    if submissions.is_file():
        if submissions.suffix != ".zip":
            raise UsageError(f"{submissions} is a file but not a .zip.")
        _safe_extract(submissions, tmp / "zip")
        submissions = tmp / "zip"
    root, notes = _layout_root(submissions, known, lms_pattern, tmp / "lms")
    found = find_submissions(root, only or known, students)
    if not found:
        who = f" from {', '.join(students)}" if students else ""
        raise UsageError(f"No submissions for {', '.join(only or known)}{who} in {submissions}.")
    return Plan(root, found, notes)


def _submission_bytes(path: Path | None) -> bytes:
    if path is None:
        return b"(none)"
    try:
        return read_bytes(path)
    except OSError as exc:
        return f"(unreadable: {exc})".encode()


def make_jobs(plan_: Plan, course: Course, out: Path, tmp: Path, seed: int, settings: dict,
              cpus: float) -> list[Job]:
    """One job per submission; its key changes with the submission, its timestamp, the grader's
    code and the settings a verdict depends on (``settings``), so an unchanged submission is
    not regraded."""
    version = hashlib.sha256(f"{GRADER_VERSION}{_source_digest()}{sorted(settings.items())}"
                             .encode()).hexdigest()
    jobs = []
    for aid, students in plan_.found.items():
        sol_digest = file_hash(SOLUTIONS / aid / f"{aid}.ipynb", RELEASES / aid / f"{aid}.ipynb")
        for student in students:
            folder = plan_.root / student / aid
            nb_path, note = locate_notebook(folder, aid)
            stamp = read_timestamp(folder)
            raw = _submission_bytes(nb_path) + f"{note}|{stamp}|{course.root}".encode()
            key = hashlib.sha256(raw + version.encode() + sol_digest.encode()).hexdigest()
            jobs.append(Job(student=student, assignment=aid, path=str(nb_path) if nb_path else None,
                            note=note, key=key, seed=seed, tmp=str(tmp), timestamp=stamp,
                            result_file=str(out / ".results" / student / f"{aid}.json"),
                            autograded=str(course.root / "autograded" / student / aid / f"{aid}.ipynb"),
                            cpus=cpus, **settings))
    return jobs


def _assignment_shapes(aids: list[str]) -> tuple[dict, dict, dict]:
    """Per assignment: autograded test ids, written answers graded by a person (points), and
    every answer cell's id (for nbgrader's "No response." comments)."""
    from .instructor import Assignment

    tests, manual, answers = {}, {}, {}
    for aid in aids:
        a = Assignment.load(aid, SOLUTIONS, RELEASES)
        tests[aid] = {t.grade_id for t in a.tests}
        manual[aid] = dict(a.manual)
        answers[aid] = set(a.released)
    return tests, manual, answers


def grade(submissions: Path | None, out: Path | None = None, timeout: int = 30, *, jobs: int | None = None,
          memory_mb: int = 4096, only: list[str] | None = None, sandbox: bool = True,
          progress: bool = False, course: Path | None = None, students: list[str] | None = None,
          lms_pattern: str = CANVAS) -> list[Result]:
    """Grade, record in the course's gradebook, write the outputs; returns every submission
    the gradebook holds for the assignments graded (this run's and earlier ones)."""
    from .class_report import write_class_report, write_lms_table
    from .report import write_feedback, write_report
    from .sandbox import describe, sweep

    if course is not None:
        course = Path(course).resolve()
        if not (course / "gradebook.db").exists() and not (course / "nbgrader_config.py").exists():
            raise UsageError(f"{course} is not an nbgrader course (no gradebook.db or nbgrader_config.py).")
    out = Path(out).resolve() if out else (course / "grading" if course else REPO_ROOT / "grading")
    if submissions is None:
        submissions = course / "submitted" if course else DATA / "samples"
    submissions = Path(submissions).resolve()
    cores = os.cpu_count() or 1
    jobs = jobs or cores
    sweep()  # what killed runs left behind
    with tempfile.TemporaryDirectory(prefix="grade-") as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "owner.pid").write_text(str(os.getpid()))
        plan_ = plan(submissions, only, students, tmp, lms_pattern)
        aids = list(plan_.found)
        tests, manual, answers = _assignment_shapes(assignments())
        the_course = Course.open(course or out / "course", owned=course is None)

        out.mkdir(parents=True, exist_ok=True)
        (out / ".results").mkdir(exist_ok=True)
        secret_file = out / ".results" / "secret"
        if not secret_file.exists():
            secret_file.write_text(str(secrets.randbits(48)))
        seed = int(secret_file.read_text().strip())
        settings = dict(timeout=timeout, memory_mb=memory_mb, sandbox=sandbox)
        todo, cached = [], []
        # Each box gets its share of the cores, so a submission that spins many processes
        # slows only itself.
        for job in make_jobs(plan_, the_course, out, tmp, seed, settings, cpus=max(1.0, cores / jobs)):
            old = Result.load(Path(job.result_file))
            if old is not None and old.key == job.key:
                cached.append(old)
            else:
                todo.append(job)

        print(describe(sandbox))
        for note in plan_.notes:
            print(f"note: {note}")
        if cached:
            print(f"{len(cached)} submission(s) already graded (unchanged): kept.")
        t = time.time()
        prep_error = []

        def prep():
            try:
                the_course.prepare(aids, tests)
            except Exception as exc:  # reported once the grading is done
                prep_error.append(exc)
        prepper = threading.Thread(target=prep, daemon=True)
        prepper.start()
        fresh = []
        try:
            for res in _run_jobs(todo, jobs, progress, cores):
                fresh.append(res)
        finally:
            sweep(tmp)  # the boxes of a worker that died
        prepper.join()
        if prep_error:
            if isinstance(prep_error[0], CourseError):
                raise UsageError(str(prep_error[0]))
            raise prep_error[0]
        if todo:
            print(f"graded {len(todo)} submission(s) in {time.time() - t:.1f} s "
                  f"with {min(jobs, len(todo))} worker(s)")
            limits = sorted({lim for r in fresh for lim in r.limits})
            if limits:  # which limits held on this machine, and which did not (also in report.txt)
                print("limits per submission: " + "; ".join(limits))
        by_job = {(j.student, j.assignment): j for j in todo}
        for r in fresh:
            job = by_job[(r.student, r.assignment)]
            the_course.keep(r.student, r.assignment, plan_.root / r.student / r.assignment,
                            Path(job.path) if job.path else None)
        # Unchanged submissions keep their gradebook entries (and any grading by a person).
        recorded = the_course.submissions()
        missing = [r for r in cached if (r.assignment, r.student) not in recorded]
        the_course.write(fresh + missing, answers)

    # Every submission the gradebook holds, of every assignment: a run that grades one student
    # or one assignment still reports the whole class.
    results = _merge(the_course.read(assignments(), manual), fresh + cached, out)
    by_key = {(r.student, r.assignment): r for r in results}
    for r in fresh + missing:
        write_feedback(by_key[(r.student, r.assignment)], out / "feedback" / r.student / f"{r.assignment}.html")
    write_report(results, out / "report.txt", describe(sandbox))
    write_csv(results, out / "grades.csv")
    write_class_report(results, out / "class_report.html")
    write_lms_table(results, out / "grades_by_student.csv")
    the_course.export(out / "nbgrader_export.csv")
    return results


def _merge(from_gradebook: list[Result], known: list[Result], out: Path) -> list[Result]:
    """The gradebook's scores (its truth: a person may have changed them) with the details the
    grader kept for each submission (verdicts, problems, flags): from this run's results
    (``known``), else from the result files of earlier runs."""
    known_by = {(r.student, r.assignment): r for r in known}
    merged = []
    for g in from_gradebook:
        r = known_by.get((g.student, g.assignment)) \
            or Result.load(out / ".results" / g.student / f"{g.assignment}.json") or g
        for name in ("score", "max_score", "tests", "auto_score", "auto_max", "manual", "manual_max",
                     "awaiting", "late_penalty", "timestamp"):
            setattr(r, name, getattr(g, name))
        merged.append(r)
    return merged


def _run_jobs(todo: list[Job], jobs: int, progress: bool, cores: int):
    """Grade in parallel; results come back to this process (the gradebook's only writer).

    A submission that timed out next to others, or whose worker died, is graded once more
    alone (nothing else running, all the cores) before it can lose points for it."""
    if not todo:
        return
    from tqdm import tqdm

    from .pool import Lost, Pool
    from .worker import grade_submission

    # Grouped by assignment: a worker builds an assignment's grading context (the instructor's
    # notebook, run once) only for the assignments it meets.
    todo = sorted(todo, key=lambda j: (j.assignment, j.student))
    workers = min(jobs, len(todo))
    bar = tqdm(total=len(todo), unit="notebook", disable=not progress, smoothing=0.1,
               bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]")
    again = []
    try:
        for job, res in Pool(grade_submission, workers).run(todo):
            if isinstance(res, Lost) or isinstance(res, tuple):
                again.append((job, res))
                continue
            if res.timed_out and workers > 1:
                again.append((job, res))
                continue
            bar.update(1)
            bar.set_postfix_str(f"{job.student}/{job.assignment}", refresh=False)
            yield res
        if again:
            bar.set_postfix_str(f"{len(again)} again, alone", refresh=True)
        alone = {(j.student, j.assignment): first for j, first in again}
        retry = [replace(j, alone=True, cpus=float(cores)) for j, _ in again]
        for job, res in Pool(grade_submission, 1).run(retry):
            first = alone[(job.student, job.assignment)]
            if isinstance(res, (Lost, tuple)):
                res = _lost_result(job, first, res)
            else:
                why = ("its worker process died" if isinstance(first, (Lost, tuple))
                       else "it ran out of time next to other submissions")
                res.problems.insert(0, f"Graded a second time, alone, because {why}; this is that "
                                       "grade.")
                res.save(Path(job.result_file))
            bar.update(1)
            yield res
    finally:
        bar.close()


def _lost_result(job: Job, first, second) -> Result:
    from .instructor import Assignment
    from .pool import Lost

    a = Assignment.load(job.assignment, SOLUTIONS, RELEASES)

    def why(r) -> str:
        return (f"exit code {r.exitcode}" if isinstance(r, Lost) else str(r[1]))[:300]
    return Result(job.student, job.assignment, 0.0, a.max_score, key=job.key,
                  tests={t.grade_id: 0.0 for t in a.tests},
                  problems=["The grading process died on this submission twice (first: "
                            f"{why(first)}; then, graded alone: {why(second)}); graded 0. "
                            "Look at it by hand."])  # not saved: a re-run tries again


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Autograde submissions (sandboxed, parallel, resumable).")
    parser.add_argument("submissions", nargs="?", type=Path, default=None,
                        help="folder or .zip in nbgrader layout, or an LMS download (default: the "
                             "course's submitted/ with --course, else the samples in data/samples)")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: grading/, or DIR/grading with --course)")
    parser.add_argument("--course", type=Path, default=None,
                        help="an existing nbgrader course to grade into (its submitted/, gradebook, config)")
    parser.add_argument("--student", "-s", action="append", default=None,
                        help="grade only this student (repeatable); everyone else's grades are kept")
    parser.add_argument("--assignment", "-a", action="append", default=None,
                        help="grade only this assignment (repeatable)")
    parser.add_argument("--timeout", type=int, default=30, help="seconds per cell (default 30)")
    parser.add_argument("--memory-mb", type=int, default=4096,
                        help="memory cap per submission, its processes together (default 4096)")
    parser.add_argument("--jobs", "-j", type=int, default=None, help="parallel kernels (default: all cores)")
    parser.add_argument("--lms-pattern", default=CANVAS,
                        help="regular expression for flat LMS file names, with the groups (?P<student>...) "
                             "and (?P<assignment>...) or (?P<file>...) (default: Canvas)")
    parser.add_argument("--no-sandbox", action="store_true", help="do not use bubblewrap")
    args = parser.parse_args(argv)
    if args.timeout <= 0 or args.memory_mb < 256 or (args.jobs is not None and args.jobs < 1):
        print("error: --timeout must be > 0, --memory-mb >= 256 and --jobs >= 1.", file=sys.stderr)
        return 2
    t = time.time()
    try:
        results = grade(args.submissions, args.out, args.timeout, jobs=args.jobs,
                        memory_mb=args.memory_mb, only=args.assignment, sandbox=not args.no_sandbox,
                        progress=sys.stderr.isatty() or os.environ.get("GRADE_PROGRESS") == "1",
                        course=args.course, students=args.student, lms_pattern=args.lms_pattern)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: finished submissions are saved; run the same command again to "
              "continue.", file=sys.stderr)
        return 130
    out = (args.out or (args.course / "grading" if args.course else REPO_ROOT / "grading")).resolve()
    print_table(results)
    flagged = sum(1 for r in results if r.problems or r.flags)
    waiting = sum(len(r.awaiting) for r in results)
    print(f"\n{len(results)} submission(s) in the gradebook, graded in {time.time() - t:.1f} s"
          + (f"; {flagged} with something to look at in report.txt (marked (!))" if flagged else "")
          + (f"; {waiting} written answer(s) await a person (nbgrader formgrader: Manual Grading)"
             if waiting else ""))
    print(f"grades:   {out / 'grades.csv'}")
    print(f"feedback: {out / 'feedback'}")
    print(f"report:   {out / 'report.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Autograde a folder (or zip) of submissions: parallel, sandboxed, tamper-resistant.

    python -m autograder.grade [SUBMISSIONS] [--out OUT] [--jobs N] [--timeout S]
                               [--memory-mb MB] [--assignment ID ...] [--no-sandbox]

SUBMISSIONS is a folder (or .zip of one) in nbgrader's layout,
``<student>/<assignment>/<assignment>.ipynb``; by default the sample
submissions in ``data/samples``. Writes into OUT (default ``grading/``):

- ``grades.csv``     one row per student and assignment: score, max score, and
                     one column per graded test
- ``feedback/<student>/<assignment>.html``  what each failed test found, in words
- ``report.txt``     anything suspicious or broken, per submission, in words
- ``nbgrader_export.csv``  nbgrader's own export of the gradebook
- ``course/``        the nbgrader course directory (gradebook.db; ``autograded/``
                     holds each notebook as it ran)
- ``.results/``      one result file per submission, keyed by a hash of the
                     submission and the grader: a re-run skips finished work

How a submission is graded (see ``worker.py``, ``judge.py``, ``sandbox.py``):
the instructor's source notebook is run with only the student's answer cells
swapped in (matched by nbgrader ``grade_id``), in its own kernel inside a
bubblewrap sandbox with a per-cell timeout, a memory cap and an output cap. The
instructor's test cells do not run there: the grader captures the student's
variables and calls the student's functions on the tests' inputs (and on fresh
variants drawn with a secret seed), reads back plain ``.npy`` arrays, and runs
the test cells in its own process on those values. Scores go into nbgrader's
gradebook from this (the main) process only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import multiprocessing as mp
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from . import DATA, RELEASES, REPO_ROOT, SOLUTIONS, assignments
from .build import nbgrader

GRADER_VERSION = "2"


class UsageError(Exception):
    """A bad invocation: say what is wrong, exit non-zero, write nothing."""


@dataclass
class Result:
    student: str
    assignment: str
    score: float
    max_score: float
    tests: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    verdicts: list[dict] = field(default_factory=list)
    cell_errors: list[dict] = field(default_factory=list)
    seconds: float = 0.0


# --- finding the submissions ------------------------------------------------------------


def _safe_extract(zip_path: Path, target: Path) -> None:
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for member in zf.namelist():
                dest = (target / member).resolve()
                if not dest.is_relative_to(target.resolve()):
                    raise UsageError(f"{zip_path} contains an unsafe path: {member!r}")
            zf.extractall(target)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UsageError(f"{zip_path} is not a readable zip file ({exc}).") from None


def _layout_root(folder: Path, known: list[str]) -> Path:
    """The folder whose children are student folders (a zip often adds one level)."""
    def has_layout(p: Path) -> bool:
        return any((s / a).is_dir() for s in p.iterdir() if s.is_dir() for a in known)

    if has_layout(folder):
        return folder
    subdirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))]
    if len(subdirs) == 1 and has_layout(subdirs[0]):
        return subdirs[0]
    raise UsageError(
        f"No submissions found in {folder}. Expected <student>/<assignment>/<assignment>.ipynb "
        f"with an assignment among: {', '.join(known)}.")


def find_submissions(root: Path, known: list[str]) -> dict[str, list[str]]:
    """Students by assignment: {assignment: [student, ...]} (any student folder with the
    assignment's folder, even if the notebook in it is misnamed or missing)."""
    found: dict[str, list[str]] = {}
    for student in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for aid in known:
            if (student / aid).is_dir():
                found.setdefault(aid, []).append(student.name)
    return found


def locate_notebook(folder: Path, aid: str) -> tuple[Path | None, str]:
    """The submitted notebook, and a note if it was not where it should be."""
    expected = folder / f"{aid}.ipynb"
    if expected.is_file():
        return expected, ""
    others = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if len(others) == 1:
        return others[0], (f"The notebook was named {others[0].relative_to(folder)} instead of "
                           f"{aid}.ipynb; it was graded anyway. Please keep the original name.")
    if others:
        return None, (f"No {aid}.ipynb was found, but {len(others)} other notebooks were "
                      f"({', '.join(p.name for p in others[:5])}); none was graded.")
    return None, f"The folder {aid}/ contains no notebook."


# --- the course folder and gradebook (main process only) -----------------------------------


def course_flags(course: Path) -> list[str]:
    return [f"--CourseDirectory.root={course}", f"--CourseDirectory.db_url=sqlite:///{course}/gradebook.db"]


def _file_hash(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes() if p.is_file() else b"-")
    return h.hexdigest()


def prepare_course(course: Path, aids: list[str]) -> None:
    """An nbgrader course folder whose gradebook knows the assignments (made once, kept)."""
    (course / "source").mkdir(parents=True, exist_ok=True)
    for aid in aids:
        src = SOLUTIONS / aid / f"{aid}.ipynb"
        stamp = course / "source" / aid / ".grader-stamp"
        digest = _file_hash(src)
        if stamp.exists() and stamp.read_text() == digest and (course / "gradebook.db").exists():
            continue
        shutil.rmtree(course / "source" / aid, ignore_errors=True)
        shutil.copytree(SOLUTIONS / aid, course / "source" / aid)
        nbgrader("generate_assignment", aid, "--force", *course_flags(course), cwd=course)
        stamp.write_text(digest)


def write_gradebook(course: Path, results: list[Result]) -> None:
    """Each submission's test scores as nbgrader auto scores; re-running replaces, never adds."""
    import warnings

    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes on nbgrader's own code
        for r in results:
            gb.update_or_create_student(r.student)
            try:
                gb.remove_submission(r.assignment, r.student)
            except MissingEntry:
                pass
            sub = gb.add_submission(r.assignment, r.student)
            for nb in sub.notebooks:
                for grade in nb.grades:
                    grade.auto_score = float(r.tests.get(grade.name, 0.0))
            gb.db.commit()


def read_results(course: Path, found: dict[str, list[str]]) -> list[Result]:
    """Scores as nbgrader's gradebook has them."""
    from nbgrader.api import Gradebook

    results = []
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        for aid, students in found.items():
            for student in students:
                nb = gb.find_submission_notebook(aid, aid, student)
                tests = {g.name: g.score for g in nb.grades}
                results.append(Result(student, aid, nb.score, nb.max_score, tests))
    return results


# --- outputs -------------------------------------------------------------------------


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
        mark = "  (!)" if r.problems or r.flags else ""
        print(f"{r.student:<{width}}  {r.assignment:<18} {r.score:>5g} / {r.max_score:<3g}{mark}")


# --- the run -----------------------------------------------------------------------------


def _source_digest() -> str:
    here = Path(__file__).parent
    return _file_hash(*sorted(here.glob("*.py")), *sorted((here / "exercises").glob("*.py")))


def plan(submissions: Path, only: list[str] | None, tmp: Path) -> tuple[Path, dict]:
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
        _safe_extract(submissions, tmp)
        root = _layout_root(tmp, known)
    else:
        root = _layout_root(submissions, known)
    found = find_submissions(root, only or known)
    if not found:
        raise UsageError(f"No submissions for {', '.join(only)} in {submissions}.")
    return root, found


def grade(submissions: Path, out: Path, timeout: int = 30, *, jobs: int | None = None,
          memory_mb: int = 4096, only: list[str] | None = None, sandbox: bool = True,
          progress: bool = False) -> list[Result]:
    from .sandbox import describe

    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    jobs = jobs or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="grade-") as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "zip").mkdir()
        root, found = plan(submissions, only, tmp / "zip")

        out.mkdir(parents=True, exist_ok=True)
        results_dir = out / ".results"
        results_dir.mkdir(exist_ok=True)
        secret_file = results_dir / "secret"
        if not secret_file.exists():
            secret_file.write_text(str(secrets.randbits(48)))
        seed = int(secret_file.read_text().strip())
        version = hashlib.sha256(f"{GRADER_VERSION}{_source_digest()}{timeout}{memory_mb}{sandbox}"
                                 .encode()).hexdigest()
        course = out / "course"

        todo, done = [], {}
        for aid, students in found.items():
            sol_digest = _file_hash(SOLUTIONS / aid / f"{aid}.ipynb", RELEASES / aid / f"{aid}.ipynb")
            for student in students:
                nb_path, note = locate_notebook(root / student / aid, aid)
                raw = nb_path.read_bytes() if nb_path else b"(none)"
                key = hashlib.sha256(raw + note.encode() + version.encode() + sol_digest.encode()).hexdigest()
                rfile = results_dir / student / f"{aid}.json"
                job = dict(student=student, assignment=aid, path=str(nb_path) if nb_path else None,
                           note=note, key=key, seed=seed, timeout=timeout, memory_mb=memory_mb,
                           sandbox=sandbox, tmp=str(tmp), result_file=str(rfile),
                           autograded=str(course / "autograded" / student / aid / f"{aid}.ipynb"))
                old = _load_result(rfile)
                if old is not None and old.get("key") == key:
                    done[(student, aid)] = old
                else:
                    todo.append(job)

        print(describe(sandbox))
        if done:
            print(f"{len(done)} submission(s) already graded (unchanged): kept.")
        t = time.time()
        prep_error = []

        def prep():
            try:
                prepare_course(course, list(found))
            except Exception as exc:  # reported once the grading is done
                prep_error.append(exc)
        prepper = threading.Thread(target=prep, daemon=True)
        prepper.start()
        for res in _run_jobs(todo, jobs, progress):
            done[(res["student"], res["assignment"])] = res
        prepper.join()
        if prep_error:
            raise prep_error[0]
        if todo:
            print(f"graded {len(todo)} submission(s) in {time.time() - t:.1f} s "
                  f"with {min(jobs, len(todo))} worker(s)")

    results = [_to_result(done[(s, aid)]) for aid, students in found.items() for s in students]
    write_gradebook(course, results)
    from .report import write_feedback, write_report
    by_key = {(r.student, r.assignment): r for r in results}
    gb_results = read_results(course, found)
    for r in gb_results:  # the gradebook is the source of truth for scores
        full = by_key[(r.student, r.assignment)]
        full.score, full.max_score, full.tests = r.score, r.max_score, r.tests
    for r in results:
        write_feedback(r, out / "feedback" / r.student / f"{r.assignment}.html")
    write_report(results, out / "report.txt", describe(sandbox))
    write_csv(results, out / "grades.csv")
    export(course, out / "nbgrader_export.csv")
    return results


def export(course: Path, target: Path) -> None:
    """nbgrader's own CSV export of the gradebook (its export plugin, in this process)."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin

    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        CsvExportPlugin(to=str(target)).export(gb)


def _load_result(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _to_result(d: dict) -> Result:
    return Result(d["student"], d["assignment"], float(d.get("score", 0)), float(d.get("max_score", 0)),
                  dict(d.get("tests", {})), list(d.get("problems", [])), list(d.get("flags", [])),
                  list(d.get("verdicts", [])), list(d.get("cell_errors", [])), float(d.get("seconds", 0)))


def _worker_init():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run_jobs(todo: list[dict], jobs: int, progress: bool):
    """Grade in parallel; results come back to this process (the gradebook's only writer)."""
    if not todo:
        return
    from tqdm import tqdm

    from .worker import grade_submission

    # Grouped by assignment: a worker builds an assignment's grading context (the instructor's
    # notebook, run once) only for the assignments it meets.
    todo = sorted(todo, key=lambda j: (j["assignment"], j["student"]))
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=mp.get_context("spawn"),
                               initializer=_worker_init)
    bar = tqdm(total=len(todo), unit="notebook", disable=not progress, smoothing=0.1,
               bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]")
    try:
        pending = {pool.submit(grade_submission, job): job for job in todo}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                job = pending.pop(fut)
                try:
                    res = fut.result()
                except Exception as exc:  # the worker process itself died
                    res = _crashed_result(job, exc)
                bar.update(1)
                bar.set_postfix_str(f"{job['student']}/{job['assignment']}", refresh=False)
                yield res
    finally:  # also on Ctrl-C: drop what has not started, wait for what is running
        bar.close()
        pool.shutdown(wait=True, cancel_futures=True)


def _crashed_result(job: dict, exc: BaseException) -> dict:
    from .judge import Assignment

    a = Assignment.load(job["assignment"], SOLUTIONS, RELEASES)
    res = dict(student=job["student"], assignment=job["assignment"], key=job["key"], score=0.0,
               max_score=a.max_score, tests={t.grade_id: 0.0 for t in a.tests}, verdicts=[],
               problems=[f"The grading process for this submission died ({type(exc).__name__}: {exc}); "
                         "graded 0. Re-run the grader to try again."], flags=[], cell_errors=[])
    return res  # not saved: a re-run grades it again


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Autograde submissions (sandboxed, parallel, resumable).")
    parser.add_argument("submissions", nargs="?", type=Path, default=DATA / "samples",
                        help="folder or .zip in nbgrader layout (default: the samples in data/samples)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "grading", help="output folder")
    parser.add_argument("--timeout", type=int, default=30, help="seconds per cell (default 30)")
    parser.add_argument("--memory-mb", type=int, default=4096, help="memory cap per kernel (default 4096)")
    parser.add_argument("--jobs", "-j", type=int, default=None, help="parallel kernels (default: all cores)")
    parser.add_argument("--assignment", "-a", action="append", default=None,
                        help="grade only this assignment (repeatable)")
    parser.add_argument("--no-sandbox", action="store_true", help="do not use bubblewrap")
    args = parser.parse_args(argv)
    if args.timeout <= 0 or args.memory_mb < 256 or (args.jobs is not None and args.jobs < 1):
        print("error: --timeout must be > 0, --memory-mb >= 256 and --jobs >= 1.", file=sys.stderr)
        return 2
    t = time.time()
    try:
        results = grade(args.submissions, args.out, args.timeout, jobs=args.jobs,
                        memory_mb=args.memory_mb, only=args.assignment, sandbox=not args.no_sandbox,
                        progress=sys.stderr.isatty() or os.environ.get("GRADE_PROGRESS") == "1")
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: finished submissions are saved; run the same command again to "
              "continue.", file=sys.stderr)
        return 130
    print_table(results)
    flagged = sum(1 for r in results if r.problems or r.flags)
    print(f"\n{len(results)} submission(s) graded in {time.time() - t:.1f} s"
          + (f"; {flagged} with something to look at in report.txt (marked (!))" if flagged else ""))
    print(f"grades:   {args.out.resolve() / 'grades.csv'}")
    print(f"feedback: {args.out.resolve() / 'feedback'}")
    print(f"report:   {args.out.resolve() / 'report.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

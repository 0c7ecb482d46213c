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
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import replace
from pathlib import Path

from . import DATA, RELEASES, REPO_ROOT, SOLUTIONS, assignments
from .build import nbgrader
from .intake import notebook_file_problem, read_bytes
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
                results.append(Result(student, aid, nb.score, nb.max_score, tests=tests))
    return results


# --- outputs -------------------------------------------------------------------------


def _csv_field(value) -> str:
    """A value for a spreadsheet: never a formula (a student id starting with = would run)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "@", "\t", "\r") else text


def write_csv(results: list[Result], path: Path) -> None:
    test_names = sorted({t for r in results for t in r.tests})
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "assignment", "score", "max_score", *test_names])
        for r in sorted(results, key=lambda r: (r.student, r.assignment)):
            w.writerow([_csv_field(r.student), r.assignment, f"{r.score:g}", f"{r.max_score:g}",
                        *[f"{r.tests[t]:g}" if t in r.tests else "" for t in test_names]])


def print_table(results: list[Result]) -> None:
    from .report import plain

    width = max([len(plain(r.student)) for r in results] + [7])
    print(f"\n{'student':<{width}}  {'assignment':<18} {'score':>11}")
    for r in sorted(results, key=lambda r: (r.student, r.assignment)):
        mark = "  (!)" if r.problems or r.flags else ""
        print(f"{plain(r.student):<{width}}  {r.assignment:<18} {r.score:>5g} / {r.max_score:<3g}{mark}")


# --- the run -----------------------------------------------------------------------------


def _source_digest() -> str:
    """Every line of code a judgement depends on: the grader, the exercises, and attnlab
    (its checks decide, its data and widgets run in the kernel)."""
    here = Path(__file__).parent
    return _file_hash(*sorted(here.glob("*.py")), *sorted((here / "exercises").glob("*.py")),
                      *sorted((REPO_ROOT / "attnlab").glob("*.py")))


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


def _submission_bytes(path: Path | None) -> bytes:
    if path is None:
        return b"(none)"
    try:
        return read_bytes(path)
    except OSError as exc:
        return f"(unreadable: {exc})".encode()


def make_jobs(root: Path, found: dict, out: Path, tmp: Path, seed: int, settings: dict,
              cpus: float) -> list[Job]:
    """One job per submission; its key changes with the submission, the grader's code and the
    settings a verdict depends on (``settings``), so an unchanged submission is not regraded."""
    version = hashlib.sha256(f"{GRADER_VERSION}{_source_digest()}{sorted(settings.items())}"
                             .encode()).hexdigest()
    jobs = []
    for aid, students in found.items():
        sol_digest = _file_hash(SOLUTIONS / aid / f"{aid}.ipynb", RELEASES / aid / f"{aid}.ipynb")
        for student in students:
            nb_path, note = locate_notebook(root / student / aid, aid)
            raw = _submission_bytes(nb_path)
            key = hashlib.sha256(raw + note.encode() + version.encode() + sol_digest.encode()).hexdigest()
            jobs.append(Job(student=student, assignment=aid, path=str(nb_path) if nb_path else None,
                            note=note, key=key, seed=seed, tmp=str(tmp),
                            result_file=str(out / ".results" / student / f"{aid}.json"),
                            autograded=str(out / "course" / "autograded" / student / aid / f"{aid}.ipynb"),
                            cpus=cpus, **settings))
    return jobs


def grade(submissions: Path, out: Path, timeout: int = 30, *, jobs: int | None = None,
          memory_mb: int = 4096, only: list[str] | None = None, sandbox: bool = True,
          progress: bool = False) -> list[Result]:
    from .sandbox import describe

    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    cores = os.cpu_count() or 1
    jobs = jobs or cores
    from .sandbox import sweep

    sweep()  # what killed runs left behind
    with tempfile.TemporaryDirectory(prefix="grade-") as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "owner.pid").write_text(str(os.getpid()))
        (tmp / "zip").mkdir()
        root, found = plan(submissions, only, tmp / "zip")

        out.mkdir(parents=True, exist_ok=True)
        results_dir = out / ".results"
        results_dir.mkdir(exist_ok=True)
        secret_file = results_dir / "secret"
        if not secret_file.exists():
            secret_file.write_text(str(secrets.randbits(48)))
        seed = int(secret_file.read_text().strip())
        # Each box gets its share of the cores, so a submission that spins many processes
        # slows only itself.
        settings = dict(timeout=timeout, memory_mb=memory_mb, sandbox=sandbox)
        course = out / "course"

        todo, done = [], {}
        for job in make_jobs(root, found, out, tmp, seed, settings, cpus=max(1.0, cores / jobs)):
            old = Result.load(Path(job.result_file))
            if old is not None and old.key == job.key:
                done[(job.student, job.assignment)] = old
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
        try:
            for res in _run_jobs(todo, jobs, progress, cores):
                done[(res.student, res.assignment)] = res
        finally:
            sweep(tmp)  # the boxes of a worker that died
        prepper.join()
        if prep_error:
            raise prep_error[0]
        if todo:
            print(f"graded {len(todo)} submission(s) in {time.time() - t:.1f} s "
                  f"with {min(jobs, len(todo))} worker(s)")

    results = [done[(s, aid)] for aid, students in found.items() for s in students]
    write_gradebook(course, results)
    from .report import write_feedback, write_report
    by_key = {(r.student, r.assignment): r for r in results}
    for r in read_results(course, found):  # the gradebook is the source of truth for scores
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

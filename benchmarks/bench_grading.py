"""Benchmark: stock sequential `nbgrader autograde` against `python -m autograder.grade`.

    .venv/bin/python benchmarks/bench_grading.py [--students 40] [--jobs N]
                                                 [--assignments 01_embeddings ...]

Generates one class (every student submits every assignment: a mix of correct,
partial and broken work, including the common mistakes of tests/catalogue/), grades
it both ways in one run, prints seconds per submission for each and the ratio, and
checks that the scores agree on every submission. Not a timed test: run it by hand.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import nbformat  # noqa: E402

from autograder import RELEASES, SOLUTIONS, assignments  # noqa: E402
from autograder.build import nbgrader  # noqa: E402
from autograder.notebooks import fill, read, solution_cells  # noqa: E402


def make_class(folder: Path, n_students: int, aids: list[str], seed: int = 7) -> dict:
    """<student>/<aid>/<aid>.ipynb for every student and assignment; returns the kind of each."""
    from catalogue import catalogues

    rng = random.Random(seed)
    cats = catalogues()
    kinds = {}
    for aid in aids:
        solution = read(SOLUTIONS / aid / f"{aid}.ipynb")
        release = read(RELEASES / aid / f"{aid}.ipynb")
        gids = list(solution_cells(solution))
        wrong = list(getattr(cats.get(aid), "WRONG", {}).values())
        for s in range(n_students):
            student = f"student{s:03d}"
            roll = rng.random()
            if roll < 0.4:
                kind, nb = "correct", fill(release, solution, gids)
            elif roll < 0.65:
                kind, nb = "partial", fill(release, solution, rng.sample(gids, rng.randint(1, len(gids) - 1)))
            elif roll < 0.85 and wrong:
                kind, nb = "mistake", fill(release, solution, gids)
                for gid, src in rng.choice(wrong).cells.items():
                    solution_cells(nb)[gid].source = src.strip()
            else:
                kind, nb = "broken", fill(release, solution, gids)
                gid = rng.choice(gids)
                solution_cells(nb)[gid].source = rng.choice(
                    ["def oops(:\n    pass", "raise RuntimeError('half-finished')", ""])
            path = folder / student / aid / f"{aid}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(path))
            kinds[(student, aid)] = kind
    return kinds


def stock(folder: Path, work: Path, aids: list[str]) -> tuple[float, dict]:
    """Plain nbgrader: generate_assignment, then `nbgrader autograde` per assignment, in sequence."""
    from nbgrader.api import Gradebook

    course = work / "stock"
    (course / "source").mkdir(parents=True)
    flags = [f"--CourseDirectory.root={course}", f"--CourseDirectory.db_url=sqlite:///{course}/gradebook.db"]
    for aid in aids:
        shutil.copytree(SOLUTIONS / aid, course / "source" / aid)
        nbgrader("generate_assignment", aid, "--force", *flags, cwd=course)
    for student in sorted(p.name for p in folder.iterdir()):
        for aid in aids:
            dest = course / "submitted" / student / aid
            dest.mkdir(parents=True)
            shutil.copy(folder / student / aid / f"{aid}.ipynb", dest / f"{aid}.ipynb")
    t = time.time()
    for aid in aids:
        nbgrader("autograde", aid, "--force", *flags, "--ExecutePreprocessor.timeout=30", cwd=course)
    seconds = time.time() - t
    scores = {}
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        for aid in aids:
            for sub in gb.assignment_submissions(aid):
                scores[(sub.student_id, aid)] = sub.score
    return seconds, scores


def ours(folder: Path, work: Path, aids: list[str], jobs: int | None) -> tuple[float, dict]:
    out = work / "ours"
    cmd = [sys.executable, "-m", "autograder.grade", str(folder), "--out", str(out)]
    cmd += sum((["--assignment", a] for a in aids), [])
    if jobs:
        cmd += ["--jobs", str(jobs)]
    t = time.time()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    seconds = time.time() - t
    with open(out / "grades.csv") as f:
        scores = {(r["student"], r["assignment"]): float(r["score"]) for r in csv.DictReader(f)}
    return seconds, scores


def box_overhead(n: int = 40) -> float:
    """Seconds to make and remove one submission's box (cgroups, size-capped scratch), the
    isolation a submission costs on top of its kernel."""
    from autograder.sandbox import Box, BoxLimits

    t = time.perf_counter()
    for _ in range(n):
        box = Box(Path(tempfile.mkdtemp(prefix="bench-box-")), BoxLimits())
        box.create()
        box.destroy()
    return (time.perf_counter() - t) / n


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=None, help="for ours (default: all cores)")
    parser.add_argument("--ours-only", action="store_true", help="skip stock nbgrader (it takes longest)")
    parser.add_argument("--assignments", nargs="*", default=assignments(),
                        help="default: every assignment")
    args = parser.parse_args(argv)
    aids = [a for a in args.assignments if a in assignments()]
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        work = Path(tmp)
        kinds = make_class(work / "class", args.students, aids)
        n = len(kinds)
        print(f"class: {args.students} students x {len(aids)} assignments = {n} submissions "
              f"({', '.join(f'{k}: {list(kinds.values()).count(k)}' for k in sorted(set(kinds.values())))}); "
              f"{os.cpu_count()} cores")
        if not args.ours_only:
            t_stock, s_stock = stock(work / "class", work, aids)
            print(f"stock nbgrader autograde (sequential): {t_stock:7.1f} s  = {t_stock / n:5.2f} s per submission")
        t_ours, s_ours = ours(work / "class", work, aids, args.jobs)
        print(f"autograder.grade (parallel, sandboxed): {t_ours:7.1f} s  = {t_ours / n:5.2f} s per submission "
              "(including gradebook, feedback, report and export)")
        if args.ours_only:
            return 0
        print(f"speed-up: {t_stock / t_ours:.2f}x")
        box = box_overhead()
        print(f"isolation: making and removing a box takes {box * 1000:.0f} ms, "
              f"{100 * box / (t_ours / n * min(args.jobs or os.cpu_count() or 1, n)):.1f}% of a submission's grading")
        differ = {k: (s_stock.get(k), s_ours.get(k), kinds[k]) for k in kinds if s_stock.get(k) != s_ours.get(k)}
        if differ:
            print(f"scores differ on {len(differ)} submission(s) (stock, ours, kind):")
            for k, v in sorted(differ.items()):
                print(f"  {k}: {v}")
        else:
            print(f"scores agree on all {n} submissions")
        return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())

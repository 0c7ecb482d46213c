"""Kill a grading run half-way, run it again: it continues, and nothing is counted twice."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from autograder.grade import main as grade_main
from autograder.notebooks import read
from conftest import ROOT

SAMPLES = ROOT / "data" / "samples"
CLASS = [(f"s{i}-{kind}", aid) for i, (kind, aid) in enumerate(
    [(k, a) for a in ("01_embeddings", "03_qkv_by_hand") for k in ("perfect", "partial", "empty")])]


def _scores(out):
    with open(out / "grades.csv") as f:
        return {(r["student"], r["assignment"]): (float(r["auto_score"]), float(r["auto_max"]))
                for r in csv.DictReader(f)}


def _write_class(subs):
    """CLASS in nbgrader's layout, each student's notebook the sample of their kind."""
    for student, aid in CLASS:
        kind = student.split("-")[1]
        (subs / student / aid).mkdir(parents=True)
        nbformat.write(read(SAMPLES / kind / aid / f"{aid}.ipynb"), str(subs / student / aid / f"{aid}.ipynb"))
    return subs


def _count(out):
    db = sqlite3.connect(out / "course" / "gradebook.db")
    return db.execute("select count(*) from submitted_assignment").fetchone()[0]


def test_kill_then_resume_continues_and_regrading_one_is_cheap(tmp_path, capsys):
    subs, out = _write_class(tmp_path / "class"), tmp_path / "out"

    proc = subprocess.Popen([sys.executable, "-m", "autograder.grade", str(subs), "--out", str(out),
                             "--jobs", "1", "--timeout", "10"], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and len(list((out / ".results").glob("*/*.json"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p: p.stat().st_mtime_ns for p in (out / ".results").glob("*/*.json")}
    assert 2 <= len(finished) < len(CLASS), "the run was not killed half-way"
    assert not (out / "grades.csv").exists()

    capsys.readouterr()
    assert grade_main([str(subs), "--out", str(out), "--timeout", "10"]) == 0
    printed = capsys.readouterr().out
    assert f"{len(finished)} submission(s) already graded" in printed
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items()), "finished work was redone"
    scores = _scores(out)
    assert len(scores) == len(CLASS) == _count(out)
    for (student, aid), (score, max_score) in scores.items():
        kind = student.split("-")[1]
        assert {"perfect": score == max_score, "empty": score == 0,
                "partial": 0 < score < max_score}[kind], (student, aid, score)

    # A student resubmits: only that one is graded again; the gradebook still has one row each.
    student, aid = "s2-empty", "01_embeddings"
    nbformat.write(read(SAMPLES / "perfect" / aid / f"{aid}.ipynb"), str(subs / student / aid / f"{aid}.ipynb"))
    t = time.time()
    assert grade_main([str(subs), "--out", str(out), "--timeout", "10"]) == 0
    printed = capsys.readouterr().out
    assert f"{len(CLASS) - 1} submission(s) already graded" in printed and "graded 1 submission(s)" in printed
    new = _scores(out)
    assert new[(student, aid)][0] == new[(student, aid)][1]
    assert {k: v for k, v in new.items() if k != (student, aid)} == \
        {k: v for k, v in scores.items() if k != (student, aid)}
    assert _count(out) == len(CLASS)
    assert time.time() - t < 60


def _session_processes(sid: int) -> list[str]:
    """Processes still running in the grader's session (zombies hold nothing: not counted)."""
    out = subprocess.run(["ps", "-e", "-o", "sid=,stat=,pid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines()
            if line.split() and line.split()[0] == str(sid) and not line.split()[1].startswith("Z")]


def test_ctrl_c_stops_every_worker_and_a_rerun_keeps_the_finished_work(tmp_path, capsys):
    """Ctrl-C as a terminal sends it (SIGINT to the whole process group): exit 130, no worker,
    kernel, box or mount left behind; then a new submission arrives and the re-run grades it
    and only it plus what was unfinished."""
    subs, out = _write_class(tmp_path / "class"), tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "autograder.grade", str(subs), "--out", str(out),
                             "--jobs", "2", "--timeout", "10"], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and len(list((out / ".results").glob("*/*.json"))) < 1:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err and "run the same command again" in err
    time.sleep(1)
    assert _session_processes(proc.pid) == [], "workers or kernels outlived the grader"
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(tmp_path) not in mounts and "/box-" not in mounts.replace(str(ROOT), "")
    finished = {p: p.stat().st_mtime_ns for p in (out / ".results").glob("*/*.json")}
    assert 1 <= len(finished) < len(CLASS)

    new = ("s9-perfect", "03_qkv_by_hand")
    (subs / new[0] / new[1]).mkdir(parents=True)
    nbformat.write(read(SAMPLES / "perfect" / new[1] / f"{new[1]}.ipynb"),
                   str(subs / new[0] / new[1] / f"{new[1]}.ipynb"))
    capsys.readouterr()
    assert grade_main([str(subs), "--out", str(out), "--timeout", "10"]) == 0
    printed = capsys.readouterr().out
    assert f"{len(finished)} submission(s) already graded" in printed
    assert f"graded {len(CLASS) + 1 - len(finished)} submission(s)" in printed
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items())
    scores = _scores(out)
    assert scores[new] == (9.0, 9.0) and len(scores) == len(CLASS) + 1 == _count(out)

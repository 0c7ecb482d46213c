"""A term with stock nbgrader tools and this grader side by side, on a real course folder.

release -> fetch -> submit (a local exchange) -> due date -> a late submission -> collect ->
`make grade COURSE=...` -> stock `nbgrader generate_feedback` and `release_feedback` ->
a student fetches it -> a person grades a written answer -> the grader runs again -> one
student resubmits and only they are regraded -> the formgrader lists and opens everything;
and an LMS download grades the same as nbgrader's layout.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import RELEASES, SOLUTIONS
from autograder.notebooks import fill, read, solution_cells, written_answers
from conftest import ROOT

AID = "03_qkv_by_hand"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def nbgrader(*args, cwd: Path) -> str:
    proc = subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def answer(nb_path: Path, how: str) -> None:
    """The student's work on the fetched release: every answer ('perfect') or half ('partial')."""
    solution = read(SOLUTIONS / AID / f"{AID}.ipynb")
    gids = list(solution_cells(solution))
    chosen = {"perfect": gids + list(written_answers(solution)), "partial": gids[: len(gids) // 2]}[how]
    nbformat.write(fill(read(nb_path), solution, chosen), str(nb_path))


def grades(folder: Path) -> dict:
    with open(folder / "grades.csv") as f:
        return {(r["student"], r["assignment"]): r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    base = tmp_path_factory.mktemp("term")
    course, exchange = base / "course", base / "exchange"
    exchange.mkdir()
    exchange.chmod(0o777)
    course.mkdir()
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'attention'\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
        "c.LateSubmissionPlugin.penalty_method = 'zero'\n")
    shutil.copytree(SOLUTIONS / AID, course / "source" / AID)
    nbgrader("generate_assignment", AID, cwd=course)
    nbgrader("release_assignment", AID, cwd=course)
    ex = f"--Exchange.root={exchange}"

    def submit(student: str, how: str) -> None:
        home = base / student
        home.mkdir()
        nbgrader("fetch_assignment", AID, "--course", "attention", ex, cwd=home)
        answer(home / AID / f"{AID}.ipynb", how)
        nbgrader("submit", AID, "--course", "attention", ex, f"--student={student}", cwd=home)

    submit("alice", "perfect")
    submit("bob", "partial")
    due = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(time.time() + 1))
    nbgrader("db", "assignment", "add", AID, f"--duedate={due}", cwd=course)
    time.sleep(2.5)
    submit("carol", "perfect")  # after the due date
    nbgrader("collect", AID, ex, cwd=course)
    first = subprocess.run(["make", "-s", "grade", f"COURSE={course}"], cwd=ROOT, env=ENV,
                           capture_output=True, text=True, timeout=1200)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    return dict(base=base, course=course, exchange=exchange, ex=ex, first=first.stdout,
                grades=grades(course / "grading"))


def test_every_collected_submission_is_graded_into_the_course_gradebook(term):
    from nbgrader.api import Gradebook

    course = term["course"]
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
        subs = {s.student_id: s for s in gb.assignment_submissions(AID)}
        assert sorted(subs) == ["alice", "bob", "carol"]
        flags = {s: sorted(g.name for g in sub.notebooks[0].grades if g.needs_manual_grade) for s, sub in subs.items()}
        # Only a written answer that was answered waits for a person; bob left it empty.
        assert flags == {"alice": ["reflect_explain_steps"], "bob": [], "carol": ["reflect_explain_steps"]}
        alice = subs["alice"].notebooks[0]
        assert alice.score == 9 and alice.max_score == 11 and alice.needs_manual_grade
        assert 0 < subs["bob"].notebooks[0].score < 9
        carol = subs["carol"]
        assert carol.total_seconds_late > 0 and carol.late_submission_penalty == carol.notebooks[0].score == 9
    g = term["grades"]
    assert float(g[("carol", AID)]["score"]) == 0 and float(g[("carol", AID)]["late_penalty"]) == 9
    assert float(g[("alice", AID)]["score"]) == 9 and g[("alice", AID)]["awaiting_manual"] == "1"
    assert "1 answer(s) await a person" in term["first"] and "late: -9" in term["first"]


def test_autograded_notebooks_keep_the_submissions_cells(term):
    course = term["course"]
    for student in ("alice", "bob", "carol"):
        submitted = read(course / "submitted" / student / AID / f"{AID}.ipynb")
        graded = read(course / "autograded" / student / AID / f"{AID}.ipynb")
        assert [c.cell_type for c in graded.cells] == [c.cell_type for c in submitted.cells]
        assert graded.cells[0].source == submitted.cells[0].source  # the title, not the grader's code
        for s, gcell in zip(submitted.cells, graded.cells):
            gid = s.metadata.get("nbgrader", {}).get("grade_id")
            if s.metadata.get("nbgrader", {}).get("solution"):
                assert gcell.source == s.source, gid
        assert "__grader" not in json.dumps(graded)


def test_stock_feedback_is_generated_released_and_fetched(term):
    course, base = term["course"], term["base"]
    nbgrader("generate_feedback", AID, cwd=course)
    nbgrader("release_feedback", AID, cwd=course)
    nbgrader("fetch_feedback", AID, "--course", "attention", term["ex"], "--student=alice", cwd=base / "alice")
    # (everyone here submits as the same OS user, so nbgrader's submission cache hands alice
    # every page of that user; hers is the one with her score)
    pages = [p.read_text() for p in (base / "alice" / AID / "feedback").rglob(f"{AID}.html")]
    assert any("9.0 / 11.0" in page for page in pages)


def test_a_persons_grading_survives_a_rerun_and_a_resubmission_regrades_only_that_student(term):
    from nbgrader.api import Gradebook

    course = term["course"]
    db = f"sqlite:///{course}/gradebook.db"
    with Gradebook(db) as gb:
        grade = gb.find_grade("reflect_explain_steps", AID, AID, "alice")
        grade.manual_score, grade.extra_credit = 2.0, 0.5
        gb.find_comment("reflect_explain_steps", AID, AID, "alice").manual_comment = "Clear and complete."
        grade.needs_manual_grade = False
        gb.db.commit()
    # bob resubmits everything (a new notebook and timestamp in submitted/, as collect leaves them).
    bob = course / "submitted" / "bob" / AID
    answer(bob / f"{AID}.ipynb", "perfect")
    (bob / "timestamp.txt").write_text(time.strftime("%Y-%m-%d %H:%M:%S.000000 UTC", time.gmtime(time.time() - 3600)))
    before = grades(course / "grading")
    proc = subprocess.run([sys.executable, "-m", "autograder.grade", "--course", str(course), "--student", "bob"],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "graded 1 submission(s)" in proc.stdout
    after = grades(course / "grading")
    assert sorted(after) == sorted(before)  # everyone is still in the table
    assert float(after[("bob", AID)]["auto_score"]) == 9
    assert after[("carol", AID)] == before[("carol", AID)]
    with Gradebook(db) as gb:
        grade = gb.find_grade("reflect_explain_steps", AID, AID, "alice")
        assert (grade.manual_score, grade.extra_credit, grade.needs_manual_grade) == (2.0, 0.5, False)
        assert gb.find_comment("reflect_explain_steps", AID, AID, "alice").manual_comment == "Clear and complete."
        assert gb.find_submission(AID, "alice").score == 11.5
    assert float(after[("alice", AID)]["score"]) == 11.5  # 9 autograded + 2 by a person + 0.5 extra credit
    # The same command again, nothing changed: nothing is regraded, nothing is touched.
    proc = subprocess.run([sys.executable, "-m", "autograder.grade", "--course", str(course)],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0 and "3 submission(s) already graded" in proc.stdout
    with Gradebook(db) as gb:
        assert gb.find_grade("reflect_explain_steps", AID, AID, "alice").manual_score == 2.0


def test_the_formgrader_lists_and_opens_every_submission(term, tmp_path):
    from browser import serving

    course = term["course"]
    command = [str(BIN / "jupyter"), "server", "--no-browser", "--port={port}", "--ip=127.0.0.1",
               "--allow-root", "--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
               "--ServerApp.jpserver_extensions={'nbgrader.server_extensions.formgrader': True}"]
    with serving(command, course, tmp_path / "server.log", env=ENV) as get:
        status, body = get("/formgrader/api/assignments")
        (row,) = [a for a in json.loads(body) if a["name"] == AID]
        assert status == 200 and row["num_submissions"] == 3
        subs = json.loads(get(f"/formgrader/api/submitted_notebooks/{AID}/{AID}")[1])
        assert sorted(s["student"] for s in subs) == ["alice", "bob", "carol"]
        alice = next(s for s in subs if s["student"] == "alice")
        status, page = get(f"/formgrader/submissions/{alice['id']}")  # the page a person grades on
        written = written_answers(read(SOLUTIONS / AID / f"{AID}.ipynb"))["reflect_explain_steps"]
        first_words = " ".join(written.source.split("### BEGIN SOLUTION")[-1].split()[:4])
        assert status == 200 and "reflect_explain_steps" in page.decode() and first_words in page.decode()


def test_an_lms_download_grades_the_same_as_nbgraders_layout(term, tmp_path):
    """A Canvas-style zip of flat files (one of them a re-upload) into a fresh output folder."""
    course = term["course"]
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(course / "submitted" / "bob" / AID / f"{AID}.ipynb", f"doelisa_12345_67890_{AID}.ipynb")
        zf.write(RELEASES / AID / f"{AID}.ipynb", f"doelisa_12345_67891_{AID}-1.ipynb")  # re-upload: empty
        zf.write(course / "submitted" / "alice" / AID / f"{AID}.ipynb", f"smithjo_late_222_333_{AID}.ipynb")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "autograder.grade", str(archive), "--out", str(out)],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "latest upload" in proc.stdout
    g = grades(out)
    assert sorted(g) == [("doelisa", AID), ("smithjo", AID)]
    assert float(g[("smithjo", AID)]["auto_score"]) == float(term["grades"][("alice", AID)]["auto_score"])
    assert float(g[("doelisa", AID)]["auto_score"]) == 0  # the re-upload (-1) is the one graded

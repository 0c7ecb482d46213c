"""The instructor's path, with real nbgrader: `make grade` on the sample submissions."""

from __future__ import annotations

import csv
import shutil
import subprocess
import zipfile

import nbformat
import pytest

from autograder import SOLUTIONS
from autograder.grade import main as grade_main
from autograder.notebooks import graded_cells
from conftest import ASSIGNMENTS, ROOT


def max_points(aid: str) -> float:
    nb = nbformat.read(str(SOLUTIONS / aid / f"{aid}.ipynb"), as_version=4)
    return sum(c.metadata["nbgrader"]["points"] for c in graded_cells(nb).values())


def manual_points(aid: str) -> dict[str, float]:
    """Written answers graded by a person: grade_id -> points."""
    nb = nbformat.read(str(SOLUTIONS / aid / f"{aid}.ipynb"), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"] for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("solution")}


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_solutions_autograde_to_full_marks(aid, sample_grading):
    _, results = sample_grading
    r = results[("perfect", aid)]
    assert r.auto_max == max_points(aid) > 0
    assert r.auto_score == r.auto_max, r.tests
    # The written answers are answered, so they wait for a person; nothing else does.
    assert sorted(r.awaiting) == sorted(manual_points(aid))
    assert r.max_score == r.auto_max + sum(manual_points(aid).values()) and r.score == r.auto_score


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_scores_zero_on_every_test(aid, sample_grading):
    _, results = sample_grading
    r = results[("empty", aid)]
    assert r.score == 0 and r.awaiting == []  # an empty written answer is "No response.", no person needed
    assert set(r.tests) == set(results[("perfect", aid)].tests)
    assert all(score == 0 for score in r.tests.values()), r.tests


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_partial_work_earns_partial_marks(aid, sample_grading):
    _, results = sample_grading
    r = results[("partial", aid)]
    assert 0 < r.auto_score < r.auto_max, r.tests


def test_grades_csv_has_a_row_per_submission_and_a_column_per_test(sample_grading):
    out, results = sample_grading
    with open(out / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(results) == 3 * len(ASSIGNMENTS)
    for row in rows:
        r = results[(row["student"], row["assignment"])]
        assert float(row["score"]) == r.score and float(row["max_score"]) == r.max_score
        for test, score in r.tests.items():
            assert float(row[test]) == score


def test_feedback_html_for_every_submission(sample_grading):
    out, results = sample_grading
    for student, aid in results:
        html = (out / "feedback" / student / f"{aid}.html").read_text()
        assert aid in html
        if student == "empty":
            assert "NotImplementedError" in html


def test_nbgrader_export_written(sample_grading):
    out, results = sample_grading
    with open(out / "nbgrader_export.csv") as f:
        rows = list(csv.DictReader(f))
    scores = {(r["student_id"], r["assignment"]): float(r["score"]) for r in rows}
    assert scores == {k: r.score for k, r in results.items()}


def test_zip_of_submissions_is_graded_the_same(tmp_path, sample_grading):
    """An LMS download is a zip, often with one extra top-level folder."""
    _, results = sample_grading
    aid = ASSIGNMENTS[0]
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        nb = ROOT / "data" / "samples" / "perfect" / aid / f"{aid}.ipynb"
        zf.write(nb, f"download/alice/{aid}/{aid}.ipynb")
    out = tmp_path / "out"
    assert grade_main([str(archive), "--out", str(out)]) == 0
    with open(out / "grades.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert row["student"] == "alice" and float(row["score"]) == results[("perfect", aid)].score


@pytest.mark.parametrize("make_input", ["missing", "not_zip", "bad_zip", "no_layout"])
def test_bad_invocations_fail_clearly_and_write_nothing(tmp_path, make_input, capsys):
    target = tmp_path / "input"
    if make_input == "not_zip":
        target = tmp_path / "grades.txt"
        target.write_text("hello")
    elif make_input == "bad_zip":
        target = tmp_path / "broken.zip"
        target.write_bytes(b"PK\x03\x04 this is not really a zip")
    elif make_input == "no_layout":
        (target / "alice").mkdir(parents=True)
        (target / "alice" / "homework.ipynb").write_text("{}")
    out = tmp_path / "out"
    assert grade_main([str(target), "--out", str(out)]) == 2
    assert "error:" in capsys.readouterr().err
    assert not out.exists()


def test_make_grade_prints_the_table(tmp_path):
    """The README's instructor command, end to end, through make."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    shutil.copytree(ROOT / "data" / "samples" / "perfect", subs / "perfect")
    proc = subprocess.run(["make", "-s", "grade", f"SUBMISSIONS={subs}", f"OUT={out}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for aid in ASSIGNMENTS:
        assert f"perfect  {aid}" in proc.stdout
    assert "grades:" in proc.stdout and (out / "grades.csv").exists()


def test_a_folder_named_like_the_notebook_in_a_zip_is_graded_zero_and_the_batch_goes_on(tmp_path, sample_grading):
    """A zip with a folder where the notebook should be (and an honest student beside it)."""
    _, results = sample_grading
    aid = ASSIGNMENTS[0]
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"mallory/{aid}/{aid}.ipynb/", "")
        zf.writestr(f"mallory/{aid}/{aid}.ipynb/inside.txt", "not a notebook")
        zf.write(ROOT / "data" / "samples" / "perfect" / aid / f"{aid}.ipynb", f"alice/{aid}/{aid}.ipynb")
    out = tmp_path / "out"
    assert grade_main([str(archive), "--out", str(out)]) == 0
    with open(out / "grades.csv") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert float(rows["mallory"]["score"]) == 0
    assert float(rows["alice"]["auto_score"]) == results[("perfect", aid)].auto_score
    assert "is a folder, not a notebook file" in (out / "report.txt").read_text()

"""The class report (what the class got wrong) and the LMS table.

Unit tests on made-up results, then one real class graded by the real grader: the report's
counts must equal what grades.csv says.
"""

from __future__ import annotations

import base64
import csv
import re
import statistics

import nbformat
import pytest

from autograder import RELEASES, SOLUTIONS
from autograder.class_report import NOT_GRADED, class_summary, write_class_report, write_lms_table
from autograder.judge import scrub
from autograder.records import Result, Verdict
from autograder.spec import exercise_modules

A03 = "03_qkv_by_hand"
SDPA = "test_scaled_dot_product_attention"
HINTS_03 = [m.hint for m in exercise_modules()[A03].FUNCTIONS["scaled_dot_product_attention"].mistakes]
BY_D_K = next(h for h in HINTS_03 if h.startswith("you divided the scores by d_k"))
WRONG_AXIS = next(h for h in HINTS_03 if h.startswith("softmax over the wrong axis"))


def _verdict(test: str, points: float, hint: str | None = None, message: str = "") -> Verdict:
    if hint is not None:
        message = f"{test[5:]} on a batch of 2: output is not right. Likely mistake: {hint}"
    passed = not message
    return Verdict(test, points, points if passed else 0.0, passed, "" if passed else "hidden",
                   message, "" if passed else "CheckFailed")


def _result(student: str, verdicts: list[Verdict], aid: str = A03, **kw) -> Result:
    tests = {v.grade_id: v.score for v in verdicts}
    score = kw.pop("score", sum(tests.values()))
    return Result(student, aid, score, kw.pop("max_score", 11.0), tests=tests, verdicts=verdicts, **kw)


def _sdpa(student: str, hint: str | None = None, message: str = "", **kw) -> Result:
    return _result(student, [_verdict("test_softmax", 2), _verdict(SDPA, 3, hint, message)], **kw)


def test_named_mistakes_are_counted_and_said_in_words(tmp_path):
    results = [_sdpa("ann", BY_D_K), _sdpa("bob", BY_D_K), _sdpa("cy", WRONG_AXIS), _sdpa("dee")]
    s = class_summary(results)[A03]
    assert (s["n"], s["failed"], s["other"]) == (4, {"test_softmax": 0, SDPA: 3}, {"test_softmax": 0, SDPA: 0})
    assert s["mistakes"][SDPA] == {BY_D_K: 2, WRONG_AXIS: 1}
    assert s["common"][0] == (2, SDPA, BY_D_K, True)
    write_class_report(results, tmp_path / "r.html")
    page = tmp_path / "r.html"
    text = page.read_text()
    # "you divided the scores by d_k; ..." reads as a sentence about the class
    assert "2 of 4 divided the scores by d_k; divide by sqrt(d_k)." in text
    assert re.search(r"<td>test_softmax</td>.*?0 of 4", text)


def test_a_hint_counts_only_if_it_is_exactly_a_catalogue_hint():
    results = [
        _sdpa("ann", "you used a loop."),  # not in the catalogue
        _sdpa("bob", BY_D_K + " Also check the shapes."),  # more than the hint
        _sdpa("cy", "you divided the scores by sqrt(d_model); divide by sqrt(d_k), the width of the "
                    "queries and keys (W_k.shape[-1])."),  # 04's hint, not 03's
        _sdpa("dee", message="weights of the board work is not what it should be"),  # no hint at all
        _sdpa("eve", BY_D_K),
    ]
    s = class_summary(results)[A03]
    assert s["failed"][SDPA] == 5
    assert s["mistakes"][SDPA] == {BY_D_K: 1}
    assert s["other"][SDPA] == 4
    assert sum(s["unnamed"][SDPA].values()) == 4


def test_a_hint_blanked_by_a_hidden_test_is_still_named():
    # A hidden test's message has its real numbers replaced by "…" ("must sum to 1." -> "…").
    assert scrub(WRONG_AXIS) != WRONG_AXIS
    s = class_summary([_sdpa("ann", scrub(WRONG_AXIS))])[A03]
    assert s["mistakes"][SDPA] == {WRONG_AXIS: 1}


def test_each_student_counts_once_the_last_result_wins():
    twice = _sdpa("ann", BY_D_K)
    twice.verdicts.append(_verdict(SDPA, 3, BY_D_K))  # the same test judged twice in one result
    results = [_sdpa("bob", BY_D_K), _sdpa("bob", BY_D_K), twice,
               _sdpa("cy", BY_D_K), _sdpa("cy")]  # cy was regraded and passed
    s = class_summary(results)[A03]
    assert s["n"] == 3
    assert s["failed"][SDPA] == 2
    assert s["mistakes"][SDPA] == {BY_D_K: 2}


def test_failed_means_below_the_points_and_a_lost_submission_fails_everything():
    partial = _sdpa("ann")
    partial.tests[SDPA] = 1.5  # the gradebook's score decides, as grades.csv shows it
    lost = Result("bob", A03, 0.0, 11.0, tests={"test_softmax": 0.0, SDPA: 0.0},
                  problems=["The grading process died on this submission twice"])
    s = class_summary([partial, lost, _sdpa("cy")])[A03]
    assert s["failed"] == {"test_softmax": 1, SDPA: 2}
    assert s["unnamed"]["test_softmax"] == {NOT_GRADED: 1}
    assert s["with_problems"] == 1


def test_student_data_is_escaped_and_the_page_loads_nothing(tmp_path):
    evil = "<script>alert(1)</script>"
    results = [_sdpa(evil, message="<img src=x onerror=alert(2)> is wrong",
                     problems=["<iframe src='https://evil.example'>"], awaiting=["<b>q1</b>"]),
               _sdpa("ann", BY_D_K)]
    write_class_report(results, tmp_path / "r.html")
    text = (tmp_path / "r.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # the name is shown, as text
    for raw in ("<script", "<img src=x", "<iframe", "<b>q1"):
        assert raw not in text
    # self-contained: the only image is an embedded PNG, and no markup refers to the network
    assert re.findall(r"<img [^>]*src='([^']{0,22})", text) == ["data:image/png;base64,"]
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", text)


def test_medians_histograms_late_and_awaiting_per_assignment_in_lecture_order(tmp_path):
    a01 = "01_embeddings"
    results = [
        _sdpa("ann", score=9.0, late_penalty=1.0, awaiting=["reflect_explain_steps"]),
        _sdpa("bob", BY_D_K, score=2.0, awaiting=["reflect_explain_steps"]),
        _sdpa("cy", BY_D_K, score=5.0),
        _result("ann", [_verdict("test_cosine_similarity", 2)], aid=a01, score=4.0, max_score=4.0),
        _result("bob", [_verdict("test_cosine_similarity", 2, message="wrong")], aid=a01,
                score=1.0, max_score=4.0),
    ]
    summary = class_summary(results)
    assert list(summary) == [a01, A03]
    s1, s3 = summary[a01], summary[A03]
    assert (s3["n"], s3["median"], s3["late"], s3["awaiting"], s3["max_score"]) == (3, 5.0, 1, 2, 11.0)
    assert (s1["n"], s1["median"], s1["late"], s1["awaiting"]) == (2, 2.5, 0, 0)
    write_class_report(results, tmp_path / "r.html")
    text = (tmp_path / "r.html").read_text()
    assert text.index(f"id='a-{a01}'") < text.index(f"id='a-{A03}'")
    pngs = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text)
    assert len(pngs) == 2 and all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert "median 5 of 11 points; 1 late; 2 answer(s) awaiting a person" in text


def test_no_submissions_and_an_assignment_without_verdicts(tmp_path):
    assert class_summary([]) == {}
    write_class_report([], tmp_path / "empty.html")
    assert "No submissions were graded." in (tmp_path / "empty.html").read_text()

    lost = Result("ann", A03, 0.0, 0.0, problems=["crashed"])
    s = class_summary([lost])[A03]
    assert (s["n"], s["median"], s["failed"], s["points"]) == (1, 0.0, {}, {})
    write_class_report([lost], tmp_path / "r.html")
    assert "No autograded test has a verdict" in (tmp_path / "r.html").read_text()


def _rows(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_lms_table_one_row_per_student_with_totals(tmp_path):
    results = [Result("bob", A03, 6.5, 11.0), Result("ann", "01_embeddings", 4.0, 4.0),
               Result("ann", A03, 9.0, 11.0), Result("ann", A03, 10.0, 11.0),  # regraded
               Result("Zoë Ng 12345", "01_embeddings", 0.0, 4.0)]
    write_lms_table(results, tmp_path / "lms.csv")
    assert _rows(tmp_path / "lms.csv") == [
        ["student", "01_embeddings", A03, "total"],
        ["Zoë Ng 12345", "0", "", "0"],  # the id exactly as given
        ["ann", "4", "10", "14"],
        ["bob", "", "6.5", "6.5"],
    ]


def test_lms_table_never_holds_a_formula(tmp_path):
    ids = ["=HYPERLINK(\"http://x\")", "+1+1", "@SUM(A1)", "\tcmd", "-2+3", "plain"]
    write_lms_table([Result(s, A03, 1.0, 11.0) for s in ids], tmp_path / "lms.csv")
    students = [row[0] for row in _rows(tmp_path / "lms.csv")[1:]]
    assert sorted(students) == sorted(["'" + s for s in ids[:-1]] + ["plain"])


# --- a real class, graded by the real grader ------------------------------------------------


def _class(folder) -> dict[str, object]:
    """03's catalogue as a class: two correct answers, every common mistake, one made twice."""
    from catalogue import catalogues
    from test_catalogue import _submission

    cat = catalogues()[A03]
    wrong = {f"bad-{n}": w for n, w in cat.WRONG.items()}
    wrong["bad2-attention_not_scaled"] = cat.WRONG["attention_not_scaled"]
    entries = {f"ok-{v}": cells for v, cells in cat.CORRECT.items()}
    entries.update({s: w.cells for s, w in wrong.items()})
    for student, cells in entries.items():
        path = folder / student / A03 / f"{A03}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(_submission(A03, cells), str(path))
    return wrong


@pytest.mark.slow
def test_real_class_report_counts_equal_the_grades_csv(tmp_path):
    from autograder.grade import grade
    from autograder.instructor import Assignment

    wrong = _class(tmp_path / "class")
    results = grade(tmp_path / "class", tmp_path / "out", only=[A03])
    write_class_report(results, tmp_path / "out" / "class_report.html")
    write_lms_table(results, tmp_path / "out" / "grades_by_student.csv")
    s = class_summary(results)[A03]

    with open(tmp_path / "out" / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    points = {t.grade_id: t.points for t in Assignment.load(A03, SOLUTIONS, RELEASES).tests}
    assert s["points"] == points  # every autograded test, no manually graded answer
    assert s["n"] == len(rows) == 9
    assert s["median"] == statistics.median(float(r["score"]) for r in rows)
    for test, p in points.items():
        assert s["failed"][test] == sum(float(r[test]) < p for r in rows), test
        assert s["failed"][test] == sum(s["mistakes"][test].values()) + s["other"][test]
    assert s["failed"][SDPA] == 4  # two students left out sqrt(d_k), two more mistakes

    # Each mistake is counted under the test it loses, in the words the student was given:
    # its catalogue name where the grader named it ("Likely mistake: ..."), else the words of the
    # check that caught it.
    by_student = {r.student: r for r in results}

    def reason(student: str, test: str) -> str:
        w = wrong[student]
        verdict = next(v for v in by_student[student].verdicts if v.grade_id == test)
        named = re.search(r"Likely mistake: (.+)", verdict.message, re.S)
        if named and named.group(1).strip() in s["mistakes"][test]:
            return named.group(1).strip()
        said = {**s["mistakes"][test], **s["unnamed"][test]}
        return next(text for text in said if w.says in text)

    for student, w in wrong.items():
        for test in w.loses:
            text = reason(student, test)
            assert {**s["mistakes"][test], **s["unnamed"][test]}[text] >= 1, (student, test, text)
    # The mistake two students made (not scaling) is counted twice, under one reason.
    text = reason("bad-attention_not_scaled", SDPA)
    assert {**s["mistakes"][SDPA], **s["unnamed"][SDPA]}[text] == 2, text

    page = (tmp_path / "out" / "class_report.html").read_text()
    for test, p in points.items():
        assert f"<td>{test}</td><td class='num'>{p:g}</td><td class='num'>{s['failed'][test]} of 9</td>" in page
    with open(tmp_path / "out" / "grades_by_student.csv", newline="") as f:
        lms = {row["student"]: row for row in csv.DictReader(f)}
    assert {st: float(row[A03]) for st, row in lms.items()} == {r["student"]: float(r["score"]) for r in rows}

"""Common mistakes lose points and are named; correct answers written any way get full marks.

Every entry of tests/catalogue/ becomes one student's submission (the solution
with that entry's cells swapped in), and each assignment's class is graded in one run
of the real autograder (python -m autograder.grade: sandboxed kernels, nbgrader gradebook).
"""

from __future__ import annotations

import html
import re

import nbformat
import pytest

from autograder.grade import grade
from catalogue import catalogues
from conftest import submission_with

CATALOGUES = catalogues()


def _submission(aid: str, cells: dict[str, str]):
    return submission_with(aid, **{gid: source.strip() for gid, source in cells.items()})


_graded: dict = {}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """graded(aid) -> (out folder, results): one real grading run per assignment's class."""
    def get(aid: str):
        if aid not in _graded:
            cat = CATALOGUES[aid]
            subs = tmp_path_factory.mktemp(f"catalogue-{aid}")
            entries = {f"ok-{v}": cells for v, cells in cat.CORRECT.items()}
            entries.update({f"bad-{n}": w.cells for n, w in cat.WRONG.items()})
            for student, cells in entries.items():
                path = subs / "class" / student / aid / f"{aid}.ipynb"
                path.parent.mkdir(parents=True)
                nbformat.write(_submission(aid, cells), str(path))
            results = grade(subs / "class", subs / "out")
            _graded[aid] = subs / "out", {(r.student, r.assignment): r for r in results}
        return _graded[aid]
    return get


CORRECT = [(aid, v) for aid, c in CATALOGUES.items() for v in c.CORRECT]
WRONG = [(aid, n) for aid, c in CATALOGUES.items() for n in c.WRONG]


def test_every_assignment_has_a_catalogue():
    from autograder import assignments

    assert sorted(CATALOGUES) == assignments()
    for cat in CATALOGUES.values():
        assert cat.CORRECT and cat.WRONG


@pytest.mark.parametrize("aid,variant", CORRECT)
def test_correct_answer_written_differently_gets_full_marks(aid, variant, graded):
    out, results = graded(aid)
    r = results[(f"ok-{variant}", aid)]
    assert r.auto_score == r.auto_max, r.tests
    autograded = nbformat.read(str(out / "course" / "autograded" / f"ok-{variant}" / aid / f"{aid}.ipynb"),
                               as_version=4)
    problems = [(o.get("ename"), o.get("name")) for c in autograded.cells for o in c.get("outputs", [])
                if o.output_type == "error" or o.get("name") == "stderr"]
    assert problems == []


@pytest.mark.parametrize("aid,name", WRONG)
def test_common_mistake_loses_points_and_is_named(aid, name, graded):
    out, results = graded(aid)
    wrong = CATALOGUES[aid].WRONG[name]
    r = results[(f"bad-{name}", aid)]
    assert r.auto_score < r.auto_max
    for test in wrong.loses:
        assert r.tests[test] == 0, f"{test} did not catch {name}"
    feedback = (out / "feedback" / f"bad-{name}" / f"{aid}.html").read_text()
    # Only the words of the verdicts count: not a traceback, which quotes the student's code.
    words = html.unescape(re.sub(r"<details>.*?</details>", "", feedback, flags=re.S))
    assert wrong.says in words, f"feedback does not say {wrong.says!r}"

"""The adversarial corpus: crashes, floods, tampering and broken files, graded in ONE batch with
honest submissions through the real grading command.

Each cheat is the perfect solution with one thing changed, so we know exactly which tests it
may still earn. For every entry: it is graded, the tests its change should cost are 0, nothing
else is lost where it can still run, the report says something in words, and the honest
submissions graded alongside keep exactly the scores they get when graded alone.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sqlite3

import nbformat
import pytest

from autograder.grade import main as grade_main
from autograder.notebooks import read
from autograder.sandbox import bwrap_works
from conftest import ROOT, perfect_submission, submission_with

Q = "03_qkv_by_hand"
E = "01_embeddings"
SAMPLES = ROOT / "data" / "samples"
TIMEOUT = "3"

WRONG_SOFTMAX = "def softmax(x, axis=-1):\n    return np.asarray(x, dtype=float)\n"


def _tests(nb):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
            and not c.metadata["nbgrader"].get("solution")]


def edited_tests():
    nb = submission_with(Q, softmax=WRONG_SOFTMAX)
    for c in _tests(nb):
        c.source = "pass"
        c.metadata["nbgrader"]["points"] = 100
    return nb


def deleted_tests():
    nb = submission_with(Q, softmax=WRONG_SOFTMAX)
    nb.cells = [c for c in nb.cells if c not in _tests(nb)]
    for c in nb.cells:  # and strip every other cell's nbgrader metadata but the answers'
        if not c.metadata.get("nbgrader", {}).get("solution"):
            c.metadata.pop("nbgrader", None)
    return nb


def deleted_cell():
    nb = perfect_submission(Q)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "softmax"]
    return nb


def duplicated_cell():
    nb = perfect_submission(Q)
    i = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "step1_scores")
    copy = nbformat.from_dict(nb.cells[i])
    copy.source = "scores = K @ q * 0  # a later, wrong copy"
    nb.cells.insert(i + 1, copy)
    return nb


READ_REFERENCE = f'''
import numpy as np

def softmax(x, axis=-1):
    for path in ["{ROOT}/data/reference/{Q}.npz", "../../data/reference/{Q}.npz",
                 "{ROOT}/solutions/{Q}/{Q}.ipynb"]:
        try:
            ref = np.load(path)
        except Exception:
            continue
        for key in ref.files:
            if key.endswith("/arg/0") and ref[key].shape == np.shape(x) and np.allclose(ref[key], x):
                return ref[key.replace("/arg/", "/out/")]
    return np.asarray(x, dtype=float)
'''

# name -> (assignment, notebook or bytes or (filename, notebook), tests that must score 0,
#          tests that must keep full marks (None: all the others), words the report must use)
CORPUS = {
    "loop_in_function": (Q, submission_with(Q, softmax="def softmax(x, axis=-1):\n    while True:\n        pass"),
                         ["test_softmax", "test_scaled_dot_product_attention"], None, "time limit"),
    "loop_at_top_level": (Q, submission_with(Q, step1_scores="while True:\n    pass\nscores = K @ q"),
                          ["test_step1_scores", "test_step2_scale", "test_step3_softmax",
                           "test_step4_context"], None, "did not finish"),
    "os_exit": (Q, submission_with(Q, softmax="import os\nos._exit(1)"),
                ["test_softmax", "test_scaled_dot_product_attention"], None, "crashed the Python kernel"),
    "segfault": (Q, submission_with(Q, scaled_dot_product_attention="import ctypes\nctypes.string_at(0)"),
                 ["test_scaled_dot_product_attention"], None, "crashed the Python kernel"),
    "memory_bomb": (Q, submission_with(Q, softmax="def softmax(x, axis=-1):\n    hog = bytearray(64 * 2**30)\n"
                                            "    return x"),
                    ["test_softmax", "test_scaled_dot_product_attention"], None, "MemoryError"),
    "output_flood": (Q, submission_with(Q, step1_scores="for i in range(100000):\n    print('spam' * 40)\n"
                                                   "scores = K @ q"), [], None, "cut off"),
    "sys_exit": (Q, submission_with(Q, step2_scale="import sys\nsys.exit()"),
                 ["test_step2_scale", "test_step3_softmax", "test_step4_context"], None, "SystemExit"),
    "deleted_cell": (Q, deleted_cell(), ["test_softmax", "test_scaled_dot_product_attention"], None,
                     "missing"),
    "duplicated_cell": (Q, duplicated_cell(), [], None, "more than once"),
    "corrupted_file": (Q, nbformat.writes(perfect_submission(Q))[:5000].encode(), "all", [], "not readable JSON"),
    "not_json": (Q, b"%PDF-1.4\x00\x01 binary junk", "all", [], "not readable JSON"),
    "wrong_name": (Q, (f"{Q} (1).ipynb", perfect_submission(Q)), [], None, "instead of"),
    "patch_numpy": (Q, submission_with(Q, softmax="import numpy as np\nnp.allclose = lambda *a, **k: True\n"
                                             "np.isfinite = lambda x: np.ones(np.shape(x), bool)\n"
                                             "np.testing.assert_allclose = lambda *a, **k: None\n" + WRONG_SOFTMAX),
                    ["test_softmax", "test_scaled_dot_product_attention"], None, "numpy"),
    "patch_builtins": (Q, submission_with(Q, softmax="import builtins\nbuiltins.AssertionError = KeyboardInterrupt\n"
                                                "builtins.isinstance = lambda *a: True\n"
                                                "builtins.print = lambda *a, **k: None\n" + WRONG_SOFTMAX),
                       ["test_softmax", "test_scaled_dot_product_attention"], None, "builtins"),
    "patch_assertionerror": (Q, submission_with(Q, softmax="AssertionError = SystemExit\n"
                                                      "class CheckFailed(Exception): pass\n" + WRONG_SOFTMAX),
                             ["test_softmax", "test_scaled_dot_product_attention"], None, "AssertionError"),
    "patch_checks": (Q, submission_with(Q, softmax="import attnlab.checks as c\n"
                                              "for n in ['check_close', 'check_reference', 'check_shape', "
                                              "'check_rows_sum_to_one', '_fail', 'call']:\n"
                                              "    setattr(c, n, lambda *a, **k: None)\n"
                                              "check_close = check_reference = check_shape = "
                                              "check_rows_sum_to_one = call = lambda *a, **k: None\n"
                                              + WRONG_SOFTMAX),
                     ["test_softmax", "test_scaled_dot_product_attention"], None, "checks"),
    "patch_ipython": (Q, submission_with(Q, softmax="ip = get_ipython()\n"
                                               "ip.set_custom_exc((BaseException,), lambda *a, **k: None)\n"
                                               "ip.showtraceback = lambda *a, **k: None\n" + WRONG_SOFTMAX),
                      ["test_softmax", "test_scaled_dot_product_attention"], None, "IPython"),
    "edited_test_cells": (Q, edited_tests(), ["test_softmax", "test_scaled_dot_product_attention"], None,
                          "Test cells edited"),
    "deleted_test_cells": (Q, deleted_tests(), ["test_softmax", "test_scaled_dot_product_attention"], None,
                           "Test cells deleted"),
    "reads_reference": (Q, submission_with(Q, softmax=READ_REFERENCE),
                        ["test_softmax", "test_scaled_dot_product_attention"], None, "reference"),
    "writes_other_student": (Q, submission_with(Q, step1_scores=(
        "import glob, os\nfor p in glob.glob('../../*/*/*.ipynb') + glob.glob('../../../*/*/*.ipynb') + "
        "glob.glob('/tmp/*/*/*/*/*.ipynb') + glob.glob('/tmp/*/*/*/*/*/*.ipynb'):\n"
        "    try:\n        open(p, 'w').write('{}')\n    except Exception:\n        pass\n"
        "scores = K @ q")), [], None, "reads or writes files"),
    "patch_numpy_01": (E, submission_with(E, cosine_similarity=(
        "import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
        "def cosine_similarity(a, b):\n    return float(np.dot(a, b))")), ["test_cosine_similarity"], None,
        "numpy"),
}

HONEST = [("perfect", Q), ("partial", Q), ("empty", Q), ("perfect", E), ("partial", E)]


def _write(folder, student, aid, content):
    d = folder / student / aid
    d.mkdir(parents=True)
    if isinstance(content, bytes):
        (d / f"{aid}.ipynb").write_bytes(content)
    elif isinstance(content, tuple):
        nbformat.write(content[1], str(d / content[0]))
    else:
        nbformat.write(content, str(d / f"{aid}.ipynb"))


def _honest(folder):
    for student, aid in HONEST:
        _write(folder, f"honest_{student}", aid, read(SAMPLES / student / aid / f"{aid}.ipynb"))


def _grades(out):
    with open(out / "grades.csv") as f:
        return {(r["student"], r["assignment"]): r for r in csv.DictReader(f)}


def _hashes(folder) -> dict:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.ipynb"))}


# Without the sandbox this one would really overwrite notebooks it can reach (the samples of a
# course cloned under /tmp, say): run it only where the grader isolates kernels.
NEEDS_SANDBOX = {"writes_other_student"}
if not bwrap_works()[0]:
    CORPUS = {k: v for k, v in CORPUS.items() if k not in NEEDS_SANDBOX}


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
    base = tmp_path_factory.mktemp("corpus")
    alone, mixed = base / "alone", base / "mixed"
    _honest(alone)
    _honest(mixed)
    for name, (aid, content, *_ ) in CORPUS.items():
        _write(mixed, name, aid, content)
    before = {**_hashes(mixed), **_hashes(SAMPLES)}
    assert grade_main([str(alone), "--out", str(base / "out-alone"), "--timeout", TIMEOUT]) == 0
    assert grade_main([str(mixed), "--out", str(base / "out-mixed"), "--timeout", TIMEOUT,
                       "--memory-mb", "3072"]) == 0
    untouched.update(before=before, after={**_hashes(mixed), **_hashes(SAMPLES)})
    return base, _grades(base / "out-alone"), _grades(base / "out-mixed")


untouched: dict = {}


def test_no_submission_changed_any_notebook_on_disk(batches):
    """Other students' submissions and the course's own samples are exactly as they were."""
    changed = [str(p) for p, h in untouched["before"].items() if untouched["after"].get(p) != h]
    assert changed == []


@pytest.mark.parametrize("name", list(CORPUS))
def test_each_case_is_graded_reported_and_earns_nothing_it_did_not_earn(name, batches):
    base, _, mixed = batches
    aid, _, zero, full, words = CORPUS[name]
    row = mixed[(name, aid)]
    tests = {k: float(v) for k, v in row.items() if k.startswith("test_") and v != ""}
    max_points = {v["grade_id"]: v["points"] for v in
                  json.loads((base / "out-mixed" / ".results" / "honest_perfect" / f"{aid}.json").read_text())["verdicts"]}
    zero = list(max_points) if zero == "all" else zero
    for t in zero:
        assert tests[t] == 0, f"{name} earned {t}"
    keep = [t for t in max_points if t not in zero] if full is None else full
    for t in keep:
        assert tests[t] == max_points[t], f"{name} lost {t}, which it answered honestly"
    assert float(row["score"]) == sum(tests.values())
    report = (base / "out-mixed" / "report.txt").read_text()
    section = report.split(f"{name} / {aid}:", 1)
    assert len(section) == 2, f"{name} is not in the report"
    assert words in section[1].split("\n\n", 1)[0], f"the report does not say {words!r} for {name}"
    feedback = (base / "out-mixed" / "feedback" / name / f"{aid}.html").read_text()
    assert aid in feedback


def test_honest_submissions_keep_their_exact_scores(batches):
    _, alone, mixed = batches
    assert alone and all(mixed[k] == alone[k] for k in alone), \
        {k: (alone[k]["score"], mixed[k]["score"]) for k in alone if mixed[k] != alone[k]}
    assert float(alone[("honest_perfect", Q)]["auto_score"]) == float(alone[("honest_perfect", Q)]["auto_max"])


def test_gradebook_and_export_agree_with_the_csv(batches):
    base, _, mixed = batches
    out = base / "out-mixed"
    with open(out / "nbgrader_export.csv") as f:
        export = {(r["student_id"], r["assignment"]): float(r["score"]) for r in csv.DictReader(f)}
    # nbgrader exports every student x every assignment; those who did not submit one score 0.
    assert {k: v for k, v in export.items() if k in mixed} == {k: float(r["score"]) for k, r in mixed.items()}
    assert set(mixed) <= set(export) and all(v == 0 for k, v in export.items() if k not in mixed)
    db = sqlite3.connect(out / "course" / "gradebook.db")
    (n_sub,) = db.execute("select count(*) from submitted_assignment").fetchone()
    assert n_sub == len(mixed) == len(CORPUS) + len(HONEST)
    # Grading again changes nothing and adds nothing.
    assert grade_main([str(base / "mixed"), "--out", str(out), "--timeout", TIMEOUT,
                       "--memory-mb", "3072"]) == 0
    assert _grades(out) == mixed
    (n_again,) = sqlite3.connect(out / "course" / "gradebook.db").execute(
        "select count(*) from submitted_assignment").fetchone()
    assert n_again == n_sub


def test_hidden_tests_are_named_without_their_code_or_expected_values(batches):
    base, _, _ = batches
    html = (base / "out-mixed" / "feedback" / "patch_checks" / f"{Q}.html").read_text()
    assert "test_softmax" in html and "failed" in html
    assert "check_reference" not in html and "BEGIN HIDDEN" not in html

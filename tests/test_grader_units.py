"""The grading core, one stage at a time, on tiny inputs (as nbgrader tests its preprocessors).

Each test feeds one stage what a hostile or broken submission could give it and checks what
comes out: nothing unbounded is read, nothing active is kept, nothing hidden is told.
"""

from __future__ import annotations

import json
import os

import nbformat
import numpy as np
import pytest

from autograder import autograded, intake
from autograder.judge import HIDDEN_TEXT, Judgement, Pending, Proxy, rebuild_exception, run_test, scrub
from autograder.report import plain
from autograder.sandbox import ERROR_CAP, OUTPUT_CAP, cap_output
from autograder.spec import exercise_modules
from autograder.variants import variant_cases
from autograder.wire import Limits, Opaque, Reader, encode


# --- wire: reading what the kernel wrote ------------------------------------------------------


@pytest.fixture
def out(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    return d


def test_values_round_trip_through_files(out):
    value = {"a": [np.arange(3.0), (1, "x")], "b": np.float32(2.5), "c": None}
    desc = encode(value, out, "v", [0])
    reader = Reader(out)
    back = reader.decode(json.loads(json.dumps(desc)))
    np.testing.assert_array_equal(back["a"][0], np.arange(3.0))
    assert back["a"][1] == (1, "x") and back["b"] == np.float32(2.5) and back["c"] is None


@pytest.mark.parametrize("plant", ["symlink", "fifo", "directory", "slash"])
def test_reader_refuses_anything_but_a_plain_file_in_its_folder(out, tmp_path, plant):
    secret = tmp_path / "secret.npy"
    np.save(secret, np.arange(5.0))
    name = "x.npy"
    if plant == "symlink":
        os.symlink(secret, out / name)
    elif plant == "fifo":
        os.mkfifo(out / name)  # opening it blocking would hang the grader
    elif plant == "directory":
        (out / name).mkdir()
    else:
        name = "../secret.npy"
    value = Reader(out).decode({"t": "nd", "f": name})
    assert isinstance(value, Opaque)


def test_reader_keeps_reading_the_folder_it_opened_even_if_it_is_swapped(out, tmp_path):
    np.save(out / "mine.npy", np.ones(2))
    reader = Reader(out)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    np.save(elsewhere / "mine.npy", np.full(2, 7.0))
    out.rename(tmp_path / "moved")
    os.symlink(elsewhere, out)  # the kernel swaps its folder for a link to another student's
    np.testing.assert_array_equal(reader.decode({"t": "nd", "f": "mine.npy"}), np.ones(2))


def test_a_small_reply_naming_one_big_array_many_times_is_refused_early(out):
    np.save(out / "big.npy", np.zeros(2**20))  # 8 MB
    limits = Limits(reply_array_bytes=32 * 2**20)
    reply = {"t": "list", "v": [{"t": "nd", "f": "big.npy"}] * 400}
    reader = Reader(out, limits)
    value = reader.decode(reply)
    assert isinstance(value, Opaque) and value.over_limit and "limits" in value.what
    assert reader.bytes_read <= limits.reply_array_bytes + 8 * 2**20


@pytest.mark.parametrize("reply,why", [
    ({"t": "py", "v": "x" * 20_000}, "string"),
    ({"t": "list", "v": [{"t": "py", "v": 1}] * 200_000}, "items"),
    (json.loads('{"t": "list", "v": [' * 50 + ']}' * 50), "nested"),
])
def test_replies_over_a_bound_read_as_opaque(out, reply, why):
    value = Reader(out).decode(reply)
    assert isinstance(value, Opaque) and value.over_limit and "limits" in value.what, why


def test_oversized_json_is_not_read(out):
    (out / "result_x.json").write_text(json.dumps({"status": "ok", "pad": "x" * (3 * 2**20)}))
    assert Reader(out).json("result_x.json") is None
    (out / "result_y.json").write_text(json.dumps({"status": "ok"}))
    assert Reader(out).json("result_y.json") == {"status": "ok"}


# --- intake --------------------------------------------------------------------------------


def test_a_folder_or_link_named_like_a_notebook_is_a_problem_not_a_crash(tmp_path):
    (tmp_path / "a.ipynb").mkdir()
    os.symlink("/etc/passwd", tmp_path / "b.ipynb")
    assert "folder" in intake.notebook_file_problem(tmp_path / "a.ipynb")
    assert "link" in intake.notebook_file_problem(tmp_path / "b.ipynb")
    nb, problems = intake.load_notebook(tmp_path / "a.ipynb", "a")
    assert nb is None and "Graded as unanswered" in problems[0]


def test_nbformat_3_is_upgraded_with_its_answers(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "def f():\n    return 1", metadata={"nbgrader": {"grade_id": "f", "solution": True}})])
    path = tmp_path / "old.ipynb"
    path.write_text(nbformat.writes(nbformat.convert(nb, 3), version=3))
    assert json.loads(path.read_text())["nbformat"] == 3
    loaded, problems = intake.load_notebook(path, "old")
    answers, more = intake.read_answers(loaded, ["f"])
    assert problems == [] and more == [] and answers == {"f": "def f():\n    return 1"}


def test_an_answer_too_long_to_run_is_said_and_not_run():
    nb = {"cells": [{"cell_type": "code", "source": "x = 1\n" + "#" * 100_000,
                     "metadata": {"nbgrader": {"grade_id": "f"}}}]}
    answers, problems = intake.read_answers(nb, ["f"])
    assert answers == {} and "over 64,000 characters" in problems[0]


def test_the_suspicious_code_scan_cannot_backtrack_over_a_whole_cell():
    import re
    import threading

    for pattern, _ in intake.SUSPICIOUS:
        # Only bounded repetitions ({0,k}): no *, + or {n,} that could rescan the rest of a cell
        # from every position (120 KB of "np.np.np..." cost 45 s with one, 1 MB an hour).
        body = re.sub(r"\\.", "", pattern)
        assert not re.search(r"[*+]|\{\d*,\}", body), pattern
    src = {"cell": "x = 1  # " + "np." * 350_000}  # a megabyte
    done = threading.Event()
    threading.Thread(target=lambda: (intake.suspicious(src), done.set()), daemon=True).start()
    assert done.wait(120), "scanning a megabyte took more than two minutes"
    assert intake.suspicious({"c": "np.mean = lambda *a: 0"}) and intake.suspicious({"c": "import os"})


# --- judging: hidden stays hidden ----------------------------------------------------------


def test_scrub_removes_every_expected_value():
    msg = ("softmax on a (3, 4) batch: probabilities is not what it should be at index (1, 2): "
           "got 0.2, expected 0.75 (tolerance rtol=1e-10, atol=1e-12).")
    clean = scrub(msg)
    assert "0.75" not in clean and ".75" not in clean and "0.2" not in clean
    assert "(3, 4)" in clean and "index (1, 2)" in clean
    assert scrub("rows sum to 0.999 instead") == "rows sum to … instead"


def test_an_exception_from_a_hidden_input_keeps_neither_its_text_nor_its_own_class():
    info = {"name": "LeakError_1p5", "mro": ["LeakError_1p5", "ValueError", "Exception"],
            "msg": "inputs were [1.5, 2.5]", "tb": "Traceback...\nLeakError_1p5: inputs were [1.5, 2.5]"}
    hidden = rebuild_exception(info, hide=True)
    assert type(hidden) is ValueError and str(hidden) == HIDDEN_TEXT and hidden.__grader_tb__ == ""
    shown = rebuild_exception(info)
    assert "1.5" in str(shown) and type(shown).__name__ == "LeakError_1p5"


def test_a_call_asked_for_by_an_earlier_test_still_counts_as_missing_for_a_later_one():
    from autograder.instructor import TestCell

    class Ctx:
        snapshots = {0: {}, 1: {}}

        def namespace(self, index, used):
            return {}

    judge = Judgement(timeout=5)
    f = Proxy("f", "0", None, judge)
    first = TestCell(0, "test_a", 1, "f(1)", ["f"], {"f"})
    second = TestCell(1, "test_b", 1, "f(1)", ["f"], {"f"})
    for test in (first, second):
        with pytest.raises(Pending):
            run_test(test, Ctx(), {"f": f}, judge, None)
        assert len(judge.requested) == 1 and not (judge.requested & set(judge.results))


# --- fresh inputs --------------------------------------------------------------------------


def test_integer_functions_get_fresh_integer_inputs():
    fns = exercise_modules()["06_masking"].FUNCTIONS
    pad = variant_cases(fns["padding_mask"], 7)
    assert len(pad) == len(fns["padding_mask"].cases)
    for fresh, case in zip(pad, fns["padding_mask"].cases):
        lengths = np.asarray(fresh.args[0])
        assert lengths.shape == np.asarray(case.args[0]).shape
        assert 0 <= lengths.min() and lengths.max() <= fresh.kwargs["max_len"]
    assert any(not np.array_equal(np.asarray(f.args[0]), np.asarray(c.args[0]))
               for f, c in zip(pad, fns["padding_mask"].cases))
    causal = variant_cases(fns["causal_mask"], 7)
    assert {c.kwargs["n"] for c in causal} != {c.kwargs["n"] for c in fns["causal_mask"].cases}


# --- what reaches the instructor ---------------------------------------------------------------


def test_student_html_is_inert_in_the_autograded_notebook():
    md = autograded.safe_markdown('Hi <script>alert(1)</script> [x](javascript:alert(2)) $a<b$ **bold**')
    assert "<script" not in md and "javascript:" not in md and "**bold**" in md
    outs = autograded.safe_outputs([
        {"output_type": "display_data", "data": {"text/html": "<script>alert(3)</script>",
                                                 "text/plain": "plain"}},
        {"output_type": "display_data", "data": {"image/svg+xml": "<svg onload=alert(4)>"}},
        {"output_type": "stream", "name": "stdout", "text": "ok\x1b[2K"}])
    assert outs[0]["data"] == {"text/plain": "plain"}
    assert "svg" not in json.dumps(outs[1]) and outs[2]["text"] == "ok[2K"


@pytest.mark.parametrize("msg_type,content", [
    ("display_data", {"data": {"text/plain": "x" * 10**6}, "metadata": {}}),
    ("execute_result", {"data": {"text/html": "y" * 10**6}, "metadata": {}}),
    ("stream", {"name": "stdout", "text": "z" * 10**6}),
    ("error", {"ename": "E" * 1000, "evalue": "v" * 10**6, "traceback": ["t" * 1000] * 1000}),
])
def test_every_kind_of_output_is_capped(msg_type, content):
    capped, cut = cap_output(msg_type, content, OUTPUT_CAP)
    assert cut and len(json.dumps(capped)) < OUTPUT_CAP + 2 * ERROR_CAP


def test_report_lines_carry_no_terminal_codes_or_forged_lines():
    line = plain("oops\x1b[2K\r\nalice / 03_qkv_by_hand: 9 / 9\u202e")
    assert "\x1b" not in line and "\n" not in line and "\r" not in line and "\u202e" not in line
    assert "\\x1b" in line

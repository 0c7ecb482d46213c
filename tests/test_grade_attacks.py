"""The grader's trust boundary, attacked: one hostile submission per known hole, graded in ONE
batch beside honest students, through the real grading command.

For the whole batch: nothing outside the sandbox changes (a canary file, the virtual
environment's start-up files, the course itself), the batch finishes, the honest students get
exactly the scores they get when graded alone, and report.txt and every HTML page hold no raw
control character and no student script. For each attacker: the tests it should lose are lost,
and the report says what happened, in words.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from autograder import RELEASES, SOLUTIONS
from autograder.grade import main as grade_main
from autograder.instructor import Assignment, Context
from autograder.notebooks import read
from autograder.sandbox import Box, BoxLimits, bwrap_works
from conftest import ROOT, perfect_submission, submission_with

Q, M = "03_qkv_by_hand", "06_masking"
SAMPLES = ROOT / "data" / "samples"
TIMEOUT, MEMORY_MB = 10, 1536
SITE = Path(np.__file__).resolve().parent.parent
XSS = '<script>alert("attnlab-xss")</script>'
SOFTMAX = "import numpy as np\n\ndef softmax(x, axis=-1):\n    x = np.asarray(x)\n" \
          "    e = np.exp(x - x.max(axis=axis, keepdims=True))\n    return e / e.sum(axis=axis, keepdims=True)\n"


def step1(code: str) -> str:
    return code + "\nscores = K @ q\n"


def _lookup_table_padding_mask() -> str:
    """A padding_mask that knows the answer to every input the test cell and the reference
    cases use (they are public), and is wrong on anything else."""
    a = Assignment.load(M, SOLUTIONS, RELEASES)
    ctx = Context(a, SOLUTIONS / M)
    real, table = ctx.solution_ns["padding_mask"], {}

    def record(lengths, max_len):
        out = real(lengths, max_len)
        table[(tuple(int(v) for v in np.ravel(lengths)), int(max_len))] = np.asarray(out).tolist()
        return out
    record.__name__ = "padding_mask"  # check_reference() names the function it checks
    for test in a.tests:  # every test cell that calls it, visible and hidden parts
        if "padding_mask" in test.student_names:
            ns = ctx.namespace(test.index, test.used)
            ns["padding_mask"] = record
            exec(compile(test.source, "<record>", "exec"), ns)
    return (f"import numpy as np\n_TABLE = {table!r}\n\ndef padding_mask(lengths, max_len):\n"
            "    key = (tuple(int(v) for v in np.ravel(lengths)), int(max_len))\n"
            "    if key in _TABLE:\n        return np.array(_TABLE[key], dtype=bool)\n"
            "    return np.ones((len(np.ravel(lengths)), int(max_len)), dtype=bool)\n"), table


def attackers(canary: Path) -> dict:
    """name -> (assignment, notebook | bytes | 'folder', tests that must score 0, words in the report)."""
    pth = SITE / "attnlab_pwned.pth"
    escape = f'''
import os, pathlib
def softmax(x, axis=-1):
    here = pathlib.Path.cwd()
    box = here.parent.parent
    names = ["kernel.log", "kernel.json", "capture_5.json"] + [p.name.replace("call_", "result_")
                                                           for p in (box / "calls").glob("call_*.json")]
    for d in [here, here.parent / "out", here.parent / "sock", here.parent / "home", box / "calls"]:
        for name in names:
            for target in [{str(canary)!r}, {str(pth)!r}]:
                try:
                    os.symlink(target, d / name)
                except Exception:
                    pass
    for target in [{str(canary)!r}, {str(pth)!r}, str(box / "grader" / "kernel.log")]:
        try:
            open(target, "a").write("import os; os.system('touch /tmp/attnlab-pwned')\\n")
        except Exception:
            pass
    os._exit(1)
'''
    reply_bomb = SOFTMAX + '''
import json as _json, pathlib as _pl
def __grader_call(calls, out, cid, ns):  # the kernel may replace the grader's code: it is only a courier
    out = _pl.Path(out)
    np.save(out / "big.npy", np.zeros(8 * 2**20))  # 64 MB, named 400 times in a 10 KB reply
    reply = {"status": "ok", "value": {"t": "list", "v": [{"t": "nd", "f": "big.npy"}] * 400}}
    (out / f"result_{cid}.json").write_text(_json.dumps(reply))
'''
    children = step1('''
import subprocess, sys, time
kids = [subprocess.Popen([sys.executable, "-c", "import numpy as np, time; a = np.ones(2**27); time.sleep(3)"])
        for _ in range(5)]  # 5 x 1 GB, under a 1.5 GB cap for the whole box
time.sleep(4)''')
    flood = '''
import os
written = 0
try:
    with open(os.path.join({where}, "flood.bin"), "wb") as f:
        for _ in range(32):
            f.write(b"x" * 64 * 2**20)
            written += 64 * 2**20
except OSError:
    pass
print("WROTE", written // 2**20, "MB")'''
    fork = step1('''
import subprocess
started = []
try:
    for _ in range(100):
        started.append(subprocess.Popen(["sleep", "20"]))
except OSError:
    pass
print("STARTED", len(started))
for p in started:
    p.kill()''')
    hog = submission_with(Q, step1_scores=step1('''
import subprocess, sys
spinners = []
for _ in range(12):
    try:
        spinners.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
    except OSError:
        break'''), step2_scale="import time\ntime.sleep(8)\nscaled_scores = scores / np.sqrt(d_k)")
    hidden_raise = SOFTMAX.replace("    x = np.asarray(x)\n", "    x = np.asarray(x)\n    if x.ndim >= 3:\n"
                                   "        raise ValueError('the hidden input: ' + repr(x.tolist()))\n")
    hidden_wrong = SOFTMAX.replace("    x = np.asarray(x)\n", "    x = np.asarray(x)\n    if x.ndim >= 3:\n"
                                   "        return np.full(x.shape, 0.123456)\n")
    lookup, _ = _lookup_table_padding_mask()
    old = json.loads(nbformat.writes(nbformat.convert(perfect_submission(Q), 3), version=3))
    html = submission_with(Q, step1_scores=step1(f"from IPython.display import HTML, display\ndisplay(HTML({XSS!r}))"))
    html.cells.insert(1, nbformat.v4.new_markdown_cell(f"My notes {XSS} [x](javascript:alert(1))"))
    return {
        "escape_symlinks": (Q, submission_with(Q, softmax=escape), ["test_softmax", "test_scaled_dot_product_attention"],
                            "crashed the Python kernel"),
        "reply_bomb": (Q, submission_with(Q, softmax=reply_bomb), ["test_softmax", "test_scaled_dot_product_attention"],
                       "limits"),
        "regex_stall": (Q, submission_with(Q, softmax=SOFTMAX + "# " + "np." * 20_000), [], None),
        "huge_answer": (Q, submission_with(Q, softmax=SOFTMAX + "# " + "np." * 350_000),
                        ["test_softmax", "test_scaled_dot_product_attention"], "over 64,000 characters"),
        "memory_children": (Q, submission_with(Q, step1_scores=children), None, "imports a system module"),
        "tmp_flood": (Q, submission_with(Q, step1_scores=step1(flood.format(where='"/tmp"'))), [], "reads or writes files"),
        # It fills the scratch space its own results go to: it loses them, and is told why.
        "scratch_flood": (Q, submission_with(Q, step1_scores=step1(flood.format(where='"."'))), None, "scratch space"),
        "fork_many": (Q, submission_with(Q, step1_scores=fork), [], "imports a system module"),
        "cpu_hog": (Q, hog, [], "imports a system module"),
        "display_flood": (Q, submission_with(Q, step1_scores=step1(
            "from IPython.display import display\ndisplay({'text/plain': 'x' * 150_000_000}, raw=True)")),
            [], "cut off"),
        "error_flood": (Q, submission_with(Q, step2_scale="raise ValueError('y' * 150_000_000)"),
                        ["test_step2_scale", "test_step3_softmax", "test_step4_context"], "step2_scale"),
        "folder_notebook": (Q, "folder", "all", "is a folder"),
        "html_injection": (Q, html, [], "IPython"),
        "terminal_escapes": (Q, submission_with(Q, step2_scale=(
            "raise ValueError('\\x1b[2K\\r\\nhonest_perfect / 03_qkv_by_hand: 9 / 9\\n\\x1b]0;pwned\\x07')")),
            ["test_step2_scale", "test_step3_softmax", "test_step4_context"], "ValueError"),
        "nbformat3": (Q, json.dumps(old).encode(), [], None),
        "lookup_table": (M, submission_with(M, padding_mask=lookup), ["test_padding_mask"], None),
        # (scaled_dot_product_attention calls the student's softmax, so it fails too)
        "hidden_raise": (Q, submission_with(Q, softmax=hidden_raise), ["test_softmax", "test_scaled_dot_product_attention"],
                         None),
        "hidden_wrong": (Q, submission_with(Q, softmax=hidden_wrong), ["test_softmax", "test_scaled_dot_product_attention"],
                         None),
    }


HONEST = [("perfect", Q), ("partial", Q), ("empty", Q), ("perfect", M)]
SLOW = submission_with(Q, step1_scores=step1(
    "import time\nt0 = time.process_time()\nwhile time.process_time() - t0 < 4:  # correct, but slow\n    pass"))


def _write(folder: Path, student: str, aid: str, content) -> None:
    d = folder / student / aid
    d.mkdir(parents=True)
    if content == "folder":
        (d / f"{aid}.ipynb").mkdir()
        (d / f"{aid}.ipynb" / "inside.txt").write_text("not a notebook")
    elif isinstance(content, bytes):
        (d / f"{aid}.ipynb").write_bytes(content)
    else:
        nbformat.write(content, str(d / f"{aid}.ipynb"))


def _honest(folder: Path) -> None:
    for kind, aid in HONEST:
        _write(folder, f"honest_{kind}", aid, read(SAMPLES / kind / aid / f"{aid}.ipynb"))
    _write(folder, "cpu_slow_honest", Q, SLOW)  # sorted next to cpu_hog: graded at the same time


def _grades(out: Path) -> dict:
    with open(out / "grades.csv") as f:
        return {(r["student"], r["assignment"]): r for r in csv.DictReader(f)}


def _fingerprint(canary: Path) -> dict:
    """What a submission must never change: the canary, the venv's start-up files, the course."""
    course = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(ROOT.rglob("*"))
              if p.is_file() and not {".venv", ".git", "__pycache__", "test-output", ".pytest_cache",
                                      "grading"} & set(p.relative_to(ROOT).parts)}
    return {"canary": canary.read_text(), "course": course,
            "pth": {p.name: p.read_bytes() for p in SITE.glob("*.pth")},
            "site": sorted(p.name for p in SITE.iterdir()), "pwned": Path("/tmp/attnlab-pwned").exists()}


@pytest.fixture(scope="module")
def attack(tmp_path_factory):
    if not bwrap_works()[0]:
        pytest.skip("the attacks are only run where kernels are isolated (bubblewrap)")
    base = tmp_path_factory.mktemp("attacks")
    canary = base / "canary.txt"
    canary.write_text("the instructor's file\n")
    corpus = attackers(canary)
    alone, mixed = base / "alone", base / "mixed"
    _honest(alone)
    _honest(mixed)
    for name, (aid, content, *_) in corpus.items():
        _write(mixed, name, aid, content)
    before = _fingerprint(canary)
    args = ["--timeout", str(TIMEOUT), "--memory-mb", str(MEMORY_MB), "--jobs", "2"]
    assert grade_main([str(alone), "--out", str(base / "out-alone"), *args]) == 0
    assert grade_main([str(mixed), "--out", str(base / "out-mixed"), *args]) == 0
    out = base / "out-mixed"
    results = {p.parent.name + "/" + p.stem: json.loads(p.read_text())
               for p in (out / ".results").glob("*/*.json")}
    return dict(base=base, out=out, corpus=corpus, before=before, after=_fingerprint(canary),
                alone=_grades(base / "out-alone"), mixed=_grades(out), results=results)


def _cgroups_here() -> bool:
    box = Box(Path(__import__("tempfile").mkdtemp()), BoxLimits())
    try:
        box.create()
        return bool(box.procs_files)
    finally:
        box.destroy()


def test_nothing_outside_the_sandbox_changed(attack):
    before, after = attack["before"], attack["after"]
    assert after["canary"] == before["canary"]
    assert after["pth"] == before["pth"] and after["site"] == before["site"]
    assert not after["pwned"]
    changed = [str(p) for p in set(before["course"]) | set(after["course"])
               if before["course"].get(p) != after["course"].get(p)]
    assert changed == []


def test_honest_students_score_as_when_graded_alone(attack):
    alone, mixed = attack["alone"], attack["mixed"]
    assert alone and all(mixed[k] == alone[k] for k in alone), \
        {k: (alone[k]["score"], mixed[k]["score"]) for k in alone if mixed[k] != alone[k]}
    slow = alone[("cpu_slow_honest", Q)]
    assert float(slow["auto_score"]) == float(slow["auto_max"]), "the slow but correct student lost points"


@pytest.mark.parametrize("name", ["escape_symlinks", "reply_bomb", "regex_stall", "huge_answer", "memory_children",
                                  "tmp_flood", "scratch_flood", "fork_many", "cpu_hog", "display_flood",
                                  "error_flood", "folder_notebook", "html_injection", "terminal_escapes",
                                  "nbformat3", "lookup_table", "hidden_raise", "hidden_wrong"])
def test_each_attack_is_graded_and_loses_what_it_should(attack, name):
    aid, _, zero, words = attack["corpus"][name]
    row = attack["mixed"][(name, aid)]
    honest = attack["mixed"][("honest_perfect", aid)]
    tests = {k: float(v) for k, v in row.items() if k.startswith("test_") and v != ""}
    full = {k: float(v) for k, v in honest.items() if k.startswith("test_") and v != ""}
    if zero is not None:
        zero = list(full) if zero == "all" else zero
        assert {t: tests[t] for t in zero} == {t: 0.0 for t in zero}, f"{name} earned what it should not"
        assert {t: tests[t] for t in full if t not in zero} == {t: full[t] for t in full if t not in zero}, \
            f"{name} lost points it earned honestly"
    if words:
        report = (attack["out"] / "report.txt").read_text()
        entry = report.split(f"\n{name} / {aid}:", 1)
        assert len(entry) == 2, f"{name} is not in the report"
        assert words in entry[1].split("\n\n", 1)[0], f"the report does not say {words!r} for {name}"


def _printed(attack, name: str, gid: str = "step1_scores") -> str:
    nb = nbformat.read(str(attack["out"] / "course" / "autograded" / name / Q / f"{Q}.ipynb"), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)
    return "".join(o.get("text", "") for o in cell.outputs)


def test_resource_caps_held_for_the_whole_box(attack):
    if not _cgroups_here():
        pytest.skip("no cgroups here (not root?): per-process limits only, as report.txt says")
    peak = attack["results"][f"memory_children/{Q}"]["timing"]["memory_peak_mb"]
    assert peak <= MEMORY_MB + 1, f"5 children held {peak:.0f} MB under a {MEMORY_MB} MB cap"
    tmp = int(re.search(r"WROTE (\d+) MB", _printed(attack, "tmp_flood")).group(1))
    scratch = int(re.search(r"WROTE (\d+) MB", _printed(attack, "scratch_flood")).group(1))
    started = int(re.search(r"STARTED (\d+)", _printed(attack, "fork_many")).group(1))
    limits = BoxLimits()
    assert tmp <= limits.tmp_mb and scratch <= limits.scratch_mb and started < limits.pids, (tmp, scratch, started)
    report = (attack["out"] / "report.txt").read_text()
    assert "memory 1536 MB for the whole box" in report and "NOT HELD" not in report


def test_what_a_submission_prints_is_capped_everywhere(attack):
    for name in ("display_flood", "error_flood"):
        nb = attack["out"] / "course" / "autograded" / name / Q / f"{Q}.ipynb"
        res = attack["out"] / ".results" / name / f"{Q}.json"
        assert nb.stat().st_size < 1_000_000 and res.stat().st_size < 200_000, name


def test_reports_and_pages_carry_no_control_characters_or_student_scripts(attack):
    out = attack["out"]
    report = (out / "report.txt").read_text()
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", report)
    assert not re.search(r"^honest_perfect / 03_qkv_by_hand: 9 / 9$", report.split("terminal_escapes /")[1],
                         re.M), "a forged report line"
    for page in [*out.glob("feedback/*/*.html"), *(out / "course" / "autograded").rglob("*.ipynb")]:
        assert XSS not in page.read_text(), page
    # The instructor's own tools: stock nbgrader feedback pages from the autograded course.
    env_bin = Path(sys.executable).parent
    proc = subprocess.run([str(env_bin / "nbgrader"), "generate_feedback", Q, "--force",
                           f"--CourseDirectory.root={out / 'course'}",
                           f"--CourseDirectory.db_url=sqlite:///{out / 'course' / 'gradebook.db'}"],
                          cwd=out / "course", capture_output=True, text=True,
                          env={"PATH": f"{env_bin}:/usr/bin:/bin"}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = (out / "course" / "feedback" / "html_injection" / Q / f"{Q}.html").read_text()
    assert "My notes" in page and XSS not in page and "javascript:alert" not in page


def test_hidden_tests_and_fresh_inputs_tell_nothing_of_their_values(attack):
    verdicts = {n: {v["grade_id"]: v for v in attack["results"][f"{n}/{Q}"]["verdicts"]}
                for n in ("hidden_raise", "hidden_wrong")}
    for name, by_test in verdicts.items():
        v = by_test["test_softmax"]
        assert v["part"] == "hidden" and not v["passed"], (name, v)
        assert not re.search(r"\d\.\d", v["message"]) and "0.123456" not in v["message"], (name, v["message"])
        assert "hidden input:" not in v["message"] + v["traceback"], (name, v)
        # (the visible checks of scaled_dot_product_attention may quote their own public inputs)
        page = (attack["out"] / "feedback" / name / f"{Q}.html").read_text()
        block = page.split("<h3>test_softmax", 1)[1].split("</div>", 1)[0]
        assert "hidden" in block and "hidden input:" not in block and "0.123456" not in block, block
    # The lookup table passes every public case; only the fresh secret inputs catch it.
    from attnlab.checks import check_reference

    ns: dict = {}
    exec(_lookup_table_padding_mask()[0], ns)
    check_reference(ns["padding_mask"], M, "padding_mask")
    v = {x["grade_id"]: x for x in attack["results"][f"lookup_table/{M}"]["verdicts"]}["test_padding_mask"]
    assert v["part"] == "variants" and "fresh variant" in v["message"]

"""Grade one submission, in stages: read it, compose the run, run it in its box, judge, write.

``grade_submission(job)`` runs in a worker process and returns a :class:`records.Result`, also
saved atomically to the job's result file, so an interrupted run keeps every finished
submission. Each stage is a function of its own:

1. :func:`intake`        the notebook file, the student's answers, problems and flags in words
2. :func:`compose`       the instructor's notebook with the student's answers swapped in
3. :func:`execute`       the cells run in the student's kernel, in its box (crashes survived)
4. :func:`judge`         the test cells judged in this process, in rounds of calls
5. :func:`write_autograded`  the notebook as graded, safe to open, into the nbgrader course
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

from . import RELEASES, SOLUTIONS, autograded, kernel_side
from .instructor import Assignment, Context
from .intake import grade_id, load_notebook, read_answers, suspicious
from .judge import UNDEFINED, Judgement, Pending, Proxy, run_test
from .notebooks import nbgrader_meta
from .records import CellError, Job, Result, Verdict
from .sandbox import Box, BoxLimits, Kernel, bwrap_works
from .variants import make_variant_check, variant_cases
from .wire import Opaque, Reader, encode

MAX_RESTARTS = 4
# Given cells tagged "demo" only show something (an explorer widget, the real model on an
# example) and define nothing a test or a later cell uses (tests/test_notebooks.py checks it):
# grading does not run them, which saves each submission the seconds they cost.
DEMO_TAG = "demo"
MAX_ROUNDS = 4
_contexts: dict = {}


@dataclass
class Prepared:
    """What grading an assignment needs, made once per worker and assignment."""

    assignment: Assignment
    context: Context
    variant_checks: dict  # function name -> check on fresh inputs


def prepare(aid: str, seed: int) -> Prepared:
    if (aid, seed) not in _contexts:
        a = Assignment.load(aid, SOLUTIONS, RELEASES)
        ctx = Context(a, SOLUTIONS / aid)
        checks = {}
        for name, spec in a.specs.items():
            sol = ctx.solution_ns.get(name)
            if sol is not None:
                cases = variant_cases(spec, seed + sum(map(ord, aid + name)))
                checks[name] = make_variant_check(name, spec, sol, cases)
        _contexts[aid, seed] = Prepared(a, ctx, checks)
    return _contexts[aid, seed]


# --- 1. intake ---------------------------------------------------------------------------


@dataclass
class Submission:
    notebook: dict | None  # the submitted notebook (v4), or None if nothing readable
    answers: dict[str, str]  # student source by answer grade_id
    problems: list[str]
    flags: list[str]


def intake(job: Job, a: Assignment) -> Submission:
    nb, problems = load_notebook(Path(job.path) if job.path else None, job.assignment)
    answers, more = read_answers(nb, a.solution_ids, {t.grade_id: t.source for t in a.tests})
    return Submission(nb, answers, ([job.note] if job.note else []) + problems + more, suspicious(answers))


def unanswered(a: Assignment, nb: dict | None) -> list[str]:
    """Answer cells (code or written) the student left as released, or deleted: nbgrader's
    "No response." (a written answer left empty needs no person to grade it)."""
    given = {}
    for cell in (nb or {}).get("cells", []):
        gid = grade_id(cell)
        if gid in a.released and gid not in given:
            src = cell.get("source", "")
            given[gid] = "".join(src) if isinstance(src, list) else str(src)
    return [gid for gid, src in a.released.items() if given.get(gid, src).strip() == src.strip()]


# --- 2. compose ----------------------------------------------------------------------------


@dataclass
class Run:
    """The notebook the student's kernel runs, and where each of its cells came from."""

    nb: object
    cells: list = field(default_factory=list)  # (index in nb, cell, kind): grader/solution/capture/given


def compose(a: Assignment, answers: dict[str, str], box: Box) -> Run:
    run = Run(nbformat.v4.new_notebook(metadata=a.nb.metadata))
    setup = new_code_cell(kernel_side.source())
    run.nb.cells.append(setup)
    run.cells.append((0, setup, "grader"))
    for i, c in enumerate(a.nb.cells):
        m = nbgrader_meta(c)
        if c.cell_type != "code":
            run.nb.cells.append(nbformat.from_dict(c))
            continue
        if m.get("solution"):
            src = answers.get(m["grade_id"], a.stubs.get(m["grade_id"], "raise NotImplementedError()"))
            cell, kind = new_code_cell(src, metadata={"nbgrader": dict(m)}), "solution"
        elif m.get("grade"):
            test = next(t for t in a.tests if t.index == i)
            cell = new_code_cell(kernel_side.capture_cell(box.out, str(i), test.student_names),
                                 metadata={"nbgrader": dict(m)})
            kind = "capture"
        elif DEMO_TAG in c.get("metadata", {}).get("tags", []):
            continue  # it only shows something (a widget, a model's example); no test needs it
        else:
            cell = nbformat.from_dict(c)
            cell.outputs = []
            # Figures are not graded: draw none (the inline backend would render PNGs).
            cell.source = "\n".join("pass  # " + line if line.strip().startswith("%matplotlib")
                                    else line for line in cell.source.splitlines())
            kind = "given"
        run.nb.cells.append(cell)
        run.cells.append((len(run.nb.cells) - 1, cell, kind))
    return run


# --- 3. execute ----------------------------------------------------------------------------


@dataclass
class Execution:
    status: dict = field(default_factory=dict)  # cell index -> status
    timeouts: list = field(default_factory=list)
    crashes: list = field(default_factory=list)
    skipped: list = field(default_factory=list)


def _run_cells(kernel: Kernel, cells: list, info: Execution, timeout: int) -> None:
    """Run the cells in order; after a crash, restart and replay what ran before it."""
    crashed: set[int] = set()
    for pos, (i, cell, kind) in enumerate(cells):
        if kernel.restarts > MAX_RESTARTS:
            info.skipped.append(i)
            continue
        t = timeout if kind in ("given", "solution") else max(10, timeout)
        status = kernel.run(cell, i, t)
        info.status[i] = status
        if status.startswith("timeout"):
            info.timeouts.append(i)
        if status in ("died", "timeout-restarted"):
            if status == "died":
                info.crashes.append(i)
            crashed.add(i)
            for j, c, _ in cells[:pos]:
                if j not in crashed and kernel.restarts <= MAX_RESTARTS:
                    kernel.run(nbformat.from_dict(c), j, t)


def replay(kernel: Kernel, run: Run, timeout: int) -> None:
    """After the kernel was replaced: run the notebook again, from fresh copies of its cells."""
    _run_cells(kernel, [(i, nbformat.from_dict(c), k) for i, c, k in run.cells], Execution(), timeout)


def execute(kernel: Kernel, run: Run, timeout: int, result: Result) -> Execution:
    info = Execution()
    _run_cells(kernel, run.cells, info, timeout)
    for i, c, kind in run.cells:
        if kind in ("solution", "given"):
            for o in c.get("outputs", []):
                if o.get("output_type") == "error":
                    gid = nbgrader_meta(c).get("grade_id", f"cell {i}")
                    result.cell_errors.append(CellError(gid, kind, o.get("ename", ""),
                                                        str(o.get("evalue", ""))[:500]))
    name = lambda i: nbgrader_meta(run.nb.cells[i]).get("grade_id", f"cell {i}")  # noqa: E731
    for i in info.timeouts:
        result.problems.append(f"Cell '{name(i)}' did not finish within {timeout} s and was stopped "
                               "(an endless loop, or a very slow computation?).")
    for i in info.crashes:
        result.problems.append(f"Running cell '{name(i)}' crashed the Python kernel (the process exited, "
                               "ran out of memory, or segfaulted). The kernel was restarted without it.")
    if info.skipped:
        result.problems.append(f"The kernel crashed too often; {len(info.skipped)} later cell(s) were not run.")
    if kernel.client is not None and kernel.client.truncated:
        result.problems.append("Some cells printed so much output that it was cut off.")
    result.timed_out = bool(info.timeouts)
    return info


# --- 4. judge ------------------------------------------------------------------------------


def _write_call(box: Box, cid: str, call) -> None:
    """One pending call for the student's kernel: its inputs as .npy files, its spec as JSON,
    in calls/ (which the kernel can read, not write)."""
    counter = [0]
    spec = dict(fn=call.fn, stash=call.stash, err=call.err,
                args=encode(list(call.args), box.calls, f"in_{cid}", counter),
                kwargs=encode(dict(call.kwargs), box.calls, f"in_{cid}", counter))
    (box.calls / f"call_{cid}.json").write_text(json.dumps(spec))


def _read_result(reader: Reader, cid: str) -> dict | None:
    """A call's result as the kernel wrote it, its value decoded within the limits."""
    res = reader.json(f"result_{cid}.json")
    if not isinstance(res, dict):
        return None
    if res.get("status") == "ok":
        value = reader.decode(res.get("value"))
        if isinstance(value, Opaque) and value.over_limit:
            return {"status": "refused", "why": value.what}
        res["value"] = value
    return res


def _bindings(test, capture, prep: Prepared, judge_: Judgement, reader: Reader) -> dict:
    bindings = {}
    for name in test.student_names:
        entry = capture.get(name) if isinstance(capture, dict) else None
        kind = entry.get("kind") if isinstance(entry, dict) else "undefined"
        if kind == "function":
            bindings[name] = Proxy(name, str(test.index), prep.context.snapshots[test.index].get(name), judge_)
        elif kind == "value":
            bindings[name] = reader.decode(entry.get("value"))
        else:
            bindings[name] = UNDEFINED
    return bindings


def _answer_calls(kernel: Kernel, box: Box, run: Run, judge_: Judgement, reader: Reader,
                  timeout: int, timed_out_fns: set, problems: list) -> None:
    """This round's calls, all in one cell; one by one only if that cell fails."""
    todo = [cid for cid, call in judge_.pending.items() if call.fn not in timed_out_fns]
    for cid in todo:
        _write_call(box, cid, judge_.pending[cid])
    if todo:
        before = kernel.restarts
        status = kernel.run(new_code_cell(kernel_side.call_cell(box.calls, box.out, todo)), 0, timeout)
        if status == "ok" and kernel.restarts == before:
            for cid in todo:
                res = _read_result(reader, cid)
                if res is not None:
                    judge_.results[cid] = res
        elif kernel.restarts > before:
            replay(kernel, run, timeout)
    for cid, call in judge_.pending.items():
        if cid in judge_.results:
            continue
        if call.fn in timed_out_fns:
            judge_.results[cid] = {"status": "timeout"}
            continue
        before = kernel.restarts
        status = kernel.run(new_code_cell(kernel_side.call_cell(box.calls, box.out, [cid])), 0, timeout)
        res = _read_result(reader, cid)
        if status.startswith("timeout"):
            judge_.results[cid] = {"status": "timeout"}
            timed_out_fns.add(call.fn)
        elif kernel.restarts > before or res is None:
            judge_.results[cid] = {"status": "crashed"}
        else:
            judge_.results[cid] = res
        if kernel.restarts > before:  # the kernel was replaced: set it up again
            if kernel.restarts > MAX_RESTARTS:
                timed_out_fns.add(call.fn)
            else:
                replay(kernel, run, timeout)
                if call.fn not in " ".join(problems):
                    problems.append(f"Calling {call.fn} crashed the Python kernel "
                                    "(it exited, ran out of memory or segfaulted).")


def _diagnose(aid: str, fn: str):
    """Run the student's ``fn`` on the reference cases, which name known mistakes."""
    def run(ns):
        from attnlab.checks import check_reference

        check_reference(ns[fn], aid, fn)
    return run


def judge(prep: Prepared, kernel: Kernel, box: Box, run: Run, reader: Reader, timeout: int,
          result: Result) -> list:
    """The verdicts of every test cell, judged here on values read back from the kernel."""
    a = prep.assignment
    judge_ = Judgement(timeout=timeout)
    timed_out_fns: set[str] = set()
    captures = {t.index: reader.json(f"capture_{t.index}.json") for t in a.tests}
    verdicts, unresolved = [], {}
    for _ in range(MAX_ROUNDS):
        verdicts, unresolved = [], {}
        judge_.pending = {}
        for test in a.tests:
            bindings = _bindings(test, captures[test.index], prep, judge_, reader)
            fn = test.grade_id[5:] if test.grade_id.startswith("test_") else None
            check = prep.variant_checks.get(fn) if fn in test.student_names else None
            diagnose = _diagnose(a.aid, fn) if check is not None else None
            try:
                verdicts.append(run_test(test, prep.context, bindings, judge_, check, diagnose))
            except Pending:  # a call with nothing to fall back on: judged next round
                verdicts.append(Verdict(test.grade_id, test.points, 0.0, False, message="(not judged yet)"))
            # Every call this test made that has no answer yet, whichever test asked first.
            unresolved[test.grade_id] = {c for c in judge_.requested if c not in judge_.results}
        if not judge_.pending:
            break
        _answer_calls(kernel, box, run, judge_, reader, timeout, timed_out_fns, result.problems)
    else:
        for v in verdicts:
            if unresolved.get(v.grade_id):
                v.passed, v.score = False, 0.0
                v.message = ("The grader could not finish checking this test (its calls kept "
                             "changing with your answers).")
    if timed_out_fns:
        result.timed_out = True
    return verdicts


# --- 5. write ------------------------------------------------------------------------------


def write_autograded(prep: Prepared, submission: Submission, run: Run | None, verdicts: list,
                     target: Path) -> None:
    answers, given = {}, {}
    for i, c, kind in run.cells if run else []:
        if kind == "solution":
            answers[nbgrader_meta(c)["grade_id"]] = c.get("outputs", [])
        elif kind == "given":
            given.setdefault(c.source, c.get("outputs", []))
    nb = autograded.build(prep.assignment, submission.notebook, answers, given,
                          {v.grade_id: v for v in verdicts})
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(target))


# --- the whole -----------------------------------------------------------------------------


def grade_submission(job: Job | dict) -> Result:
    job = job if isinstance(job, Job) else Job(**job)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    logging.getLogger("traitlets").setLevel(logging.CRITICAL)
    t0 = time.time()
    prep = prepare(job.assignment, job.seed)
    a = prep.assignment
    sub = intake(job, a)
    result = Result(job.student, job.assignment, 0.0, a.max_score, key=job.key, problems=sub.problems,
                    flags=sub.flags, alone=job.alone, timestamp=job.timestamp,
                    unanswered=unanswered(a, sub.notebook), manual_max=sum(a.manual.values()))
    result.manual = {gid: (0.0 if gid in result.unanswered else None) for gid in a.manual}
    result.awaiting = [gid for gid, score in result.manual.items() if score is None]
    use_bwrap = job.sandbox and bwrap_works()[0]
    box = Box(Path(tempfile.mkdtemp(prefix=f"box-{job.assignment}-", dir=job.tmp)),
              BoxLimits(memory_mb=job.memory_mb, cpus=job.cpus))
    kernel, reader, run, verdicts = None, None, None, []
    try:
        box.create()
        result.limits = box.limits(use_bwrap)
        run = compose(a, sub.answers, box)
        kernel = Kernel(run.nb, box, job.timeout, job.memory_mb, use_bwrap)
        tk = time.time()
        kernel.start()
        result.timing = {"setup": round(tk - t0, 2), "kernel_start": round(time.time() - tk, 2)}
        tk = time.time()
        execute(kernel, run, job.timeout, result)
        result.timing["run"] = round(time.time() - tk, 2)
        tk = time.time()
        reader = Reader(box.out)
        verdicts = judge(prep, kernel, box, run, reader, job.timeout, result)
        if box.scratch_full():
            result.problems.append(f"The notebook filled its {box.lim.scratch_mb} MB of scratch space, so "
                                   "the grader could not read all of its answers back.")
        result.timing["judge"] = round(time.time() - tk, 2)
        for key, value in (("cpu", box.cpu_seconds()), ("memory_peak_mb", box.memory_peak_mb())):
            if value is not None:
                result.timing[key] = round(value, 2)
    except Exception as exc:  # a bug or an environment problem: say so, grade what we have
        result.problems.append(f"The grader failed on this submission: {type(exc).__name__}: {exc}")
        result.grader_error = traceback.format_exc()[-3000:]
    finally:
        if kernel is not None:
            kernel.stop()
        if reader is not None:
            reader.close()
        box.destroy()
    try:
        write_autograded(prep, sub, run, verdicts, Path(job.autograded))
    except Exception as exc:
        result.problems.append(f"The graded notebook could not be written ({type(exc).__name__}: {exc}).")
    result.verdicts = verdicts
    result.score = result.auto_score = sum(v.score for v in verdicts)
    result.auto_max = a.max_score
    result.tests = {t.grade_id: 0.0 for t in a.tests} | {v.grade_id: v.score for v in verdicts}
    result.seconds = round(time.time() - t0, 2)
    result.sandbox = "bubblewrap" if use_bwrap else "none"
    result.save(Path(job.result_file))
    return result

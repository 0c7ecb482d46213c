"""Grade one submission: read it, run it in a sandboxed kernel, judge it here.

``grade_submission(job)`` runs in a worker process and returns a plain dict
(JSON-able), also written atomically to the job's result file, so an
interrupted run keeps every finished submission.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import time
import traceback
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_output

from . import RELEASES, SOLUTIONS
from .judge import (KERNEL_CODE, _UNDEFINED, Assignment, Context, Judgement, Proxy, capture_cell,
                    call_cell, decode, encode, make_variant_check, read_json, run_test,
                    split_hidden, variant_cases)
from .notebooks import nbgrader_meta
from .sandbox import Kernel, bwrap_works

MAX_RESTARTS = 4
MAX_ROUNDS = 4
_contexts: dict = {}


# --- reading a submission -------------------------------------------------------------


def read_submission(path: Path | None, aid: str, solution_ids: list[str], note: str = "",
                    tests: dict[str, str] | None = None):
    """(student's sources by grade_id, problems in words). Never raises on bad input."""
    problems = [note] if note else []
    if path is None:
        return {}, problems + [f"No notebook was found for {aid}: graded as unanswered."]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return {}, problems + [f"The notebook could not be read ({exc}): graded as unanswered."]
    try:
        nb = json.loads(raw.decode("utf-8", errors="strict"))
    except (UnicodeDecodeError, ValueError) as exc:
        return {}, problems + [f"{path.name} is not a valid notebook: it is not readable JSON "
                               f"({str(exc)[:120]}). It may be corrupted, or saved in another format. "
                               "Graded as unanswered: resubmit the .ipynb file saved by Jupyter."]
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return {}, problems + [f"{path.name} is JSON but not a notebook (it has no list of cells). "
                               "Graded as unanswered."]
    found: dict[str, str] = {}
    dupes = set()
    seen_tests: dict[str, str] = {}
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        meta = cell.get("metadata")
        nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
        gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        if tests and gid in tests:
            seen_tests[gid] = src
        if cell.get("cell_type") != "code" or gid not in solution_ids:
            continue
        if gid in found:
            dupes.add(gid)
            continue
        found[gid] = src
    for gid in sorted(dupes):
        problems.append(f"The answer cell '{gid}' appears more than once (a copied cell?); "
                        "the first one was graded.")
    if tests:
        gone = [t for t in tests if t not in seen_tests]
        edited = [t for t in tests if t in seen_tests and
                  _visible(seen_tests[t]).strip() != _visible(tests[t]).strip()]
        if gone:
            problems.append(f"Test cells deleted or their metadata changed: {', '.join(gone)} "
                            "(no effect on the grade: the grader runs its own tests; review by hand).")
        if edited:
            problems.append(f"Test cells edited: {', '.join(edited)} (no effect on the grade: the "
                            "grader runs its own tests; review by hand).")
    missing = [g for g in solution_ids if g not in found]
    if missing:
        problems.append("These answer cells are missing (deleted, or their metadata changed) and "
                        f"count as unanswered: {', '.join(missing)}.")
    return found, problems


def _visible(source: str) -> str:
    return split_hidden(source)[0]


SUSPICIOUS = [
    (r"\bimport\s+(os|subprocess|ctypes|importlib|socket|shutil|signal|builtins|gc|inspect|pathlib)\b|"
     r"\bfrom\s+(os|subprocess|ctypes|importlib|socket|shutil|signal|builtins|gc|inspect|pathlib)\b",
     "imports a system module"),
    (r"__import__|\bimportlib\b", "imports modules dynamically"),
    (r"\bopen\s*\(|\bnp\.load\s*\(|\bnumpy\.load\s*\(|read_text|read_bytes", "reads or writes files"),
    (r"data/reference|reference\.npz|\.npz\b|solutions/", "refers to reference data or solutions"),
    (r"\bsys\.exit|\bos\._exit|\bexit\s*\(|\bquit\s*\(", "tries to exit the kernel"),
    (r"\b(np|numpy)\.[A-Za-z_][\w.]*\s*=(?!=)", "assigns into numpy (monkeypatching)"),
    (r"\bbuiltins\b|__builtins__", "touches builtins"),
    (r"\bAssertionError\b", "refers to AssertionError"),
    (r"attnlab\.checks|\bcheck_(close|shape|reference|rows_sum_to_one|finite|raises)\s*=|\bCheckFailed\b",
     "touches the course's checks"),
    (r"get_ipython|\bIPython\b|showtraceback|sys\.excepthook|display_formatter", "touches IPython"),
    (r"\bctypes\b", "uses ctypes"),
    (r"\bglobals\s*\(\s*\)\s*\[|\bsetattr\s*\(", "rebinds names dynamically"),
    (r"\bwhile\s+True\b", "has an endless loop (while True)"),
]


def suspicious(sources: dict[str, str]) -> list[str]:
    flags = []
    for gid, src in sources.items():
        for pattern, what in SUSPICIOUS:
            m = re.search(pattern, src)
            if m:
                line = src[: m.start()].count("\n") + 1
                flags.append(f"cell '{gid}' line {line}: {what} ({m.group(0).strip()[:40]!r})")
    return flags


# --- running and judging ----------------------------------------------------------------


def context(aid: str, seed: int) -> tuple[Assignment, Context, dict]:
    if aid not in _contexts:
        a = Assignment.load(aid, SOLUTIONS, RELEASES)
        ctx = Context(a, SOLUTIONS / aid)
        checks = {}
        for name, spec in a.specs.items():
            sol = ctx.solution_ns.get(name)
            if sol is not None:
                cases = variant_cases(spec, seed + sum(map(ord, aid + name)))
                checks[name] = make_variant_check(name, spec, sol, cases)
        _contexts[aid] = a, ctx, checks
    return _contexts[aid]


def _new_info() -> dict:
    """What happened while running cells: status by index, and the cells that went wrong."""
    return dict(status={}, timeouts=[], crashes=[], skipped=[])


def _replay(kernel: Kernel, cells: list, timeout: int) -> None:
    """After the kernel was replaced: run the notebook again, from fresh copies of its cells."""
    _run_cells(kernel, [(i, nbformat.from_dict(c), k) for i, c, k in cells], _new_info(), timeout)


def _read_result(exchange: Path, cid: str):
    """A call's result as the kernel wrote it, its value decoded (None if there is none)."""
    res = read_json(exchange / f"result_{cid}.json")
    if res is not None and res.get("status") == "ok":
        res["value"] = decode(res.get("value"), exchange)
    return res


def _run_cells(kernel: Kernel, cells: list, info: dict, timeout: int) -> None:
    """Run the cells in order; after a crash, restart and replay what ran before it."""
    crashed: set[int] = set()
    for pos, (i, cell, kind) in enumerate(cells):
        if kernel.restarts > MAX_RESTARTS:
            info["skipped"].append(i)
            continue
        t = timeout if kind in ("given", "solution") else max(10, timeout)
        status = kernel.run(cell, i, t)
        info["status"][i] = status
        if status.startswith("timeout"):
            info["timeouts"].append(i)
        if status in ("died", "timeout-restarted"):
            if status == "died":
                info["crashes"].append(i)
            crashed.add(i)
            for j, c, _ in cells[:pos]:
                if j not in crashed and kernel.restarts <= MAX_RESTARTS:
                    kernel.run(nbformat.from_dict(c), j, t)



def _write_call(exchange: Path, cid: str, call) -> dict:
    """One pending call for the student's kernel: its inputs as .npy files, its spec as JSON."""
    counter = [0]
    spec = dict(fn=call.fn, stash=call.stash, err=call.err,
                args=encode(list(call.args), exchange, f"in_{cid}", counter),
                kwargs=encode(dict(call.kwargs), exchange, f"in_{cid}", counter))
    (exchange / f"call_{cid}.json").write_text(json.dumps(spec))
    return spec


def grade_submission(job: dict) -> dict:
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    logging.getLogger("traitlets").setLevel(logging.CRITICAL)
    t0 = time.time()
    aid, student = job["assignment"], job["student"]
    a, ctx, variant_checks = context(aid, job["seed"])
    path = Path(job["path"]) if job.get("path") else None
    sources, problems = read_submission(path, aid, a.solution_ids, job.get("note", ""),
                                        {t.grade_id: t.source for t in a.tests})
    flags = suspicious(sources)
    result = dict(student=student, assignment=aid, key=job["key"], max_score=a.max_score,
                  problems=problems, flags=flags, verdicts=[], cell_errors=[], seconds=0.0)
    exchange = Path(tempfile.mkdtemp(prefix=f"grade-{aid}-", dir=job.get("tmp")))
    use_bwrap = job.get("sandbox", True) and bwrap_works()[0]
    kernel = None
    try:
        (exchange / "work").mkdir()
        # The notebook to run: the instructor's, with the student's answers swapped in.
        run_nb = nbformat.v4.new_notebook(metadata=a.nb.metadata)
        cells = [(0, new_code_cell(KERNEL_CODE), "grader")]
        for i, c in enumerate(a.nb.cells):
            m = nbgrader_meta(c)
            if c.cell_type != "code":
                run_nb.cells.append(nbformat.from_dict(c))
                continue
            if m.get("solution"):
                src = sources.get(m["grade_id"], a.stubs.get(m["grade_id"], "raise NotImplementedError()"))
                cell = new_code_cell(src, metadata={"nbgrader": dict(m)})
                kind = "solution"
            elif m.get("grade"):
                test = next(t for t in a.tests if t.index == i)
                cell = new_code_cell(capture_cell(exchange, str(i), test.student_names),
                                     metadata={"nbgrader": dict(m)})
                kind = "capture"
            else:
                cell = nbformat.from_dict(c)
                cell.outputs = []
                # Figures are not graded: draw none (the inline backend would render PNGs).
                cell.source = "\n".join("pass  # " + line if line.strip().startswith("%matplotlib")
                                        else line for line in cell.source.splitlines())
                kind = "given"
            run_nb.cells.append(cell)
            cells.append((len(run_nb.cells) - 1, cell, kind))
        info = _new_info()
        kernel = Kernel(run_nb, exchange, job["timeout"], job["memory_mb"], use_bwrap)
        tk = time.time()
        kernel.start()
        result["timing"] = {"setup": round(tk - t0, 2), "kernel_start": round(time.time() - tk, 2)}
        tk = time.time()
        _run_cells(kernel, cells, info, job["timeout"])
        for i, c, kind in cells:
            if kind in ("solution", "given"):
                for o in c.get("outputs", []):
                    if o.get("output_type") == "error":
                        gid = nbgrader_meta(c).get("grade_id", f"cell {i}")
                        result["cell_errors"].append(dict(cell=gid, kind=kind, error=o.get("ename", ""),
                                                          message=str(o.get("evalue", ""))[:500]))
        for i in info["timeouts"]:
            gid = nbgrader_meta(run_nb.cells[i]).get("grade_id", f"cell {i}")
            problems.append(f"Cell '{gid}' did not finish within {job['timeout']} s and was stopped "
                            "(an endless loop, or a very slow computation?).")
        for i in info["crashes"]:
            gid = nbgrader_meta(run_nb.cells[i]).get("grade_id", f"cell {i}")
            problems.append(f"Running cell '{gid}' crashed the Python kernel (the process exited, ran "
                            "out of memory, or segfaulted). The kernel was restarted without it.")
        if info["skipped"]:
            problems.append(f"The kernel crashed too often; {len(info['skipped'])} later cell(s) were not run.")
        if kernel.client is not None and kernel.client.truncated:
            problems.append("Some cells printed so much output that it was cut off.")

        result["timing"]["run"] = round(time.time() - tk, 2)
        tk = time.time()
        # Judge, in rounds: the student's kernel answers the calls the tests make.
        judge = Judgement(timeout=job["timeout"])
        timed_out_fns: set[str] = set()
        captures = {}
        for rnd in range(MAX_ROUNDS):
            verdicts = []
            judge.pending = {}
            unresolved = {}
            for test in a.tests:
                cap = captures.get(test.index)
                if cap is None:
                    cap = read_json(exchange / f"capture_{test.index}.json")
                    captures[test.index] = cap
                bindings = {}
                for name in test.student_names:
                    entry = cap.get(name) if isinstance(cap, dict) else None
                    kind = entry.get("kind") if isinstance(entry, dict) else "undefined"
                    if kind == "function":
                        bindings[name] = Proxy(name, str(test.index),
                                               ctx.snapshots[test.index].get(name), judge)
                    elif kind == "value":
                        bindings[name] = decode(entry.get("value"), exchange)
                    else:
                        bindings[name] = _UNDEFINED
                before = set(judge.pending)
                fn = test.grade_id[5:] if test.grade_id.startswith("test_") else None
                check = variant_checks.get(fn) if fn in test.student_names else None
                verdicts.append(run_test(test, ctx, bindings, judge, check))
                unresolved[test.grade_id] = set(judge.pending) - before
            if not judge.pending:
                break
            # All of this round's calls in one cell; one by one only if that cell fails.
            specs = {}
            for cid, call in judge.pending.items():
                if call.fn in timed_out_fns:
                    continue
                specs[cid] = _write_call(exchange, cid, call)
            if specs:
                batch = new_code_cell(f"for __c in {list(specs)!r}:\n"
                                      f"    __grader_call({str(exchange)!r}, __c, globals())")
                before_restarts = kernel.restarts
                status = kernel.run(batch, 0, job["timeout"])
                if status == "ok" and kernel.restarts == before_restarts:
                    for cid in specs:
                        res = _read_result(exchange, cid)
                        if res is not None:
                            judge.results[cid] = res
                elif kernel.restarts > before_restarts:
                    _replay(kernel, cells, job["timeout"])
            for cid, call in judge.pending.items():
                if cid in judge.results:
                    continue
                if call.fn in timed_out_fns:
                    judge.results[cid] = {"status": "timeout"}
                    continue
                _write_call(exchange, cid, call)
                cell = new_code_cell(call_cell(exchange, cid))
                before_restarts = kernel.restarts
                status = kernel.run(cell, 0, job["timeout"])
                res = _read_result(exchange, cid)
                if status.startswith("timeout"):
                    judge.results[cid] = {"status": "timeout"}
                    timed_out_fns.add(call.fn)
                elif kernel.restarts > before_restarts or res is None:
                    judge.results[cid] = {"status": "crashed"}
                else:
                    judge.results[cid] = res
                if kernel.restarts > before_restarts:  # the kernel was replaced: set it up again
                    if kernel.restarts > MAX_RESTARTS:
                        timed_out_fns.add(call.fn)
                    else:
                        _replay(kernel, cells, job["timeout"])
                        if call.fn not in " ".join(problems):
                            problems.append(f"Calling {call.fn} crashed the Python kernel "
                                            "(it exited, ran out of memory or segfaulted).")
        else:
            for v in verdicts:
                if unresolved.get(v.grade_id):
                    v.passed, v.score = False, 0.0
                    v.message = ("The grader could not finish checking this test (its calls kept "
                                 "changing with your answers).")
        result["timing"]["judge"] = round(time.time() - tk, 2)
        result["verdicts"] = [v.__dict__ for v in verdicts]
        # The executed notebook, test cells shown as the grader judged them.
        _annotate(run_nb, a, verdicts)
        out_nb = Path(job["autograded"])
        out_nb.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(run_nb, str(out_nb))
    except Exception as exc:  # a bug or an environment problem: say so, grade what we have
        result["problems"].append(f"The grader failed on this submission: {type(exc).__name__}: {exc}")
        result["grader_error"] = traceback.format_exc()[-3000:]
    finally:
        if kernel is not None:
            kernel.stop()
        shutil.rmtree(exchange, ignore_errors=True)
    result["score"] = sum(v["score"] for v in result["verdicts"])
    result["tests"] = {t.grade_id: 0.0 for t in a.tests}
    result["tests"].update({v["grade_id"]: v["score"] for v in result["verdicts"]})
    result["seconds"] = round(time.time() - t0, 2)
    result["sandbox"] = "bubblewrap" if use_bwrap else "none"
    target = Path(job["result_file"])
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1, default=str))
    os.replace(tmp, target)
    return result


def _annotate(run_nb, a: Assignment, verdicts) -> None:
    """Replace the capture cells by the instructor's test cells (visible part) and the verdict."""
    by_id = {v.grade_id: v for v in verdicts}
    for cell in run_nb.cells:
        m = nbgrader_meta(cell)
        if cell.cell_type == "code" and m.get("grade") and not m.get("solution"):
            test = next(t for t in a.tests if t.grade_id == m["grade_id"])
            visible, hidden = split_hidden(test.source)
            cell.source = visible + ("\n### BEGIN HIDDEN TESTS\n# (hidden)\n### END HIDDEN TESTS"
                                     if hidden.strip() else "")
            v = by_id.get(test.grade_id)
            cell.outputs = []
            if v is not None and not v.passed:
                cell.outputs.append(new_output("error", ename=v.error or "AssertionError",
                                               evalue=v.message, traceback=[v.message]))
            elif v is not None:
                cell.outputs.append(new_output("stream", name="stdout", text=f"✓ {test.grade_id} passed\n"))

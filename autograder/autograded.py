"""The autograded notebook: the student's submission as it was graded, safe to open.

It keeps every cell of the submission, in the submission's order (nbgrader's formgrader and
``generate_feedback`` show it to the instructor and the student), with

- each answer cell's outputs from the graded run;
- each test cell as the instructor wrote it (visible part; the hidden part replaced by a
  placeholder) with the grader's verdict as its output; a test cell the student deleted is
  put back at the end, so every graded cell can be shown;
- a given cell's outputs from the run when its source is the instructor's;
- no active content: student outputs keep only plain text and raster images (no HTML,
  JavaScript, SVG or widgets), raw HTML in the student's markdown is escaped and
  ``javascript:`` links disabled, and nbgrader metadata the student could have forged is
  replaced by the instructor's.
"""

from __future__ import annotations

import copy
import re

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

from .instructor import HIDDEN_BEGIN, HIDDEN_END, Assignment, split_hidden
from .notebooks import nbgrader_meta

SAFE_MIME = ("text/plain", "image/png", "image/jpeg")
_TAG = re.compile(r"<(?=[A-Za-z/!?])")
_SCRIPT_URL = re.compile(r"\]\(\s*(?:javascript|vbscript|data)\s*:", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]")


def safe_markdown(text: str) -> str:
    """Markdown that renders the same, minus raw HTML (escaped) and script links (disabled)."""
    text = _CONTROL.sub("", text)
    return _SCRIPT_URL.sub("](#link-removed-by-the-grader:", _TAG.sub("&lt;", text))


def safe_outputs(outputs) -> list:
    """Outputs with only inert content: text, errors (as text) and raster images."""
    kept = []
    for o in outputs or []:
        if not isinstance(o, dict):
            continue
        kind = o.get("output_type")
        if kind == "stream":
            kept.append(new_output("stream", name="stderr" if o.get("name") == "stderr" else "stdout",
                                   text=_CONTROL.sub("", str(o.get("text", "")))))
        elif kind == "error":
            kept.append(new_output("error", ename=_CONTROL.sub("", str(o.get("ename", "")))[:100],
                                   evalue=_CONTROL.sub("", str(o.get("evalue", ""))),
                                   traceback=[_CONTROL.sub("", str(t)) for t in o.get("traceback", [])
                                              if isinstance(t, str)]))
        elif kind in ("display_data", "execute_result"):
            data = o.get("data") if isinstance(o.get("data"), dict) else {}
            data = {k: v for k, v in data.items() if k in SAFE_MIME and isinstance(v, (str, list))}
            if "text/plain" in data:
                text = data["text/plain"]
                data["text/plain"] = _CONTROL.sub("", "".join(text) if isinstance(text, list) else text)
            if not data:
                data = {"text/plain": "[an output the grader does not keep (HTML, JavaScript or a widget)]"}
            kept.append(new_output("display_data", data=data))
    return kept


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(s for s in src if isinstance(s, str)) if isinstance(src, list) else str(src)


def test_cell(assignment: Assignment, grade_id: str, verdict) -> object:
    """The instructor's test cell (visible part) with the verdict as its output."""
    test = next(t for t in assignment.tests if t.grade_id == grade_id)
    visible, hidden = split_hidden(test.source)
    source = visible + (f"\n{HIDDEN_BEGIN}\n# (hidden)\n{HIDDEN_END}" if hidden.strip() else "")
    cell = new_code_cell(source, metadata=copy.deepcopy(dict(assignment.nb.cells[test.index].metadata)))
    if verdict is not None and not verdict.passed:
        cell.outputs = [new_output("error", ename=verdict.error or "AssertionError",
                                   evalue=verdict.message, traceback=[verdict.message])]
    elif verdict is not None:
        cell.outputs = [new_output("stream", name="stdout", text=f"✓ {grade_id} passed\n")]
    return cell


def build(assignment: Assignment, submission: dict | None, answer_outputs: dict[str, list],
          given_outputs: dict[str, list], verdicts: dict) -> object:
    """The autograded notebook (see the module docstring).

    ``answer_outputs``: outputs of each answer cell's run, by grade_id; ``given_outputs``: the
    outputs of the instructor's given cells, by source; ``verdicts``: by test grade_id.
    ``submission`` None (nothing readable was submitted): the release is used instead.
    """
    source_meta = {m["grade_id"]: (c.cell_type, m) for c in assignment.nb.cells
                   if (m := nbgrader_meta(c)).get("grade_id")}
    tests = {t.grade_id for t in assignment.tests}
    cells = submission.get("cells", []) if submission else []
    if not submission:
        cells = [dict(c) for c in assignment.release_cells()]
    out, seen = [], set()
    for raw in cells:
        if not isinstance(raw, dict):
            continue
        kind = raw.get("cell_type")
        src = _source(raw)
        meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
        nbg = meta.get("nbgrader") if isinstance(meta.get("nbgrader"), dict) else {}
        gid = nbg.get("grade_id") if isinstance(nbg.get("grade_id"), str) else None
        legit = gid in source_meta and gid not in seen and source_meta[gid][0] == kind
        if legit and gid in tests:
            out.append(test_cell(assignment, gid, verdicts.get(gid)))
            seen.add(gid)
            continue
        clean_meta = {"nbgrader": copy.deepcopy(dict(source_meta[gid][1]))} if legit else {}
        if legit:
            seen.add(gid)
        if kind == "markdown":
            out.append(new_markdown_cell(safe_markdown(src), metadata=clean_meta))
        elif kind == "code":
            cell = new_code_cell(_CONTROL.sub("", src), metadata=clean_meta)
            if legit:
                cell.outputs = safe_outputs(answer_outputs.get(gid, []))
            elif src in given_outputs:
                cell.outputs = safe_outputs(given_outputs[src])
            out.append(cell)
        else:
            out.append(nbformat.v4.new_raw_cell(_CONTROL.sub("", src)))
    for t in assignment.tests:  # deleted test cells come back, so every grade can be shown
        if t.grade_id not in seen:
            out.append(test_cell(assignment, t.grade_id, verdicts.get(t.grade_id)))
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(dict(assignment.nb.metadata)), cells=out)
    nb.metadata.pop("widgets", None)
    return nb

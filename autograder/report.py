"""Feedback for students (HTML) and the instructor's report (text).

Everything here that a student influenced (names, file names, messages, flagged code) is
escaped for where it goes: HTML-escaped in feedback pages, and in ``report.txt`` and the
terminal reduced to one printable line per entry, so no terminal escape code can hide a
line or forge an entry for another student.
"""

from __future__ import annotations

import html
import re
from dataclasses import asdict
from pathlib import Path

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def plain(text) -> str:
    """One printable line: newlines shown as ⏎, other control characters (and Unicode
    direction overrides) as \\xNN escapes."""
    text = str(text).replace("\r\n", "\n").replace("\n", " ⏎ ")
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                            else f"\\u{ord(m.group()):04x}", text)

CSS = """
body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.5rem} table{border-collapse:collapse;margin:1rem 0} td,th{padding:.3rem .8rem;
border-bottom:1px solid #ddd;text-align:left} .pass{color:#176c2c} .fail{color:#b3261e}
.test{border-left:4px solid #b3261e;padding:.2rem 1rem;margin:1rem 0;background:#fdf6f5}
.hint{font-weight:600} pre{background:#f4f4f4;padding:.6rem;overflow-x:auto;font-size:.85rem}
.note{border-left:4px solid #c78a00;background:#fffaf0;padding:.2rem 1rem;margin:1rem 0}
"""


def _e(text) -> str:
    return html.escape(_UNPRINTABLE.sub(lambda m: "\n" if m.group() == "\n" else "\ufffd", str(text)))


def _explain(v: dict) -> str:
    """The failure in plain words: the likely mistake first, then the rest."""
    msg = v.get("message") or ""
    err = v.get("error") or ""
    if "Likely mistake:" in msg:
        head, hint = msg.split("Likely mistake:", 1)
        return (f"<p class='hint'>Likely mistake: {_e(hint.strip())}</p>"
                f"<p>{_e(head.strip())}</p>")
    if err == "NotImplementedError":
        return ("<p class='hint'>Not answered yet: the function still raises NotImplementedError "
                "(replace <code>raise NotImplementedError()</code> with your code).</p>")
    if err == "NameError":
        return (f"<p class='hint'>Something this test needs is not defined ({_e(msg)}). Did you run "
                "the answer cell, keep its name, and not delete it?</p>")
    if err in ("TimeoutError",):
        return f"<p class='hint'>{_e(msg)}</p>"
    if "\nHint:" in msg:
        head, hint = msg.split("\nHint:", 1)
        return f"<p class='hint'>Hint: {_e(hint.strip())}</p><p>{_e(head.strip())}</p>"
    if err in ("AssertionError", "CheckFailed"):
        return f"<p class='hint'>{_e(msg) or 'A check failed.'}</p>"
    return (f"<p class='hint'>Your code raised {_e(err)}: {_e(msg)}</p>" if msg
            else f"<p class='hint'>Your code raised {_e(err)}.</p>")


def write_feedback(r, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows, details = [], []
    verdicts = {v.grade_id: asdict(v) for v in r.verdicts}
    for test, score in r.tests.items():
        v = verdicts.get(test, {})
        points = v.get("points", score)
        ok = v.get("passed", False)
        rows.append(f"<tr><td>{_e(test)}</td><td class='{'pass' if ok else 'fail'}'>"
                    f"{'passed' if ok else 'failed'}</td><td>{score:g} / {points:g}</td></tr>")
        if ok:
            continue
        if not v:
            details.append(f"<div class='test'><h3>{_e(test)}</h3><p class='hint'>Not graded: "
                           "see the notes above.</p></div>")
            continue
        part = v.get("part")
        where = {"visible": "in the checks you can see in the notebook",
                 "hidden": "in a hidden test (its code and expected values are not shown)",
                 "variants": "on extra hidden inputs (its code and expected values are not shown)"
                 }.get(part, "")
        block = [f"<div class='test'><h3>{_e(test)}: failed {where}</h3>", _explain(v)]
        if v.get("traceback"):
            block.append("<details><summary>Where your code raised the error (traceback)</summary>"
                         f"<pre>{_e(v['traceback'])}</pre></details>")
        block.append("</div>")
        details.append("".join(block))
    notes = "".join(f"<div class='note'>{_e(p)}</div>" for p in r.problems)
    if r.awaiting:
        notes += (f"<div class='note'>{len(r.awaiting)} written answer(s) ({_e(', '.join(r.awaiting))}) will be "
                  "graded by your instructor; the score above does not count them yet.</div>")
    if r.late_penalty:
        notes += f"<div class='note'>Submitted late: {r.late_penalty:g} point(s) deducted.</div>"
    errors = "".join(
        f"<div class='note'>Cell '{_e(c.cell)}' raised {_e(c.error)}: {_e(c.message)}</div>"
        for c in r.cell_errors if c.error != "NotImplementedError")
    doc = f"""<!doctype html><html><head><meta charset="utf-8">
<title>{_e(r.assignment)}: feedback for {_e(r.student)}</title><style>{CSS}</style></head><body>
<h1>{_e(r.assignment)}: {r.score:g} / {r.max_score:g}</h1>
<p>Feedback for <b>{_e(r.student)}</b>. Each failed test says what went wrong first; hidden tests are
named, but their code and expected values are not shown.</p>
{notes}{errors}
<table><tr><th>test</th><th>result</th><th>points</th></tr>{''.join(rows)}</table>
{''.join(details)}
</body></html>
"""
    path.write_text(doc)


def _noteworthy(v) -> bool:
    return not v.passed and v.error not in (None, "", "AssertionError", "CheckFailed", "NotImplementedError")


def write_report(results, path: Path, sandbox: str) -> None:
    lines = ["Grading report", "==============", "", sandbox]
    limits = sorted({lim for r in results for lim in r.limits})
    if limits:
        lines += ["limits per submission:"] + [f"  - {plain(lim)}" for lim in limits]
    lines.append("")
    flagged = [r for r in results if r.problems or r.flags
               or any(c.error not in (None, "NotImplementedError") for c in r.cell_errors)
               or any(_noteworthy(v) for v in r.verdicts)]
    lines.append(f"{len(results)} submission(s); {len(flagged)} with something to look at.")
    waiting = sum(len(r.awaiting) for r in results)
    if waiting:
        lines.append(f"{waiting} written answer(s) in {sum(1 for r in results if r.awaiting)} submission(s) "
                     "await a person (nbgrader formgrader: Manual Grading).")
    late = [r for r in results if r.late_penalty]
    if late:
        lines.append(f"{len(late)} late submission(s) lost points by the course's late-penalty rule: "
                     + ", ".join(f"{plain(r.student)} / {r.assignment} (-{r.late_penalty:g})" for r in late))
    lines.append("")
    for r in sorted(flagged, key=lambda r: (r.student, r.assignment)):
        lines.append(f"{plain(r.student)} / {r.assignment}: {r.score:g} / {r.max_score:g}")
        for p in r.problems:
            lines.append(f"  - broken: {plain(p)}")
        for c in r.cell_errors:
            if c.error != "NotImplementedError":
                lines.append(f"  - error: cell '{plain(c.cell)}' raised {plain(c.error)}: {plain(c.message[:200])}")
        for v in r.verdicts:
            if _noteworthy(v):
                lines.append(f"  - {v.grade_id} failed: {plain(v.error)}: {plain(v.message[:200])}")
        for f in r.flags:
            lines.append(f"  - suspicious (review by hand): {plain(f)}")
        lines.append("")
    if not flagged:
        lines.append("Nothing suspicious or broken.")
    path.write_text("\n".join(lines) + "\n")

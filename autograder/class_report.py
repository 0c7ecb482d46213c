"""What the class got wrong: the page an instructor reads before the next lecture, and the
one-row-per-student table an LMS takes.

``write_class_report(results, path)`` writes one self-contained HTML page (inline CSS, the
plots as embedded PNGs, no JavaScript, nothing fetched from the network). It opens with a
table of every assignment (submissions, median score, late work, answers still waiting for a
person, the test most students failed), then has one section per assignment in lecture order:

- a histogram of the scores (``score`` out of ``max_score``, nbgrader's totals) with the median;
- the most common problems, a short list to pick the next lecture's examples from;
- per autograded test, how many students failed it (score below its points) and why. A failure
  whose verdict says "Likely mistake: <hint>", with <hint> exactly one of the exercise module's
  ``Mistake.hint`` strings, is a *named mistake* ("3 of 40 divided the scores by d_k; ...").
  Every other failure is "other", grouped by what the check said (its message with the
  values blanked out, as hidden tests show it): the visible checks in the notebooks catch most
  slips before the hidden reference test could name them, and their words still say what
  went wrong ("the columns sum to 1 instead: softmax over the wrong axis?");
- the submissions that need a look: late, awaiting a person, or with a problem the grader
  noted (details in report.txt).

Each student counts once per test: one result per (student, assignment), the last one given.
Everything that comes from a submission (names, messages) is HTML-escaped.

``class_summary(results)`` returns the numbers the page shows, so tests compare numbers.
``write_lms_table(results, path)`` writes the CSV for an LMS upload.
"""

from __future__ import annotations

import base64
import csv
import io
import re
import statistics
from collections import Counter
from pathlib import Path

from .records import Result
from .report import _e  # HTML-escaped, control characters removed

MARK = "Likely mistake:"
COMMON = 5  # entries in an assignment's "most common problems"
MESSAGES = 3  # unnamed failure messages shown per test
NOT_GRADED = "not graded (no verdict: see report.txt)"
_TOLERANCE = re.compile(r" \(tolerance [^)]*\)")


def _latest(results: list[Result]) -> dict[tuple[str, str], Result]:
    """One result per (student, assignment): the last one given."""
    return {(r.student, r.assignment): r for r in results}


def _known_hints(aid: str) -> dict[str, str]:
    """{text as a verdict may show it: the catalogue's hint} for ``aid``'s named mistakes.
    A hidden test's message has its real numbers blanked (judge.scrub), so a hint with a number
    in it ("like -1e9") reaches the verdict scrubbed; both forms are matched, exactly."""
    from .judge import scrub
    from .spec import exercise_modules

    mod = exercise_modules().get(aid)
    hints = [m.hint for spec in getattr(mod, "FUNCTIONS", {}).values() for m in spec.mistakes]
    return {scrub(h): h for h in hints} | {h: h for h in hints}


def _gist(message: str) -> str:
    """A failure message as one line without its values, so that the same slip made by
    different students reads the same."""
    from .judge import scrub

    text = " ".join(_TOLERANCE.sub("", scrub(message)).split())
    return text if len(text) <= 500 else text[:499] + "…"


def class_summary(results: list[Result]) -> dict:
    """The page's numbers, by assignment in lecture order::

        {aid: {"n": students with a submission, "max_score": float,
               "median": median score (None without submissions), "scores": sorted scores,
               "late": submissions with a late penalty, "awaiting": answers awaiting a person,
               "with_problems": submissions with a problem noted by the grader,
               "points": {test: points}, "failed": {test: students below the points},
               "mistakes": {test: {catalogue hint: students}},
               "other": {test: failed students without a named mistake},
               "unnamed": {test: {failure message, values blanked: students}},
               "common": [(students, test, hint or message, named?), ...]}}

    Tests are the autograded ones (those with a verdict), in notebook order.
    """
    latest = _latest(results)
    summary = {}
    for aid in sorted({a for _, a in latest}):
        subs = [r for (_, a), r in sorted(latest.items()) if a == aid]
        known = _known_hints(aid)
        points: dict[str, float] = {}
        for r in subs:
            for v in r.verdicts:
                points[v.grade_id] = max(points.get(v.grade_id, 0.0), float(v.points))
        failed = {t: 0 for t in points}
        mistakes: dict[str, Counter] = {t: Counter() for t in points}
        unnamed: dict[str, Counter] = {t: Counter() for t in points}
        for r in subs:
            verdicts = {v.grade_id: v for v in r.verdicts}
            for t, p in points.items():
                v = verdicts.get(t)
                score = r.tests.get(t, v.score if v else 0.0)
                if score >= p - 1e-9:
                    continue
                failed[t] += 1
                message = v.message if v else ""
                hint = message.split(MARK, 1)[1].strip() if MARK in message else None
                if hint in known:
                    mistakes[t][known[hint]] += 1
                else:
                    unnamed[t][_gist(message) if v else NOT_GRADED] += 1
        scores = sorted(r.score for r in subs)
        common = [(n, t, h, True) for t in points for h, n in mistakes[t].items()]
        common += [(n, t, m, False) for t in points for m, n in unnamed[t].items()]
        order = {t: i for i, t in enumerate(points)}
        common.sort(key=lambda c: (-c[0], order[c[1]], not c[3]))
        summary[aid] = {
            "n": len(subs),
            "max_score": max((r.max_score for r in subs), default=0.0),
            "median": statistics.median(scores) if scores else None,
            "scores": scores,
            "late": sum(1 for r in subs if r.late_penalty > 0),
            "awaiting": sum(len(r.awaiting) for r in subs),
            "with_problems": sum(1 for r in subs if r.problems),
            "points": points,
            "failed": failed,
            "mistakes": {t: dict(c.most_common()) for t, c in mistakes.items()},
            "other": {t: sum(c.values()) for t, c in unnamed.items()},
            "unnamed": {t: dict(c.most_common()) for t, c in unnamed.items()},
            "common": common[:COMMON],
        }
    return summary


# --- the page ----------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem} h2{margin-top:2.5rem;border-bottom:2px solid #ddd}
table{border-collapse:collapse;margin:1rem 0} td,th{padding:.3rem .7rem;border-bottom:1px solid #ddd;
text-align:left;vertical-align:top} td.num,th.num{text-align:right} ul{margin:.2rem 0;padding-left:1.2rem}
.named{font-weight:600} .other{color:#555} .ok{color:#176c2c} .facts{color:#444}
img{max-width:100%} details{margin:1rem 0} summary{cursor:pointer}
"""


def _n(x: float | None) -> str:
    return "–" if x is None else f"{x:g}"


def _sentence(n: int, total: int, hint: str) -> str:
    """'3 of 40 divided the scores by d_k; ...' from the hint 'you divided the scores ...'."""
    return f"{n} of {total} {hint[4:]}" if hint.startswith("you ") else f"{n} of {total}: {hint}"


def _histogram(scores: list[float], max_score: float, median: float) -> str:
    """The scores as a bar chart (an embedded PNG), the median marked."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    top = max([max_score, *scores])
    edges = (np.arange(-0.5, np.ceil(top) + 1) if top <= 30  # one bar per whole point
             else np.linspace(0, top, 21))
    fig = Figure(figsize=(6, 2.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.hist(np.clip(scores, edges[0], edges[-1]), bins=edges, color="#4a78b5", edgecolor="white")
    ax.axvline(median, color="#b3261e", linestyle="--", label=f"median {median:g}")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel(f"score (out of {max_score:g})")
    ax.set_ylabel("students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, loc="upper left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"<img alt='histogram of the scores' src='data:image/png;base64,{data}'>"


def _why(s: dict, t: str) -> str:
    n = s["n"]
    items = [f"<li class='named'>{_e(_sentence(k, n, h))}</li>" for h, k in s["mistakes"][t].items()]
    groups = list(s["unnamed"][t].items())
    for msg, k in groups[:MESSAGES]:
        items.append(f"<li class='other'>{k} of {n}, other: “{_e(msg)}”</li>")
    if len(groups) > MESSAGES:
        rest = sum(k for _, k in groups[MESSAGES:])
        items.append(f"<li class='other'>{rest} of {n}, other: {len(groups) - MESSAGES} more "
                     "kinds of failure</li>")
    return f"<ul>{''.join(items)}</ul>" if items else "<span class='ok'>nobody failed it</span>"


def _needs_a_look(subs: list[Result]) -> str:
    rows = []
    for r in sorted(subs, key=lambda r: r.student):
        notes = []
        if r.late_penalty > 0:
            notes.append(f"late (−{r.late_penalty:g} points)")
        if r.awaiting:
            notes.append(f"{len(r.awaiting)} answer(s) awaiting a person: "
                         + ", ".join(_e(a) for a in r.awaiting))
        notes += [f"problem: {_e(p[:300])}" for p in r.problems]
        notes += [f"flagged for review: {_e(f[:300])}" for f in r.flags]
        if notes:
            rows.append(f"<li><b>{_e(r.student)}</b>: {'; '.join(notes)}</li>")
    if not rows:
        return ""
    return (f"<details><summary>{len(rows)} submission(s) need a look (late, awaiting a person, "
            f"or a problem noted in report.txt)</summary><ul>{''.join(rows)}</ul></details>")


def _section(aid: str, s: dict, subs: list[Result]) -> str:
    n = s["n"]
    facts = (f"{n} submission(s); median {_n(s['median'])} of {s['max_score']:g} points; "
             f"{s['late']} late; {s['awaiting']} answer(s) awaiting a person; "
             f"{s['with_problems']} with a problem noted by the grader.")
    parts = [f"<h2 id='a-{_e(aid)}'>{_e(aid)}</h2>", f"<p class='facts'>{facts}</p>"]
    if s["scores"]:
        parts.append(_histogram(s["scores"], s["max_score"], s["median"]))
    if s["common"]:
        items = []
        for k, t, text, named in s["common"]:
            what = _sentence(k, n, text) if named else f"{k} of {n} failed it: “{text}”"
            items.append(f"<li><span class='{'named' if named else 'other'}'>{_e(what)}</span> "
                         f"({_e(t)})</li>")
        parts.append(f"<h3>Most common problems</h3><ol>{''.join(items)}</ol>")
    rows = [f"<tr><td>{_e(t)}</td><td class='num'>{p:g}</td>"
            f"<td class='num'>{s['failed'][t]} of {n}</td><td>{_why(s, t)}</td></tr>"
            for t, p in s["points"].items()]
    if rows:
        parts.append("<h3>Tests</h3><table><tr><th>test</th><th class='num'>points</th>"
                     f"<th class='num'>failed</th><th>why</th></tr>{''.join(rows)}</table>")
    else:
        parts.append("<p>No autograded test has a verdict for this assignment.</p>")
    parts.append(_needs_a_look(subs))
    return "\n".join(parts)


def write_class_report(results: list[Result], path: Path) -> None:
    """The class report (see the module docstring) as one HTML file at ``path``."""
    summary = class_summary(results)
    latest = _latest(results)
    rows = []
    for aid, s in summary.items():
        worst = max(s["failed"].items(), key=lambda kv: kv[1], default=(None, 0))
        most = f"{_e(worst[0])} ({worst[1]} of {s['n']})" if worst[1] else "none"
        rows.append(f"<tr><td><a href='#a-{_e(aid)}'>{_e(aid)}</a></td><td class='num'>{s['n']}</td>"
                    f"<td class='num'>{_n(s['median'])} / {s['max_score']:g}</td>"
                    f"<td class='num'>{s['late']}</td><td class='num'>{s['awaiting']}</td>"
                    f"<td>{most}</td></tr>")
    students = len({st for st, _ in latest})
    if summary:
        head = (f"<p>{len(latest)} submission(s) from {students} student(s). Named mistakes are "
                "the catalogue's (the hints the grader matched); “other” groups the remaining "
                "failures by what the check said.</p>"
                "<table><tr><th>assignment</th><th class='num'>submissions</th>"
                "<th class='num'>median</th><th class='num'>late</th>"
                "<th class='num'>awaiting a person</th><th>most failed test</th></tr>"
                f"{''.join(rows)}</table>")
    else:
        head = "<p>No submissions were graded.</p>"
    sections = [_section(aid, s, [r for (_, a), r in sorted(latest.items()) if a == aid])
                for aid, s in summary.items()]
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>Class report</title>"
           f"<style>{CSS}</style></head><body><h1>What the class got wrong</h1>\n{head}\n"
           + "\n".join(sections) + "\n</body></html>\n")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc, encoding="utf-8")


# --- the LMS table -------------------------------------------------------------------------


def _text(value: str) -> str:
    """A text field a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _number(x: float) -> str:
    return f"{x + 0.0:.6f}".rstrip("0").rstrip(".")  # 7, 6.5, 1234567: never 1.23457e+06


def write_lms_table(results: list[Result], path: Path) -> None:
    """One row per student: the student, each assignment's score (lecture order; empty
    without a submission) and the total of those scores, as CSV for an LMS upload."""
    latest = _latest(results)
    aids = sorted({a for _, a in latest})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", *aids, "total"])
        for student in sorted({s for s, _ in latest}):
            scores = [latest[(student, a)].score if (student, a) in latest else None for a in aids]
            w.writerow([_text(student), *["" if x is None else _number(x) for x in scores],
                        _number(sum(x for x in scores if x is not None))])

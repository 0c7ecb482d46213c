"""Reading a submission: whatever the file holds, a clear verdict and nothing that can stall.

- :func:`load_notebook`: a regular file (not a folder, a link or a device) of bounded size,
  JSON, a notebook; nbformat 3 is upgraded to 4 as Jupyter itself would.
- :func:`read_answers`: the student's source for each answer cell (by nbgrader ``grade_id``),
  with problems in words (deleted, duplicated or edited cells; an answer too long to run).
- :func:`suspicious`: code that may tamper with grading, flagged for a person to review. Its
  patterns run in linear time (bounded repetitions only), so a megabyte of ``np.np.np…`` costs
  milliseconds, not an hour.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import nbformat

from .instructor import split_hidden

MAX_NOTEBOOK_BYTES = 50 * 2**20  # a notebook with every output is a few MB
MAX_ANSWER_CHARS = 64_000  # one answer cell; a real answer is a few hundred characters


def notebook_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a submitted notebook, or None if it can be read as one."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"{path.name} could not be read ({exc.strerror})."
    if stat.S_ISLNK(st.st_mode):
        return f"{path.name} is a symbolic link, not a notebook file."
    if stat.S_ISDIR(st.st_mode):
        return f"{path.name} is a folder, not a notebook file."
    if not stat.S_ISREG(st.st_mode):
        return f"{path.name} is not a regular file."
    if st.st_size > MAX_NOTEBOOK_BYTES:
        return (f"{path.name} is {st.st_size / 2**20:.0f} MB, over the {MAX_NOTEBOOK_BYTES // 2**20} MB "
                "a notebook may have (clear its outputs and resubmit).")
    return None


def read_bytes(path: Path) -> bytes:
    """The file's bytes, refusing links and anything over the size limit (raises OSError)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError("not a regular file")
        data = f.read(MAX_NOTEBOOK_BYTES + 1)
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise OSError("file too large")
    return data


def load_notebook(path: Path | None, aid: str) -> tuple[dict | None, list[str]]:
    """(the notebook as a v4 dict, problems in words). Never raises on bad input."""
    if path is None:
        return None, [f"No notebook was found for {aid}: graded as unanswered."]
    why = notebook_file_problem(path)
    if why:
        return None, [why + " Graded as unanswered."]
    try:
        raw = read_bytes(path)
    except OSError as exc:
        return None, [f"The notebook could not be read ({exc}): graded as unanswered."]
    try:
        nb = json.loads(raw.decode("utf-8", errors="strict"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, [f"{path.name} is not a valid notebook: it is not readable JSON "
                      f"({str(exc)[:120]}). It may be corrupted, or saved in another format. "
                      "Graded as unanswered: resubmit the .ipynb file saved by Jupyter."]
    if isinstance(nb, dict) and isinstance(nb.get("nbformat"), int) and nb["nbformat"] < 4:
        try:
            nb = json.loads(nbformat.writes(nbformat.reads(raw.decode("utf-8"), as_version=4)))
        except Exception as exc:
            return None, [f"{path.name} is an old (nbformat {nb['nbformat']}) notebook that could not "
                          f"be upgraded ({type(exc).__name__}). Graded as unanswered."]
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None, [f"{path.name} is JSON but not a notebook (it has no list of cells). "
                      "Graded as unanswered."]
    return nb, []


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(s for s in src if isinstance(s, str)) if isinstance(src, list) else str(src)


def grade_id(cell) -> str | None:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    nbg = meta.get("nbgrader") if isinstance(meta, dict) else None
    gid = nbg.get("grade_id") if isinstance(nbg, dict) else None
    return gid if isinstance(gid, str) else None


def read_answers(nb: dict | None, solution_ids: list[str],
                 tests: dict[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """(the student's source by answer grade_id, problems in words)."""
    if nb is None:
        return {}, []
    problems: list[str] = []
    found: dict[str, str] = {}
    dupes, too_long = set(), set()
    seen_tests: dict[str, str] = {}
    for cell in nb["cells"]:
        if not isinstance(cell, dict):
            continue
        gid = grade_id(cell)
        src = _source(cell)
        if tests and gid in tests:
            seen_tests[gid] = src
        if cell.get("cell_type") != "code" or gid not in solution_ids:
            continue
        if gid in found or gid in too_long:
            dupes.add(gid)
            continue
        if len(src) > MAX_ANSWER_CHARS:
            too_long.add(gid)
            continue
        found[gid] = src
    for gid in sorted(dupes):
        problems.append(f"The answer cell '{gid}' appears more than once (a copied cell?); "
                        "the first one was graded.")
    for gid in sorted(too_long):
        problems.append(f"The answer cell '{gid}' is over {MAX_ANSWER_CHARS:,} characters long; it was "
                        "not run and counts as unanswered.")
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
    missing = [g for g in solution_ids if g not in found and g not in too_long]
    if missing:
        problems.append("These answer cells are missing (deleted, or their metadata changed) and "
                        f"count as unanswered: {', '.join(missing)}.")
    return found, problems


def _visible(source: str) -> str:
    return split_hidden(source)[0]


_MODULES = r"(?:os|subprocess|ctypes|importlib|socket|shutil|signal|builtins|gc|inspect|pathlib)"
# Bounded repetitions only ({0,k}, no nested or unbounded quantifier that can backtrack over
# the whole cell): each pattern costs O(k) per position, so O(k * n) per cell.
SUSPICIOUS = [
    (rf"\bimport[ \t]{{1,20}}{_MODULES}\b|\bfrom[ \t]{{1,20}}{_MODULES}\b", "imports a system module"),
    (r"__import__|\bimportlib\b", "imports modules dynamically"),
    (r"\bopen[ \t]{0,20}\(|\bnp\.load[ \t]{0,20}\(|\bnumpy\.load[ \t]{0,20}\(|read_text|read_bytes",
     "reads or writes files"),
    (r"data/reference|reference\.npz|\.npz\b|solutions/", "refers to reference data or solutions"),
    (r"\bsys\.exit|\bos\._exit|\bexit[ \t]{0,20}\(|\bquit[ \t]{0,20}\(", "tries to exit the kernel"),
    (r"\b(?:np|numpy)\.[A-Za-z_][\w.]{0,100}[ \t]{0,20}=(?!=)", "assigns into numpy (monkeypatching)"),
    (r"\bbuiltins\b|__builtins__", "touches builtins"),
    (r"\bAssertionError\b", "refers to AssertionError"),
    (r"attnlab\.checks|\bcheck_(?:close|shape|reference|rows_sum_to_one|finite|raises)[ \t]{0,20}=|"
     r"\bCheckFailed\b", "touches the course's checks"),
    (r"get_ipython|\bIPython\b|showtraceback|sys\.excepthook|display_formatter", "touches IPython"),
    (r"\bctypes\b", "uses ctypes"),
    (r"\bglobals[ \t]{0,20}\([ \t]{0,20}\)[ \t]{0,20}\[|\bsetattr[ \t]{0,20}\(", "rebinds names dynamically"),
    (r"\bwhile[ \t]{1,20}True\b", "has an endless loop (while True)"),
]
_COMPILED = [(re.compile(p), what) for p, what in SUSPICIOUS]


def suspicious(sources: dict[str, str]) -> list[str]:
    flags = []
    for gid, src in sources.items():
        for pattern, what in _COMPILED:
            m = pattern.search(src)
            if m:
                line = src[: m.start()].count("\n") + 1
                flags.append(f"cell '{gid}' line {line}: {what} ({m.group(0).strip()[:40]!r})")
    return flags

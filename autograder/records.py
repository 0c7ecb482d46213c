"""The records that cross process boundaries: a job for a worker, the verdicts and the result
it sends back (and keeps on disk, so a re-run can resume). One typed definition each; on the
wire and on disk they are plain JSON.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


def _from_dict(cls, data: dict):
    """``cls(**data)`` keeping only the fields ``cls`` has (old result files may lack some)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Job:
    """One submission to grade, as the main process hands it to a worker."""

    student: str
    assignment: str
    path: str | None  # the submitted notebook, or None if none was found
    note: str  # a problem found while locating it (a misnamed file, say)
    key: str  # hash of the submission, the grader and the settings: same key, same result
    seed: int  # the secret seed for fresh inputs
    timeout: int  # seconds per cell
    memory_mb: int  # the box's memory cap (all its processes, its /tmp and scratch)
    sandbox: bool  # use bubblewrap if it works here
    tmp: str  # where boxes are made
    result_file: str  # where the worker saves the result
    autograded: str  # where the executed notebook goes (the nbgrader course's autograded/)
    timestamp: str | None = None  # the submission's timestamp.txt, if it has one
    cpus: float = 1.0  # the box's CPU share (cgroup quota), in cores
    alone: bool = False  # re-run with nothing else running (after a time-out or a lost worker)


@dataclass
class Verdict:
    """One test cell, judged."""

    grade_id: str
    points: float
    score: float
    passed: bool
    part: str = ""  # where it failed: "visible", "hidden", "variants"
    message: str = ""
    error: str = ""  # exception name
    traceback: str = ""  # the student's own code's traceback, if their code raised


@dataclass
class CellError:
    cell: str  # grade_id, or "cell N"
    kind: str  # "given" or "solution"
    error: str
    message: str


@dataclass
class Result:
    """Everything known about one graded submission.

    ``score``/``max_score`` are nbgrader's totals as the gradebook has them: autograded tests,
    answers graded by a person so far, minus any late penalty. ``auto_score``/``auto_max`` are
    the autograded part alone; ``awaiting`` lists the answers a person has not graded yet.
    """

    student: str
    assignment: str
    score: float
    max_score: float
    key: str = ""
    tests: dict[str, float] = field(default_factory=dict)  # autograded test cell -> score
    auto_score: float = 0.0
    auto_max: float = 0.0
    manual: dict[str, float | None] = field(default_factory=dict)  # answer graded by a person -> score
    manual_max: float = 0.0
    awaiting: list[str] = field(default_factory=list)  # of ``manual``, those not graded yet
    late_penalty: float = 0.0
    timestamp: str | None = None  # when it was submitted (nbgrader's timestamp.txt), if known
    unanswered: list[str] = field(default_factory=list)  # answer cells left as released
    problems: list[str] = field(default_factory=list)  # broken input, crashes, time-outs, in words
    flags: list[str] = field(default_factory=list)  # suspicious code, for review by hand
    verdicts: list[Verdict] = field(default_factory=list)
    cell_errors: list[CellError] = field(default_factory=list)
    seconds: float = 0.0
    timing: dict[str, float] = field(default_factory=dict)
    sandbox: str = ""  # "bubblewrap" or "none"
    limits: list[str] = field(default_factory=list)  # which limits held, in words
    timed_out: bool = False  # some cell or call hit the time limit (a candidate for a re-run alone)
    alone: bool = False  # graded with nothing else running
    grader_error: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, default=str)

    @classmethod
    def from_dict(cls, data: dict) -> "Result":
        r = _from_dict(cls, data)
        r.verdicts = [v if isinstance(v, Verdict) else _from_dict(Verdict, v) for v in r.verdicts]
        r.cell_errors = [c if isinstance(c, CellError) else _from_dict(CellError, c)
                         for c in r.cell_errors]
        return r

    def save(self, path: Path) -> None:
        """Atomically: a run killed half-way never leaves half a result behind."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.to_json())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "Result | None":
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

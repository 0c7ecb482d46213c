"""Catalogues of student answers, fed through the real autograder by test_catalogue.py.

One module per assignment (``aNN_topic.py``) defines

- ``ASSIGNMENT``: the assignment id;
- ``CORRECT``: {variant: {grade_id: source}}, differently written correct answers
  (loops, einsum, float32-preserving...); each must get full marks;
- ``WRONG``: {name: Wrong(...)}, a common mistake; it must lose the points of the
  tests named in ``loses``, and the feedback must say ``says`` (the hint that
  names the mistake).

Cells not listed keep the solution's code, so each entry isolates one change.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass


@dataclass(frozen=True)
class Wrong:
    cells: dict[str, str]  # grade_id -> source of the wrong answer
    loses: list[str]  # grade_ids of the tests that must score 0
    says: str  # text the feedback must contain


def catalogues() -> dict:
    mods = {}
    for info in pkgutil.iter_modules(__path__):
        mod = importlib.import_module(f"{__name__}.{info.name}")
        mods[mod.ASSIGNMENT] = mod
    return mods

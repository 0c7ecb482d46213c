"""How an exercise is checked: its reference cases and its known mistakes.

Each module in ``autograder/exercises/`` describes one assignment with
``ASSIGNMENT`` (its id) and ``FUNCTIONS``: for every graded function a
:class:`FunctionSpec`. ``python -m autograder.build reference`` runs the
solution's function and every mistake on every case and stores the results in
``data/reference/<assignment>.npz``, which the notebooks' hidden tests read
through ``attnlab.checks.check_reference``.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

# Tolerances from the course spec: float64 exact to 1e-10, float32 to 1e-5 relative.
F64 = dict(rtol=1e-10, atol=1e-12)
F32 = dict(rtol=1e-5, atol=1e-6)


@dataclass(frozen=True)
class Case:
    desc: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    rtol: float = F64["rtol"]
    atol: float = F64["atol"]
    as_lists: bool = False  # pass the inputs as nested Python lists ("array-likes")


@dataclass(frozen=True)
class Mistake:
    hint: str  # what the student most likely did, in their words, and what to do
    fn: Callable


@dataclass(frozen=True)
class FunctionSpec:
    outputs: list[str]  # names of the returned values, in order
    cases: list[Case]
    mistakes: list[Mistake] = field(default_factory=list)
    strict_warnings: bool = False  # the spec says "no warning" for this function
    # Fresh secret inputs for the grader (autograder/variants.py): by default every float input
    # of a case is perturbed; a function of integers (lengths, sizes) says how to draw new ones:
    # fresh(rng, case) -> a new Case, or None to skip that case.
    fresh: Callable[[np.random.Generator, Case], "Case | None"] | None = None


def float32(case: Case) -> Case:
    """The same case with float32 inputs and float32 tolerances."""
    args = tuple(np.asarray(a, dtype=np.float32) if np.asarray(a).dtype.kind == "f" else a
                 for a in case.args)
    return replace(case, desc=case.desc + ", float32", args=args, **F32)


def exercise_modules():
    """Every assignment's exercise module, by assignment id."""
    from . import exercises

    mods = {}
    for info in pkgutil.iter_modules(exercises.__path__):
        mod = importlib.import_module(f"{exercises.__name__}.{info.name}")
        mods[mod.ASSIGNMENT] = mod
    return mods


def split_outputs(result, names: list[str]) -> list[np.ndarray]:
    """A function's result as one array per declared output."""
    results = result if len(names) > 1 else (result,)
    if len(results) != len(names):
        raise ValueError(f"expected {len(names)} outputs")
    return [np.asarray(r) for r in results]


# --- correct building blocks that the known mistakes are variations of ----------------


def softmax(x, axis=-1):
    x = np.asarray(x)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def attend(Q, K, V, scale=None, axis=-1):
    """Scaled dot-product attention with the two knobs mistakes turn: the d in sqrt(d) and
    the softmax axis. Returns (output, weights)."""
    d = K.shape[-1] if scale is None else scale
    w = softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt(d), axis)
    return w @ V, w


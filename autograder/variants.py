"""Fresh inputs, drawn with a secret seed, that no lookup table can know.

The reference cases are public (the course is open, ``data/reference`` ships with it), so an
answer could memorise them. After a graded function's test cell passes, the grader calls the
student's function once more on variants of every reference case, drawn with the class's
secret seed (``OUT/.results/secret``), and compares with the solution run here; a known
mistake on the same variant still names itself.

By default a variant perturbs every float input of a case; a function of integers (lengths,
sizes) says how to draw new ones (``FunctionSpec.fresh``).
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from .spec import split_outputs


def variant_cases(spec, seed: int) -> list:
    """The reference cases, each with fresh inputs (cases with nothing to vary are left out)."""
    rng = np.random.default_rng(seed)
    out = []
    for case in spec.cases:
        if spec.fresh is not None:
            new = spec.fresh(rng, case)
            if new is not None:
                out.append(replace(new, desc=case.desc + " (a fresh variant)"))
            continue
        changed, args = False, []
        for a in case.args:
            arr = np.asarray(a)
            if arr.dtype.kind == "f" and arr.size:
                scale = float(np.std(arr)) or float(np.max(np.abs(arr))) or 1.0
                new = (arr + rng.standard_normal(arr.shape) * 0.2 * scale).astype(arr.dtype)
                args.append(new.tolist() if case.as_lists else new)
                changed = True
            else:
                args.append(a)
        if changed:
            out.append(replace(case, desc=case.desc + " (a fresh variant)", args=tuple(args)))
    return out


def make_variant_check(name: str, spec, solution_fn, cases):
    """A check run after the test cell passes: the student's function on fresh variants."""
    from attnlab.checks import _call, check_outputs

    expected, mistakes = [], []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for case in cases:
            try:
                exp = split_outputs(solution_fn(*case.args, **case.kwargs), spec.outputs)
            except Exception:
                exp = None
            expected.append(exp)
            wrong = []
            for m in spec.mistakes:
                try:
                    wrong.append((m.hint, split_outputs(m.fn(*case.args, **case.kwargs), spec.outputs)))
                except Exception:
                    pass
            mistakes.append(wrong)

    def check(ns):
        fn = ns.get(name)
        if fn is None:
            return
        for case, exp, wrong in zip(cases, expected, mistakes):
            if exp is None:
                continue
            label = f"{name} on {case.desc}"
            result = _call(fn, list(case.args), dict(case.kwargs), spec.strict_warnings, label)
            check_outputs(result, exp, name, spec.outputs, label, wrong, rtol=case.rtol, atol=case.atol)
    return check

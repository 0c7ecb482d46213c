"""Friendly checks for the notebooks' test cells.

A failed check raises :class:`CheckFailed` (an ``AssertionError``, so nbgrader
scores it like any failed test) whose message says, in words, what is wrong
and what to try. Nothing here knows the answer to an exercise: expected values
come from the test cell itself or from the reference file generated from the
solutions, and "likely mistake" hints come from stored outputs of known wrong
implementations.

Tolerances (:func:`close`): two arrays agree when every entry differs by at most
``atol`` or ``rtol`` times the largest magnitude in the expected array, whichever
is larger. Rounding error in a matrix product or a sum is proportional to the size
of its terms, not of its result: an entry near zero that comes out of cancellation
carries an error of about eps * max|terms|, and another CPU (another BLAS, other
SIMD kernels) sums in another order. A purely elementwise relative tolerance would
fail such an entry on one machine and pass it on the next; this one does not.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import numpy as np

from .data import load_reference, ref_key


class CheckFailed(AssertionError):
    """A test did not pass; the message explains why in plain words."""


def _fail(message: str) -> None:
    # `from None`: the student needs our sentence, not a chain of tracebacks.
    raise CheckFailed(message) from None


def _fmt_shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def as_array(value: Any, name: str = "your result") -> np.ndarray:
    """``value`` as a NumPy array, or a clear failure if it cannot be one."""
    if value is None:
        _fail(f"{name} is None. Did you forget to `return` it?")
    if isinstance(value, tuple) and len(value) == 2 and all(hasattr(v, "shape") for v in value):
        _fail(f"{name} is a pair of arrays; expected a single array here.")
    try:
        return np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        _fail(f"{name} could not be turned into a NumPy array ({exc}).")


def check_shape(actual: Any, expected_shape: Sequence[int], name: str = "your result") -> None:
    """Fail unless ``actual`` has ``expected_shape``."""
    _shape(actual, expected_shape, name)


def _shape(actual: Any, expected_shape: Sequence[int], name: str) -> np.ndarray:
    arr = as_array(actual, name)
    expected_shape = tuple(expected_shape)
    if arr.shape != expected_shape:
        hint = ""
        if arr.shape == expected_shape[::-1] and len(expected_shape) >= 2:
            hint = " It looks transposed."
        elif arr.size == int(np.prod(expected_shape)):
            hint = " Same number of entries: check the order of your reshape/transpose."
        _fail(f"{name} has shape {_fmt_shape(arr.shape)}, but it should have shape "
              f"{_fmt_shape(expected_shape)}.{hint}")
    return arr


def check_finite(actual: Any, name: str = "your result") -> None:
    """Fail if ``actual`` contains NaN or infinity."""
    _finite(actual, name)


def _finite(actual: Any, name: str) -> np.ndarray:
    arr = as_array(actual, name)
    if np.issubdtype(arr.dtype, np.number) and not np.all(np.isfinite(arr)):
        n_bad = int(np.sum(~np.isfinite(arr)))
        _fail(f"{name} contains {n_bad} NaN or infinite value(s). A usual cause is exp() of "
              "a large number overflowing (subtract the maximum first), or 0/0.")
    return arr


def scaled_atol(expected: Any, rtol: float, atol: float) -> float:
    """The absolute tolerance used against ``expected``: ``atol``, or ``rtol`` times the
    largest finite magnitude in ``expected`` if that is larger (see the module docstring)."""
    exp = np.asarray(expected)
    if exp.size == 0 or not np.issubdtype(exp.dtype, np.number):
        return atol
    finite = np.abs(exp[np.isfinite(exp)]) if np.issubdtype(exp.dtype, np.inexact) else np.abs(exp)
    scale = float(finite.max()) if finite.size else 0.0
    return max(atol, rtol * scale)


def close(actual: Any, expected: Any, *, rtol: float, atol: float, equal_nan: bool = False) -> bool:
    """Whether ``actual`` equals ``expected`` within ``rtol`` (elementwise and of the array's
    scale) and ``atol``; shapes must broadcast."""
    return bool(np.allclose(actual, expected, rtol=rtol, atol=scaled_atol(expected, rtol, atol),
                            equal_nan=equal_nan))


def check_close(actual: Any, expected: Any, name: str = "your result", *,
                rtol: float = 1e-7, atol: float = 1e-9, hint: str | None = None) -> None:
    """Fail unless ``actual`` matches ``expected`` within ``rtol``/``atol``."""
    expected = np.asarray(expected)
    arr = _shape(actual, expected.shape, name)
    if arr.dtype == bool or expected.dtype == bool:
        if arr.dtype != bool and not np.isin(arr, (0, 1)).all():
            _fail(f"{name} should be an array of True/False, but its dtype is {arr.dtype}.")
        if expected.dtype != bool:
            _fail(f"{name} is an array of True/False, but numbers were expected.")
        if not np.array_equal(arr.astype(bool), expected):
            n_bad = int(np.sum(arr.astype(bool) != expected))
            _fail(f"{name} has {n_bad} entr{'y' if n_bad == 1 else 'ies'} with the wrong True/False."
                  + (f"\nHint: {hint}" if hint else ""))
        return
    if not np.issubdtype(arr.dtype, np.number):
        _fail(f"{name} should be numbers, but its dtype is {arr.dtype}.")
    _finite(arr, name)
    if not close(arr, expected, rtol=rtol, atol=atol):
        diff = np.abs(arr.astype(np.float64) - expected.astype(np.float64))
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
        where = f" at index {tuple(int(i) for i in worst)}" if diff.ndim else ""
        msg = (f"{name} is not what it should be{where}: got {float(arr[worst]):.6g}, expected "
               f"{float(expected[worst]):.6g} (tolerance rtol={rtol:g}, atol={atol:g}).")
        if hint:
            msg += f"\nHint: {hint}"
        _fail(msg)


def check_rows_sum_to_one(weights: Any, name: str = "weights", *, axis: int = -1,
                          atol: float = 1e-6) -> None:
    """Fail unless every row of ``weights`` (along ``axis``) is a probability distribution."""
    arr = _finite(weights, name)
    if np.issubdtype(arr.dtype, np.floating) and arr.ndim:
        # A sum of n rounded numbers is off by up to about n * eps (float32: 1.2e-7 each).
        atol = max(atol, arr.shape[axis] * float(np.finfo(arr.dtype).eps))
    if np.any(arr < -atol):
        _fail(f"{name} has negative entries; softmax outputs are never negative.")
    sums = arr.sum(axis=axis)
    if not np.allclose(sums, 1.0, atol=atol):
        bad = sums.ravel()[np.argmax(np.abs(sums.ravel() - 1))]
        # The usual slip is softmax over the other axis of the (queries, keys) matrix.
        other_axis = -2 if axis in (-1, arr.ndim - 1) else -1
        other = arr.sum(axis=other_axis) if arr.ndim > 1 else sums
        msg = (f"The rows of {name} should each sum to 1 (one probability distribution per "
               f"query), but one sums to {bad:.6g}.")
        if arr.ndim > 1 and np.allclose(other, 1.0, atol=atol):
            msg += " The columns sum to 1 instead: softmax over the wrong axis?"
        _fail(msg)


def check_raises(fn: Callable, args: Sequence, exception: type[BaseException], name: str,
                 why: str) -> None:
    """Fail unless ``fn(*args)`` raises ``exception`` (``why`` says when it should)."""
    try:
        fn(*args)
    except exception:
        return
    except NotImplementedError:
        raise
    except Exception as exc:
        _fail(f"{name} raised {type(exc).__name__} ({exc}); it should raise "
              f"{exception.__name__} {why}.")
    _fail(f"{name} did not raise; it should raise {exception.__name__} {why}.")


# --- running the student's code ---------------------------------------------------


def _describe(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return _fmt_shape(shape) if shape is not None else type(value).__name__


def call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, with a crash explained in words instead of a bare traceback.

    Use it in test cells for calls whose failure needs a hint (e.g. mismatched
    matrix shapes). Warnings are caught and reported on stdout, never stderr.
    """
    label = f"{getattr(fn, '__name__', 'your function')}({', '.join(_describe(a) for a in args)})"
    return _call(fn, list(args), kwargs, False, label)


# --- reference cases ------------------------------------------------------------


def _call(fn: Callable, args: list, kwargs: dict, strict: bool, label: str):
    """Call a student's function; warnings are caught so none reaches stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        errstate = dict(over="raise", invalid="raise", divide="raise") if strict else {}
        try:
            with np.errstate(**errstate):
                result = fn(*args, **kwargs)
        except NotImplementedError:
            raise
        except FloatingPointError as exc:
            _fail(f"{label}: numerical trouble ({exc}). Usual causes: exp() of a large number "
                  "overflowing (subtract the maximum along the axis before exponentiating), "
                  "-inf minus -inf on a row that is entirely masked, or 0/0 (a sum of zeros).")
        except Exception as exc:
            hint = ""
            if isinstance(exc, ValueError) and "matmul" in str(exc):
                hint = ("\nHint: the shapes of a matrix product do not fit. Check the order of "
                        "the product (row vectors: x @ W) and which axes you transpose; for "
                        "scores Q @ K^T, swap the last two axes of K (np.swapaxes(K, -1, -2)).")
            _fail(f"{label} raised {type(exc).__name__}: {exc}{hint}")
    if caught:
        first = caught[0]
        if strict:
            _fail(f"{label} issued a warning ({first.category.__name__}: {first.message}). "
                  "It must work without warnings: guard the operation that caused it.")
        print(f"Note: {label} issued a warning ({first.category.__name__}: {first.message}). "
              "The result is right, but in a graded cell a warning costs points: avoid it.")
    return result


def _matches(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> bool:
    if actual.shape != expected.shape:
        return False
    if not np.issubdtype(expected.dtype, np.floating):
        return bool(np.array_equal(actual, expected))
    try:
        # equal_nan: a stored mistake that yields NaN (a fully masked row) must still be named.
        return close(actual.astype(np.float64), expected, rtol=rtol, atol=atol, equal_nan=True)
    except (TypeError, ValueError):
        return False


def check_outputs(result: Any, expected: Sequence[np.ndarray], function: str, outputs: Sequence[str],
                  label: str, mistakes: Sequence = (), *, rtol: float, atol: float) -> None:
    """``result`` of ``function`` on one case against the ``expected`` arrays, one per output.

    ``mistakes`` are ``(hint, outputs)`` of known wrong implementations on the same case: a
    result equal to one of them fails with its hint. Used by :func:`check_reference` and by
    the grader's checks on fresh inputs.
    """
    n = len(outputs)
    if n > 1 and not (isinstance(result, tuple) and len(result) == n):
        _fail(f"{label} should return a tuple ({', '.join(outputs)}), but returned "
              f"{type(result).__name__}.")
    got = [as_array(g, f"{function}'s {o}") for g, o in zip(result if n > 1 else (result,), outputs)]
    for k, (g, exp, out_name) in enumerate(zip(got, expected, outputs)):
        if _matches(g, exp, rtol, atol):
            continue
        what = f"{label}: {out_name}"
        for hint, wrong in mistakes:
            if wrong[k] is not None and _matches(g, wrong[k], rtol, atol):
                _fail(f"{what} is not right. Likely mistake: {hint}")
        check_shape(g, exp.shape, what)
        if out_name == "weights":
            check_rows_sum_to_one(g, what)
        check_close(g, exp, what, rtol=rtol, atol=atol)


def check_reference(fn: Callable, assignment: str, function: str | None = None) -> None:
    """Run ``fn`` on every reference case of ``assignment``'s ``function``.

    Each case's inputs and expected outputs were generated from the course
    solutions. On a mismatch the message names the case and, when the output
    equals that of a known wrong implementation, the likely mistake. Returns
    nothing: every check returns None, because nbgrader would read a value
    left as a test cell's last expression as partial credit.
    """
    function = function or fn.__name__
    manifest, arrays = load_reference(assignment)
    if function not in manifest:
        raise KeyError(f"No reference cases for {function!r} in {assignment}")
    spec = manifest[function]
    outputs: list[str] = spec["outputs"]
    for i, case in enumerate(spec["cases"]):
        label = f"{function} on {case['desc']}"
        args = [arrays[ref_key(function, i, "arg", j)] for j in range(case["nargs"])]
        args = [a.tolist() if case.get("as_lists") else a for a in args]
        result = _call(fn, args, case["kwargs"], spec["strict_warnings"], label)
        expected = [arrays[ref_key(function, i, "out", k)] for k in range(len(outputs))]
        mistakes = [(spec["mistakes"][m], [arrays.get(ref_key(function, i, "out", k, mistake=m))
                                           for k in range(len(outputs))]) for m in case["mistakes"]]
        check_outputs(result, expected, function, outputs, label, mistakes,
                      rtol=case["rtol"], atol=case["atol"])
    n = len(spec["cases"])
    print(f"✓ {function}: all {n} reference cases pass")

"""attnlab.checks: failures speak plainly, and every catalogued mistake is named."""

from __future__ import annotations

import numpy as np
import pytest

from attnlab.checks import (CheckFailed, check_close, check_raises, check_reference,
                            check_rows_sum_to_one, check_shape)
from autograder import SOLUTIONS
from autograder.notebooks import load_functions, read
from autograder.spec import exercise_modules

MODULES = exercise_modules()


def solution(aid: str, name: str):
    # Load every exercise of the notebook: later ones may call earlier ones.
    return load_functions(read(SOLUTIONS / aid / f"{aid}.ipynb"), list(MODULES[aid].FUNCTIONS))[name]


def test_shape_mismatch_names_both_shapes_and_spots_a_transpose():
    with pytest.raises(CheckFailed, match=r"shape \(3, 2\).*should have shape \(2, 3\).*transposed"):
        check_shape(np.zeros((3, 2)), (2, 3), "weights")


def test_close_reports_index_values_and_hint():
    with pytest.raises(CheckFailed, match=r"(?s)at index \(1,\): got 5, expected 2.*Hint: add"):
        check_close([1.0, 5.0], [1.0, 2.0], "x", hint="add")
    check_close(np.float32([1.0, 2.0]), [1.0, 2.0 + 1e-7], "x", rtol=1e-5)


def test_close_rejects_none_with_a_return_hint():
    with pytest.raises(CheckFailed, match="forget to `return`"):
        check_close(None, [1.0], "result")


def test_nan_is_explained():
    with pytest.raises(CheckFailed, match="NaN.*subtract the maximum"):
        check_close([np.nan, 1.0], [0.5, 0.5], "weights")


def test_rows_not_summing_to_one_suggests_the_wrong_axis():
    w = np.array([[0.9, 0.5], [0.1, 0.5]])  # columns sum to 1
    with pytest.raises(CheckFailed, match="wrong axis"):
        check_rows_sum_to_one(w)
    check_rows_sum_to_one(w.T)


def test_checks_return_none_so_nbgrader_never_reads_partial_credit():
    assert check_close([1.0], [1.0]) is None
    assert check_shape([1.0], (1,)) is None


def test_check_raises():
    def picky(x):
        if x < 0:
            raise ValueError
    check_raises(picky, [-1], ValueError, "picky", "for negative x")
    with pytest.raises(CheckFailed, match="did not raise"):
        check_raises(picky, [1], ValueError, "picky", "for negative x")


@pytest.mark.parametrize("aid,name", [(a, n) for a, m in MODULES.items() for n in m.FUNCTIONS])
def test_reference_accepts_the_solution(aid, name, capsys):
    check_reference(solution(aid, name), aid, name)
    assert "reference cases pass" in capsys.readouterr().out


def _first_difference(aid: str, name: str, mistake) -> str:
    """What check_reference meets first for this mistake, case by case: 'hint' where its output
    differs from the truth (the reference file stores it there, so it must be named), 'crash'
    where it raises, '' if it equals the truth on every case."""
    from attnlab.checks import close
    from attnlab.data import load_reference
    from autograder.spec import split_outputs

    manifest, _ = load_reference(aid)
    spec = MODULES[aid].FUNCTIONS[name]
    for i, case in enumerate(spec.cases):
        try:
            got = split_outputs(mistake.fn(*case.args, **case.kwargs), spec.outputs)
        except Exception:
            return "crash"
        truth = split_outputs(solution(aid, name)(*case.args, **case.kwargs), spec.outputs)
        if any(g.shape != t.shape or not close(g, t, rtol=case.rtol, atol=case.atol, equal_nan=True)
               for g, t in zip(got, truth)):
            assert spec.mistakes.index(mistake) in manifest[name]["cases"][i]["mistakes"]
            return "hint"
    return ""


@pytest.mark.parametrize("aid,name,index", [
    (a, n, i) for a, m in MODULES.items() for n, spec in m.FUNCTIONS.items()
    for i in range(len(spec.mistakes))])
def test_every_catalogued_mistake_fails_with_its_own_hint(aid, name, index):
    mistake = MODULES[aid].FUNCTIONS[name].mistakes[index]
    first = _first_difference(aid, name, mistake)
    assert first, "a catalogued mistake that gives the right answer on every case catches nothing"
    with pytest.raises(CheckFailed) as err:
        check_reference(mistake.fn, aid, name)
    if first == "hint":
        # Named outright: this very hint, not a generic explanation or another mistake's.
        assert f"Likely mistake: {mistake.hint}" in str(err.value)
    else:
        assert "raised" in str(err.value)


def test_unstable_softmax_is_told_to_subtract_the_max():
    def naive(x, axis=-1):
        e = np.exp(x)
        return e / e.sum(axis=axis, keepdims=True)
    with pytest.raises(CheckFailed, match="subtract the maximum"):
        check_reference(naive, "03_qkv_by_hand", "softmax")


def test_a_warning_in_a_lenient_function_is_reported_on_stdout_not_stderr(capsys):
    def noisy(a, b):
        np.log(np.zeros(1))  # divide-by-zero warning, harmless here
        return solution("01_embeddings", "cosine_similarity")(a, b)
    check_reference(noisy, "01_embeddings", "cosine_similarity")
    out = capsys.readouterr()
    assert "warning" in out.out and out.err == ""


def test_untransposed_k_gets_a_matmul_hint():
    def no_transpose(Q, K, V):
        w = np.exp(Q @ K)
        return w @ V, w
    with pytest.raises(CheckFailed, match="swap the last two axes of K"):
        check_reference(no_transpose, "03_qkv_by_hand", "scaled_dot_product_attention")


def test_not_implemented_passes_through_untouched():
    def stub(*args, **kwargs):
        raise NotImplementedError()
    with pytest.raises(NotImplementedError):
        check_reference(stub, "01_embeddings", "cosine_similarity")

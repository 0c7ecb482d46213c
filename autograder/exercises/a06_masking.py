"""06_masking: padding masks, causal masks, masked softmax and masked attention.

Mask convention (the lecture's): True/1 = may attend, False/0 = blocked.
"""

from dataclasses import replace

import numpy as np

from ..spec import Case, float32, FunctionSpec, Mistake, softmax as _softmax

ASSIGNMENT = "06_masking"

rng = np.random.default_rng(606)


# --- reference pieces the mistakes are built from ----------------------------------


def _masked_softmax(scores, mask, axis=-1):
    masked = np.where(mask, scores, -np.inf)
    top = np.max(masked, axis=axis, keepdims=True)
    e = np.exp(masked - np.where(top == -np.inf, 0, top))
    total = e.sum(axis=axis, keepdims=True)
    return e / np.where(total == 0, 1, total)


def _scores(Q, K, scale=np.sqrt):
    return Q @ np.swapaxes(K, -1, -2) / scale(K.shape[-1])


# --- padding_mask -------------------------------------------------------------------


def _positions(lengths, max_len):
    return np.arange(max_len)[None, :], np.asarray(lengths)[:, None]  # (1, max_len), (batch, 1)


def _pad_flipped(lengths, max_len):
    j, n = _positions(lengths, max_len)
    return j >= n


def _pad_one_too_many(lengths, max_len):
    j, n = _positions(lengths, max_len)
    return j <= n


def _pad_one_too_few(lengths, max_len):
    j, n = _positions(lengths, max_len)
    return j < n - 1


def _fresh_lengths(rng, case):
    """A fresh batch for the grader: as many sentences, new lengths, max_len the same or longer."""
    max_len = int(case.kwargs["max_len"]) + int(rng.integers(0, 3))
    lengths = rng.integers(0, max_len + 1, size=len(np.asarray(case.args[0])))
    return replace(case, args=(lengths.tolist() if case.as_lists else lengths,),
                   kwargs={**case.kwargs, "max_len": max_len})


# --- causal_mask --------------------------------------------------------------------


def _causal_upper(n):
    return np.triu(np.ones((n, n), dtype=bool))


def _causal_no_diagonal(n):
    return np.tril(np.ones((n, n), dtype=bool), k=-1)


def _causal_flipped(n):
    return np.triu(np.ones((n, n), dtype=bool), k=1)


# --- masked_softmax -----------------------------------------------------------------


def _softmax_then_mask(scores, mask, axis=-1):
    return _softmax(scores, axis) * mask


def _softmax_flipped(scores, mask, axis=-1):
    return _masked_softmax(scores, np.logical_not(mask), axis)


def _softmax_zero_fill(scores, mask, axis=-1):
    return _softmax(np.where(mask, scores, 0.0), axis)


def _softmax_big_negative(scores, mask, axis=-1):
    return _softmax(np.where(mask, scores, -1e9), axis)


def _softmax_ignores_axis(scores, mask, axis=-1):
    return _masked_softmax(scores, mask, -1)


# --- masked_attention ---------------------------------------------------------------


def _attn(Q, K, V, mask, scale=np.sqrt, weigh=_masked_softmax):
    w = weigh(_scores(Q, K, scale), mask)
    return w @ V, w


def _attn_no_scale(Q, K, V, mask):
    return _attn(Q, K, V, mask, scale=lambda d: 1.0)


def _attn_scale_by_d(Q, K, V, mask):
    return _attn(Q, K, V, mask, scale=lambda d: d)


def _attn_mask_after_softmax(Q, K, V, mask):
    return _attn(Q, K, V, mask, weigh=_softmax_then_mask)


def _attn_flipped(Q, K, V, mask):
    return _attn(Q, K, V, mask, weigh=_softmax_flipped)


def _attn_zero_fill(Q, K, V, mask):
    return _attn(Q, K, V, mask, weigh=_softmax_zero_fill)


def _attn_big_negative(Q, K, V, mask):
    return _attn(Q, K, V, mask, weigh=_softmax_big_negative)


def _attn_swapped(Q, K, V, mask):
    out, w = _attn(Q, K, V, mask)
    return w, out


# --- cases --------------------------------------------------------------------------

LECTURE_LENGTHS = np.array([6, 3])  # "The cat sat on the mat" / "I love NLP" + 3 x PAD


def _pad(lengths, max_len):
    return np.arange(max_len)[None, :] < np.asarray(lengths)[:, None]


def _tril(n):
    return np.tril(np.ones((n, n), dtype=bool))


S26 = rng.standard_normal((2, 6)) * 2
S35 = rng.standard_normal((3, 5)) * 2
S244 = rng.standard_normal((2, 4, 4)) * 2
S235 = rng.standard_normal((2, 3, 5)) * 2
S34 = rng.standard_normal((3, 4)) * 2
S43 = rng.standard_normal((4, 3)) * 2
BLOCKED_ROW = np.array([[True, False, True, True], [False, False, False, False], [True, True, True, True]])
LEFT_PAD = np.array([False, False, True, True])  # "PAD PAD I love": padded on the left

Q34, K54, V52 = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
Q33, K33, V33 = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 3))
Xb = rng.standard_normal((2, 6, 4))
Qb4, Kb4, Vb4 = rng.standard_normal((2, 4, 4)), rng.standard_normal((2, 4, 4)), rng.standard_normal((2, 4, 3))
Q2345, K2355, V2352 = (rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 5, 5)),
                       rng.standard_normal((2, 3, 5, 2)))
Q64, K64, V64 = rng.standard_normal((4, 64)) * 3, rng.standard_normal((6, 64)) * 3, rng.standard_normal((6, 3))
RANDOM_MASK_35 = np.array([[True, False, True, True, False],
                           [False, True, False, True, True],
                           [True, True, True, False, False]])

FUNCTIONS = {
    "padding_mask": FunctionSpec(
        outputs=["mask"],
        cases=[
            Case("the lecture's batch: lengths [6, 3], max_len 6", (LECTURE_LENGTHS,), {"max_len": 6}),
            Case("lengths given as a Python list [6, 3], max_len 6", (LECTURE_LENGTHS,), {"max_len": 6},
                 as_lists=True),
            Case("3 sentences, one empty: lengths [2, 0, 4], max_len 5", (np.array([2, 0, 4]),),
                 {"max_len": 5}),
            Case("padded past the longest: lengths [1, 3], max_len 7", (np.array([1, 3]),), {"max_len": 7}),
            Case("one sentence of full length: lengths [4], max_len 4", (np.array([4]),), {"max_len": 4}),
            Case("8 sentences of random lengths, max_len 10", (rng.integers(0, 11, size=8),),
                 {"max_len": 10}),
        ],
        mistakes=[
            Mistake("your mask is the wrong way round: True marks the real tokens (position j < length), "
                    "False the padding.", _pad_flipped),
            Mistake("off by one: a sentence of length 3 fills positions 0, 1, 2, so position j is real "
                    "when j < length (not j <= length).", _pad_one_too_many),
            Mistake("off by one: a sentence of length 3 fills positions 0, 1, 2, so position j is real "
                    "when j < length (not j < length - 1).", _pad_one_too_few),
        ],
        fresh=_fresh_lengths,
    ),
    "causal_mask": FunctionSpec(
        outputs=["mask"],
        cases=[Case(f"n = {n}", (), {"n": n}) for n in (3, 1, 2, 6, 10)],
        fresh=lambda rng, case: replace(case, kwargs={"n": int(rng.integers(1, 13))}),
        mistakes=[
            Mistake("your mask is upper-triangular: query i may attend to keys j <= i, which is on and "
                    "*below* the diagonal (np.tril, not np.triu).", _causal_upper),
            Mistake("the diagonal is blocked: a token may attend to itself, so keep j <= i "
                    "(np.tril with k=0, not k=-1).", _causal_no_diagonal),
            Mistake("your mask is the wrong way round: True (may attend) must be on and below the "
                    "diagonal, False (the future) above it.", _causal_flipped),
        ],
    ),
    "masked_softmax": FunctionSpec(
        outputs=["probabilities"],
        strict_warnings=True,
        cases=[
            Case("the lecture's row: scores [2.1, 1.5, 3.2, 0.8, 0.5, 0.7] of \"I love NLP\" + 3 PAD, "
                 "the PAD keys blocked",
                 (np.array([2.1, 1.5, 3.2, 0.8, 0.5, 0.7]), np.array([True, True, True, False, False, False]))),
            Case("the lecture's batch: (2, 6) scores with a (2, 6) padding mask",
                 (S26, _pad(LECTURE_LENGTHS, 6))),
            Case("(3, 5) scores with one (5,) mask for every row",
                 (S35, np.array([True, False, True, True, False]))),
            Case("(2, 4, 4) scores with a (4, 4) causal mask", (S244, _tril(4))),
            Case("(2, 3, 5) scores with a (2, 1, 5) padding mask", (S235, _pad([5, 2], 5)[:, None, :])),
            Case("(3, 4) scores whose second row is fully blocked", (S34, BLOCKED_ROW)),
            Case("every row fully blocked", (S34[:2], np.zeros((2, 4), dtype=bool))),
            Case("scores of magnitude 1e4",
                 (np.array([[1e4, 1e4 - 1.0, -1e4, 1e4 - 3.0], [-1e4, -1e4 + 2.0, 1e4, -1e4]]),
                  np.array([[True, True, True, False], [True, True, False, True]]))),
            Case("a blocked score of 1e4 next to small allowed ones",
                 (np.array([[0.5, 1.0, 1e4], [1e4, -2.0, 0.0]]),
                  np.array([[True, True, False], [False, True, True]]))),
            Case("(4, 3) scores with axis=0 and a (4, 1) mask",
                 (S43, np.array([[True], [False], [True], [True]])), {"axis": 0}),
            Case("(2, 3, 5) scores with axis=1 and a (2, 3, 1) mask, one column fully blocked",
                 (S235, np.array([[[False], [False], [False]], [[True], [False], [True]]])), {"axis": 1}),
            float32(Case("the lecture's batch", (S26, _pad(LECTURE_LENGTHS, 6)))),
            float32(Case("(3, 4) scores with a fully blocked row", (S34, BLOCKED_ROW))),
        ],
        mistakes=[
            Mistake("you applied the mask after softmax (multiplied the weights by the mask), so the "
                    "remaining weights no longer sum to 1: set the blocked scores to -inf *before* "
                    "softmax.", _softmax_then_mask),
            Mistake("your mask is the wrong way round: True (1) means *may attend*, False (0) means "
                    "blocked. Keep the scores where the mask is True.", _softmax_flipped),
            Mistake("you set the blocked scores to 0 instead of -inf, but e^0 = 1 is an ordinary "
                    "weight: use np.where(mask, scores, -np.inf) so that exp gives exactly 0.",
                    _softmax_zero_fill),
            Mistake("a fully blocked row came out uniform, not all zeros: a large negative fill "
                    "(like -1e9) makes all of that row's scores equal. Find the rows with no allowed "
                    "entry (mask.any along the axis) and return zeros there.", _softmax_big_negative),
            Mistake("you ignored `axis` and always used the last axis; pass axis=axis to max and sum "
                    "(with keepdims=True).", _softmax_ignores_axis),
        ],
    ),
    "masked_attention": FunctionSpec(
        outputs=["output", "weights"],
        cases=[
            Case("3 queries, 3 keys, a (3, 3) causal mask", (Q33, K33, V33, _tril(3))),
            Case("3 queries, 5 keys, one (5,) key mask",
                 (Q34, K54, V52, np.array([True, True, False, True, False]))),
            Case("3 queries, 5 keys, a (3, 5) mask", (Q34, K54, V52, RANDOM_MASK_35)),
            Case("the lecture's batch: (2, 6, 4) inputs with a (2, 1, 6) padding mask",
                 (Xb, Xb, Xb, _pad(LECTURE_LENGTHS, 6)[:, None, :])),
            Case("a batch of 2 with one (4, 4) causal mask for both", (Qb4, Kb4, Vb4, _tril(4))),
            Case("padding and causal combined: (2, 4, 4) with a (2, 4, 4) mask",
                 (Qb4, Kb4, Vb4, _pad([4, 2], 4)[:, None, :] & _tril(4))),
            Case("two batch dimensions (2, 3, ...), 4 queries, 5 keys, a (2, 1, 1, 5) mask",
                 (Q2345, K2355, V2352, _pad([5, 3], 5)[:, None, None, :])),
            Case("a fully blocked query row", (Q34[:3], K54[:4], V52[:4], BLOCKED_ROW)),
            Case("left padding with a causal mask (the PAD queries see nothing)",
                 (Qb4[0], Kb4[0], Vb4[0], LEFT_PAD[None, :] & _tril(4))),
            Case("d_k = 64 with large scores, 4 queries, 6 keys", (Q64, K64, V64, _pad([4, 6, 2, 5], 6))),
            Case("nothing blocked (plain attention)", (Q34, K54, V52, np.ones(5, dtype=bool))),
            float32(Case("the lecture's batch", (Xb, Xb, Xb, _pad(LECTURE_LENGTHS, 6)[:, None, :]))),
            float32(Case("a fully blocked query row", (Q34[:3], K54[:4], V52[:4], BLOCKED_ROW))),
        ],
        mistakes=[
            Mistake("did you forget to divide the scores by sqrt(d_k)?", _attn_no_scale),
            Mistake("you divided the scores by d_k; divide by sqrt(d_k).", _attn_scale_by_d),
            Mistake("you applied the mask after softmax (multiplied the weights by the mask), so the "
                    "weights no longer sum to 1: mask the scores (to -inf) *before* softmax, e.g. with "
                    "your masked_softmax.", _attn_mask_after_softmax),
            Mistake("your mask is the wrong way round: True (1) means *may attend*, False (0) means "
                    "blocked.", _attn_flipped),
            Mistake("you set the blocked scores to 0 instead of -inf, but e^0 = 1 is an ordinary "
                    "weight: blocked scores must become -inf (use your masked_softmax).", _attn_zero_fill),
            Mistake("a fully blocked query row got uniform weights (the mean of V) instead of weights 0 "
                    "and output 0: a large negative fill makes that row's scores equal. Use your "
                    "masked_softmax, which returns zeros for such rows.", _attn_big_negative),
            Mistake("you returned (weights, output); return (output, weights).", _attn_swapped),
        ],
    ),
}

"""03_qkv_by_hand: softmax and scaled dot-product attention."""

import numpy as np

from ..spec import Case, FunctionSpec, Mistake, float32

ASSIGNMENT = "03_qkv_by_hand"

rng = np.random.default_rng(303)
X45 = rng.standard_normal((4, 5)) * 3
X234 = rng.standard_normal((2, 3, 4)) * 2


def _stable_exp(x, axis):
    return np.exp(x - np.max(x, axis=axis, keepdims=True))


def _softmax(x, axis=-1):
    e = _stable_exp(np.asarray(x, dtype=float), axis)
    return e / e.sum(axis=axis, keepdims=True)


def _softmax_ignores_axis(x, axis=-1):
    return _softmax(x, -1)


def _softmax_whole_array(x, axis=-1):
    e = np.exp(np.asarray(x) - np.max(x))
    return e / e.sum()


def _softmax_no_exp(x, axis=-1):
    x = np.asarray(x, dtype=float)
    return x / x.sum(axis=axis, keepdims=True)


def _attn(Q, K, V, scale, axis=-1):
    scores = Q @ np.swapaxes(K, -1, -2) / scale(K.shape[-1])
    w = _softmax(scores, axis)
    return w @ V, w


def _no_scale(Q, K, V):
    return _attn(Q, K, V, lambda d: 1.0)


def _scale_by_d(Q, K, V):
    return _attn(Q, K, V, lambda d: d)


def _wrong_axis(Q, K, V):
    return _attn(Q, K, V, np.sqrt, axis=-2)


def _plain_transpose(Q, K, V):
    # K.T on a batch reverses every axis, not just the last two.
    w = _softmax(Q @ K.T / np.sqrt(K.shape[-1]))
    return w @ V, w


def _no_transpose(Q, K, V):
    w = _softmax(Q @ K / np.sqrt(K.shape[-1]))
    return w @ V, w


def _swapped_outputs(Q, K, V):
    out, w = _attn(Q, K, V, np.sqrt)
    return w, out


Q34, K54, V53 = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
Qb, Kb, Vb = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 6))
Q64, K64, V64 = rng.standard_normal((4, 64)), rng.standard_normal((4, 64)), rng.standard_normal((4, 64))

FUNCTIONS = {
    "softmax": FunctionSpec(
        outputs=["probabilities"],
        strict_warnings=True,
        cases=[
            Case("the lecture's scores [3.2, 1.1, 5.8]", (np.array([3.2, 1.1, 5.8]),)),
            Case("a (4, 5) array along the last axis", (X45,)),
            Case("a (4, 5) array with axis=0", (X45,), {"axis": 0}),
            Case("a (2, 3, 4) array with axis=1", (X234,), {"axis": 1}),
            Case("a (2, 3, 4) array with axis=-2", (X234,), {"axis": -2}),
            Case("equal scores (uniform weights)", (np.full((2, 4), 7.0),)),
            Case("scores of magnitude 1e4", (np.array([[1e4, -1e4, 1e4 - 1.0], [-1e4, -1e4 + 2, -1e4]]),)),
            float32(Case("a (4, 5) array", (X45,))),
        ],
        mistakes=[
            Mistake("you ignored `axis` and always used the last axis; pass axis=axis to max and sum "
                    "(with keepdims=True).", _softmax_ignores_axis),
            Mistake("you normalised over the whole array; sum along `axis` only (keepdims=True).",
                    _softmax_whole_array),
            Mistake("you forgot to exponentiate before normalising.", _softmax_no_exp),
        ],
    ),
    "scaled_dot_product_attention": FunctionSpec(
        outputs=["output", "weights"],
        cases=[
            Case("square inputs: 3 queries, 3 keys, d_k = 4",
                 (Q34, K54[:3], rng.standard_normal((3, 4)))),
            Case("3 queries, 4 keys, d_k = 4", (Q34, K54[:4], V53[:4])),
            Case("3 queries, 5 keys, d_k = 4, d_v = 3", (Q34, K54, V53)),
            Case("a batch of 2", (Qb, Kb, Vb)),
            Case("a batch of 2 with 2 queries, 2 keys, d_k = 2",
                 (rng.standard_normal((2, 2, 2)), rng.standard_normal((2, 2, 2)),
                  rng.standard_normal((2, 2, 3)))),
            Case("two batch dimensions (2, 3, ...)",
                 (rng.standard_normal((2, 3, 2, 4)), rng.standard_normal((2, 3, 5, 4)),
                  rng.standard_normal((2, 3, 5, 2)))),
            Case("d_k = 64 (large unscaled scores)", (Q64 * 2, K64 * 2, V64)),
            float32(Case("a batch of 2", (Qb, Kb, Vb))),
        ],
        mistakes=[
            Mistake("did you forget to divide the scores by sqrt(d_k)?", _no_scale),
            Mistake("you divided the scores by d_k; divide by sqrt(d_k).", _scale_by_d),
            Mistake("softmax over the wrong axis: each query's weights (the last axis, over the "
                    "keys) must sum to 1.", _wrong_axis),
            Mistake("K is not transposed: the scores are Q @ K^T (K.T, or np.swapaxes(K, -1, -2) "
                    "for batches).", _no_transpose),
            Mistake("K.T reverses all axes of a batch; transpose only the last two with "
                    "np.swapaxes(K, -1, -2) (or K.swapaxes(-1, -2)).", _plain_transpose),
            Mistake("you returned (weights, output); return (output, weights).", _swapped_outputs),
        ],
    ),
}

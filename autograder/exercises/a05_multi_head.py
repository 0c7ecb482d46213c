"""05_multi_head: splitting into heads, merging them back, multi-head attention."""

import numpy as np

from ..spec import attend as _attention, Case, float32, FunctionSpec, Mistake

ASSIGNMENT = "05_multi_head"

rng = np.random.default_rng(505)


# --- correct building blocks the mistakes are made of --------------------------------


def _split(X, h):
    X = np.asarray(X)
    return np.swapaxes(X.reshape(*X.shape[:-1], h, X.shape[-1] // h), -3, -2)


def _merge(X):
    X = np.asarray(X)
    return np.swapaxes(X, -3, -2).reshape(*X.shape[:-3], X.shape[-2], X.shape[-3] * X.shape[-1])


# --- split_heads mistakes ---------------------------------------------------------------


def _split_no_transpose(X, h):
    # (..., n, d_model) reshaped straight to (..., h, n, d_head): right shape, tokens mixed up.
    X = np.asarray(X)
    *batch, n, d = X.shape
    return X.reshape(*batch, h, n, d // h)


def _split_interleaved(X, h):
    # head i gets columns i, i + h, i + 2h, ... instead of a contiguous block.
    X = np.asarray(X)
    *batch, n, d = X.shape
    return np.moveaxis(X.reshape(*batch, n, d // h, h), -1, -3)


# --- merge_heads mistakes ---------------------------------------------------------------


def _merge_no_transpose(X):
    X = np.asarray(X)
    *batch, h, n, dh = X.shape
    return X.reshape(*batch, n, h * dh)


def _merge_interleaved(X):
    # (..., h, n, d_head) -> (..., n, d_head, h) -> reshape: the heads' columns interleave.
    X = np.asarray(X)
    *batch, h, n, dh = X.shape
    return np.moveaxis(X, -3, -1).reshape(*batch, n, h * dh)


# --- multi_head_attention mistakes --------------------------------------------------------


def _mha(X_q, X_kv, W_q, W_k, W_v, W_o, h, split=_split, merge=_merge, scale=None, axis=-1,
         use_W_o=True):
    Q, K, V = split(X_q @ W_q, h), split(X_kv @ W_k, h), split(X_kv @ W_v, h)
    out, w = _attention(Q, K, V, scale=None if scale is None else scale(X_q.shape[-1]), axis=axis)
    merged = merge(out)
    return (merged @ W_o if use_W_o else merged), w


def _mha_no_W_o(X_q, X_kv, W_q, W_k, W_v, W_o, h):
    return _mha(X_q, X_kv, W_q, W_k, W_v, W_o, h, use_W_o=False)


def _mha_sqrt_d_model(X_q, X_kv, W_q, W_k, W_v, W_o, h):
    return _mha(X_q, X_kv, W_q, W_k, W_v, W_o, h, scale=lambda d_model: d_model)


def _mha_wrong_axis(X_q, X_kv, W_q, W_k, W_v, W_o, h):
    return _mha(X_q, X_kv, W_q, W_k, W_v, W_o, h, axis=-2)


def _mha_split_no_transpose(X_q, X_kv, W_q, W_k, W_v, W_o, h):
    return _mha(X_q, X_kv, W_q, W_k, W_v, W_o, h, split=_split_no_transpose)


def _mha_split_interleaved(X_q, X_kv, W_q, W_k, W_v, W_o, h):
    return _mha(X_q, X_kv, W_q, W_k, W_v, W_o, h, split=_split_interleaved)


def _mha_merge_no_transpose(X_q, X_kv, W_q, W_k, W_v, W_o, h):
    return _mha(X_q, X_kv, W_q, W_k, W_v, W_o, h, merge=_merge_no_transpose)


def _mha_kv_from_queries(X_q, X_kv, W_q, W_k, W_v, W_o, h):
    return _mha(X_q, X_q, W_q, W_k, W_v, W_o, h)


def _mha_W_o_transposed(X_q, X_kv, W_q, W_k, W_v, W_o, h):
    return _mha(X_q, X_kv, W_q, W_k, W_v, W_o.T, h)


# --- cases ----------------------------------------------------------------------------------


def _ws(d, scale=1.0):
    return tuple(rng.standard_normal((d, d)) * scale / np.sqrt(d) for _ in range(4))


X_self = rng.standard_normal((4, 8))
X_q12, X_kv12 = rng.standard_normal((3, 12)), rng.standard_normal((5, 12))
X_qb, X_kvb = rng.standard_normal((2, 3, 8)), rng.standard_normal((2, 5, 8))
W8, W12, W6, W4, W32 = _ws(8), _ws(12), _ws(6), _ws(4), _ws(32)
W_big = tuple(w * s for w, s in zip(_ws(8), (25.0, 25.0, 1.0, 1.0)))  # scores in the thousands
X_big = rng.standard_normal((2, 4, 8)) * 3
X_lect = rng.standard_normal((3, 512))

split_cases = [
    Case("2 tokens, d_model = 6, 2 heads", (np.arange(12.0).reshape(2, 6), 2)),
    Case("5 tokens, d_model = 12, 3 heads", (rng.standard_normal((5, 12)), 3)),
    Case("5 tokens, d_model = 12, 4 heads", (rng.standard_normal((5, 12)), 4)),
    Case("a batch of 2: (2, 4, 8), 2 heads", (rng.standard_normal((2, 4, 8)), 2)),
    Case("two batch dimensions: (2, 3, 4, 8), 4 heads", (rng.standard_normal((2, 3, 4, 8)), 4)),
    Case("one head (num_heads = 1)", (rng.standard_normal((3, 6)), 1)),
    Case("d_head = 1 (num_heads = d_model = 6)", (rng.standard_normal((3, 6)), 6)),
    Case("the lecture's sizes: 3 tokens, d_model = 512, 8 heads", (X_lect, 8)),
    float32(Case("a batch of 2: (2, 4, 8), 4 heads", (rng.standard_normal((2, 4, 8)), 4))),
]

merge_cases = [
    Case("2 heads, 2 tokens, d_head = 3", (np.arange(12.0).reshape(2, 2, 3),)),
    Case("3 heads, 5 tokens, d_head = 4", (rng.standard_normal((3, 5, 4)),)),
    Case("4 heads, 3 tokens, d_head = 2", (rng.standard_normal((4, 3, 2)),)),
    Case("a batch of 2: (2, 2, 4, 4)", (rng.standard_normal((2, 2, 4, 4)),)),
    Case("two batch dimensions: (2, 3, 4, 5, 2)", (rng.standard_normal((2, 3, 4, 5, 2)),)),
    Case("one head: (1, 5, 12)", (rng.standard_normal((1, 5, 12)),)),
    Case("d_head = 1: (6, 5, 1)", (rng.standard_normal((6, 5, 1)),)),
    Case("the lecture's sizes: 8 heads, 3 tokens, d_head = 64", (rng.standard_normal((8, 3, 64)),)),
    float32(Case("a batch of 2: (2, 4, 3, 2)", (rng.standard_normal((2, 4, 3, 2)),))),
]

mha_cases = [
    Case("self-attention: 4 tokens, d_model = 8, 2 heads", (X_self, X_self, *W8, 2)),
    Case("cross-attention: 3 queries, 5 keys, d_model = 12, 3 heads", (X_q12, X_kv12, *W12, 3)),
    Case("cross-attention: 3 queries, 5 keys, d_model = 12, 4 heads", (X_q12, X_kv12, *W12, 4)),
    Case("a batch of 2: 3 queries, 5 keys, d_model = 8, 4 heads", (X_qb, X_kvb, *W8, 4)),
    Case("two batch dimensions (2, 2): 3 queries, 4 keys, d_model = 6, 3 heads",
         (rng.standard_normal((2, 2, 3, 6)), rng.standard_normal((2, 2, 4, 6)), *W6, 3)),
    Case("one head (num_heads = 1)", (X_q12[:, :6], X_kv12[:, :6], *W6, 1)),
    Case("d_head = 1 (num_heads = d_model = 4)",
         (rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), *W4, 4)),
    Case("d_model = 32, 8 heads, 5 queries, 6 keys",
         (rng.standard_normal((5, 32)), rng.standard_normal((6, 32)), *W32, 8)),
    Case("large scores (in the thousands): a batch of 2 self-attention, 2 heads",
         (X_big, X_big, *W_big, 2)),
    float32(Case("a batch of 2: 3 queries, 5 keys, d_model = 8, 4 heads", (X_qb, X_kvb, *W8, 4))),
]

SPLIT_NO_TRANSPOSE = (
    "you reshaped (..., n, d_model) straight to (..., num_heads, n, d_head): the shape is right "
    "but the numbers are mixed up between tokens. Reshape to (..., n, num_heads, d_head) first, "
    "then swap the axes n and num_heads (np.swapaxes(X, -3, -2)).")
SPLIT_INTERLEAVED = (
    "head 0 got every num_heads-th column (0, h, 2h, ...) instead of the first d_head columns: "
    "reshape the last axis into (num_heads, d_head), in that order, not (d_head, num_heads).")
MERGE_NO_TRANSPOSE = (
    "you reshaped (..., h, n, d_head) straight to (..., n, h*d_head): swap the axes h and n back "
    "first (np.swapaxes(X, -3, -2) gives (..., n, h, d_head)), then reshape.")

FUNCTIONS = {
    "split_heads": FunctionSpec(
        outputs=["heads"],
        cases=split_cases,
        mistakes=[
            Mistake(SPLIT_NO_TRANSPOSE, _split_no_transpose),
            Mistake(SPLIT_INTERLEAVED, _split_interleaved),
        ],
    ),
    "merge_heads": FunctionSpec(
        outputs=["merged"],
        cases=merge_cases,
        mistakes=[
            Mistake(MERGE_NO_TRANSPOSE, _merge_no_transpose),
            Mistake("the heads' columns are interleaved: head i's output must fill the block of "
                    "columns i*d_head:(i+1)*d_head. Go (..., h, n, d_head) -> (..., n, h, d_head) "
                    "with np.swapaxes(X, -3, -2), then reshape.", _merge_interleaved),
        ],
    ),
    "multi_head_attention": FunctionSpec(
        outputs=["output", "weights"],
        cases=mha_cases,
        mistakes=[
            Mistake("did you forget W_o? The merged heads must be multiplied by W_o at the end: "
                    "output = merge_heads(...) @ W_o.", _mha_no_W_o),
            Mistake("you divided the scores by sqrt(d_model); each head divides by sqrt(d_head) "
                    "(its own key size, d_model / num_heads).", _mha_sqrt_d_model),
            Mistake("softmax over the wrong axis: each query's weights (the last axis, over the "
                    "keys) must sum to 1.", _mha_wrong_axis),
            Mistake("the heads were split wrongly (in split_heads): " + SPLIT_NO_TRANSPOSE,
                    _mha_split_no_transpose),
            Mistake("the heads were split wrongly (in split_heads): " + SPLIT_INTERLEAVED,
                    _mha_split_interleaved),
            Mistake("the heads were merged wrongly (in merge_heads): " + MERGE_NO_TRANSPOSE,
                    _mha_merge_no_transpose),
            Mistake("keys and values must come from X_kv (queries from X_q); you used X_q for "
                    "all three.", _mha_kv_from_queries),
            Mistake("row-vector convention: multiply by W_o on the right as it is (merged @ W_o), "
                    "not by W_o.T.", _mha_W_o_transposed),
        ],
    ),
}

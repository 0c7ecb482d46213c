"""The visible checks of notebooks 04 to 07, one function per exercise.

A test cell says in a few comment lines what it checks and calls one of these, so that the
student reads what is checked, not forty lines of test code. Every check is made with
:mod:`attnlab.checks` and fails with a hint in words (the likely mistake, what to try). Expected
values are computed here from first principles (a plain softmax written out), never from a
solution. The functions return ``None``, as nbgrader wants of a test cell's last line.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

from .checks import call, check_close, check_finite, check_raises, check_rows_sum_to_one, check_shape


def _softmax(x, axis=-1):
    x = np.asarray(x, dtype=float)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _attention(Q, K, V):
    w = _softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt(K.shape[-1]))
    return w @ V, w


def _as_ints(mask) -> np.ndarray:
    return np.asarray(mask).astype(int)


# --- 04_self_attention --------------------------------------------------------------------

# The example by hand of notebook 04: "animal" and "it" as one-hot rows, d_k = 4.
ANIMAL_IT = {
    "X": np.eye(2),                                              # (2, 2): animal, it
    "W_q": np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]),  # (2, 4): only "it" asks
    "W_k": np.array([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]),  # (2, 4): only "animal" answers
    "W_v": np.eye(2),
}


def check_self_attention(self_attention: Callable) -> None:
    """Three identical tokens; the example by hand ("animal", "it"); a batch; float32."""
    rng = np.random.default_rng(4)
    x = np.array([1.0, 2.0, -1.0])
    Wq3, Wk3, Wv3 = rng.standard_normal((3, 3, 3))               # each (d_model, d) = (3, 3)
    out, w = call(self_attention, np.stack([x, x, x]), Wq3, Wk3, Wv3)
    check_close(w, np.full((3, 3), 1 / 3), "weights of three identical tokens", rtol=1e-8,
                hint="identical tokens have identical keys, so every score is equal. Project each token "
                     "(a row of X) with X @ W_k, not W_k @ X, and compute the scores as Q @ K^T.")
    check_close(out, np.stack([x @ Wv3] * 3), "output of three identical tokens", rtol=1e-8,
                hint="with equal weights the output is the token's value, x @ W_v: the values come from "
                     "W_v (not W_k or W_q).")

    ex = ANIMAL_IT
    out, w = call(self_attention, ex["X"], ex["W_q"], ex["W_k"], ex["W_v"])
    check_shape(w, (2, 2), "weights")
    check_rows_sum_to_one(w, "weights")
    it_row = _softmax([2.0, 0.0])                                # [0.881, 0.119]
    check_close(w[1], it_row, "the weights of 'it'", rtol=1e-8,
                hint="'it' asks with q_it = x_it @ W_q = [1, 1, 1, 1]; 'animal' answers with "
                     "k_animal = x_animal @ W_k = [1, 1, 1, 1]. Their score 4 is divided by "
                     "sqrt(d_k) = sqrt(4) = 2 (d_k = 4, the width of W_q and W_k, not d_model = 2), so "
                     "the weights of 'it' are softmax([2, 0]) = [0.881, 0.119].")
    check_close(w[0], [0.5, 0.5], "the weights of 'animal'", rtol=1e-8,
                hint="'animal' asks nothing (q_animal = x_animal @ W_q = 0): both its scores are 0.")
    check_close(out, np.stack([[0.5, 0.5], it_row]), "output", rtol=1e-8)

    Xb = rng.standard_normal((2, 5, 6))                          # 2 sentences, 5 tokens, d_model 6
    Wq, Wk, Wv = rng.standard_normal((6, 4)), rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    outb, wb = call(self_attention, Xb, Wq, Wk, Wv)
    check_shape(wb, (2, 5, 5), "weights of a batch")
    check_shape(outb, (2, 5, 3), "output of a batch")
    check_rows_sum_to_one(wb, "weights of a batch")
    out1, w1 = call(self_attention, Xb[1], Wq, Wk, Wv)
    check_close(wb[1], w1, "batch item 1 vs the same sentence alone", rtol=1e-10)
    check_close(outb[1], out1, "output of batch item 1 vs the same sentence alone", rtol=1e-10)
    out32, w32 = call(self_attention, *(a.astype(np.float32) for a in (Xb, Wq, Wk, Wv)))
    check_close(w32, wb, "weights for float32 inputs", rtol=1e-4, atol=1e-6)


# The example by hand of notebook 04's cross-attention: English "black cat", French "chat noir".
BLACK_CAT = {
    "X_enc": np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),      # black, cat   (cat, black, French)
    "X_dec": np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]),      # chat, noir
    "W_qk": np.array([[1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 1.0, -1.0], [0.0, 0.0, 0.0, 0.0]]),  # (3, 4)
}


def check_cross_attention(cross_attention: Callable) -> None:
    """The example by hand ("black cat" -> "chat noir"); a batch of pairs; float32."""
    ex = BLACK_CAT
    out, w = call(cross_attention, ex["X_dec"], ex["X_enc"], ex["W_qk"], ex["W_qk"], np.eye(3))
    check_shape(w, (2, 2), "weights")
    check_shape(out, (2, 3), "output (one row per decoder token; d_v = 3 columns, since V = X_enc @ W_v)")
    check_rows_sum_to_one(w, "weights")
    a, b = _softmax([0.0, 2.0])                                  # 0.119, 0.881
    check_close(w, [[a, b], [b, a]], "weights of 'chat' and 'noir' over ['black', 'cat']", rtol=1e-8,
                hint="'chat' asks with its query X_dec @ W_q = [1, 1, 1, 1] and compares it with the keys "
                     "of the ENCODER's tokens, X_enc @ W_k: 'black' [1, -1, 1, -1] and 'cat' [1, 1, 1, 1]. "
                     "Scores [0, 4] / sqrt(4) = [0, 2], weights [0.119, 0.881]. The queries come from "
                     "X_dec, the keys and values from X_enc.")
    check_close(out, [[b, a, 0.0], [a, b, 0.0]], "output", rtol=1e-8,
                hint="the output mixes the values of the ENCODER's tokens, V = X_enc @ W_v (English words, "
                     "whose French flag is 0): only the queries come from X_dec.")

    rng = np.random.default_rng(5)                               # 3 decoder tokens, 4 encoder tokens
    Xd, Xe = rng.standard_normal((2, 3, 5)), rng.standard_normal((2, 4, 5))
    Wq, Wk, Wv = rng.standard_normal((5, 2)), rng.standard_normal((5, 2)), rng.standard_normal((5, 3))
    out0, w0 = call(cross_attention, Xd[0], Xe[0], Wq, Wk, Wv)
    check_shape(w0, (3, 4), "weights (n_dec, n_enc)")
    check_rows_sum_to_one(w0, "weights (one row per decoder token)")
    outb, wb = call(cross_attention, Xd, Xe, Wq, Wk, Wv)
    check_shape(wb, (2, 3, 4), "weights (batch, n_dec, n_enc)")
    check_shape(outb, (2, 3, 3), "output (batch, n_dec, d_v)")
    check_close(wb[0], w0, "batch item 0 vs the same pair alone", rtol=1e-10)
    check_close(outb[0], out0, "output of batch item 0 vs the same pair alone", rtol=1e-10)
    out32, _ = call(cross_attention, *(a.astype(np.float32) for a in (Xd, Xe, Wq, Wk, Wv)))
    check_close(out32, outb, "output for float32 inputs", rtol=1e-4, atol=1e-5)


# --- 05_multi_head ------------------------------------------------------------------------


def check_split_heads(split_heads: Callable) -> None:
    """The 2-token example; a (2, 3) batch cut into 4 heads; float32; 8 columns into 3 heads."""
    Q = np.arange(12.0).reshape(2, 6)                            # 2 tokens, d_model = 6
    heads = call(split_heads, Q, 2)
    check_shape(heads, (2, 2, 3), "split_heads(Q (2, 6), num_heads=2)")
    check_close(heads[0, 0], [0.0, 1.0, 2.0], "head 0 of token 0", atol=1e-12,
                hint="head 0 takes the FIRST d_head columns (0, 1, 2), not every num_heads-th column: "
                     "reshape the last axis into (num_heads, d_head), in that order.")
    check_close(heads, [[[0.0, 1.0, 2.0], [6.0, 7.0, 8.0]], [[3.0, 4.0, 5.0], [9.0, 10.0, 11.0]]],
                "split_heads(Q, 2)", atol=1e-12,
                hint="every head holds every token: reshape (n, d_model) -> (n, num_heads, d_head), then "
                     "swap the axes n and num_heads (np.swapaxes(..., -3, -2)). Reshaping straight to "
                     "(num_heads, n, d_head) gives the right shape but mixes up the tokens.")
    Xb = np.random.default_rng(1).standard_normal((2, 3, 4, 8))
    hb = call(split_heads, Xb, 4)
    check_shape(hb, (2, 3, 4, 4, 2), "split_heads(X (2, 3, 4, 8), num_heads=4)")
    check_close(hb[1, 2, 3], Xb[1, 2, :, 6:8], "head 3 of batch item (1, 2)", atol=1e-12,
                hint="head 3 of 4 must be columns 6:8 of every token of that batch item.")
    check_close(call(split_heads, Xb.astype(np.float32), 4), hb, "split_heads of float32 input", rtol=1e-6)
    check_raises(split_heads, (np.zeros((3, 8)), 3), ValueError, "split_heads(X (3, 8), num_heads=3)",
                 "because 8 columns cannot be cut into 3 equal heads")


def check_merge_heads(merge_heads: Callable) -> None:
    """The 2-head example; undoing a split made by hand in a (2, 3) batch; float32."""
    H = np.arange(12.0).reshape(2, 2, 3)                         # (h, n, d_head) = (2, 2, 3)
    merged = call(merge_heads, H)
    check_shape(merged, (2, 6), "merge_heads of (2 heads, 2 tokens, d_head = 3)")
    check_close(merged, [[0.0, 1.0, 2.0, 6.0, 7.0, 8.0], [3.0, 4.0, 5.0, 9.0, 10.0, 11.0]], "merge_heads(H)",
                atol=1e-12,
                hint="token t's row is head 0's row t followed by head 1's row t. Swap the axes h and n "
                     "back first (np.swapaxes(X, -3, -2) gives (n, h, d_head)), then reshape.")
    Xb = np.random.default_rng(2).standard_normal((2, 3, 4, 6))  # (2, 3, n=4, d_model=6)
    by_hand = np.stack([Xb[..., 0:2], Xb[..., 2:4], Xb[..., 4:6]], axis=-3)  # (2, 3, h=3, n=4, d_head=2)
    check_close(call(merge_heads, by_hand), Xb, "merge_heads undoing a split into 3 heads", atol=1e-12)
    check_close(call(merge_heads, by_hand.astype(np.float32)), Xb, "merge_heads of float32 input", rtol=1e-6)


def check_multi_head_attention(multi_head_attention: Callable) -> None:
    """Two heads by hand (identity weights); W_o; cross-attention in a batch; one head; float32."""
    Xs = np.array([[2.0, 0.0, 0.0, 0.0],     # token 0
                   [0.0, 0.0, 2.0, 0.0],     # token 1
                   [2.0, 0.0, 2.0, 0.0]])    # token 2                       (3, 4)
    I4 = np.eye(4)
    out_s, w_s = call(multi_head_attention, Xs, Xs, I4, I4, I4, I4, 2)
    check_shape(w_s, (2, 3, 3), "weights (2 heads, 3 queries, 3 keys)")
    check_shape(out_s, (3, 4), "output")
    for i in range(2):
        check_rows_sum_to_one(w_s[i], f"weights of head {i}")
    # Head 0 sees columns 0:2 only: tokens [2, 0], [0, 0], [2, 0]; token 0's scores [4, 0, 4] / sqrt(2).
    # Head 1 sees columns 2:4 only: tokens [0, 0], [2, 0], [2, 0]; token 0's scores [0, 0, 0].
    head_hint = ("head i sees only columns i*d_head:(i+1)*d_head of Q and K (as split_heads cuts them; "
                 "here d_head = 2), and divides its scores by sqrt(d_head) = sqrt(2), not by sqrt(d_model).")
    check_close(w_s[0, 0], _softmax(np.array([4.0, 0.0, 4.0]) / np.sqrt(2)), "head 0's weights for token 0",
                rtol=1e-6, hint=head_hint)
    check_close(w_s[1, 0], [1 / 3, 1 / 3, 1 / 3], "head 1's weights for token 0", rtol=1e-6, hint=head_hint)
    check_close(w_s[1, 2], _softmax(np.array([0.0, 4.0, 4.0]) / np.sqrt(2)), "head 1's weights for token 2",
                rtol=1e-6, hint=head_hint)
    # With W_v = W_o = I, each head's output is its weights times its own columns, side by side.
    check_close(out_s, np.concatenate([w_s[0] @ Xs[:, 0:2], w_s[1] @ Xs[:, 2:4]], axis=-1), "output",
                rtol=1e-6,
                hint="merge the heads so that head i's output fills columns i*d_head:(i+1)*d_head of each "
                     "token: (h, n, d_head) -> swap to (n, h, d_head) -> reshape to (n, h*d_head).")
    W_o2 = np.array([[1.0, 0.0, 0.0, 0.0],
                     [0.0, 2.0, 0.0, 0.0],
                     [1.0, 0.0, 3.0, 0.0],
                     [0.0, 0.0, 0.0, 4.0]])    # mixes head 1's first column into head 0's
    out_o, _ = call(multi_head_attention, Xs, Xs, I4, I4, I4, W_o2, 2)
    check_close(out_o, out_s @ W_o2, "output with the W_o above", rtol=1e-6,
                hint="did you forget W_o? The last step is merged @ W_o (not W_o.T, not W_o @ merged).")

    rng = np.random.default_rng(5)            # cross-attention in a batch of 2: 3 queries, 5 keys, 4 heads
    Xq, Xkv = rng.standard_normal((2, 3, 8)), rng.standard_normal((2, 5, 8))
    Ws = rng.standard_normal((4, 8, 8)) / np.sqrt(8)             # W_q, W_k, W_v, W_o
    out_b, w_b = call(multi_head_attention, Xq, Xkv, *Ws, 4)
    check_shape(w_b, (2, 4, 3, 5), "weights (batch 2, 4 heads, 3 queries from X_q, 5 keys from X_kv)")
    check_shape(out_b, (2, 3, 8), "output (batch 2, 3 queries, d_model 8)")
    for i in range(4):
        check_rows_sum_to_one(w_b[0, i], f"weights of head {i} (batch item 0)")
    out_1, _ = call(multi_head_attention, Xq[1], Xkv[1], *Ws, 4)
    check_close(out_b[1], out_1, "batch item 1 vs the same item alone", rtol=1e-10, atol=1e-12)
    out_h1, w_h1 = call(multi_head_attention, Xq, Xkv, *Ws, 1)   # one head: attention, then W_o
    ref_out, ref_w = _attention(Xq @ Ws[0], Xkv @ Ws[1], Xkv @ Ws[2])
    check_close(w_h1[:, 0], ref_w, "weights with a single head", rtol=1e-10, atol=1e-12)
    check_close(out_h1, ref_out @ Ws[3], "output with a single head", rtol=1e-10, atol=1e-12)
    out_32, _ = call(multi_head_attention, *(a.astype(np.float32) for a in (Xq, Xkv, *Ws)), 4)
    check_close(out_32, out_b, "output for float32 inputs", rtol=1e-4, atol=1e-5)
    check_raises(multi_head_attention, (Xq, Xkv, *Ws, 3), ValueError, "multi_head_attention(..., "
                 "num_heads=3) with d_model = 8", "because 8 columns cannot be cut into 3 equal heads")


# --- 06_masking ---------------------------------------------------------------------------

# The lecture's padding example: one query of "I love NLP [PAD] [PAD] [PAD]".
LECTURE_SCORES = np.array([2.1, 1.5, 3.2, 0.8, 0.5, 0.7])
LECTURE_MASK = np.array([True, True, True, False, False, False])


def _bool_result(m, name: str, how: str) -> None:
    assert np.asarray(m).dtype == bool, (
        f"{name} should return a bool array (True/False), but its dtype is {np.asarray(m).dtype}. {how}")


def check_padding_mask(padding_mask: Callable) -> None:
    """The lecture's batch (lengths [6, 3]); lengths as an array, with an empty sentence."""
    m = call(padding_mask, [6, 3], 6)
    check_shape(m, (2, 6), "padding_mask([6, 3], 6)")
    check_close(_as_ints(m), [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]],
                "padding_mask([6, 3], 6) (True shown as 1, False as 0)", atol=0,
                hint="position j is a real token when j < length. Positions count from 0: a sentence of "
                     "length 3 fills positions 0, 1, 2, so `<=` is off by one. And True marks the real "
                     "tokens, not the padding.")
    _bool_result(m, "padding_mask", "A comparison such as `<` gives bools directly (or use .astype(bool)).")
    m2 = call(padding_mask, np.array([2, 0, 4]), 4)
    check_shape(m2, (3, 4), "padding_mask(np.array([2, 0, 4]), 4)")
    check_close(_as_ints(m2), [[1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]],
                "padding_mask(np.array([2, 0, 4]), 4) (as 1/0)", atol=0,
                hint="position j is a real token when j < length; a sentence of length 0 is all padding.")


def check_causal_mask(causal_mask: Callable) -> None:
    """causal_mask(3) and its diagonal; n = 1; the count of True in causal_mask(6)."""
    c = call(causal_mask, 3)
    check_shape(c, (3, 3), "causal_mask(3)")
    check_close(np.diagonal(_as_ints(c)), [1, 1, 1], "the diagonal of causal_mask(3) (as 1/0)", atol=0,
                hint="a token may attend to itself, so the diagonal must be True: keep j <= i "
                     "(np.tril with k=0), not j < i.")
    check_close(_as_ints(c), [[1, 0, 0], [1, 1, 0], [1, 1, 1]], "causal_mask(3) (True shown as 1, False as 0)",
                atol=0, hint="row i is query i: True for keys j <= i (the past and itself), False above the "
                             "diagonal (the future). An upper-triangular mask (np.triu) lets each token see "
                             "the future instead: use np.tril.")
    _bool_result(c, "causal_mask", "Use dtype=bool, a comparison, or .astype(bool).")
    check_close(_as_ints(call(causal_mask, 1)), [[1]], "causal_mask(1)", atol=0)
    c6 = call(causal_mask, 6)
    check_shape(c6, (6, 6), "causal_mask(6)")
    check_close(np.asarray(c6).sum(), 21, "the number of True entries in causal_mask(6)", atol=0,
                hint="1 + 2 + ... + 6 = 21: row i allows keys 0..i.")


def _all_finite(value, message: str) -> None:
    assert np.all(np.isfinite(np.asarray(value, dtype=float))), message


def check_masked_softmax(masked_softmax: Callable) -> None:
    """The lecture's row; a fully blocked row; a (n_k,) mask for every row; huge scores; axis=0;
    float32."""
    w = call(masked_softmax, LECTURE_SCORES, LECTURE_MASK)
    check_shape(w, (6,), "masked_softmax of the lecture's row")
    check_finite(w, "masked_softmax of the lecture's row")
    check_close(np.sum(w), 1.0, "the sum of the weights", rtol=1e-10,
                hint="the weights must still sum to 1. Multiplying the weights by the mask after softmax "
                     "throws the PAD tokens' share away: block the scores (set them to -inf) *before* "
                     "softmax.")
    check_close(w[3:], [0.0, 0.0, 0.0], "the weights of the three PAD tokens (blocked)", atol=0,
                hint="a blocked entry gets exactly 0. Weight on the PAD tokens and none on I, love, NLP? "
                     "Your mask is the wrong way round: True = may attend, False = blocked. Small weights "
                     "on the PAD tokens? A blocked score of 0 is not blocked (e^0 = 1): use -inf instead "
                     "of 0.")
    check_close(w[:3], _softmax([2.1, 1.5, 3.2]), "the weights of I, love, NLP", rtol=1e-10,
                hint="they should be exactly softmax([2.1, 1.5, 3.2]), as if the PAD tokens were not there.")
    # A fully blocked row (nothing to attend to) must come out all zeros, with no nan.
    W2 = call(masked_softmax, np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]),
              np.array([[True, False, True], [False, False, False]]))
    check_shape(W2, (2, 3), "masked_softmax with a fully blocked row")
    _all_finite(W2, "masked_softmax gave nan on a fully blocked row: with every score -inf, softmax "
                    "computes 0/0 (or -inf - (-inf)). Find the rows with no allowed entry (their maximum is "
                    "-inf, or mask.any(axis=axis, keepdims=True) is False) and make them zeros, e.g. "
                    "subtract 0 instead of -inf and divide by 1 instead of 0.")
    check_close(W2[1], [0.0, 0.0, 0.0], "the fully blocked row", atol=0,
                hint="a row with nothing to attend to gets all zeros, not 1/3 each. A large negative "
                     "number (-1e9) instead of -inf makes the row's scores equal, hence uniform weights.")
    check_close(W2[0], [1 / (1 + np.e ** 2), 0.0, np.e ** 2 / (1 + np.e ** 2)], "the other row", rtol=1e-10)
    # The mask broadcasts: one (n_k,) mask for every row.
    W3 = call(masked_softmax, np.array([[0.0, 1.0, 2.0, 3.0], [3.0, 2.0, 1.0, 0.0]]),
              np.array([True, True, False, True]))
    check_shape(W3, (2, 4), "masked_softmax of (2, 4) scores with a (4,) mask")
    check_close(W3[:, 2], [0.0, 0.0], "the blocked column", atol=0)
    check_rows_sum_to_one(W3, "masked_softmax of (2, 4) scores with a (4,) mask")
    # Large scores, and a huge score that is blocked: no overflow, no 0/0.
    W4 = call(masked_softmax, np.array([1e4, 1e4 - 1.0, 3e4]), np.array([True, True, False]))
    _all_finite(W4, "masked_softmax gave nan or inf when a *blocked* score (3e4) is much larger than the "
                    "allowed ones (1e4). Subtract the maximum of the allowed scores only: put -inf at the "
                    "blocked entries first, then take the maximum.")
    check_close(W4, [1 / (1 + np.exp(-1.0)), np.exp(-1.0) / (1 + np.exp(-1.0)), 0.0],
                "masked_softmax([1e4, 1e4 - 1, 3e4], [True, True, False])", rtol=1e-10)
    # Along another axis, and in float32.
    W5 = call(masked_softmax, np.array([[1.0, 5.0], [2.0, 5.0], [9.0, 5.0]]),
              np.array([[True, True], [True, True], [False, True]]), axis=0)
    check_close(W5[:, 0], [1 / (1 + np.e), np.e / (1 + np.e), 0.0], "masked_softmax(..., axis=0), column 0",
                rtol=1e-10, hint="with axis=0 each column is one softmax: use axis=axis (keepdims=True).")
    W6 = call(masked_softmax, np.float32([1.0, 2.0, 3.0]), np.array([True, True, False]))
    check_close(W6, [1 / (1 + np.e), np.e / (1 + np.e), 0.0], "masked_softmax of float32 scores", rtol=1e-5)


def check_masked_attention(masked_attention: Callable) -> None:
    """A key mask; no leakage under a causal mask; the lecture's padded batch, with its PAD
    queries blocked too; float32."""
    rng = np.random.default_rng(0)
    Qt, Kt, Vt = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 2))  # n_q 3, n_k 5
    out, w = call(masked_attention, Qt, Kt, Vt, np.array([True, True, True, False, False]))
    check_shape(w, (3, 5), "weights")
    check_shape(out, (3, 2), "output")
    check_close(np.sum(w, axis=-1), np.ones(3), "the row sums of the weights", rtol=1e-10,
                hint="each query's weights must sum to 1. Multiplying the weights by the mask after softmax "
                     "breaks that: mask the scores before softmax (your masked_softmax does).")
    check_close(w[:, 3:], np.zeros((3, 2)), "the weights on the blocked keys 3 and 4", atol=0,
                hint="blocked keys get weight exactly 0. If keys 0-2 got 0 instead, your mask is the wrong "
                     "way round (True = may attend); if 3 and 4 got a little weight, blocked scores were "
                     "set to 0 instead of -inf.")
    out3, w3 = _attention(Qt, Kt[:3], Vt[:3])                    # as if keys 3 and 4 did not exist
    check_close(w[:, :3], w3, "the weights on the allowed keys", rtol=1e-10,
                hint="they should equal plain attention over keys 0-2 alone: did you divide the scores "
                     "by sqrt(d_k)?")
    check_close(out, out3, "output", rtol=1e-10, hint="output = weights @ V.")
    # No leakage: with a causal mask, changing the last token changes no earlier output.
    Xt = rng.normal(size=(6, 4))
    Xt_changed = Xt.copy()
    Xt_changed[-1] = rng.normal(size=4)
    tril = np.tril(np.ones((6, 6), dtype=bool))                  # written out: not the student's causal_mask
    o1, _ = call(masked_attention, Xt, Xt, Xt, tril)
    o2, _ = call(masked_attention, Xt_changed, Xt_changed, Xt_changed, tril)
    check_close(o2[:-1], o1[:-1], "the outputs of tokens 0-4 after changing token 5", atol=1e-12,
                hint="with a causal mask no token may see a later one, so changing the last token must "
                     "not change any earlier output. Is the mask applied to the scores before softmax?")
    # The lecture's batch shape with a (2, 1, 6) padding mask, and with the PAD queries blocked too.
    Xb = rng.normal(size=(2, 6, 4))
    pad = np.array([[True] * 6, [True] * 3 + [False] * 3])[:, None, :]   # (2, 1, 6)
    outb, wb = call(masked_attention, Xb, Xb, Xb, pad)
    check_shape(wb, (2, 6, 6), "weights for the batch")
    check_shape(outb, (2, 6, 4), "output for the batch")
    check_rows_sum_to_one(wb, "weights for the batch")
    check_close(wb[1, :, 3:], np.zeros((6, 3)), "sentence 2's weights on its PAD keys", atol=0)
    both = pad & np.swapaxes(pad, -1, -2)                        # (2, 6, 6): PAD rows of sentence 2 blocked
    outq, wq = call(masked_attention, Xb, Xb, Xb, both)
    _all_finite(wq, "masked_attention gave nan for fully blocked query rows: their scores are all -inf, and "
                    "softmax computes 0/0. Use your masked_softmax, which returns zeros for such rows.")
    _all_finite(outq, "masked_attention gave nan for fully blocked query rows: their scores are all -inf, "
                      "and softmax computes 0/0. Use your masked_softmax, which returns zeros for such rows.")
    check_close(wq[1, 3:], np.zeros((3, 6)), "the weights of the fully blocked PAD queries", atol=0)
    check_close(outq[1, 3:], np.zeros((3, 4)), "the output of the fully blocked PAD queries", atol=0,
                hint="weights 0 give output 0.")
    check_close(wq[0], wb[0], "sentence 1 (nothing blocked)", rtol=1e-10)
    _, w32 = call(masked_attention, *(a.astype(np.float32) for a in (Xb, Xb, Xb)), pad)
    check_close(w32, wb, "weights for float32 inputs", rtol=1e-5, atol=1e-6)


# --- 07_bertviz ---------------------------------------------------------------------------


def check_attention_entropy(attention_entropy: Callable, att) -> None:
    """Uniform, one-hot and zero-weight rows (without a warning); a (2, 3) array; the real
    model's ``att``; float32."""
    check_close(call(attention_entropy, np.full(4, 0.25)), np.log(4), "entropy of [1/4, 1/4, 1/4, 1/4]",
                rtol=1e-10, hint="H = -Σ w·log w with the natural log (np.log, not np.log2); mind the "
                                 "minus sign (entropy is never negative) and SUM over the row (not mean).")
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        h_zero = attention_entropy(np.array([0.5, 0.5, 0.0]))
    assert not caught, (
        f"attention_entropy([0.5, 0.5, 0]) issued a warning ({caught[0].message if caught else ''}). "
        "np.log(0) is -inf and 0·(-inf) is nan: take the log of np.where(w > 0, w, 1) instead (log 1 = 0). "
        "np.where(w > 0, w * np.log(w), 0) still computes np.log(0), so it warns too.")
    check_close(h_zero, np.log(2), "entropy of [0.5, 0.5, 0]", rtol=1e-10,
                hint="a zero weight adds nothing: 0·log 0 = 0 (no nan).")
    check_close(call(attention_entropy, np.array([0.0, 1.0, 0.0])), 0.0, "entropy of [0, 1, 0]", atol=1e-12,
                hint="one weight of 1 gives log 1 = 0, and each zero weight adds 0·log 0 = 0.")
    W23 = np.array([[0.2, 0.3, 0.5],
                    [1.0, 0.0, 0.0]])                            # 2 rows of 3 weights
    h23 = call(attention_entropy, W23)
    assert np.shape(h23) == (2,), (
        f"attention_entropy of a (2, 3) array should have shape (2,), one entropy per row, but it has "
        f"shape {np.shape(h23)}. Sum over the LAST axis (axis=-1).")
    check_close(h23, [-(0.2 * np.log(0.2) + 0.3 * np.log(0.3) + 0.5 * np.log(0.5)), 0.0],
                "entropy of the rows of a (2, 3) array", rtol=1e-10, hint="sum over the last axis (axis=-1).")
    att = np.asarray(att)
    h_real = call(attention_entropy, att)                        # the real model: (layers, heads, n, n)
    check_shape(h_real, att.shape[:-1], "attention_entropy(att)")
    assert np.all(np.asarray(h_real) >= -1e-6) and np.all(np.asarray(h_real) <= np.log(att.shape[-1]) + 1e-5), \
        "every entropy must lie between 0 and log(n)"
    check_close(call(attention_entropy, np.float32([0.25, 0.75])),
                -(0.25 * np.log(0.25) + 0.75 * np.log(0.75)), "entropy of a float32 row", rtol=1e-5)


def check_layer_attention(layer_attention: Callable, model, run, batch) -> None:
    """One head by hand; two heads; weights with biases; a padded batch; then the real model's
    first and last layer on the lecture's sentence and on ``batch``, to 1e-5."""
    from .models import query_key_weights

    X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])          # 3 tokens, d_model = 2
    I2, zero2 = np.eye(2), np.zeros(2)
    w1 = call(layer_attention, X, I2, zero2, I2, zero2, 1)
    check_shape(w1, (1, 3, 3), "layer_attention of 3 tokens with 1 head")
    check_rows_sum_to_one(w1[0], "the weights of head 0")
    check_close(w1[0], _softmax(X @ X.T / np.sqrt(2)), "1 head, identity weights", rtol=1e-10,
                hint="scores = Q K^T / sqrt(d_head) (here d_head = 2), softmax over the keys (last axis).")

    X4 = np.array([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 2.0, 0.0], [1.0, 1.0, 0.0, 0.0]])  # 2 heads of 2
    I4, zero4 = np.eye(4), np.zeros(4)
    w2 = call(layer_attention, X4, I4, zero4, I4, zero4, 2)
    check_shape(w2, (2, 3, 3), "layer_attention of 3 tokens with 2 heads")
    for i in range(2):
        cols = X4[:, 2 * i:2 * i + 2]
        check_close(w2[i], _softmax(cols @ cols.T / np.sqrt(2)), f"head {i} of 2", rtol=1e-10,
                    hint="head i takes columns i*d_head:(i+1)*d_head: reshape (n, d_model) to (n, num_heads, "
                         "d_head), then swap to (num_heads, n, d_head). Each head divides by sqrt(d_head) = "
                         "sqrt(2) here, not sqrt(d_model).")

    W_q, b_q = np.array([[1.0, 2.0], [0.0, 1.0]]), np.array([0.5, -1.0])   # row convention, biases
    W_k, b_k = np.array([[0.5, 0.0], [1.0, -1.0]]), np.array([1.0, 0.0])
    w3 = call(layer_attention, X, W_q, b_q, W_k, b_k, 1)
    Q3, K3 = X @ W_q + b_q, X @ W_k + b_k
    check_close(w3[0], _softmax(Q3 @ K3.T / np.sqrt(2)), "1 head with weights and biases", rtol=1e-10,
                hint="Q = hidden @ W_q + b_q and K = hidden @ W_k + b_k: row convention (no .T on the "
                     "weights), and do not forget the biases.")

    Xb = np.stack([X4, X4[[0, 1, 1]]])                           # (2, 3, 4): sentence 1 = 2 tokens + 1 pad
    key_mask = np.array([[True, True, True], [True, True, False]])
    wb = call(layer_attention, Xb, I4, zero4, I4, zero4, 2, key_mask)
    check_shape(wb, (2, 2, 3, 3), "layer_attention of a batch (2, 3, 4) with 2 heads")
    leak = float(np.max(np.abs(np.asarray(wb)[1, :, :, 2])))
    assert leak == 0, (
        f"the padded key (sentence 1, position 2) gets weight up to {leak:.3g}, but key_mask is False "
        "there: it must get exactly 0. Set the scores of blocked keys to -inf (or a very negative number) "
        "before the softmax; key_mask (..., n) marks KEYS, the last axis of the scores: "
        "key_mask[..., None, None, :].")
    check_close(wb[0], w2, "sentence 0 of the batch vs the same sentence alone", rtol=1e-10)
    alone = call(layer_attention, X4[:2], I4, zero4, I4, zero4, 2)
    check_close(wb[1, :, :2, :2], alone, "the 2 real tokens of sentence 1 vs those tokens alone", rtol=1e-10,
                hint="masked keys must be removed completely (-inf before the softmax), so the real "
                     "tokens' weights are those of the sentence without padding.")

    n_layers = model.config.num_hidden_layers
    for layer in (0, n_layers - 1):
        p = query_key_weights(model, layer)
        mine_1 = call(layer_attention, run.hidden_states[layer, 0], p["W_q"], p["b_q"], p["W_k"], p["b_k"],
                      p["num_heads"])
        check_close(mine_1, run.attentions[layer, 0], f"layer {layer} of the real model, lecture's sentence",
                    rtol=0, atol=1e-5, hint="compare your steps with the five above; d_head = 384 / 12 = 32.")
        mine_b = call(layer_attention, batch.hidden_states[layer], p["W_q"], p["b_q"], p["W_k"], p["b_k"],
                      p["num_heads"], batch.mask)
        check_close(mine_b, batch.attentions[layer], f"layer {layer} of the real model, padded batch",
                    rtol=0, atol=1e-5, hint="padded keys (mask False) must get weight 0.")

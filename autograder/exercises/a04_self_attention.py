"""04_self_attention: self-attention and cross-attention."""

import numpy as np

from ..spec import attend as _attend, Case, float32, FunctionSpec, Mistake, softmax as _softmax

ASSIGNMENT = "04_self_attention"

rng = np.random.default_rng(404)


def _normal(*shape, scale=1.0):
    return rng.standard_normal(shape) * scale


# --- self_attention: wrong implementations students write -------------------------


def _self_values_with_W_k(X, W_q, W_k, W_v):
    return _attend(X @ W_q, X @ W_k, X @ W_k)


def _self_keys_with_W_q(X, W_q, W_k, W_v):
    return _attend(X @ W_q, X @ W_q, X @ W_v)


def _self_q_k_swapped(X, W_q, W_k, W_v):
    return _attend(X @ W_k, X @ W_q, X @ W_v)


def _self_no_scale(X, W_q, W_k, W_v):
    return _attend(X @ W_q, X @ W_k, X @ W_v, scale=1.0)


def _self_scale_d_model(X, W_q, W_k, W_v):
    return _attend(X @ W_q, X @ W_k, X @ W_v, scale=X.shape[-1])


def _self_wrong_axis(X, W_q, W_k, W_v):
    return _attend(X @ W_q, X @ W_k, X @ W_v, axis=-2)


def _self_no_transpose(X, W_q, W_k, W_v):
    Q, K, V = X @ W_q, X @ W_k, X @ W_v
    w = _softmax(Q @ K / np.sqrt(K.shape[-1]))
    return w @ V, w


def _self_plain_transpose(X, W_q, W_k, W_v):
    # K.T on a batch reverses every axis, not just the last two.
    Q, K, V = X @ W_q, X @ W_k, X @ W_v
    w = _softmax(Q @ K.T / np.sqrt(K.shape[-1]))
    return w @ V, w


def _self_column_convention(X, W_q, W_k, W_v):
    return _attend(W_q @ X, W_k @ X, W_v @ X)


def _self_swapped_outputs(X, W_q, W_k, W_v):
    out, w = _attend(X @ W_q, X @ W_k, X @ W_v)
    return w, out


# --- cross_attention: wrong implementations students write ------------------------


def _cross_sources_swapped(X_dec, X_enc, W_q, W_k, W_v):
    return _attend(X_enc @ W_q, X_dec @ W_k, X_dec @ W_v)


def _cross_values_from_decoder(X_dec, X_enc, W_q, W_k, W_v):
    return _attend(X_dec @ W_q, X_enc @ W_k, X_dec @ W_v)


def _cross_keys_from_decoder(X_dec, X_enc, W_q, W_k, W_v):
    return _attend(X_dec @ W_q, X_dec @ W_k, X_enc @ W_v)


def _cross_self_on_decoder(X_dec, X_enc, W_q, W_k, W_v):
    return _attend(X_dec @ W_q, X_dec @ W_k, X_dec @ W_v)


def _cross_values_with_W_k(X_dec, X_enc, W_q, W_k, W_v):
    return _attend(X_dec @ W_q, X_enc @ W_k, X_enc @ W_k)


def _cross_no_scale(X_dec, X_enc, W_q, W_k, W_v):
    return _attend(X_dec @ W_q, X_enc @ W_k, X_enc @ W_v, scale=1.0)


def _cross_scale_d_model(X_dec, X_enc, W_q, W_k, W_v):
    return _attend(X_dec @ W_q, X_enc @ W_k, X_enc @ W_v, scale=X_dec.shape[-1])


def _cross_wrong_axis(X_dec, X_enc, W_q, W_k, W_v):
    return _attend(X_dec @ W_q, X_enc @ W_k, X_enc @ W_v, axis=-2)


def _cross_no_transpose(X_dec, X_enc, W_q, W_k, W_v):
    Q, K, V = X_dec @ W_q, X_enc @ W_k, X_enc @ W_v
    w = _softmax(Q @ K / np.sqrt(K.shape[-1]))
    return w @ V, w


def _cross_plain_transpose(X_dec, X_enc, W_q, W_k, W_v):
    Q, K, V = X_dec @ W_q, X_enc @ W_k, X_enc @ W_v
    w = _softmax(Q @ K.T / np.sqrt(K.shape[-1]))
    return w @ V, w


def _cross_column_convention(X_dec, X_enc, W_q, W_k, W_v):
    return _attend(W_q @ X_dec, W_k @ X_enc, W_v @ X_enc)


def _cross_swapped_outputs(X_dec, X_enc, W_q, W_k, W_v):
    out, w = _attend(X_dec @ W_q, X_enc @ W_k, X_enc @ W_v)
    return w, out


# --- cases --------------------------------------------------------------------------

# self_attention(X (..., n, d_model), W_q (d_model, d_k), W_k (d_model, d_k), W_v (d_model, d_v))
S_X46 = _normal(4, 6)
S_W = dict(q=_normal(6, 3), k=_normal(6, 3), v=_normal(6, 2))
S_Xb = _normal(2, 5, 6)
S_Wb = (_normal(6, 4), _normal(6, 4), _normal(6, 3))

# cross_attention(X_dec (..., n_dec, d_model), X_enc (..., n_enc, d_model), W_q, W_k, W_v)
C_dec, C_enc = _normal(3, 6), _normal(5, 6)
C_W = (_normal(6, 4), _normal(6, 4), _normal(6, 2))
C_decb, C_encb = _normal(2, 3, 6), _normal(2, 4, 6)
C_Wb = (_normal(6, 4), _normal(6, 4), _normal(6, 3))

FUNCTIONS = {
    "self_attention": FunctionSpec(
        outputs=["output", "weights"],
        cases=[
            Case("square: 3 tokens, d_model = d_k = d_v = 3",
                 (_normal(3, 3), _normal(3, 3), _normal(3, 3), _normal(3, 3))),
            Case("a batch of 2 with 2 tokens, d_k = d_v = 2",
                 (_normal(2, 2, 3), _normal(3, 2), _normal(3, 2), _normal(3, 2))),
            Case("4 tokens, d_model = 6, d_k = 3, d_v = 2", (S_X46, S_W["q"], S_W["k"], S_W["v"])),
            Case("4 tokens, d_model = 3, d_k = 4 (= n), d_v = 5",
                 (_normal(4, 3), _normal(3, 4), _normal(3, 4), _normal(3, 5))),
            Case("one token (n = 1)", (_normal(1, 6), S_W["q"], S_W["k"], S_W["v"])),
            Case("d_k = 1", (_normal(5, 4), _normal(4, 1), _normal(4, 1), _normal(4, 3))),
            Case("a batch of 2 sentences of 5 tokens, d_model = 6, d_k = 4, d_v = 3", (S_Xb, *S_Wb)),
            Case("two batch dimensions (2, 3, ...)",
                 (_normal(2, 3, 4, 5), _normal(5, 2), _normal(5, 2), _normal(5, 3))),
            Case("large scores (entries of X about 20)",
                 (_normal(2, 5, 4, scale=20.0), _normal(4, 4), _normal(4, 4), _normal(4, 2))),
            float32(Case("a batch of 2 sentences", (S_Xb, *S_Wb))),
        ],
        mistakes=[
            Mistake("the values must come from W_v: V = X @ W_v (you used W_k).", _self_values_with_W_k),
            Mistake("the keys must come from W_k: K = X @ W_k (you used W_q for the keys too).",
                    _self_keys_with_W_q),
            Mistake("queries and keys are swapped: Q = X @ W_q and K = X @ W_k (you used W_k for the "
                    "queries and W_q for the keys).", _self_q_k_swapped),
            Mistake("did you forget to divide the scores by sqrt(d_k)?", _self_no_scale),
            Mistake("you divided the scores by sqrt(d_model); divide by sqrt(d_k), the width of the "
                    "queries and keys (W_k.shape[-1]).", _self_scale_d_model),
            Mistake("softmax over the wrong axis: each query's weights (the last axis, over the "
                    "keys) must sum to 1.", _self_wrong_axis),
            Mistake("K is not transposed: the scores are Q @ K^T (np.swapaxes(K, -1, -2)).",
                    _self_no_transpose),
            Mistake("K.T reverses all axes of a batch; transpose only the last two with "
                    "np.swapaxes(K, -1, -2).", _self_plain_transpose),
            Mistake("you projected with W @ X (column convention); each token is a row of X, so "
                    "project with X @ W_q, X @ W_k, X @ W_v.", _self_column_convention),
            Mistake("you returned (weights, output); return (output, weights).", _self_swapped_outputs),
        ],
    ),
    "cross_attention": FunctionSpec(
        outputs=["output", "weights"],
        cases=[
            Case("square: 3 decoder and 3 encoder tokens, d_model = d_k = d_v = 3",
                 (_normal(3, 3), _normal(3, 3), _normal(3, 3), _normal(3, 3), _normal(3, 3))),
            Case("a batch of 2 with 2 decoder and 2 encoder tokens, d_k = 2",
                 (_normal(2, 2, 3), _normal(2, 2, 3), _normal(3, 2), _normal(3, 2), _normal(3, 4))),
            Case("3 decoder tokens, 5 encoder tokens, d_model = 6, d_k = 4, d_v = 2",
                 (C_dec, C_enc, *C_W)),
            Case("more decoder than encoder tokens (5 and 2)", (_normal(5, 6), _normal(2, 6), *C_W)),
            Case("one decoder token (n_dec = 1)", (_normal(1, 6), C_enc, *C_W)),
            Case("3 decoder tokens, 4 encoder tokens, d_model = 3, d_k = 4 (= n_enc), d_v = 3",
                 (_normal(3, 3), _normal(4, 3), _normal(3, 4), _normal(3, 4), _normal(3, 3))),
            Case("the same sequence as decoder and encoder (= self-attention)",
                 (S_X46, S_X46, S_W["q"], S_W["k"], S_W["v"])),
            Case("a batch of 2: 3 decoder tokens, 4 encoder tokens, d_k = 4, d_v = 3",
                 (C_decb, C_encb, *C_Wb)),
            Case("two batch dimensions (2, 3, ...)",
                 (_normal(2, 3, 2, 5), _normal(2, 3, 4, 5), _normal(5, 3), _normal(5, 3), _normal(5, 2))),
            Case("large scores (entries of the inputs about 20)",
                 (_normal(2, 3, 4, scale=20.0), _normal(2, 6, 4, scale=20.0), _normal(4, 4), _normal(4, 4),
                  _normal(4, 2))),
            float32(Case("a batch of 2", (C_decb, C_encb, *C_Wb))),
        ],
        mistakes=[
            Mistake("the sources are swapped: the queries come from the decoder (Q = X_dec @ W_q), "
                    "the keys and values from the encoder (X_enc @ W_k, X_enc @ W_v).",
                    _cross_sources_swapped),
            Mistake("the values must come from the encoder: V = X_enc @ W_v (you used X_dec).",
                    _cross_values_from_decoder),
            Mistake("the keys must come from the encoder: K = X_enc @ W_k (you used X_dec).",
                    _cross_keys_from_decoder),
            Mistake("you computed self-attention on X_dec: the keys and values must come from X_enc.",
                    _cross_self_on_decoder),
            Mistake("the values must come from W_v: V = X_enc @ W_v (you used W_k).", _cross_values_with_W_k),
            Mistake("did you forget to divide the scores by sqrt(d_k)?", _cross_no_scale),
            Mistake("you divided the scores by sqrt(d_model); divide by sqrt(d_k), the width of the "
                    "queries and keys (W_k.shape[-1]).", _cross_scale_d_model),
            Mistake("softmax over the wrong axis: each decoder token's weights (the last axis, over "
                    "the encoder's tokens) must sum to 1.", _cross_wrong_axis),
            Mistake("K is not transposed: the scores are Q @ K^T (np.swapaxes(K, -1, -2)).",
                    _cross_no_transpose),
            Mistake("K.T reverses all axes of a batch; transpose only the last two with "
                    "np.swapaxes(K, -1, -2).", _cross_plain_transpose),
            Mistake("you projected with W @ X (column convention); each token is a row, so project "
                    "with X_dec @ W_q, X_enc @ W_k, X_enc @ W_v.", _cross_column_convention),
            Mistake("you returned (weights, output); return (output, weights).", _cross_swapped_outputs),
        ],
    ),
}

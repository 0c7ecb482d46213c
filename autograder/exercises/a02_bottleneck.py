"""02_bottleneck: one RNN step, the RNN encoder, and attention pooling over its states."""

import numpy as np

from ..spec import Case, FunctionSpec, Mistake, float32

ASSIGNMENT = "02_bottleneck"

rng = np.random.default_rng(202)


def _rnn_inputs(T, d_x, d_h, scale=1.0):
    """X (T, d_x), W_h (d_h, d_h), W_x (d_x, d_h), b (d_h,), h0 (d_h,)."""
    return (rng.standard_normal((T, d_x)) * scale, rng.standard_normal((d_h, d_h)) / np.sqrt(d_h),
            rng.standard_normal((d_x, d_h)) / np.sqrt(d_x), rng.standard_normal(d_h) * 0.5,
            rng.uniform(-0.9, 0.9, d_h))


# --- rnn_step -----------------------------------------------------------------------------


def _step(h_prev, x_t, W_h, W_x, b):
    return np.tanh(np.asarray(h_prev) @ W_h + np.asarray(x_t) @ W_x + b)


def _step_column_convention(h_prev, x_t, W_h, W_x, b):
    # W_h @ h: multiplies by the transpose of W_h (W_x @ x only fits when d_x == d_h).
    return np.tanh(W_h @ h_prev + x_t @ W_x + b)


def _step_column_convention_both(h_prev, x_t, W_h, W_x, b):
    return np.tanh(W_h @ h_prev + W_x @ x_t + b)


def _step_no_bias(h_prev, x_t, W_h, W_x, b):
    return np.tanh(h_prev @ W_h + x_t @ W_x)


def _step_no_tanh(h_prev, x_t, W_h, W_x, b):
    return h_prev @ W_h + x_t @ W_x + b


def _step_tanh_on_memory_only(h_prev, x_t, W_h, W_x, b):
    return np.tanh(h_prev @ W_h) + x_t @ W_x + b


# --- rnn_encode ---------------------------------------------------------------------------


def _states(X, W_h, W_x, b, h0=None, keep_h0=False, carry=True, start=0, column=False):
    X = np.asarray(X)
    h = np.zeros(W_h.shape[0]) if h0 is None else np.asarray(h0)
    first = h
    out = [h] if keep_h0 else []
    for x_t in X[start:]:
        prev = h if carry else first
        h = np.tanh((W_h @ prev if column else prev @ W_h) + x_t @ W_x + b)
        out.append(h)
    return np.stack(out)


def _encode_last_only(X, W_h, W_x, b, h0=None):
    return _states(X, W_h, W_x, b, h0)[-1]


def _encode_with_h0_row(X, W_h, W_x, b, h0=None):
    return _states(X, W_h, W_x, b, h0, keep_h0=True)


def _encode_shifted(X, W_h, W_x, b, h0=None):
    # rows h_0 .. h_{T-1}: the state before each word instead of after it
    return _states(X, W_h, W_x, b, h0, keep_h0=True)[:-1]


def _encode_skips_first_word(X, W_h, W_x, b, h0=None):
    return _states(X, W_h, W_x, b, h0, start=1)


def _encode_ignores_h0(X, W_h, W_x, b, h0=None):
    return _states(X, W_h, W_x, b, None)


def _encode_never_carries(X, W_h, W_x, b, h0=None):
    return _states(X, W_h, W_x, b, h0, carry=False)


def _encode_column_convention(X, W_h, W_x, b, h0=None):
    return _states(X, W_h, W_x, b, h0, column=True)


# --- attention_pool -----------------------------------------------------------------------


def _softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


def _pool(query, states, scale):
    states = np.asarray(states)
    w = _softmax(states @ query / scale(states.shape[-1], states.shape[0]))
    return w @ states, w


def _pool_no_scale(query, states):
    return _pool(query, states, lambda d, T: 1.0)


def _pool_scale_by_d(query, states):
    return _pool(query, states, lambda d, T: d)


def _pool_scale_by_T(query, states):
    return _pool(query, states, lambda d, T: np.sqrt(T))


def _pool_swapped(query, states):
    context, weights = _pool(query, states, lambda d, T: np.sqrt(d))
    return weights, context


def _pool_not_summed(query, states):
    context, weights = _pool(query, states, lambda d, T: np.sqrt(d))
    return weights[:, None] * states, weights


def _pool_softmax_wrong_axis(query, states):
    # scores as a column (T, 1), softmax along its last axis (length 1): every weight is 1
    states = np.asarray(states)
    return states.sum(axis=0), np.ones(states.shape[0])


def _pool_no_softmax(query, states):
    states = np.asarray(states)
    w = states @ query / np.sqrt(states.shape[-1])
    return w @ states, w


X, Wh, Wx, bb, h0 = _rnn_inputs(6, 3, 5)
X2, Wh2, Wx2, bb2, h02 = _rnn_inputs(4, 6, 2)
X4, Wh4, Wx4, bb4, h04 = _rnn_inputs(5, 4, 4)
Xl, Whl, Wxl, bbl, h0l = _rnn_inputs(50, 3, 8)
S34 = rng.standard_normal((3, 4))
S52 = rng.standard_normal((5, 2))
S7 = rng.standard_normal((7, 16))

FUNCTIONS = {
    "rnn_step": FunctionSpec(
        outputs=["h_t"],
        cases=[
            Case("d_x = 3, d_h = 5 (non-square W_x)", (h0, X[1], Wh, Wx, bb)),
            Case("d_x = 3, d_h = 5, h_prev = 0 (the first step)", (np.zeros(5), X[0], Wh, Wx, bb)),
            Case("d_x = 6, d_h = 2", (h02, X2[0], Wh2, Wx2, bb2)),
            Case("square W_x: d_x = d_h = 4", (h04, X4[0], Wh4, Wx4, bb4)),
            Case("a zero bias", (h0, X[2], Wh, Wx, np.zeros(5))),
            Case("large pre-activations (tanh saturates near ±1)", (h0 * 20, X[3] * 30, Wh, Wx, bb * 10)),
            Case("d_x = d_h = 1", (np.array([0.5]), np.array([2.0]), np.array([[0.8]]),
                                   np.array([[-0.3]]), np.array([0.1]))),
            float32(Case("d_x = 3, d_h = 5", (h0, X[1], Wh, Wx, bb))),
        ],
        mistakes=[
            Mistake("you wrote W_h @ h_prev (column vectors). The course uses row vectors: "
                    "h_prev @ W_h, and x_t @ W_x.", _step_column_convention),
            Mistake("you wrote W_h @ h_prev and W_x @ x_t (column vectors). The course uses row "
                    "vectors: h_prev @ W_h + x_t @ W_x.", _step_column_convention_both),
            Mistake("did you forget the bias b? h_t = tanh(h_prev @ W_h + x_t @ W_x + b).", _step_no_bias),
            Mistake("did you forget the tanh? h_t = tanh(h_prev @ W_h + x_t @ W_x + b).", _step_no_tanh),
            Mistake("tanh must wrap the whole sum: tanh(h_prev @ W_h + x_t @ W_x + b), not just "
                    "h_prev @ W_h.", _step_tanh_on_memory_only),
        ],
    ),
    "rnn_encode": FunctionSpec(
        outputs=["states"],
        cases=[
            Case("T = 6 words, d_x = 3, d_h = 5, h0 defaulting to zeros", (X, Wh, Wx, bb)),
            Case("T = 6 words with a given h0", (X, Wh, Wx, bb, h0)),
            Case("h0=None passed explicitly", (X, Wh, Wx, bb), {"h0": None}),
            Case("one word (T = 1)", (X[:1], Wh, Wx, bb)),
            Case("T = 4, d_x = 6, d_h = 2, with h0", (X2, Wh2, Wx2, bb2, h02)),
            Case("square W_x: T = 5, d_x = d_h = 4", (X4, Wh4, Wx4, bb4)),
            Case("a long sentence: T = 50, d_h = 8", (Xl, Whl, Wxl, bbl, h0l)),
            float32(Case("T = 6 with a given h0", (X, Wh, Wx, bb, h0))),
        ],
        mistakes=[
            Mistake("you returned only the final state. Return every hidden state, one row per "
                    "word: shape (T, d_h); the last row is the context vector.", _encode_last_only),
            Mistake("you included h0 as the first row. Return only the T states after each word "
                    "(rows h_1 .. h_T), shape (T, d_h).", _encode_with_h0_row),
            Mistake("your rows are h_0 .. h_{T-1}, the state before each word. Row t must be the "
                    "state after reading word t: append h after each step (and not h0).",
                    _encode_shifted),
            Mistake("you skipped the first word (a loop starting at 1?). Run one step for every row "
                    "of X, starting from h0.", _encode_skips_first_word),
            Mistake("you ignored h0. Start from h0 when it is given, from zeros only when it is None.",
                    _encode_ignores_h0),
            Mistake("you never carried the state forward: every step started from h0. Feed each "
                    "new state into the next step (h = rnn_step(h, x_t, ...)).", _encode_never_carries),
            Mistake("you wrote W_h @ h (column vectors). The course uses row vectors: h @ W_h.",
                    _encode_column_convention),
        ],
    ),
    "attention_pool": FunctionSpec(
        outputs=["context", "weights"],
        strict_warnings=True,
        cases=[
            Case("T = 3 states of size d = 4", (rng.standard_normal(4), S34)),
            Case("T = 5 states of size d = 2", (rng.standard_normal(2) * 2, S52)),
            Case("T = 7 states of size d = 16", (rng.standard_normal(16), S7)),
            Case("a single state (T = 1)", (rng.standard_normal(4), S34[:1])),
            Case("a zero query (equal weights: the mean of the states)", (np.zeros(2), S52)),
            Case("T = d = 4 (square states)", (rng.standard_normal(4), rng.standard_normal((4, 4)))),
            Case("large scores (states and query of size 100)", (rng.standard_normal(4) * 100, S34 * 100)),
            float32(Case("T = 5 states of size d = 2", (rng.standard_normal(2), S52))),
        ],
        mistakes=[
            Mistake("did you forget to divide the scores by sqrt(d), d = the size of a state?",
                    _pool_no_scale),
            Mistake("you divided the scores by d; divide by sqrt(d).", _pool_scale_by_d),
            Mistake("you divided by sqrt(T), the number of states; divide by sqrt(d), the size of "
                    "one state (states.shape[-1]).", _pool_scale_by_T),
            Mistake("you returned (weights, context); return (context, weights).", _pool_swapped),
            Mistake("the context is the weighted SUM of the states, one vector of size d: "
                    "weights @ states.", _pool_not_summed),
            Mistake("softmax over the wrong axis: every weight came out 1. The T weights (one per "
                    "state) must sum to 1: take the softmax of the (T,) scores states @ query / "
                    "sqrt(d).", _pool_softmax_wrong_axis),
            Mistake("the weights must be the softmax of the scaled scores (positive, summing to 1).",
                    _pool_no_softmax),
        ],
    ),
}

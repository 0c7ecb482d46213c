"""02_bottleneck: correct answers written other ways, and common mistakes."""

from . import Wrong

ASSIGNMENT = "02_bottleneck"

CORRECT = {
    "loops": {
        "rnn_step": '''
import math
import numpy as np

def rnn_step(h_prev, x_t, W_h, W_x, b):
    d_h = len(b)
    h = np.zeros(d_h)
    for j in range(d_h):
        total = b[j]
        for i in range(len(h_prev)):
            total += h_prev[i] * W_h[i][j]
        for i in range(len(x_t)):
            total += x_t[i] * W_x[i][j]
        h[j] = math.tanh(total)
    return h
''',
        "rnn_encode": '''
import numpy as np

def rnn_encode(X, W_h, W_x, b, h0=None):
    T, d_h = len(X), W_h.shape[0]
    states = np.zeros((T, d_h))
    h = np.zeros(d_h) if h0 is None else h0
    for t in range(T):
        h = rnn_step(h, X[t], W_h, W_x, b)
        states[t] = h
    return states
''',
        "attention_pool": '''
import math
import numpy as np

def attention_pool(query, states):
    T, d = len(states), len(query)
    scores = [sum(states[t][i] * query[i] for i in range(d)) / math.sqrt(d) for t in range(T)]
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    weights = np.array([e / sum(exps) for e in exps])
    context = np.zeros(d)
    for t in range(T):
        context += weights[t] * np.asarray(states[t], dtype=float)
    return context, weights
''',
    },
    "einsum_float32": {
        "rnn_step": '''
import numpy as np

def rnn_step(h_prev, x_t, W_h, W_x, b):
    return np.tanh(np.einsum("i,ij->j", h_prev, W_h) + np.einsum("i,ij->j", x_t, W_x) + b)
''',
        "rnn_encode": '''
import numpy as np

def rnn_encode(X, W_h, W_x, b, h0=None):
    h = np.zeros_like(b) if h0 is None else h0     # keeps float32 as float32
    out = np.empty((len(X), W_h.shape[0]), dtype=np.result_type(X, W_h, W_x, b))
    for t, x_t in enumerate(X):
        h = np.tanh(h @ W_h + x_t @ W_x + b)
        out[t] = h
    return out
''',
        "attention_pool": '''
import numpy as np

def attention_pool(query, states):
    scores = np.einsum("td,d->t", states, query) / states.shape[-1] ** 0.5
    weights = softmax(scores)
    return np.einsum("t,td->d", weights, states), weights
''',
    },
    "stack_and_dot": {
        "rnn_encode": '''
import numpy as np

def rnn_encode(X, W_h, W_x, b, h0=None):
    if h0 is None:
        h0 = np.zeros(W_h.shape[1])
    states = [h0]
    for x_t in X:
        states.append(rnn_step(states[-1], x_t, W_h, W_x, b))
    return np.vstack(states[1:])
''',
        "attention_pool": '''
import numpy as np

def attention_pool(query, states):
    d = len(query)
    weights = softmax(np.dot(states, query) / np.sqrt(d))
    context = np.sum(weights[:, None] * states, axis=0)
    return context, weights
''',
    },
}

WRONG = {
    "step_column_convention": Wrong(
        cells={"rnn_step": '''
import numpy as np

def rnn_step(h_prev, x_t, W_h, W_x, b):
    return np.tanh(W_h @ h_prev + x_t @ W_x + b)
'''},
        loses=["test_rnn_step"],
        says="h_prev @ W_h, not W_h @ h_prev"),
    "step_column_convention_both": Wrong(
        cells={"rnn_step": '''
import numpy as np

def rnn_step(h_prev, x_t, W_h, W_x, b):
    return np.tanh(W_h @ h_prev + W_x @ x_t + b)
'''},
        loses=["test_rnn_step", "test_rnn_encode"],
        says="raised ValueError"),
    "step_no_bias": Wrong(
        cells={"rnn_step": '''
import numpy as np

def rnn_step(h_prev, x_t, W_h, W_x, b):
    return np.tanh(h_prev @ W_h + x_t @ W_x)
'''},
        loses=["test_rnn_step"],
        says="forget the bias"),
    "step_no_tanh": Wrong(
        cells={"rnn_step": '''
import numpy as np

def rnn_step(h_prev, x_t, W_h, W_x, b):
    return h_prev @ W_h + x_t @ W_x + b
'''},
        loses=["test_rnn_step"],
        says="or the tanh"),
    "encode_last_state_only": Wrong(
        cells={"rnn_encode": '''
import numpy as np

def rnn_encode(X, W_h, W_x, b, h0=None):
    h = np.zeros(W_h.shape[0]) if h0 is None else h0
    for x_t in X:
        h = rnn_step(h, x_t, W_h, W_x, b)
    return h
'''},
        loses=["test_rnn_encode"],
        says="every state, one row per word"),
    "encode_includes_h0": Wrong(
        cells={"rnn_encode": '''
import numpy as np

def rnn_encode(X, W_h, W_x, b, h0=None):
    h = np.zeros(W_h.shape[0]) if h0 is None else h0
    states = [h]
    for x_t in X:
        h = rnn_step(h, x_t, W_h, W_x, b)
        states.append(h)
    return np.array(states)
'''},
        loses=["test_rnn_encode"],
        says="should have shape (2, 3)"),
    "encode_state_before_each_word": Wrong(
        cells={"rnn_encode": '''
import numpy as np

def rnn_encode(X, W_h, W_x, b, h0=None):
    h = np.zeros(W_h.shape[0]) if h0 is None else h0
    states = []
    for x_t in X:
        states.append(h)
        h = rnn_step(h, x_t, W_h, W_x, b)
    return np.array(states)
'''},
        loses=["test_rnn_encode"],
        says="AFTER the first word"),
    "encode_skips_first_word": Wrong(
        cells={"rnn_encode": '''
import numpy as np

def rnn_encode(X, W_h, W_x, b, h0=None):
    h = np.zeros(W_h.shape[0]) if h0 is None else h0
    states = []
    for t in range(1, len(X)):
        h = rnn_step(h, X[t], W_h, W_x, b)
        states.append(h)
    return np.array(states)
'''},
        loses=["test_rnn_encode"],
        says="should have shape (2, 3)"),
    "encode_ignores_h0": Wrong(
        cells={"rnn_encode": '''
import numpy as np

def rnn_encode(X, W_h, W_x, b, h0=None):
    h = np.zeros(W_h.shape[0])
    states = []
    for x_t in X:
        h = rnn_step(h, x_t, W_h, W_x, b)
        states.append(h)
    return np.array(states)
'''},
        loses=["test_rnn_encode"],
        says="start from h0 when it is given"),
    "encode_never_carries_the_state": Wrong(
        cells={"rnn_encode": '''
import numpy as np

def rnn_encode(X, W_h, W_x, b, h0=None):
    h0 = np.zeros(W_h.shape[0]) if h0 is None else h0
    return np.array([rnn_step(h0, x_t, W_h, W_x, b) for x_t in X])
'''},
        loses=["test_rnn_encode"],
        says="feed each new state into the next step"),
    "pool_not_scaled": Wrong(
        cells={"attention_pool": '''
import numpy as np

def attention_pool(query, states):
    weights = softmax(states @ query)
    return weights @ states, weights
'''},
        loses=["test_attention_pool"],
        says="divide the scores by sqrt(d)"),
    "pool_scaled_by_sqrt_T": Wrong(
        cells={"attention_pool": '''
import numpy as np

def attention_pool(query, states):
    weights = softmax(states @ query / np.sqrt(len(states)))
    return weights @ states, weights
'''},
        loses=["test_attention_pool"],
        says="not the number of states T"),
    "pool_returns_weights_first": Wrong(
        cells={"attention_pool": '''
import numpy as np

def attention_pool(query, states):
    weights = softmax(states @ query / np.sqrt(states.shape[-1]))
    return weights, weights @ states
'''},
        loses=["test_attention_pool"],
        says="the first value you return, context"),
    "pool_softmax_over_a_column": Wrong(
        cells={"attention_pool": '''
import numpy as np

def attention_pool(query, states):
    scores = states @ query[:, None] / np.sqrt(states.shape[-1])   # (T, 1)
    weights = softmax(scores)                                      # along the length-1 axis
    return (weights * states).sum(axis=0), weights[:, 0]
'''},
        loses=["test_attention_pool"],
        says="should each sum to 1"),
    "pool_unstable_softmax": Wrong(
        cells={"attention_pool": '''
import numpy as np

def attention_pool(query, states):
    e = np.exp(states @ query / np.sqrt(states.shape[-1]))
    weights = e / e.sum()
    return weights @ states, weights
'''},
        loses=["test_attention_pool"],
        says="subtract the maximum"),
}

"""04_self_attention: correct answers written other ways, and common mistakes."""

from . import Wrong

ASSIGNMENT = "04_self_attention"

CORRECT = {
    "loops": {
        "self_attention": '''
import numpy as np

def self_attention(X, W_q, W_k, W_v):
    X, W_q, W_k, W_v = (np.asarray(a) for a in (X, W_q, W_k, W_v))
    *batch, n, d_model = X.shape
    d_k, d_v = W_k.shape[1], W_v.shape[1]
    out = np.zeros((*batch, n, d_v))
    weights = np.zeros((*batch, n, n))
    for idx in np.ndindex(*batch):
        x = X[idx]
        Q = np.array([[sum(x[t, m] * W_q[m, j] for m in range(d_model)) for j in range(d_k)] for t in range(n)])
        K = np.array([[sum(x[t, m] * W_k[m, j] for m in range(d_model)) for j in range(d_k)] for t in range(n)])
        V = np.array([[sum(x[t, m] * W_v[m, j] for m in range(d_model)) for j in range(d_v)] for t in range(n)])
        for i in range(n):
            scores = np.array([Q[i] @ K[j] for j in range(n)]) / np.sqrt(d_k)
            e = np.exp(scores - scores.max())
            weights[idx][i] = e / e.sum()
            out[idx][i] = sum(weights[idx][i][j] * V[j] for j in range(n))
    return out, weights
''',
        "cross_attention": '''
import numpy as np

def cross_attention(X_dec, X_enc, W_q, W_k, W_v):
    X_dec, X_enc = np.asarray(X_dec), np.asarray(X_enc)
    batch = X_dec.shape[:-2]
    n_dec, n_enc = X_dec.shape[-2], X_enc.shape[-2]
    out = np.zeros((*batch, n_dec, W_v.shape[1]))
    weights = np.zeros((*batch, n_dec, n_enc))
    for idx in np.ndindex(*batch):
        K = np.stack([x @ W_k for x in X_enc[idx]])
        V = np.stack([x @ W_v for x in X_enc[idx]])
        for i, x in enumerate(X_dec[idx]):
            q = x @ W_q
            s = np.array([q @ k for k in K]) / np.sqrt(len(q))
            e = np.exp(s - s.max())
            weights[idx][i] = e / e.sum()
            out[idx][i] = weights[idx][i] @ V
    return out, weights
''',
    },
    "einsum_float32": {
        "self_attention": '''
import numpy as np

def self_attention(X, W_q, W_k, W_v):
    Q = np.einsum("...nd,dk->...nk", X, W_q)
    K = np.einsum("...nd,dk->...nk", X, W_k)
    V = np.einsum("...nd,dv->...nv", X, W_v)
    s = np.einsum("...qk,...jk->...qj", Q, K) / np.sqrt(np.asarray(K.shape[-1], dtype=Q.dtype))
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    w = e / e.sum(axis=-1, keepdims=True)
    return np.einsum("...qj,...jv->...qv", w, V), w
''',
        "cross_attention": '''
import numpy as np

def cross_attention(X_dec, X_enc, W_q, W_k, W_v):
    Q = np.einsum("...nd,dk->...nk", X_dec, W_q)
    K = np.einsum("...nd,dk->...nk", X_enc, W_k)
    V = np.einsum("...nd,dv->...nv", X_enc, W_v)
    s = np.einsum("...qk,...jk->...qj", Q, K) / np.sqrt(np.asarray(K.shape[-1], dtype=Q.dtype))
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    w = e / e.sum(axis=-1, keepdims=True)
    return np.einsum("...qj,...jv->...qv", w, V), w
''',
    },
    "transposed_keys_and_given_softmax": {
        # K^T computed directly as W_k^T X^T; the given softmax and matmul.
        "self_attention": '''
import numpy as np

def self_attention(X, W_q, W_k, W_v):
    X = np.asarray(X)
    K_T = W_k.T @ np.swapaxes(X, -1, -2)            # (..., d_k, n)
    weights = softmax(np.matmul(X @ W_q, K_T) / np.sqrt(W_k.shape[1]))
    return weights @ (X @ W_v), weights
''',
        "cross_attention": '''
import numpy as np

def cross_attention(X_dec, X_enc, W_q, W_k, W_v):
    K_T = W_k.T @ np.swapaxes(X_enc, -1, -2)        # (..., d_k, n_enc)
    weights = softmax((X_dec @ W_q) @ K_T / np.sqrt(W_k.shape[1]))
    return weights @ (X_enc @ W_v), weights
''',
    },
}

SELF = "import numpy as np\n\ndef self_attention(X, W_q, W_k, W_v):\n"
CROSS = "import numpy as np\n\ndef cross_attention(X_dec, X_enc, W_q, W_k, W_v):\n"

WRONG = {
    "self_values_with_W_k": Wrong(
        cells={"self_attention": SELF + "    return scaled_dot_product_attention(X @ W_q, X @ W_k, X @ W_k)\n"},
        loses=["test_self_attention"],
        says="the values come from W_v"),
    "self_keys_with_W_q": Wrong(
        cells={"self_attention": SELF + "    return scaled_dot_product_attention(X @ W_q, X @ W_q, X @ W_v)\n"},
        loses=["test_self_attention"],
        says="'animal' answers with k_animal = x_animal @ W_k"),
    "self_queries_and_keys_swapped": Wrong(
        cells={"self_attention": SELF + "    return scaled_dot_product_attention(X @ W_k, X @ W_q, X @ W_v)\n"},
        loses=["test_self_attention"],
        says="'it' asks with q_it = x_it @ W_q"),
    "self_not_scaled": Wrong(
        cells={"self_attention": SELF + '''    Q, K, V = X @ W_q, X @ W_k, X @ W_v
    weights = softmax(Q @ np.swapaxes(K, -1, -2))
    return weights @ V, weights
'''},
        loses=["test_self_attention"],
        says="sqrt(d_k) = sqrt(4) = 2"),
    "self_scaled_by_sqrt_d_model": Wrong(
        cells={"self_attention": SELF + '''    Q, K, V = X @ W_q, X @ W_k, X @ W_v
    weights = softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt(X.shape[-1]))
    return weights @ V, weights
'''},
        loses=["test_self_attention"],
        says="not d_model"),
    "self_softmax_over_queries": Wrong(
        cells={"self_attention": SELF + '''    Q, K, V = X @ W_q, X @ W_k, X @ W_v
    weights = softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt(K.shape[-1]), axis=-2)
    return weights @ V, weights
'''},
        loses=["test_self_attention"],
        says="wrong axis"),
    "self_K_not_transposed": Wrong(
        cells={"self_attention": SELF + '''    Q, K, V = X @ W_q, X @ W_k, X @ W_v
    weights = softmax(Q @ K / np.sqrt(K.shape[-1]))
    return weights @ V, weights
'''},
        loses=["test_self_attention"],
        says="compute the scores as Q @ K^T"),
    "self_plain_transpose_on_a_batch": Wrong(
        cells={"self_attention": SELF + '''    Q, K, V = X @ W_q, X @ W_k, X @ W_v
    weights = softmax(Q @ K.T / np.sqrt(K.shape[-1]))
    return weights @ V, weights
'''},
        loses=["test_self_attention"],
        says="np.swapaxes(K, -1, -2)"),
    "self_column_convention": Wrong(
        cells={"self_attention": SELF + "    return scaled_dot_product_attention(W_q @ X, W_k @ X, W_v @ X)\n"},
        loses=["test_self_attention"],
        says="with X @ W_k, not W_k @ X"),
    "cross_queries_from_the_encoder": Wrong(
        cells={"cross_attention": CROSS + "    return scaled_dot_product_attention(X_enc @ W_q, X_dec @ W_k, X_dec @ W_v)\n"},
        loses=["test_cross_attention"],
        says="only the queries come from X_dec"),
    "cross_values_from_the_decoder": Wrong(
        cells={"cross_attention": CROSS + "    return scaled_dot_product_attention(X_dec @ W_q, X_enc @ W_k, X_dec @ W_v)\n"},
        loses=["test_cross_attention"],
        says="V = X_enc @ W_v"),
    "cross_keys_from_the_decoder": Wrong(
        cells={"cross_attention": CROSS + "    return scaled_dot_product_attention(X_dec @ W_q, X_dec @ W_k, X_enc @ W_v)\n"},
        loses=["test_cross_attention"],
        says="the keys of the ENCODER's tokens, X_enc @ W_k"),
    "cross_is_self_attention_on_the_decoder": Wrong(
        cells={"cross_attention": CROSS + "    return self_attention(X_dec, W_q, W_k, W_v)\n"},
        loses=["test_cross_attention"],
        says="the keys and values from X_enc"),
    "cross_values_with_W_k": Wrong(
        cells={"cross_attention": CROSS + "    return scaled_dot_product_attention(X_dec @ W_q, X_enc @ W_k, X_enc @ W_k)\n"},
        loses=["test_cross_attention"],
        says="V = X_enc @ W_v"),
    "cross_not_scaled": Wrong(
        cells={"cross_attention": CROSS + '''    Q, K, V = X_dec @ W_q, X_enc @ W_k, X_enc @ W_v
    weights = softmax(Q @ np.swapaxes(K, -1, -2))
    return weights @ V, weights
'''},
        loses=["test_cross_attention"],
        says="Scores [0, 4] / sqrt(4) = [0, 2]"),
    "cross_softmax_over_queries": Wrong(
        cells={"cross_attention": CROSS + '''    Q, K, V = X_dec @ W_q, X_enc @ W_k, X_enc @ W_v
    weights = softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt(K.shape[-1]), axis=-2)
    return weights @ V, weights
'''},
        loses=["test_cross_attention"],
        says="wrong axis"),
    "cross_plain_transpose_on_a_batch": Wrong(
        cells={"cross_attention": CROSS + '''    Q, K, V = X_dec @ W_q, X_enc @ W_k, X_enc @ W_v
    weights = softmax(Q @ K.T / np.sqrt(K.shape[-1]))
    return weights @ V, weights
'''},
        loses=["test_cross_attention"],
        says="np.swapaxes(K, -1, -2)"),
}

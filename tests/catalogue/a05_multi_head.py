"""05_multi_head: correct answers written other ways, and common mistakes."""

from . import Wrong

ASSIGNMENT = "05_multi_head"

CORRECT = {
    "loops": {
        "split_heads": '''
import numpy as np

def split_heads(X, num_heads):
    X = np.asarray(X)
    d_model = X.shape[-1]
    if d_model % num_heads:
        raise ValueError("num_heads must divide d_model")
    d_head = d_model // num_heads
    return np.stack([X[..., i * d_head:(i + 1) * d_head] for i in range(num_heads)], axis=-3)
''',
        "merge_heads": '''
import numpy as np

def merge_heads(X):
    X = np.asarray(X)
    return np.concatenate([X[..., i, :, :] for i in range(X.shape[-3])], axis=-1)
''',
        "multi_head_attention": '''
import numpy as np

def multi_head_attention(X_q, X_kv, W_q, W_k, W_v, W_o, num_heads):
    d_model = W_q.shape[0]
    if d_model % num_heads != 0:
        raise ValueError(f"{num_heads} heads do not divide d_model = {d_model}")
    d_head = d_model // num_heads
    outputs, weights = [], []
    for i in range(num_heads):
        cols = slice(i * d_head, (i + 1) * d_head)
        out_i, w_i = scaled_dot_product_attention(X_q @ W_q[:, cols], X_kv @ W_k[:, cols], X_kv @ W_v[:, cols])
        outputs.append(out_i)
        weights.append(w_i)
    return np.concatenate(outputs, axis=-1) @ W_o, np.stack(weights, axis=-3)
''',
    },
    "einsum_float32": {
        "split_heads": '''
import numpy as np

def split_heads(X, num_heads):
    X = np.asarray(X)
    *rest, d_model = X.shape
    if d_model % num_heads != 0:
        raise ValueError("cannot split evenly")
    return np.moveaxis(X.reshape(*rest, num_heads, d_model // num_heads), -2, -3)
''',
        "merge_heads": '''
import numpy as np

def merge_heads(X):
    X = np.moveaxis(np.asarray(X), -3, -2)          # (..., n, h, d_head)
    return X.reshape(X.shape[:-2] + (X.shape[-2] * X.shape[-1],))
''',
        "multi_head_attention": '''
import numpy as np

def multi_head_attention(X_q, X_kv, W_q, W_k, W_v, W_o, num_heads):
    d_model = W_q.shape[0]
    if d_model % num_heads:
        raise ValueError("num_heads must divide d_model")
    d_head = d_model // num_heads
    per_head = lambda W: W.reshape(d_model, num_heads, d_head)    # (d_model, h, d_head)
    Q = np.einsum("...nd,dhk->...hnk", X_q, per_head(W_q))
    K = np.einsum("...nd,dhk->...hnk", X_kv, per_head(W_k))
    V = np.einsum("...nd,dhk->...hnk", X_kv, per_head(W_v))
    scores = np.einsum("...qk,...sk->...qs", Q, K) / np.sqrt(np.asarray(d_head, dtype=Q.dtype))
    weights = softmax(scores, axis=-1)
    heads = np.einsum("...qs,...sk->...qk", weights, V)           # (..., h, n_q, d_head)
    out = np.einsum("...hqk,hko->...qo", heads, W_o.reshape(num_heads, d_head, d_model))
    return out, weights
''',
    },
    "transpose_own_attention": {
        "split_heads": '''
import numpy as np

def split_heads(X, num_heads):
    X = np.asarray(X)
    n, d_model = X.shape[-2:]
    if d_model % num_heads != 0:
        raise ValueError(f"d_model={d_model} is not a multiple of num_heads={num_heads}")
    Y = X.reshape(X.shape[:-1] + (num_heads, d_model // num_heads))
    axes = list(range(Y.ndim))
    axes[-3], axes[-2] = axes[-2], axes[-3]
    return Y.transpose(axes)
''',
        "multi_head_attention": '''
import numpy as np

def multi_head_attention(X_q, X_kv, W_q, W_k, W_v, W_o, num_heads):
    Q = split_heads(X_q @ W_q, num_heads)
    K = split_heads(X_kv @ W_k, num_heads)
    V = split_heads(X_kv @ W_v, num_heads)
    d_head = Q.shape[-1]
    s = Q @ K.swapaxes(-1, -2) / d_head ** 0.5
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    w = e / e.sum(axis=-1, keepdims=True)
    return merge_heads(w @ V) @ W_o, w
''',
    },
}

_OWN_ATTENTION = '''
import numpy as np

def multi_head_attention(X_q, X_kv, W_q, W_k, W_v, W_o, num_heads):
    Q = split_heads(X_q @ W_q, num_heads)
    K = split_heads(X_kv @ W_k, num_heads)
    V = split_heads(X_kv @ W_v, num_heads)
    d_model = X_q.shape[-1]
    w = softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt({scale}), axis={axis})
    return merge_heads(w @ V) @ W_o, w
'''

WRONG = {
    "split_reshape_without_transpose": Wrong(
        cells={"split_heads": '''
import numpy as np

def split_heads(X, num_heads):
    X = np.asarray(X)
    *batch, n, d_model = X.shape
    if d_model % num_heads:
        raise ValueError("num_heads must divide d_model")
    return X.reshape(*batch, num_heads, n, d_model // num_heads)
'''},
        loses=["test_split_heads", "test_multi_head_attention"],
        says="mixes up the tokens"),
    "split_interleaved_columns": Wrong(
        cells={"split_heads": '''
import numpy as np

def split_heads(X, num_heads):
    X = np.asarray(X)
    *batch, n, d_model = X.shape
    if d_model % num_heads:
        raise ValueError("num_heads must divide d_model")
    Y = X.reshape(*batch, n, d_model // num_heads, num_heads)   # (..., n, d_head, h)
    return np.moveaxis(Y, -1, -3)                                # (..., h, n, d_head)
'''},
        loses=["test_split_heads", "test_multi_head_attention"],
        says="not every num_heads-th column"),
    "split_without_value_error": Wrong(
        cells={"split_heads": '''
import numpy as np

def split_heads(X, num_heads):
    X = np.asarray(X)
    d_head = X.shape[-1] // num_heads
    return np.stack([X[..., i * d_head:(i + 1) * d_head] for i in range(num_heads)], axis=-3)
'''},
        loses=["test_split_heads"],
        says="did not raise; it should raise ValueError"),
    "merge_reshape_without_transpose": Wrong(
        cells={"merge_heads": '''
import numpy as np

def merge_heads(X):
    X = np.asarray(X)
    *batch, h, n, d_head = X.shape
    return X.reshape(*batch, n, h * d_head)
'''},
        loses=["test_merge_heads", "test_multi_head_attention"],
        says="Swap the axes h and n back"),
    "merge_interleaved_columns": Wrong(
        cells={"merge_heads": '''
import numpy as np

def merge_heads(X):
    X = np.asarray(X)
    *batch, h, n, d_head = X.shape
    return np.moveaxis(X, -3, -1).reshape(*batch, n, h * d_head)
'''},
        loses=["test_merge_heads", "test_multi_head_attention"],
        says="followed by head 1's row t"),
    "mha_forgets_W_o": Wrong(
        cells={"multi_head_attention": '''
import numpy as np

def multi_head_attention(X_q, X_kv, W_q, W_k, W_v, W_o, num_heads):
    Q = split_heads(X_q @ W_q, num_heads)
    K = split_heads(X_kv @ W_k, num_heads)
    V = split_heads(X_kv @ W_v, num_heads)
    heads, weights = scaled_dot_product_attention(Q, K, V)
    return merge_heads(heads), weights
'''},
        loses=["test_multi_head_attention"],
        says="did you forget W_o"),
    "mha_scales_by_sqrt_d_model": Wrong(
        cells={"multi_head_attention": _OWN_ATTENTION.format(scale="d_model", axis=-1)},
        loses=["test_multi_head_attention"],
        says="not by sqrt(d_model)"),
    "mha_softmax_over_queries": Wrong(
        cells={"multi_head_attention": _OWN_ATTENTION.format(scale="Q.shape[-1]", axis=-2)},
        loses=["test_multi_head_attention"],
        says="softmax over the wrong axis"),
    "mha_keys_and_values_from_X_q": Wrong(
        cells={"multi_head_attention": '''
import numpy as np

def multi_head_attention(X_q, X_kv, W_q, W_k, W_v, W_o, num_heads):
    Q = split_heads(X_q @ W_q, num_heads)
    K = split_heads(X_q @ W_k, num_heads)
    V = split_heads(X_q @ W_v, num_heads)
    heads, weights = scaled_dot_product_attention(Q, K, V)
    return merge_heads(heads) @ W_o, weights
'''},
        loses=["test_multi_head_attention"],
        says="5 keys from X_kv"),
    "mha_W_o_transposed": Wrong(
        cells={"multi_head_attention": '''
import numpy as np

def multi_head_attention(X_q, X_kv, W_q, W_k, W_v, W_o, num_heads):
    Q = split_heads(X_q @ W_q, num_heads)
    K = split_heads(X_kv @ W_k, num_heads)
    V = split_heads(X_kv @ W_v, num_heads)
    heads, weights = scaled_dot_product_attention(Q, K, V)
    return merge_heads(heads) @ W_o.T, weights
'''},
        loses=["test_multi_head_attention"],
        says="not W_o.T"),
}

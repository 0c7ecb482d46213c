"""06_masking: correct answers written other ways, and common mistakes."""

from . import Wrong

ASSIGNMENT = "06_masking"

CORRECT = {
    "loops": {
        "padding_mask": '''
import numpy as np

def padding_mask(lengths, max_len):
    out = np.zeros((len(lengths), max_len), dtype=bool)
    for b, n in enumerate(lengths):
        for j in range(max_len):
            if j < n:
                out[b, j] = True
    return out
''',
        "causal_mask": '''
import numpy as np

def causal_mask(n):
    m = np.zeros((n, n), dtype=bool)
    for i in range(n):
        for j in range(i + 1):
            m[i, j] = True
    return m
''',
        "masked_softmax": '''
import math
import numpy as np

def masked_softmax(scores, mask, axis=-1):
    scores = np.asarray(scores, dtype=float)
    mask = np.broadcast_to(np.asarray(mask, dtype=bool), scores.shape)
    s, m = np.moveaxis(scores, axis, -1), np.moveaxis(mask, axis, -1)
    out = np.zeros(s.shape)
    for idx in np.ndindex(*s.shape[:-1]):
        allowed = [k for k in range(s.shape[-1]) if m[idx + (k,)]]
        if not allowed:
            continue  # nothing to attend to: the row stays all zeros
        top = max(s[idx + (k,)] for k in allowed)
        total = sum(math.exp(s[idx + (k,)] - top) for k in allowed)
        for k in allowed:
            out[idx + (k,)] = math.exp(s[idx + (k,)] - top) / total
    return np.moveaxis(out, -1, axis)
''',
        "masked_attention": '''
import math
import numpy as np

def masked_attention(Q, K, V, mask):
    Q, K, V = np.asarray(Q, dtype=float), np.asarray(K, dtype=float), np.asarray(V, dtype=float)
    batch, n_q, n_k = Q.shape[:-2], Q.shape[-2], K.shape[-2]
    mask = np.broadcast_to(np.asarray(mask, dtype=bool), batch + (n_q, n_k))
    w = np.zeros(batch + (n_q, n_k))
    out = np.zeros(batch + (n_q, V.shape[-1]))
    for idx in np.ndindex(*batch):
        for i in range(n_q):
            allowed = [j for j in range(n_k) if mask[idx + (i, j)]]
            if not allowed:
                continue  # a fully blocked query: weights 0, output 0
            s = {j: float(Q[idx + (i,)] @ K[idx + (j,)]) / math.sqrt(Q.shape[-1]) for j in allowed}
            top = max(s.values())
            total = sum(math.exp(v - top) for v in s.values())
            for j in allowed:
                w[idx + (i, j)] = math.exp(s[j] - top) / total
                out[idx + (i,)] += w[idx + (i, j)] * V[idx + (j,)]
    return out, w
''',
    },
    "einsum_float32": {
        "padding_mask": '''
import numpy as np

def padding_mask(lengths, max_len):
    return np.asarray(lengths).reshape(-1, 1) > np.arange(max_len)
''',
        "causal_mask": '''
import numpy as np

def causal_mask(n):
    return np.tri(n, dtype=bool)
''',
        "masked_softmax": '''
import numpy as np

def masked_softmax(scores, mask, axis=-1):
    scores = np.asarray(scores)
    mask = np.broadcast_to(np.asarray(mask, dtype=bool), scores.shape)
    filled = np.where(mask, scores, np.asarray(-1e9, dtype=scores.dtype))  # keeps float32
    e = np.exp(filled - filled.max(axis=axis, keepdims=True))
    w = e / e.sum(axis=axis, keepdims=True)
    return np.where(mask.any(axis=axis, keepdims=True), w, np.zeros((), dtype=w.dtype))
''',
        "masked_attention": '''
import numpy as np

def masked_attention(Q, K, V, mask):
    scale = np.sqrt(np.asarray(Q.shape[-1], dtype=Q.dtype))
    scores = np.einsum("...qd,...kd->...qk", Q, K) / scale
    weights = masked_softmax(scores, mask)
    return np.einsum("...qk,...kv->...qv", weights, V), weights
''',
    },
    "errstate_nan_to_num": {
        "masked_softmax": '''
import numpy as np

def masked_softmax(scores, mask, axis=-1):
    s = np.where(mask, scores, -np.inf)
    with np.errstate(invalid="ignore"):  # a fully blocked row gives nan here ...
        e = np.exp(s - s.max(axis=axis, keepdims=True))
        w = e / e.sum(axis=axis, keepdims=True)
    return np.nan_to_num(w)  # ... which becomes 0
''',
    },
}

WRONG = {
    "padding_off_by_one": Wrong(
        cells={"padding_mask": '''
import numpy as np

def padding_mask(lengths, max_len):
    return np.arange(max_len)[None, :] <= np.asarray(lengths)[:, None]
'''},
        loses=["test_padding_mask"],
        says="off by one"),
    "padding_flipped": Wrong(
        cells={"padding_mask": '''
import numpy as np

def padding_mask(lengths, max_len):
    return np.arange(max_len)[None, :] >= np.asarray(lengths)[:, None]
'''},
        loses=["test_padding_mask"],
        says="True marks the real tokens"),
    "padding_returns_ints": Wrong(
        cells={"padding_mask": '''
import numpy as np

def padding_mask(lengths, max_len):
    return (np.arange(max_len)[None, :] < np.asarray(lengths)[:, None]).astype(int)
'''},
        loses=["test_padding_mask"],
        says="should return a bool array"),
    "causal_diagonal_excluded": Wrong(
        cells={"causal_mask": '''
import numpy as np

def causal_mask(n):
    return np.tril(np.ones((n, n), dtype=bool), k=-1)
'''},
        loses=["test_causal_mask"],
        says="the diagonal must be True"),
    "causal_upper_triangular": Wrong(
        cells={"causal_mask": '''
import numpy as np

def causal_mask(n):
    return np.triu(np.ones((n, n), dtype=bool))
'''},
        loses=["test_causal_mask"],
        says="upper-triangular mask (np.triu)"),
    "softmax_mask_after_softmax": Wrong(
        cells={"masked_softmax": '''
import numpy as np

def masked_softmax(scores, mask, axis=-1):
    return softmax(scores, axis=axis) * mask
'''},
        loses=["test_masked_softmax"],
        says="Multiplying the weights by the mask after softmax"),
    "softmax_mask_flipped": Wrong(
        cells={"masked_softmax": '''
import numpy as np

def masked_softmax(scores, mask, axis=-1):
    masked = np.where(mask, -np.inf, scores)
    top = np.max(masked, axis=axis, keepdims=True)
    e = np.exp(masked - np.where(top == -np.inf, 0, top))
    total = np.sum(e, axis=axis, keepdims=True)
    return e / np.where(total == 0, 1, total)
'''},
        loses=["test_masked_softmax"],
        says="Your mask is the wrong way round"),
    "softmax_zero_instead_of_inf": Wrong(
        cells={"masked_softmax": '''
import numpy as np

def masked_softmax(scores, mask, axis=-1):
    return softmax(np.where(mask, scores, 0.0), axis=axis)
'''},
        loses=["test_masked_softmax"],
        says="use -inf instead of 0"),
    "softmax_nan_on_fully_masked_rows": Wrong(
        cells={"masked_softmax": '''
import numpy as np

def masked_softmax(scores, mask, axis=-1):
    return softmax(np.where(mask, scores, -np.inf), axis=axis)
'''},
        loses=["test_masked_softmax"],
        says="gave nan on a fully blocked row"),
    "softmax_uniform_on_fully_masked_rows": Wrong(
        cells={"masked_softmax": '''
import numpy as np

def masked_softmax(scores, mask, axis=-1):
    return softmax(np.where(mask, scores, -1e9), axis=axis)
'''},
        loses=["test_masked_softmax"],
        says="not 1/3 each"),
    "attention_not_scaled": Wrong(
        cells={"masked_attention": '''
import numpy as np

def masked_attention(Q, K, V, mask):
    weights = masked_softmax(Q @ np.swapaxes(K, -1, -2), mask)
    return weights @ V, weights
'''},
        loses=["test_masked_attention"],
        says="sqrt(d_k)"),
    "attention_mask_after_softmax": Wrong(
        cells={"masked_attention": '''
import numpy as np

def masked_attention(Q, K, V, mask):
    weights = softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt(K.shape[-1])) * mask
    return weights @ V, weights
'''},
        loses=["test_masked_attention"],
        says="Multiplying the weights by the mask after softmax"),
    "attention_nan_on_fully_masked_rows": Wrong(
        cells={"masked_attention": '''
import numpy as np

def masked_attention(Q, K, V, mask):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(K.shape[-1])
    weights = softmax(np.where(mask, scores, -np.inf))
    return weights @ V, weights
'''},
        loses=["test_masked_attention"],
        says="gave nan for fully blocked query rows"),
    "attention_mask_flipped": Wrong(
        cells={"masked_attention": '''
import numpy as np

def masked_attention(Q, K, V, mask):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(K.shape[-1])
    weights = masked_softmax(scores, np.logical_not(mask))
    return weights @ V, weights
'''},
        loses=["test_masked_attention"],
        says="your mask is the wrong way round"),
    "attention_zero_instead_of_inf": Wrong(
        cells={"masked_attention": '''
import numpy as np

def masked_attention(Q, K, V, mask):
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(K.shape[-1])
    weights = softmax(np.where(mask, scores, 0.0))
    return weights @ V, weights
'''},
        loses=["test_masked_attention"],
        says="blocked scores were set to 0 instead of -inf"),
}

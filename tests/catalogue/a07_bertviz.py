"""07_bertviz: correct answers written other ways, and common mistakes."""

from . import Wrong

ASSIGNMENT = "07_bertviz"

CORRECT = {
    "loops": {
        "attention_entropy": '''
import math

import numpy as np


def attention_entropy(weights):
    w = np.asarray(weights, dtype=float)
    out = np.zeros(w.shape[:-1])
    for idx in np.ndindex(*w.shape[:-1]):
        total = 0.0
        for p in w[idx]:
            if p > 0:
                total -= p * math.log(p)
        out[idx] = total
    return out
''',
        "layer_attention": '''
import numpy as np


def layer_attention(hidden, W_q, b_q, W_k, b_k, num_heads, key_mask=None):
    hidden = np.asarray(hidden, dtype=float)
    batch, (n, d) = hidden.shape[:-2], hidden.shape[-2:]
    d_head = d // num_heads
    out = np.zeros(batch + (num_heads, n, n))
    for idx in np.ndindex(*batch):
        Q = hidden[idx] @ W_q + b_q
        K = hidden[idx] @ W_k + b_k
        for h in range(num_heads):
            cols = slice(h * d_head, (h + 1) * d_head)
            scores = Q[:, cols] @ K[:, cols].T / np.sqrt(d_head)
            if key_mask is not None:
                scores = np.where(np.asarray(key_mask)[idx], scores, -np.inf)
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
            out[idx + (h,)] = e / e.sum(axis=1, keepdims=True)
    return out
''',
    },
    "einsum_float32_additive_mask": {
        "attention_entropy": '''
import numpy as np


def attention_entropy(weights):
    w = np.asarray(weights)
    logs = np.log(w, out=np.zeros_like(w), where=w > 0)
    return -np.einsum("...n,...n->...", w, logs)
''',
        "layer_attention": '''
import numpy as np


def layer_attention(hidden, W_q, b_q, W_k, b_k, num_heads, key_mask=None):
    hidden = np.asarray(hidden)
    h = int(num_heads)
    d_head = np.shape(W_q)[1] // h
    Q = (hidden @ W_q + b_q).reshape(*hidden.shape[:-1], h, d_head)  # (..., n, h, d_head)
    K = (hidden @ W_k + b_k).reshape(*hidden.shape[:-1], h, d_head)
    scores = np.einsum("...qhd,...khd->...hqk", Q, K) / np.sqrt(d_head).astype(Q.dtype)
    if key_mask is not None:  # as Hugging Face does: add a large negative number
        additive = np.where(np.asarray(key_mask, dtype=bool), 0.0, -1e9).astype(scores.dtype)
        scores = scores + additive[..., None, None, :]
    return softmax(scores, axis=-1)
''',
    },
}

WRONG = {
    "entropy_log2": Wrong(
        cells={"attention_entropy": '''
import numpy as np

def attention_entropy(weights):
    w = np.asarray(weights)
    return -np.sum(w * np.log2(np.where(w > 0, w, 1)), axis=-1)
'''},
        loses=["test_attention_entropy"],
        says="not np.log2"),
    "entropy_nan_at_zero": Wrong(
        cells={"attention_entropy": '''
import numpy as np

def attention_entropy(weights):
    w = np.asarray(weights)
    return -np.sum(w * np.log(w), axis=-1)
'''},
        loses=["test_attention_entropy"],
        says="np.log(0) is -inf"),
    "entropy_where_still_warns": Wrong(
        cells={"attention_entropy": '''
import numpy as np

def attention_entropy(weights):
    w = np.asarray(weights)
    return -np.sum(np.where(w > 0, w * np.log(w), 0.0), axis=-1)
'''},
        loses=["test_attention_entropy"],
        says="still computes np.log(0)"),
    "entropy_wrong_axis": Wrong(
        cells={"attention_entropy": '''
import numpy as np

def attention_entropy(weights):
    w = np.asarray(weights)
    return -np.sum(w * np.log(np.where(w > 0, w, 1)), axis=0)
'''},
        loses=["test_attention_entropy"],
        says="LAST axis"),
    "layer_no_scale": Wrong(
        cells={"layer_attention": '''
import numpy as np

def layer_attention(hidden, W_q, b_q, W_k, b_k, num_heads, key_mask=None):
    d_head = np.shape(W_q)[1] // num_heads
    def split(X):
        return np.swapaxes(X.reshape(*X.shape[:-1], num_heads, d_head), -2, -3)
    Q, K = split(hidden @ W_q + b_q), split(hidden @ W_k + b_k)
    scores = Q @ np.swapaxes(K, -1, -2)
    if key_mask is not None:
        scores = np.where(np.asarray(key_mask)[..., None, None, :], scores, -np.inf)
    return softmax(scores, axis=-1)
'''},
        loses=["test_layer_attention"],
        says="/ sqrt(d_head)"),
    "layer_scale_by_d_model": Wrong(
        cells={"layer_attention": '''
import numpy as np

def layer_attention(hidden, W_q, b_q, W_k, b_k, num_heads, key_mask=None):
    d_model = np.shape(W_q)[1]
    d_head = d_model // num_heads
    def split(X):
        return np.swapaxes(X.reshape(*X.shape[:-1], num_heads, d_head), -2, -3)
    Q, K = split(hidden @ W_q + b_q), split(hidden @ W_k + b_k)
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(d_model)
    if key_mask is not None:
        scores = np.where(np.asarray(key_mask)[..., None, None, :], scores, -np.inf)
    return softmax(scores, axis=-1)
'''},
        loses=["test_layer_attention"],
        says="not sqrt(d_model)"),
    "layer_no_bias": Wrong(
        cells={"layer_attention": '''
import numpy as np

def layer_attention(hidden, W_q, b_q, W_k, b_k, num_heads, key_mask=None):
    d_head = np.shape(W_q)[1] // num_heads
    def split(X):
        return np.swapaxes(X.reshape(*X.shape[:-1], num_heads, d_head), -2, -3)
    Q, K = split(hidden @ W_q), split(hidden @ W_k)
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(d_head)
    if key_mask is not None:
        scores = np.where(np.asarray(key_mask)[..., None, None, :], scores, -np.inf)
    return softmax(scores, axis=-1)
'''},
        loses=["test_layer_attention"],
        says="do not forget the biases"),
    "layer_head_split_without_transpose": Wrong(
        cells={"layer_attention": '''
import numpy as np

def layer_attention(hidden, W_q, b_q, W_k, b_k, num_heads, key_mask=None):
    n, d_model = np.shape(hidden)[-2:]
    d_head = d_model // num_heads
    def split(X):  # straight to (..., h, n, d_head): mixes tokens
        return X.reshape(*X.shape[:-2], num_heads, n, d_head)
    Q, K = split(hidden @ W_q + b_q), split(hidden @ W_k + b_k)
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(d_head)
    if key_mask is not None:
        scores = np.where(np.asarray(key_mask)[..., None, None, :], scores, -np.inf)
    return softmax(scores, axis=-1)
'''},
        loses=["test_layer_attention"],
        says="then swap to (num_heads, n, d_head)"),
    "layer_mask_ignored": Wrong(
        cells={"layer_attention": '''
import numpy as np

def layer_attention(hidden, W_q, b_q, W_k, b_k, num_heads, key_mask=None):
    d_head = np.shape(W_q)[1] // num_heads
    def split(X):
        return np.swapaxes(X.reshape(*X.shape[:-1], num_heads, d_head), -2, -3)
    Q, K = split(hidden @ W_q + b_q), split(hidden @ W_k + b_k)
    return softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt(d_head), axis=-1)
'''},
        loses=["test_layer_attention"],
        says="it must get exactly 0"),
    "layer_softmax_over_queries": Wrong(
        cells={"layer_attention": '''
import numpy as np

def layer_attention(hidden, W_q, b_q, W_k, b_k, num_heads, key_mask=None):
    d_head = np.shape(W_q)[1] // num_heads
    def split(X):
        return np.swapaxes(X.reshape(*X.shape[:-1], num_heads, d_head), -2, -3)
    Q, K = split(hidden @ W_q + b_q), split(hidden @ W_k + b_k)
    scores = Q @ np.swapaxes(K, -1, -2) / np.sqrt(d_head)
    if key_mask is not None:
        scores = np.where(np.asarray(key_mask)[..., None, None, :], scores, -np.inf)
    return softmax(scores, axis=-2)
'''},
        loses=["test_layer_attention"],
        says="softmax over the wrong axis"),
}

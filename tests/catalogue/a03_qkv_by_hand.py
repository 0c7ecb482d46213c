"""03_qkv_by_hand: correct answers written other ways, and common mistakes."""

from . import Wrong

ASSIGNMENT = "03_qkv_by_hand"

CORRECT = {
    "loops": {
        "step1_scores": '''
scores = np.array([sum(q[i] * key[i] for i in range(len(q))) for key in K])
''',
        "step2_scale": '''
scaled_scores = np.array([s / d_k ** 0.5 for s in scores])
''',
        "step3_softmax": '''
import math
total = sum(math.exp(s) for s in scaled_scores)
weights = np.array([math.exp(s) / total for s in scaled_scores])
''',
        "step4_context": '''
context = np.zeros(V.shape[1])
for w, v in zip(weights, V):
    context += w * v
''',
        "softmax": '''
import numpy as np

def softmax(x, axis=-1):
    x = np.asarray(x)
    def one(row):
        m = max(row)
        e = np.array([np.exp(v - m) for v in row])
        return e / e.sum()
    return np.apply_along_axis(one, axis, x)
''',
        "scaled_dot_product_attention": '''
import numpy as np

def scaled_dot_product_attention(Q, K, V):
    Q, K, V = np.asarray(Q), np.asarray(K), np.asarray(V)
    batch = Q.shape[:-2]
    out = np.zeros(batch + (Q.shape[-2], V.shape[-1]), dtype=np.result_type(Q, K, V))
    w = np.zeros(batch + (Q.shape[-2], K.shape[-2]), dtype=out.dtype)
    for idx in np.ndindex(*batch):
        for i in range(Q.shape[-2]):
            s = np.array([Q[idx][i] @ K[idx][j] for j in range(K.shape[-2])]) / np.sqrt(K.shape[-1])
            w[idx][i] = softmax(s)
            out[idx][i] = w[idx][i] @ V[idx]
    return out, w
''',
    },
    "einsum_float32": {
        "softmax": '''
import numpy as np

def softmax(x, axis=-1):
    x = np.asarray(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)
''',
        "scaled_dot_product_attention": '''
import numpy as np

def scaled_dot_product_attention(Q, K, V):
    d_k = K.shape[-1]
    scores = np.einsum("...qd,...kd->...qk", Q, K) / np.sqrt(np.asarray(d_k, dtype=Q.dtype))
    weights = softmax(scores)
    return np.einsum("...qk,...kv->...qv", weights, V), weights
''',
    },
}

WRONG = {
    "step2_divides_by_d_k": Wrong(
        cells={"step2_scale": "scaled_scores = scores / d_k"},
        loses=["test_step2_scale"],
        says="square root of d_k"),
    "softmax_not_stable": Wrong(
        cells={"softmax": '''
import numpy as np

def softmax(x, axis=-1):
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)
'''},
        loses=["test_softmax"],
        says="subtract the maximum"),
    "softmax_ignores_axis": Wrong(
        cells={"softmax": '''
import numpy as np

def softmax(x, axis=-1):
    x = np.asarray(x)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
'''},
        loses=["test_softmax"],
        says="wrong axis"),
    "attention_not_scaled": Wrong(
        cells={"scaled_dot_product_attention": '''
import numpy as np

def scaled_dot_product_attention(Q, K, V):
    weights = softmax(Q @ np.swapaxes(K, -1, -2))
    return weights @ V, weights
'''},
        loses=["test_scaled_dot_product_attention"],
        says="sqrt(d_k)"),
    "attention_softmax_over_queries": Wrong(
        cells={"scaled_dot_product_attention": '''
import numpy as np

def scaled_dot_product_attention(Q, K, V):
    weights = softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt(K.shape[-1]), axis=-2)
    return weights @ V, weights
'''},
        loses=["test_scaled_dot_product_attention"],
        says="should each sum to 1"),
    "attention_plain_transpose": Wrong(
        cells={"scaled_dot_product_attention": '''
import numpy as np

def scaled_dot_product_attention(Q, K, V):
    weights = softmax(Q @ K.T / np.sqrt(K.shape[-1]))
    return weights @ V, weights
'''},
        loses=["test_scaled_dot_product_attention"],
        says="np.swapaxes(K, -1, -2)"),
}

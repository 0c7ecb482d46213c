"""Differently written correct answers: loops, einsum, float32-preserving.

The visible and hidden tests must give each of them full marks: tests check
results, not style. Keys are assignment id -> variant name -> {grade_id: source}.
"""

ALTERNATIVES = {
    "01_embeddings": {
        "loops": {
            "cosine_similarity": '''
import math

def cosine_similarity(a, b):
    dot = sum(float(x) * float(y) for x, y in zip(a, b))
    na = math.sqrt(sum(float(x) ** 2 for x in a))
    nb = math.sqrt(sum(float(y) ** 2 for y in b))
    return dot / (na * nb)
''',
            "cosine_similarity_matrix": '''
import numpy as np

def cosine_similarity_matrix(A, B):
    A, B = np.asarray(A), np.asarray(B)
    out = np.zeros((len(A), len(B)), dtype=np.result_type(A, B, np.float32))
    for i in range(len(A)):
        for j in range(len(B)):
            out[i, j] = np.dot(A[i], B[j]) / (np.linalg.norm(A[i]) * np.linalg.norm(B[j]))
    return out
''',
            "top_k_similar": '''
def top_k_similar(query, candidates, k):
    sims = [cosine_similarity(query, c) for c in candidates]
    ranked = sorted(range(len(sims)), key=lambda i: (-sims[i], i))
    return ranked[:k]
''',
        },
        "einsum": {
            "cosine_similarity": '''
import numpy as np

def cosine_similarity(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return np.einsum("i,i->", a, b) / np.sqrt(np.einsum("i,i->", a, a) * np.einsum("i,i->", b, b))
''',
            "cosine_similarity_matrix": '''
import numpy as np

def cosine_similarity_matrix(A, B):
    A, B = np.asarray(A), np.asarray(B)
    dots = np.einsum("id,jd->ij", A, B)
    return dots / np.outer(np.sqrt(np.einsum("id,id->i", A, A)), np.sqrt(np.einsum("jd,jd->j", B, B)))
''',
            "top_k_similar": '''
import numpy as np

def top_k_similar(query, candidates, k):
    sims = cosine_similarity_matrix(np.asarray(query)[None], candidates)[0]
    order = np.lexsort((np.arange(len(sims)), -sims))
    return order[:k].astype(np.int32)
''',
        },
    },
    "03_qkv_by_hand": {
        "loops": {
            "step1_scores": "scores = np.array([sum(q[i] * key[i] for i in range(len(q))) for key in K])",
            "step2_scale": "scaled_scores = np.array([s / d_k ** 0.5 for s in scores])",
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
    },
}

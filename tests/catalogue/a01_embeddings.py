"""01_embeddings: correct answers written other ways, and common mistakes."""

from . import Wrong

ASSIGNMENT = "01_embeddings"

CORRECT = {
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
}

WRONG = {
    "dot_product_only": Wrong(
        cells={"cosine_similarity": '''
import numpy as np

def cosine_similarity(a, b):
    return float(np.dot(a, b))
'''},
        loses=["test_cosine_similarity"],
        says="divide by both lengths"),
    "one_norm": Wrong(
        cells={"cosine_similarity": '''
import numpy as np

def cosine_similarity(a, b):
    return float(np.dot(a, b) / np.linalg.norm(a))
'''},
        loses=["test_cosine_similarity"],
        says="divide by both"),
    "matrix_not_normalised": Wrong(
        cells={"cosine_similarity_matrix": '''
import numpy as np

def cosine_similarity_matrix(A, B):
    return np.asarray(A) @ np.asarray(B).T
'''},
        loses=["test_cosine_similarity_matrix"],
        says="normalise each row"),
    "matrix_columns_normalised": Wrong(
        cells={"cosine_similarity_matrix": '''
import numpy as np

def cosine_similarity_matrix(A, B):
    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    return (A / np.linalg.norm(A, axis=0)) @ (B / np.linalg.norm(B, axis=0)).T
'''},
        loses=["test_cosine_similarity_matrix"],
        says="normalise each row"),
    "matrix_transposed": Wrong(
        cells={"cosine_similarity_matrix": '''
import numpy as np

def cosine_similarity_matrix(A, B):
    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    A = A / np.linalg.norm(A, axis=1, keepdims=True)
    B = B / np.linalg.norm(B, axis=1, keepdims=True)
    return B @ A.T
'''},
        loses=["test_cosine_similarity_matrix"],
        says="It looks transposed"),
    "top_k_ascending": Wrong(
        cells={"top_k_similar": '''
import numpy as np

def top_k_similar(query, candidates, k):
    sims = cosine_similarity_matrix(np.asarray(query)[None], candidates)[0]
    return np.argsort(sims)[:k]
'''},
        loses=["test_top_k_similar"],
        says="most similar first"),
    "top_k_reversed_ties": Wrong(
        cells={"top_k_similar": '''
import numpy as np

def top_k_similar(query, candidates, k):
    sims = cosine_similarity_matrix(np.asarray(query)[None], candidates)[0]
    return np.argsort(sims, kind="stable")[::-1][:k]
'''},
        loses=["test_top_k_similar"],
        says="lower index comes first"),
}

"""01_embeddings: cosine similarity, its matrix form, and nearest neighbours."""

import numpy as np

from ..spec import Case, FunctionSpec, Mistake, float32

ASSIGNMENT = "01_embeddings"

rng = np.random.default_rng(101)

# Rows of very different lengths, so a dot product and a cosine rank differently.
A = rng.standard_normal((4, 3)) * np.array([[0.5], [2.0], [7.0], [1.0]])
B = rng.standard_normal((5, 3)) * np.array([[3.0], [0.2], [1.0], [9.0], [0.7]])
a3, b3 = rng.standard_normal(3), rng.standard_normal(3)
a384, b384 = rng.standard_normal(384), rng.standard_normal(384) + 0.3

# Integer candidates: ties (rows 2 and 6 are equal) compare exactly in any implementation.
CAND = np.array([[1, 0, 2, 1], [4, 1, 0, 0], [0, 3, 1, 1], [2, 2, 2, 2], [9, 0, 1, 0],
                 [-1, 2, 0, 3], [0, 3, 1, 1], [1, 1, 0, 5]], dtype=float)
QUERY = np.array([0.0, 2.0, 1.0, 1.0])


def _dot(a, b):
    return float(np.dot(a, b))


def _one_norm(a, b):
    return float(np.dot(a, b) / np.linalg.norm(a))


def _squared_norms(a, b):
    return float(np.dot(a, b) / (np.dot(a, a) * np.dot(b, b)))


def _matrix_no_norm(A, B):
    return np.asarray(A) @ np.asarray(B).T


def _matrix_col_norm(A, B):
    A, B = np.asarray(A), np.asarray(B)
    return (A / np.linalg.norm(A, axis=0)) @ (B / np.linalg.norm(B, axis=0)).T


def _cos_rows(query, cand):
    cand = np.asarray(cand, dtype=float)
    return cand @ query / (np.linalg.norm(cand, axis=1) * np.linalg.norm(query))


def _topk_ascending(query, cand, k):
    return np.argsort(_cos_rows(query, cand), kind="stable")[:k]


def _topk_dot(query, cand, k):
    return np.argsort(-(np.asarray(cand) @ query), kind="stable")[:k]


def _topk_reversed_ties(query, cand, k):
    return np.argsort(_cos_rows(query, cand), kind="stable")[::-1][:k]


FUNCTIONS = {
    "cosine_similarity": FunctionSpec(
        outputs=["cosine"],
        cases=[
            Case("two random 3-d vectors", (a3, b3)),
            Case("parallel vectors of different lengths", (a3, 5 * a3)),
            Case("opposite vectors", (a3, -0.5 * a3)),
            Case("orthogonal vectors", (np.array([3.0, 0.0]), np.array([0.0, 0.25]))),
            Case("Python lists", ([1.0, 2.0, 2.0], [2.0, 0.0, 1.0]), as_lists=True),
            Case("384-d vectors (the size of MiniLM embeddings)", (a384, b384)),
            float32(Case("random 3-d vectors", (a3, b3))),
        ],
        mistakes=[
            Mistake("you returned the dot product; divide it by both vectors' lengths.", _dot),
            Mistake("you divided by only one vector's length; divide by both.", _one_norm),
            Mistake("you divided by the squared lengths (sums of squares); take their square roots "
                    "(np.linalg.norm).", _squared_norms),
        ],
    ),
    "cosine_similarity_matrix": FunctionSpec(
        outputs=["similarity"],
        cases=[
            Case("A (4, 3) and B (5, 3) with rows of different lengths", (A, B)),
            Case("one row against five", (A[:1], B)),
            Case("a matrix with itself (the diagonal is 1)", (B, B)),
            Case("Python lists", (A.tolist(), B.tolist()), as_lists=True),
            float32(Case("A (4, 3) and B (5, 3)", (A, B))),
        ],
        mistakes=[
            Mistake("you computed dot products without normalising; divide every row of A and B "
                    "by its length first.", _matrix_no_norm),
            Mistake("you normalised the columns (axis=0); normalise each row (axis=1, keepdims=True).",
                    _matrix_col_norm),
        ],
    ),
    "top_k_similar": FunctionSpec(
        outputs=["indices"],
        cases=[
            Case("the 3 best of 8 candidates", (QUERY, CAND), {"k": 3}),
            Case("the single best", (QUERY, CAND), {"k": 1}),
            Case("a full ranking with a tie (rows 2 and 6 are equal)", (QUERY, CAND), {"k": 8}),
            Case("a query close to rows of very different lengths",
                 (np.array([1.0, 0.1, 0.0, 0.0]), CAND), {"k": 4}),
            float32(Case("the 3 best of 8", (QUERY, CAND), {"k": 3})),
        ],
        mistakes=[
            Mistake("your order is least similar first; the most similar index must come first.",
                    _topk_ascending),
            Mistake("you ranked by dot product, so long vectors win; rank by cosine similarity.",
                    _topk_dot),
            Mistake("on a tie the lower index must come first: sort the negated similarities with "
                    "a stable sort (np.argsort(-sims, kind='stable')) rather than reversing.",
                    _topk_reversed_ties),
        ],
    ),
}

"""Attention heads written by hand, for notebook 05: one sentence, eight heads, eight jobs.

A trained model learns its projections; these are constructed so that each head's job can be
named, on the lecture's sentence "The snow closed the campus". Each token is a vector of
``d_model`` numbers, almost all zero: a few labelled features (its word class, what it means,
its role in the sentence), its position as a one-hot, and a constant 1. Head ``i`` owns columns
``i*d_head:(i+1)*d_head`` of ``W_q`` and ``W_k`` (as ``split_heads`` cuts them); a query-key
match is worth a score of 4 after dividing by ``sqrt(d_head)``, so a matching key gets
``e**4``, about 55 times the weight of a key that does not match.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SENTENCE = ("The", "snow", "closed", "the", "campus")
# Hand labels for the lecture's sentence: word class, meaning, and role in the sentence.
LABELS = {
    "The": {"determiner"},
    "snow": {"noun", "weather", "subject"},
    "closed": {"verb"},
    "the": {"determiner"},
    "campus": {"noun", "place", "object"},
}
FEATURES = ("determiner", "noun", "verb", "weather", "place", "subject", "object")
MAX_LEN = 16
POSITION = len(FEATURES)          # columns POSITION .. POSITION + MAX_LEN - 1: the one-hot position
ONE = POSITION + MAX_LEN          # a constant 1

# (name, relation, how the query and key were built), one per head.
JOBS = (
    ("previous word", "positional", "the key of position s says 's'; the query of position t asks for t - 1"),
    ("subject/object -> verb", "syntactic", "a subject or an object asks for the verb; the verb asks for "
                                            "its subject"),
    ("weather <-> place", "semantic", "a weather word asks for a place; a place asks for the weather"),
    ("next word", "positional", "as head 0, but the query asks for t + 1 (the last word: itself)"),
    ("itself", "positional", "the query of position t asks for t"),
    ("first word", "positional", "every query asks for position 0, whatever the word"),
    ("everything", "", "a zero query: every score is 0, so the weights are uniform (an average)"),
    ("untrained", "", "random projections, as every head is before training"),
)


@dataclass(frozen=True)
class HandBuiltHeads:
    """A sentence and the four ``(d_model, d_model)`` matrices of multi-head self-attention."""

    tokens: list
    X: np.ndarray      # (n, d_model): one token per row
    W_q: np.ndarray    # (d_model, d_model): head i's queries are columns i*d_head:(i+1)*d_head
    W_k: np.ndarray
    W_v: np.ndarray    # the identity: the values are the tokens themselves
    W_o: np.ndarray    # the identity: the heads' outputs side by side
    names: list        # one short name per head
    num_heads: int

    def describe(self) -> str:
        """One line per head: its name and how its query and key were built."""
        return "\n".join(f"head {i}, {name}" + (f" ({kind})" if kind else "") + f": {how}"
                         for i, (name, kind, how) in enumerate(JOBS))


def embed(tokens=SENTENCE, d_model: int = 512) -> np.ndarray:
    """(n, d_model): each token's labelled features, its position (one-hot) and a constant 1."""
    if len(tokens) > MAX_LEN:
        raise ValueError(f"at most {MAX_LEN} tokens, got {len(tokens)}")
    X = np.zeros((len(tokens), d_model))
    for t, word in enumerate(tokens):
        for feature in LABELS[word]:
            X[t, FEATURES.index(feature)] = 1.0
        X[t, POSITION + t] = 1.0
        X[t, ONE] = 1.0
    return X


def lecture_heads(d_model: int = 512, num_heads: int = 8, seed: int = 7) -> HandBuiltHeads:
    """Eight heads on "The snow closed the campus", each with a job (see ``JOBS``).

    Heads 0-2 are the lecture's three relations for "snow": positional (near "The"),
    syntactic (the subject of "closed") and semantic (a weather event affecting a place,
    "campus").
    """
    if num_heads != len(JOBS) or d_model % num_heads or d_model // num_heads < MAX_LEN:
        raise ValueError(f"built for {len(JOBS)} heads of at least {MAX_LEN} columns each")
    tokens = list(SENTENCE)
    n, d_head = len(tokens), d_model // num_heads
    X = embed(tokens, d_model)
    W_q, W_k = np.zeros((d_model, d_model)), np.zeros((d_model, d_model))
    match = 4 * np.sqrt(d_head)  # a match scores match / sqrt(d_head) = 4

    def q(i):
        return W_q[:, i * d_head:(i + 1) * d_head]  # head i's block: a view, so writing into it writes W_q

    def k(i):
        return W_k[:, i * d_head:(i + 1) * d_head]

    def f(name):
        return FEATURES.index(name)

    for i in (0, 3, 4, 5):  # the positional heads: the key of position s is e_s
        for s in range(MAX_LEN):
            k(i)[POSITION + s, s] = 1.0
    for t in range(MAX_LEN):
        q(0)[POSITION + t, max(t - 1, 0)] = match        # the previous word
        q(3)[POSITION + t, min(t + 1, n - 1)] = match    # the next word
        q(4)[POSITION + t, t] = match                    # itself
    q(5)[ONE, 0] = match                                 # the first word, whoever asks

    q(1)[f("subject"), 0] = q(1)[f("object"), 0] = match  # "where is my verb?"
    k(1)[f("verb"), 0] = 1.0
    q(1)[f("verb"), 1] = match                            # "where is my subject?"
    k(1)[f("subject"), 1] = 1.0

    q(2)[f("weather"), 0] = match                         # weather asks for a place ...
    k(2)[f("place"), 0] = 1.0
    q(2)[f("place"), 1] = match                           # ... and a place for the weather
    k(2)[f("weather"), 1] = 1.0

    rng = np.random.default_rng(seed)                     # head 6 keeps its zero query
    q(7)[:] = 0.6 * rng.standard_normal((d_model, d_head))
    k(7)[:] = 0.6 * rng.standard_normal((d_model, d_head))

    identity = np.eye(d_model)
    return HandBuiltHeads(tokens, X, W_q, W_k, identity, identity.copy(),
                          [name for name, _, _ in JOBS], num_heads)

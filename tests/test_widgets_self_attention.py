"""attention_row_explorer reacts to its controls and calls the function it is given (04_self_attention)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from attnlab.widgets import attention_row_explorer  # noqa: E402


def _self_attention(X, W_q, W_k, W_v):
    Q, K, V = X @ W_q, X @ W_k, X @ W_v
    s = Q @ np.swapaxes(K, -1, -2) / np.sqrt(K.shape[-1])
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    w = e / e.sum(axis=-1, keepdims=True)
    return w @ V, w


# "the animal ... it": only "it" asks (for a living thing), only "animal" answers.
TOKENS = ["the", "animal", "saw", "the", "it"]
X = np.array([[0, 0, 1.0], [1.0, 0, 0], [0, 0, 1.0], [0, 0, 1.0], [0, 1.0, 0]])  # living, pronoun, other
W_Q = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 0.0]])
W_K = np.array([[2.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
W_V = np.eye(3)


def _controls(w):
    word, scale, _output = w.children
    return word, scale


def test_starts_on_the_requested_query_word():
    w = attention_row_explorer(_self_attention, X, TOKENS, W_Q, W_K, W_V, query="it")
    word, scale = _controls(w)
    assert word.value == 4 and scale.value == 1.0
    assert w.result.shape == (5,)
    assert np.isclose(w.result.sum(), 1.0)
    assert int(np.argmax(w.result)) == 1  # "it" looks at "animal"
    assert np.allclose(w.result, _self_attention(X, W_Q, W_K, W_V)[1][4])


def test_picking_another_word_shows_its_row():
    w = attention_row_explorer(_self_attention, X, TOKENS, W_Q, W_K, W_V, query="it")
    word, _ = _controls(w)
    word.value = 1  # "animal" asks nothing: uniform
    assert np.allclose(w.result, 0.2)


def test_duplicate_tokens_get_distinct_labels():
    w = attention_row_explorer(_self_attention, X, TOKENS, W_Q, W_K, W_V)
    word, _ = _controls(w)
    labels = [label for label, _ in word.options]
    assert len(set(labels)) == len(TOKENS)
    assert labels[0] == "the (0)" and labels[3] == "the (3)" and labels[1] == "animal"
    assert word.value == 0  # no query given: the first token


def test_scale_zero_flattens_and_larger_scale_sharpens():
    w = attention_row_explorer(_self_attention, X, TOKENS, W_Q, W_K, W_V, query="it")
    _, scale = _controls(w)
    at_one = w.result[1]
    scale.value = 0.0
    assert np.allclose(w.result, 0.2)
    scale.value = 3.0
    assert w.result[1] > at_one > 0.2


def test_calls_the_function_it_is_given_with_scaled_W_q():
    calls = []

    def spy(X_, W_q, W_k, W_v):
        calls.append(np.array(W_q))
        return _self_attention(X_, W_q, W_k, W_v)

    w = attention_row_explorer(spy, X, TOKENS, W_Q, W_K, W_V, query="it")
    _controls(w)[1].value = 2.0
    assert len(calls) == 2
    assert np.allclose(calls[0], W_Q) and np.allclose(calls[1], 2.0 * W_Q)


def test_draws_the_heatmap_with_the_row_outlined(monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(plt.gcf()))
    attention_row_explorer(_self_attention, X, TOKENS, W_Q, W_K, W_V, query="it")
    fig = shown[-1]
    heat, bar = fig.axes[0], fig.axes[1]  # then the colour bar
    outline = [p for p in heat.patches if p.get_edgecolor()[:3] != (0, 0, 0) and not p.get_fill()]
    assert len(outline) == 1 and outline[0].get_y() == pytest.approx(3.5)  # row 4 = "it"
    assert [t.get_text() for t in bar.get_xticklabels()] == TOKENS
    assert len(bar.patches) == len(TOKENS)

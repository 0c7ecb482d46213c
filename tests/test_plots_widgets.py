"""attnlab.plots and attnlab.widgets draw what they say, and the widgets react."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from attnlab.plots import arrows_2d, bars, heatmap  # noqa: E402
from attnlab.widgets import (scaling_explorer, sentence_similarity_explorer,  # noqa: E402
                             vector_angle_explorer)


def _cos(a, b):
    return float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))


def _softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


def test_heatmap_labels_tokens_and_writes_values():
    w = np.array([[0.1, 0.9], [0.7, 0.3]])
    ax = heatmap(w, ["the", "cat"], ["sat", "down"], title="t")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["sat", "down"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["the", "cat"]
    assert sorted(t.get_text() for t in ax.texts) == ["0.10", "0.30", "0.70", "0.90"]
    assert np.array_equal(ax.images[0].get_array(), w)


def test_heatmap_refuses_mismatched_labels():
    with pytest.raises(ValueError, match="3 row labels for 2 rows"):
        heatmap(np.zeros((2, 2)), ["a", "b", "c"], ["x", "y"])


def test_large_heatmaps_are_not_annotated():
    assert len(heatmap(np.zeros((20, 20))).texts) == 0


def test_bars_write_their_values():
    ax = bars([0.25, 0.75], ["a", "b"])
    assert [t.get_text() for t in ax.texts] == ["0.250", "0.750"]


def test_arrows_are_drawn_from_the_origin():
    ax = arrows_2d(np.array([[1.0, 0.0], [0.0, 2.0]]), ["a", "b"])
    assert [t.get_text() for t in ax.texts if t.get_text()] == ["a", "b"]
    tails = [a.xyann for a in ax.texts if not a.get_text()]  # the arrows' start points
    assert tails == [(0, 0), (0, 0)]


def test_vector_explorer_follows_the_angle_and_uses_the_given_function():
    calls = []

    def spy(a, b):
        calls.append((a, b))
        return _cos(a, b)

    w = vector_angle_explorer(spy)
    assert w.result == pytest.approx(np.cos(np.deg2rad(45)))
    angle_b = w.children[2]
    angle_b.value = 120.0  # 90 degrees from a
    assert w.result == pytest.approx(0.0, abs=1e-12)
    w.children[1].value = 2.5  # a's length does not matter
    assert w.result == pytest.approx(0.0, abs=1e-12)
    assert len(calls) == 3


def test_scaling_explorer_shows_saturation_without_scaling():
    w = scaling_explorer(_softmax)
    small_raw, small_scaled = w.result
    w.children[0].value = 1024
    big_raw, big_scaled = w.result
    assert big_raw > 0.95 and big_raw > small_raw  # one key takes everything
    assert big_scaled < 0.8


def test_sentence_explorer_ranks_against_the_chosen_sentence():
    vecs = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    w = sentence_similarity_explorer(["a", "b", "c"], vecs, _cos)
    assert w.result[0] == pytest.approx(1.0) and w.result[1] > w.result[2]
    w.children[0].value = "c"
    assert w.result[2] == pytest.approx(1.0) and w.result[0] == pytest.approx(0.0)

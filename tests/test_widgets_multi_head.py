"""heatmap_grid draws one labelled panel per head; heads_explorer reacts to the number of heads."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from attnlab.plots import heatmap_grid  # noqa: E402
from attnlab.widgets import heads_explorer  # noqa: E402


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _mha(X_q, X_kv, W_q, W_k, W_v, W_o, h):
    """A reference multi-head attention for the widget to call (not the exercise's solution)."""
    def split(Y):
        return np.swapaxes(Y.reshape(*Y.shape[:-1], h, Y.shape[-1] // h), -3, -2)
    Q, K, V = split(X_q @ W_q), split(X_kv @ W_k), split(X_kv @ W_v)
    w = _softmax(Q @ np.swapaxes(K, -1, -2) / np.sqrt(Q.shape[-1]))
    heads = w @ V
    merged = np.swapaxes(heads, -3, -2).reshape(*heads.shape[:-3], heads.shape[-2], -1)
    return merged @ W_o, w


def test_heatmap_grid_draws_one_labelled_panel_per_head():
    w = _softmax(np.random.default_rng(0).standard_normal((8, 3, 3)))
    tokens = ["a", "b", "c"]
    fig = heatmap_grid(w, tokens, tokens, titles=[f"h{i}" for i in range(8)], suptitle="s")
    panels, colorbar = fig.axes[:-1], fig.axes[-1]
    assert len(panels) == 8 and [ax.get_title() for ax in panels] == [f"h{i}" for i in range(8)]
    for k, ax in enumerate(panels):
        assert np.array_equal(ax.images[0].get_array(), w[k])
        assert ax.images[0].get_clim() == (0.0, 1.0)  # one shared scale
    assert [t.get_text() for t in panels[0].get_yticklabels()] == tokens
    assert [t.get_text() for t in panels[4].get_xticklabels()] == tokens
    assert panels[0].get_ylabel() == "query" and panels[4].get_xlabel() == "key"
    assert fig._suptitle.get_text() == "s"
    assert colorbar.get_ylim() == (0.0, 1.0)


def test_heatmap_grid_removes_unused_cells_and_checks_its_input():
    fig = heatmap_grid(np.full((5, 2, 2), 0.5), ncols=4)
    assert len(fig.axes) == 5 + 1  # 5 panels (3 empty cells removed) + the colour bar
    with pytest.raises(ValueError, match=r"\(h, n_q, n_k\)"):
        heatmap_grid(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="2 titles for 3 heads"):
        heatmap_grid(np.zeros((3, 2, 2)), titles=["a", "b"])


def test_heads_explorer_reacts_to_the_number_of_heads(capsys):
    rng = np.random.default_rng(1)
    n, d_model = 5, 16
    X = rng.standard_normal((n, d_model))
    Ws = rng.standard_normal((4, d_model, d_model))
    calls = []

    def spy(*args):
        calls.append(args[-1])
        return _mha(*args)

    tokens = list("abcde")
    w = heads_explorer(spy, X, tokens, *Ws, head_names=[f"n{i}" for i in range(8)])
    assert w.result.shape == (8, n, n) and calls == [8]
    assert np.allclose(w.result, _mha(X, X, *Ws, 8)[1])
    slider = w.children[0]
    assert list(slider.options) == [1, 2, 4, 8, 16]  # only the h that divide d_model = 16
    slider.value = 2
    assert w.result.shape == (2, n, n) and calls == [8, 2]
    assert np.allclose(w.result, _mha(X, X, *Ws, 2)[1])
    assert np.allclose(w.result.sum(axis=-1), 1.0)
    out = capsys.readouterr().out
    assert "d_head = 16 / 2 = 8" in out and "split (2, 5, 8)" in out
    slider.value = 16
    assert w.result.shape == (16, n, n)


def test_heads_explorer_names_heads_only_when_they_fit():
    rng = np.random.default_rng(2)
    X, Ws = rng.standard_normal((3, 8)), rng.standard_normal((4, 8, 8))
    w = heads_explorer(_mha, X, list("xyz"), *Ws, head_names=["p", "q"], options=(1, 2, 3, 4))
    assert list(w.children[0].options) == [1, 2, 4]
    assert w.result.shape == (4, 3, 3)  # 8 is not an option: the largest one is shown
    w.children[0].value = 2
    titles = [ax.get_title() for ax in plt.gcf().axes[:-1]]
    assert titles == ["head 0: p", "head 1: q"]
    w.children[0].value = 4
    assert plt.gcf().axes[0].get_title() == "head 0 (cols 0:2)"


def test_lecture_heads_each_do_the_job_they_are_named_for():
    from attnlab.heads import lecture_heads

    heads = lecture_heads()
    t = {w: i for i, w in enumerate(heads.tokens)}  # The snow closed the campus: "The" and "the" differ
    assert heads.tokens == ["The", "snow", "closed", "the", "campus"] and heads.X.shape == (5, 512)
    _, w = _mha(heads.X, heads.X, heads.W_q, heads.W_k, heads.W_v, heads.W_o, 8)
    looks = w.argmax(axis=-1)                                           # (8 heads, 5 queries)
    assert looks[0].tolist() == [0, 0, 1, 2, 3]                         # the previous word
    assert looks[1, t["snow"]] == t["closed"] and looks[1, t["closed"]] == t["snow"]   # subject <-> verb
    assert looks[1, t["campus"]] == t["closed"]                         # object -> verb
    assert looks[2, t["snow"]] == t["campus"] and looks[2, t["campus"]] == t["snow"]   # weather <-> place
    assert looks[3].tolist() == [1, 2, 3, 4, 4] and looks[4].tolist() == [0, 1, 2, 3, 4]
    assert (looks[5] == 0).all()
    assert np.allclose(w[6], 0.2)                                       # a zero query: uniform
    assert w[0, t["snow"], t["The"]] > 0.9                              # a match scores 4: e^4 / (e^4 + 4)
    assert "head 1, subject/object -> verb (syntactic)" in heads.describe()
    with pytest.raises(ValueError, match="8 heads"):
        lecture_heads(num_heads=4)

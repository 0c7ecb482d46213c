"""masked_heatmap hatches blocked cells; mask_explorer reacts to its controls (06_masking)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from attnlab.plots import masked_heatmap  # noqa: E402
from attnlab.widgets import mask_explorer  # noqa: E402


def _padding_mask(lengths, max_len):
    return np.arange(max_len)[None, :] < np.asarray(lengths)[:, None]


def _causal_mask(n):
    return np.tril(np.ones((n, n), dtype=bool))


def _masked_attention(Q, K, V, mask):
    scores = np.where(mask, Q @ np.swapaxes(K, -1, -2) / np.sqrt(K.shape[-1]), -np.inf)
    top = scores.max(axis=-1, keepdims=True)
    e = np.exp(scores - np.where(top == -np.inf, 0, top))
    total = e.sum(axis=-1, keepdims=True)
    w = e / np.where(total == 0, 1, total)
    return w @ V, w


def _controls(w):
    sentence, pad_to, padding, causal, _output = w.children
    return sentence, pad_to, padding, causal


def test_masked_heatmap_hatches_exactly_the_blocked_cells():
    w = np.array([[1.0, 0.0, 0.0], [0.4, 0.6, 0.0]])
    mask = np.array([[True, False, False], [True, True, False]])
    ax = masked_heatmap(w, mask, ["a", "b"], ["x", "y", "z"])
    corners = sorted((p.get_x(), p.get_y()) for p in ax.patches if p.get_hatch() == "///")
    assert corners == [(0.5, -0.5), (1.5, -0.5), (1.5, 0.5)]  # (col - 0.5, row - 0.5) of each blocked cell
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
    assert ax.images[0].get_clim() == (0, 1)


def test_masked_heatmap_broadcasts_a_key_mask():
    ax = masked_heatmap(np.full((3, 4), 0.25), np.array([True, True, False, False]))
    assert len([p for p in ax.patches if p.get_hatch() == "///"]) == 6  # 2 blocked keys x 3 queries


def test_mask_explorer_starts_with_the_padding_mask_on_the_first_sentence():
    w = mask_explorer(_padding_mask, _causal_mask, _masked_attention)
    assert w.result.shape == (6, 6)  # "The cat sat on the mat" has no padding
    assert np.allclose(w.result.sum(axis=-1), 1.0)
    assert np.all(w.result > 0)  # nothing blocked: no PAD, causal off


def test_mask_explorer_padding_toggle_blocks_the_pad_keys():
    w = mask_explorer(_padding_mask, _causal_mask, _masked_attention)
    sentence, pad_to, padding, _ = _controls(w)
    sentence.value = "I love NLP"
    assert np.all(w.result[:, 3:] == 0)  # PAD columns blocked
    assert np.allclose(w.result.sum(axis=-1), 1.0)
    padding.value = False
    assert np.all(w.result[:, 3:] > 0)  # without the mask, PAD takes weight
    pad_to.value = 9
    assert w.result.shape == (9, 9)
    padding.value = True
    assert np.all(w.result[:, 3:] == 0)


def test_mask_explorer_real_weights_do_not_depend_on_the_padding_length():
    w = mask_explorer(_padding_mask, _causal_mask, _masked_attention)
    sentence, pad_to, _, _ = _controls(w)
    sentence.value = "I love NLP"
    short = w.result[:3, :3].copy()
    pad_to.value = 8
    assert np.allclose(w.result[:3, :3], short, rtol=1e-12)


def test_mask_explorer_causal_toggle_blocks_the_future():
    w = mask_explorer(_padding_mask, _causal_mask, _masked_attention)
    _, _, _, causal = _controls(w)
    assert np.any(np.triu(w.result, k=1) > 0)
    causal.value = True
    assert np.all(np.triu(w.result, k=1) == 0)
    assert w.result[0, 0] == pytest.approx(1.0)


def test_mask_explorer_calls_the_functions_it_is_given():
    calls = []

    def spy_attention(Q, K, V, mask):
        calls.append(np.broadcast_to(mask, Q.shape[:-1] + (K.shape[-2],)).copy())
        return _masked_attention(Q, K, V, mask)

    w = mask_explorer(_padding_mask, _causal_mask, spy_attention)
    _controls(w)[3].value = True
    assert len(calls) == 2
    assert calls[-1].shape == (2, 6, 6)
    assert np.array_equal(calls[-1][1], _padding_mask([6, 3], 6)[1][None, :] & _causal_mask(6))

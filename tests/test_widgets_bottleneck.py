"""bottleneck_explorer reacts to its controls and measures what notebook 02 measures (02_bottleneck)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from attnlab.widgets import _readout_accuracy, bottleneck_explorer  # noqa: E402


def _rnn_encode(X, W_h, W_x, b, h0=None):
    """A reference RNN encoder for the widget to call (not the exercise's solution cell)."""
    h = np.zeros(W_h.shape[0]) if h0 is None else h0
    states = []
    for x_t in X:
        h = np.tanh(h @ W_h + x_t @ W_x + b)
        states.append(h)
    return np.stack(states)


def _attention_pool(query, states):
    s = states @ query / np.sqrt(states.shape[-1])
    e = np.exp(s - s.max())
    w = e / e.sum()
    return w @ states, w


@pytest.fixture(scope="module")
def explorer():
    # A smaller experiment than the notebook's, to keep the test fast.
    return bottleneck_explorer(_rnn_encode, _attention_pool, max_len=24, n_train=300, n_test=200)


def _controls(w):
    T, d_h, sharpness, _output = w.children
    return T, d_h, sharpness


def test_readout_accuracy_recovers_a_linear_code_and_fails_on_noise():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 4, size=400)
    informative = np.eye(4)[targets] + 0.05 * rng.standard_normal((400, 4))
    noise = rng.standard_normal((400, 4))
    assert _readout_accuracy(informative, targets, 300, 4) == 1.0
    assert _readout_accuracy(noise, targets, 300, 4) < 0.5
    # one readout per leading index, features broadcast against targets
    both = _readout_accuracy(informative, np.stack([targets, targets]), 300, 4)
    assert both.shape == (2,) and np.all(both == 1.0)


def test_explorer_starts_at_T_20_and_shows_the_bottleneck(explorer):
    T, d_h, sharpness = _controls(explorer)
    T.value, d_h.value, sharpness.value = 20, 32, 10.0
    acc_last, acc_attn = explorer.result
    assert acc_last.shape == acc_attn.shape == (20,)
    assert acc_last[0] < 0.35            # the first word has faded from h_T ...
    assert acc_last[-1] > acc_last[0]    # ... the last one has not
    assert acc_attn[0] > 0.95            # looking back finds word 1


def test_explorer_reacts_to_length_state_size_and_sharpness(explorer):
    T, d_h, sharpness = _controls(explorer)
    T.value, d_h.value, sharpness.value = 20, 32, 10.0
    before = explorer.result[0].copy()
    T.value = 6
    assert explorer.result[0].shape == (6,)
    assert explorer.result[0][0] > before[0] + 0.3  # a short sentence still holds its first word
    T.value = 20
    d_h.value = 8
    assert explorer.result[0].shape == (20,)
    assert not np.allclose(explorer.result[0], before)
    sharpness.value = 0.0                           # equal weights: the mean of the states
    assert explorer.result[1][0] < 0.5
    sharpness.value = 10.0
    assert explorer.result[1][0] > 0.9


def test_explorer_draws_the_weights_of_every_query(explorer):
    T, d_h, sharpness = _controls(explorer)
    T.value, d_h.value, sharpness.value = 5, 32, 10.0
    fig = plt.gcf()
    heat = fig.axes[0]
    weights = heat.images[0].get_array()
    assert weights.shape == (5, 5)
    assert np.allclose(weights.sum(axis=1), 1.0)
    assert np.all(np.diag(weights) > 0.99)           # row k asks for word k and gets it
    assert len(heat.get_xticklabels()) == 5

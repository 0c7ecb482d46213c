"""An explorer whose exercise is not done yet shows one friendly line, never a traceback.

Every explorer of attnlab.widgets is built here with a stub in place of the student's function,
as a fresh release runs it: the output must be that one line, no figure may be left half drawn,
and nothing may be logged (ipywidgets logs a traceback when a callback raises outside IPython).
"""

from __future__ import annotations

import logging

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from attnlab import widgets as aw  # noqa: E402


def _notebook(source: str) -> dict:
    """Functions defined as a notebook cell would define them: in one namespace of their own."""
    ns = {"np": np}
    exec(source, ns)
    return ns


def _stub(name: str):
    return _notebook(f"def {name}(*args, **kwargs):\n    raise NotImplementedError()\n")[name]


def _softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _attend(Q, K, V, mask=True):
    s = np.where(mask, Q @ np.swapaxes(K, -1, -2) / np.sqrt(K.shape[-1]), -1e9)
    w = _softmax(s)
    return w @ V, w


def _mha(X_q, X_kv, W_q, W_k, W_v, W_o, h):
    out, w = _attend(X_q @ W_q, X_kv @ W_k, X_kv @ W_v)
    return out @ W_o, np.broadcast_to(w, (h,) + w.shape)


TOKENS = ["a", "b", "c", "d"]
X4 = np.random.default_rng(0).standard_normal((4, 8))
W8 = np.eye(8)
ATT = _softmax(np.random.default_rng(1).standard_normal((2, 3, 4, 4)))  # (layers, heads, n, n)

# explorer name -> (builder taking the student's functions by name, the functions it takes, a correct set)
EXPLORERS = {
    "vector_angle_explorer": (lambda f: aw.vector_angle_explorer(f["cosine_similarity"]),
                              {"cosine_similarity": lambda a, b: a @ b / np.linalg.norm(a) / np.linalg.norm(b)}),
    "sentence_similarity_explorer": (
        lambda f: aw.sentence_similarity_explorer(["one", "two"], np.eye(2), f["cosine_similarity"]),
        {"cosine_similarity": lambda a, b: float(a @ b)}),
    "scaling_explorer": (lambda f: aw.scaling_explorer(f["softmax"]), {"softmax": _softmax}),
    "mask_explorer": (lambda f: aw.mask_explorer(f["padding_mask"], f["causal_mask"], f["masked_attention"]),
                      {"padding_mask": lambda lengths, n: np.arange(n) < np.asarray(lengths)[:, None],
                       "causal_mask": lambda n: np.tri(n, dtype=bool),
                       "masked_attention": _attend}),
    "heads_explorer": (lambda f: aw.heads_explorer(f["multi_head_attention"], X4, TOKENS, W8, W8, W8, W8),
                       {"multi_head_attention": _mha}),
    "attention_row_explorer": (
        lambda f: aw.attention_row_explorer(f["self_attention"], X4, TOKENS, W8, W8, W8),
        {"self_attention": lambda X, Wq, Wk, Wv: _attend(X @ Wq, X @ Wk, X @ Wv)}),
    "real_attention_explorer": (
        lambda f: aw.real_attention_explorer(f["attention_entropy"], {"s": (TOKENS, ATT)}),
        {"attention_entropy": lambda w: -(w * np.log(w)).sum(axis=-1)}),
    "bottleneck_explorer": (
        lambda f: aw.bottleneck_explorer(f["rnn_encode"], f["attention_pool"], n_train=20, n_test=10),
        {"rnn_encode": lambda X, W_h, W_x, b: np.tanh(np.cumsum(X @ W_x, axis=0)),
         "attention_pool": lambda q, S: (None, _softmax(S @ q / np.sqrt(len(q))))}),
}
CASES = [(explorer, name) for explorer, (_, fns) in EXPLORERS.items() for name in fns]


def _build(explorer: str, broken: dict, capsys, caplog):
    build, correct = EXPLORERS[explorer]
    plt.close("all")
    with caplog.at_level(logging.WARNING):
        w = build({**correct, **broken})
    # Outside a kernel, ipywidgets' clear_output prints a terminal escape; a notebook never sees it.
    return w, capsys.readouterr().out.replace("\x1b[2K\r", "")


@pytest.mark.parametrize("explorer,name", CASES)
def test_an_unfinished_exercise_shows_one_friendly_line(explorer, name, capsys, caplog):
    w, out = _build(explorer, {name: _stub(name)}, capsys, caplog)
    if name == "causal_mask":  # the causal mask is off at first: it is needed once ticked
        assert w.result is not None
        plt.close("all")
        w.children[3].value = True
        out = capsys.readouterr().out.replace("\x1b[2K\r", "")
    assert out == f"Finish `{name}` above to use this explorer.\n"
    assert w.result is None
    assert plt.get_fignums() == []  # no half-drawn figure left to show
    assert caplog.records == []  # no traceback logged either


@pytest.mark.parametrize("explorer", EXPLORERS)
def test_with_correct_functions_the_explorer_draws(explorer, capsys, caplog):
    w, out = _build(explorer, {}, capsys, caplog)
    assert w.result is not None
    assert "Finish" not in out and "raised" not in out and "could not draw" not in out


def test_the_line_names_the_stub_that_is_not_done_even_when_called_inside_another():
    ns = _notebook(
        "def split_heads(X, h):\n    raise NotImplementedError()\n"
        "def multi_head_attention(X_q, X_kv, W_q, W_k, W_v, W_o, h):\n"
        "    return split_heads(X_q @ W_q, h), None\n")
    failed = aw._YourCodeFailed(ns["multi_head_attention"], None)
    try:
        ns["multi_head_attention"](X4, X4, W8, W8, W8, W8, 2)
    except NotImplementedError as exc:
        failed.error = exc
    assert aw.friendly_message(failed) == "Finish `split_heads` above to use this explorer."


def test_a_name_not_defined_yet_is_named(capsys, caplog):
    ns = _notebook("def self_attention(X, W_q, W_k, W_v):\n    return scaled_dot_product_attention(X, X, X)\n")
    w, out = _build("attention_row_explorer", {"self_attention": ns["self_attention"]}, capsys, caplog)
    assert out.count("\n") == 1 and w.result is None
    assert "`self_attention` uses `scaled_dot_product_attention`, which is not defined yet" in out


def test_another_error_is_one_line_naming_the_function_and_the_error(capsys, caplog):
    ns = _notebook("def softmax(x, axis=-1):\n    return np.exp(x) @ np.ones((7, 7))\n")
    w, out = _build("scaling_explorer", {"softmax": ns["softmax"]}, capsys, caplog)
    assert out.count("\n") == 1 and w.result is None
    assert out.startswith("`softmax` raised ValueError: matmul")
    assert "Traceback" not in out and caplog.records == []


def test_a_result_the_explorer_cannot_draw_is_one_line_too(capsys, caplog):
    w, out = _build("attention_row_explorer", {"self_attention": lambda X, Wq, Wk, Wv: (None, None)},
                    capsys, caplog)
    assert w.result is None and out.count("\n") == 1
    assert out.startswith("This explorer could not draw what `<lambda>` returned (")


def test_the_explorer_recovers_when_a_control_moves_after_a_failure(capsys, caplog):
    calls = []

    def softmax(x, axis=-1):  # fails on the first call only, as if fixed in between
        calls.append(1)
        if len(calls) == 1:
            raise NotImplementedError()
        return _softmax(x, axis)

    w, out = _build("scaling_explorer", {"softmax": softmax}, capsys, caplog)
    assert w.result is None and out.startswith("Finish `softmax`")
    w.children[0].value = 16
    assert w.result is not None and w.result[0] > w.result[1]

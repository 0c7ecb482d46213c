"""07_bertviz: offline BertViz, the real model's helpers, and the capstone against the real model.

- attnlab.bertviz_offline: the head and model views carry no URL to load, inline d3 and jQuery
  from their pip packages, and show the model's own attention and tokens. (That they *render*
  offline in JupyterLab is tests/test_browser.py's job.)
- attnlab.models.run_attention / query_key_weights, attnlab.plots.attention_grid,
  attnlab.widgets.real_attention_explorer.
- The capstone: the SOLUTION's layer_attention reproduces the real model's output_attentions
  on every layer, several sentences and a padded batch, to 1e-5; every known wrong variant
  does not.
"""

from __future__ import annotations

import json
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from attnlab import bertviz_offline as bo  # noqa: E402
from attnlab.models import load_model, query_key_weights, run_attention  # noqa: E402
from attnlab.plots import attention_grid  # noqa: E402
from attnlab.widgets import real_attention_explorer  # noqa: E402
from autograder import SOLUTIONS  # noqa: E402
from autograder.notebooks import load_functions, read  # noqa: E402
from conftest import MODEL_F32_RTOL, assert_close  # noqa: E402

AID = "07_bertviz"
LECTURE = "The animal didn't cross the street because it was too tired"
SENTENCES = [
    LECTURE,
    "The animal didn't cross the street because it was too wide",
    "Attention is all you need.",
    "She said that she would call her sister before her sister called her.",
    "Hi!",
    "A rose is a rose is a rose.",
]
# URLs that may appear in the page as text only (a licence comment, XML namespaces), never loaded.
TEXT_ONLY_URLS = {
    "https://d3js.org",
    "https://github.com/tensorflow/tensor2tensor/blob/master/tensor2tensor/visualization/attention.js",
    "http://www.w3.org/1999/xhtml", "http://www.w3.org/1999/xlink", "http://www.w3.org/2000/svg",
    "http://www.w3.org/XML/1998/namespace", "http://www.w3.org/2000/xmlns/",
}


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def lecture(model):
    return run_attention(*model, LECTURE)


def _params(page: str) -> dict:
    """The parameters BertViz's script gets (the JSON that replaced PYTHON_PARAMS)."""
    match = re.search(r"const params = (\{.*\}); // HACK", page)
    assert match, "no BertViz parameters in the page"
    return json.loads(match.group(1).replace("<\\/", "</"))


def _loads_nothing_remote(page: str) -> None:
    low = page.lower()
    assert "cdnjs" not in low
    assert "require.config" not in page and "requirejs(" not in page
    assert re.search(r"<script[^>]*\bsrc\s*=", page, re.I) is None, "a <script src=...> is left"
    assert re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I) is None
    assert re.search(r"""(?:url\(|@import|import\(|fetch\(|\.load\()\s*["']?\s*https?:""", page, re.I) is None
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) <= TEXT_ONLY_URLS


# --- offline BertViz ------------------------------------------------------------------


def test_head_view_html_loads_nothing_and_inlines_d3_and_jquery(lecture):
    tokens, att = lecture.sentence(0)
    page = bo.head_view(att, tokens, html_action="return").data
    _loads_nothing_remote(page)
    libs = bo.library_js()
    assert libs["d3"] in page and libs["jquery"] in page
    assert 'version="5.7.0"' in libs["d3"] and "jQuery v3.7.1" in libs["jquery"]
    # The stable root the browser test looks for.
    assert re.search(r'<div class="attnlab-bertviz" id="attnlab-bertviz-[0-9a-f]{32}" data-view="head" '
                     r'data-layers="6" data-heads="12" data-tokens="15">', page)
    assert "<select id=\"layer\">" in page and "<div id='vis'></div>" in page
    # BertViz's own head_view.js, its require.js wrapper replaced by a direct call.
    assert "function renderVis()" in page and "(libs.jQuery, libs.d3);" in page


def test_head_view_shows_the_models_attention_and_tokens(model, lecture):
    tokenizer, m = model
    tokens, att = lecture.sentence(0)
    params = _params(bo.head_view(att, tokens, layer=3, heads=[1], html_action="return").data)
    assert params["layer"] == 3 and params["heads"] == [1]
    (data,) = params["attention"]
    assert data["left_text"] == data["right_text"] == tokens
    np.testing.assert_allclose(np.array(data["attn"]), att, atol=5.1e-6)  # rounded to 5 decimals
    # The tuple of tensors that model(..., output_attentions=True) returns gives the same page data.
    import torch

    enc = tokenizer(LECTURE, return_tensors="pt")
    with torch.no_grad():
        out = m(**enc, output_attentions=True)
    params_t = _params(bo.head_view(out.attentions, tokens, layer=3, heads=[1], html_action="return").data)
    assert params_t["attention"] == params["attention"]
    exact = _params(bo.head_view(att, tokens, decimals=None, html_action="return").data)
    np.testing.assert_allclose(np.array(exact["attention"][0]["attn"]), att, rtol=1e-7, atol=0)


def test_head_view_of_a_pair_has_the_sentence_filters(model):
    pair = run_attention(*model, "The cat sat on the mat.", pairs="It was tired.")
    tokens, att = pair.sentence(0)
    b = pair.sentence_b_start[0]
    assert tokens[b - 1] == "[SEP]" and tokens[b] == "it"
    page = bo.head_view(att, tokens, sentence_b_start=b, html_action="return").data
    _loads_nothing_remote(page)
    params = _params(page)
    names = [d["name"] for d in params["attention"]]
    assert names == ["All", "Sentence A -> Sentence A", "Sentence B -> Sentence B",
                     "Sentence A -> Sentence B", "Sentence B -> Sentence A"]
    a_to_b = params["attention"][3]
    assert a_to_b["left_text"] == tokens[:b] and a_to_b["right_text"] == tokens[b:]
    np.testing.assert_allclose(np.array(a_to_b["attn"]), att[:, :, :b, b:], atol=5.1e-6)
    assert '<select id="filter">' in page


def test_model_view_html_loads_nothing_and_shows_every_head(lecture):
    tokens, att = lecture.sentence(0)
    page = bo.model_view(att, tokens, display_mode="light", include_heads=[0, 2, 5],
                         html_action="return").data
    _loads_nothing_remote(page)
    assert 'class="attnlab-bertviz"' in page and 'data-view="model"' in page
    assert 'data-heads="3"' in page
    params = _params(page)
    assert params["display_mode"] == "light" and params["include_heads"] == [0, 2, 5]
    np.testing.assert_allclose(np.array(params["attention"][0]["attn"]), att[:, [0, 2, 5]], atol=5.1e-6)
    assert bo.library_js()["d3"] in page and "function renderThumbnail(" in page


def test_view_displays_one_html_output(lecture, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    tokens, att = lecture.sentence(0)
    assert bo.head_view(att, tokens) is None
    assert bo.model_view(att, tokens) is None
    assert [type(s).__name__ for s in shown] == ["HTML", "HTML"]
    assert 'data-view="head"' in shown[0].data and 'data-view="model"' in shown[1].data


def test_a_token_cannot_end_the_script():
    att = np.full((1, 1, 2, 2), 0.5)
    page = bo.head_view(att, ["</script><b>x", "ok"], html_action="return").data
    assert page.count("</script>") == 1  # only the real end of the script element
    assert _params(page)["attention"][0]["left_text"] == ["</script><b>x", "ok"]


def test_bad_attention_is_a_clear_error():
    with pytest.raises(ValueError, match="one sentence at a time"):
        bo.head_view([np.full((2, 1, 3, 3), 1 / 3)], ["a", "b", "c"], html_action="return")
    with pytest.raises(ValueError, match="layers, heads, n_q, n_k"):
        bo.head_view(np.full((1, 3, 3), 1 / 3), ["a", "b", "c"], html_action="return")
    with pytest.raises(ValueError, match="html_action"):
        bo.head_view(np.full((1, 1, 3, 3), 1 / 3), ["a", "b", "c"], html_action="show")


def test_an_unexpected_bertviz_script_is_a_clear_error(monkeypatch):
    bo.offline_view_js.cache_clear()
    monkeypatch.setattr(bo, "_read_package_file", lambda package, path: "console.log(PYTHON_PARAMS);")
    try:
        with pytest.raises(bo.OfflineViewError, match="require.js wrapper"):
            bo.offline_view_js("head")
    finally:
        bo.offline_view_js.cache_clear()


# --- the model helpers, the grid, the explorer ---------------------------------------------


def test_run_attention_pads_masks_and_matches_the_model(model):
    tokenizer, m = model
    run = run_attention(tokenizer, m, ["Hi!", LECTURE])
    n = len(run.tokens[1])
    assert run.hidden_states.shape == (7, 2, n, 384) and run.attentions.shape == (6, 2, 12, n, n)
    assert run.hidden_states.dtype == run.attentions.dtype == np.float32
    assert run.mask.tolist()[0] == [True] * 4 + [False] * (n - 4)
    assert run.tokens[0][:4] == ["[CLS]", "hi", "!", "[SEP]"] and run.tokens[0][4] == "[PAD]"
    assert run.sentence_b_start == [None, None]
    tokens, att = run.sentence(0)
    assert tokens == ["[CLS]", "hi", "!", "[SEP]"] and att.shape == (6, 12, 4, 4)
    alone = run_attention(tokenizer, m, "Hi!")
    # The same sentence alone and in a padded batch: other matrix shapes, other kernels.
    assert_close(att, alone.attentions[:, 0], rtol=MODEL_F32_RTOL)
    # Padded keys get exactly nothing from the real tokens.
    assert np.all(run.attentions[:, 0, :, :, 4:] == 0)


def test_query_key_weights_are_in_row_convention(model, lecture):
    import torch

    _, m = model
    p = query_key_weights(m, 2)
    assert p["num_heads"] == 12 and p["W_q"].shape == p["W_k"].shape == (384, 384)
    hidden = lecture.hidden_states[2, 0]  # (15, 384)
    with torch.no_grad():
        q = m.encoder.layer[2].attention.self.query(torch.from_numpy(hidden)).numpy()
        k = m.encoder.layer[2].attention.self.key(torch.from_numpy(hidden)).numpy()
    # NumPy's BLAS against torch's: float32 products of 384 terms (a transposed W would miss by O(1)).
    assert_close(hidden @ p["W_q"] + p["b_q"], q, rtol=MODEL_F32_RTOL)
    assert_close(hidden @ p["W_k"] + p["b_k"], k, rtol=MODEL_F32_RTOL)


def test_attention_grid_draws_every_layer_and_head_with_token_labels(lecture):
    tokens, att = lecture.sentence(0)
    fig = attention_grid(att, tokens, query=tokens.index("it"), title="t")
    panels = fig.axes[:-1]
    assert len(panels) == 6 * 12 and len(fig.axes) == 6 * 12 + 1  # + the colour bar
    np.testing.assert_array_equal(panels[13].images[0].get_array(), att[1, 1])  # layer 1, head 1
    assert [t.get_text() for t in panels[0].get_yticklabels()] == tokens  # queries on the left
    assert [t.get_text() for t in panels[-1].get_xticklabels()] == tokens  # keys at the bottom
    assert panels[0].get_title() == "head 0" and panels[0].get_ylabel() == "layer 0"
    assert all(len(ax.patches) == 1 for ax in panels)  # the query's row outlined
    assert panels[0].images[0].get_clim() == (0, 1)
    small = attention_grid(att, tokens, layers=[5], heads=[11, 3])
    assert len(small.axes) == 3 and small.axes[0].get_title() == "head 11"
    np.testing.assert_array_equal(small.axes[1].images[0].get_array(), att[5, 3])
    with pytest.raises(ValueError, match="tokens"):
        attention_grid(att, tokens[:-1])


def test_real_attention_explorer_calls_your_entropy_and_reacts(lecture):
    tokens, att = lecture.sentence(0)
    calls = []

    def entropy(w):
        calls.append(np.shape(w))
        w = np.asarray(w)
        return -np.sum(w * np.log(np.where(w > 0, w, 1)), axis=-1)

    two = {"lecture": (tokens, att), "short": (tokens[:4], att[:, :, :4, :4])}
    w = real_attention_explorer(entropy, two, start=(0, 2))
    sentence, layer, head, _out = w.children
    assert calls[-1] == (15, 15)
    np.testing.assert_allclose(w.result, entropy(att[0, 2].astype(float)), atol=1e-12)
    assert w.result.max() < 0.01  # layer 0, head 2 looks at one token only
    head.value = 5
    np.testing.assert_allclose(w.result, entropy(att[0, 5].astype(float)), atol=1e-12)
    layer.value = 4
    np.testing.assert_allclose(w.result, entropy(att[4, 5].astype(float)), atol=1e-12)
    sentence.value = "short"
    assert calls[-1] == (4, 4) and w.result.shape == (4,)
    assert (layer.max, head.max) == (5, 11)


# --- the capstone: the solution against the real model ----------------------------------------


@pytest.fixture(scope="module")
def solved():
    return load_functions(read(SOLUTIONS / AID / f"{AID}.ipynb"), ["attention_entropy", "layer_attention"])


@pytest.fixture(scope="module")
def runs(model):
    tokenizer, m = model
    return {
        "each sentence alone": [run_attention(tokenizer, m, s) for s in SENTENCES],
        "a padded batch": [run_attention(tokenizer, m, SENTENCES)],
        "a padded batch of pairs": [run_attention(tokenizer, m, ["The cat sat on the mat.", "Hi!"],
                                                  pairs=["It was tired.", "Attention is all you need."])],
    }


def _max_differences(layer_attention, model, runs) -> dict[tuple[str, int], float]:
    _, m = model
    diffs = {}
    for layer in range(m.config.num_hidden_layers):
        p = query_key_weights(m, layer)
        for name, rs in runs.items():
            worst = 0.0
            for r in rs:
                mine = layer_attention(r.hidden_states[layer], p["W_q"], p["b_q"], p["W_k"], p["b_k"],
                                       p["num_heads"], r.mask)
                assert np.shape(mine) == r.attentions[layer].shape
                worst = max(worst, float(np.max(np.abs(np.asarray(mine, dtype=np.float64)
                                                       - r.attentions[layer]))))
            diffs[name, layer] = worst
    return diffs


def test_capstone_solution_matches_the_real_model_on_every_layer(solved, model, runs, capsys):
    diffs = _max_differences(solved["layer_attention"], model, runs)
    largest = max(diffs.values())
    with capsys.disabled():
        print(f"\n[07_bertviz capstone] largest |solution - output_attentions| over 6 layers, "
              f"{len(SENTENCES)} sentences, a padded batch and padded pairs: {largest:.2e}")
    # COURSE_SPEC's 1e-5. Right for weights in [0, 1] computed from the same float32 inputs by
    # one layer: the two computations differ only in summation order (~1e-6; 6.85e-7 here).
    assert largest <= 1e-5, {k: f"{v:.2e}" for k, v in diffs.items() if v > 1e-5}
    # The batch contains padding, so the mask was really exercised.
    assert not runs["a padded batch"][0].mask.all()


def test_capstone_float64_inputs_match_too(solved, model, runs):
    _, m = model
    r = runs["a padded batch"][0]
    for layer in (0, 3, 5):
        p = {k: (v.astype(np.float64) if isinstance(v, np.ndarray) else v)
             for k, v in query_key_weights(m, layer).items()}
        mine = solved["layer_attention"](r.hidden_states[layer].astype(np.float64), p["W_q"], p["b_q"],
                                         p["W_k"], p["b_k"], p["num_heads"], r.mask)
        assert mine.dtype == np.float64
        # float64 against the model's float32 weights: the model's own rounding (~1e-6) dominates.
        np.testing.assert_allclose(mine, r.attentions[layer], atol=1e-5, rtol=0)


def test_every_known_wrong_variant_misses_the_model(model, runs):
    from autograder.spec import exercise_modules

    spec = exercise_modules()[AID].FUNCTIONS["layer_attention"]
    assert len(spec.mistakes) >= 5
    for mistake in spec.mistakes:
        diffs = _max_differences(mistake.fn, model, runs)
        assert max(diffs.values()) > 1e-2, mistake.hint


def test_solution_entropy_of_the_real_model_is_between_0_and_log_n(solved, lecture):
    tokens, att = lecture.sentence(0)
    ent = solved["attention_entropy"](att)
    assert ent.shape == (6, 12, 15)
    assert np.all(ent >= 0) and np.all(ent <= np.log(15) + 1e-5)
    assert ent[0, 2].max() < 0.01  # the previous-token head


def test_stored_reference_inputs_still_equal_what_the_model_gives():
    """data/reference/07_bertviz.npz keeps the real-model cases' inputs (see a07_bertviz.py)."""
    from autograder.exercises import a07_bertviz as a07

    stored = a07._stored_args()
    assert stored is not None, "the reference file lacks the real-model cases: run `make data`"
    fresh = a07.extract_from_model()
    hidden, W_q, b_q, W_k, b_k, h = stored["lecture_layer"]
    np.testing.assert_array_equal(W_q, fresh["lecture_W_q"])
    np.testing.assert_array_equal(b_k, fresh["lecture_b_k"])
    # The stored inputs were computed on another machine (or with other CPU kernels): float32
    # activations after several layers agree to a fraction of their scale (conftest.MODEL_F32_RTOL).
    assert_close(hidden, fresh["lecture_hidden"], rtol=MODEL_F32_RTOL)
    assert int(h) == 12
    hidden, W_q, b_q, W_k, b_k, h, mask = stored["batch_layer"]
    np.testing.assert_array_equal(W_k, fresh["batch_W_k"])
    np.testing.assert_array_equal(mask, fresh["batch_mask"])
    assert_close(hidden, fresh["batch_hidden"], rtol=MODEL_F32_RTOL)
    assert_close(stored["lecture_entropy"][0], fresh["lecture_attentions"], rtol=MODEL_F32_RTOL)
    assert_close(stored["batch_entropy"][0], fresh["batch_attentions"], rtol=MODEL_F32_RTOL)

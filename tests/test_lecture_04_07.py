"""Notebooks 04-07 teach the lecture's own examples, with the lecture's numbers, and its slips are gone.

The table below is the lecture (../shared/lecture/, the Lecture 6 slides) as data: each row is
an example or a number from the slides and the variable of an executed solution notebook that
must hold it. The values are read from the notebooks' kernels after "Run All" (fixture
``solution_variables``), not from their text, so a notebook that prints the right words over
changed numbers fails here. Exact values are computed in this file from the lecture's inputs.
"""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest

from autograder import SOLUTIONS


def _softmax(x):
    e = np.exp(np.asarray(x, dtype=float) - np.max(x))
    return e / e.sum()


PAD_SCORES = [2.1, 1.5, 3.2, 0.8, 0.5, 0.7]  # slide "Padding mask: how it works": QK^T before the mask

# (assignment, variable, the lecture's value, absolute tolerance or None for exact equality, where in the slides)
LECTURE = [
    # Part 7, padding mask: "I love NLP [PAD] [PAD] [PAD]".
    ("06_masking", "scores_lecture", PAD_SCORES, 0, "QK^T = [2.1, 1.5, 3.2, 0.8, 0.5, 0.7]"),
    ("06_masking", "mask_lecture", [True, True, True, False, False, False], None, "mask [1, 1, 1, 0, 0, 0]"),
    ("06_masking", "weights_masked", [0.2196, 0.1205, 0.6598, 0.0, 0.0, 0.0], 1e-4,
     "after softmax: exact weights (the slide's [0.3, 0.2, 0.5] is an illustration)"),
    ("06_masking", "weights_unmasked", list(_softmax(PAD_SCORES)), 1e-10, "what PAD would take without the mask"),
    ("06_masking", "slide_weights", [0.3, 0.2, 0.5, 0.0, 0.0, 0.0], 0, "the slide's illustration, quoted"),
    # Part 7, causal mask for "The cat sat on": lower-triangular, in the lecture's layout.
    ("06_masking", "causal_tokens", ["The", "cat", "sat", "on"], None, "the causal table's tokens"),
    ("06_masking", "causal_lecture", [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], None,
     "the causal table"),
    # Part 6, multi-head attention: "d_k = d_v = 64, total model dimension = 512", h = 8.
    ("05_multi_head", "lecture_sizes", {"d_model": 512, "h": 8, "d_k": 64, "d_v": 64}, None, "512 / 8 = 64"),
    ("05_multi_head", "tokens", ["The", "snow", "closed", "the", "campus"], None, '"The snow closed the campus"'),
    # Part 3, computational cost: O(n^2).
    ("04_self_attention", "lecture_lengths", [100, 10_000], None, "short and long sequences"),
    ("04_self_attention", "comparisons", [10_000, 100_000_000], None, "10,000 and 100,000,000 comparisons"),
    # Part 2, Q, K, V in the decoder attending to the encoder: "The snow closed" -> "La neige a ___".
    ("04_self_attention", "english", ["The", "snow", "closed"], None, "keys and values: the encoder's tokens"),
    ("04_self_attention", "french", ["La", "neige", "a"], None, "the query side: the decoder's tokens"),
    # Part 5, self-attention in action.
    ("04_self_attention", "tokens", "The animal didn't cross the street because it was too tired".split(), None,
     "the lecture's sentence"),
]


@pytest.mark.parametrize("aid,name,expected,tol,where", LECTURE, ids=[f"{r[0][:2]}-{r[1]}" for r in LECTURE])
def test_the_lecture_value_is_in_the_notebook(aid, name, expected, tol, where, solution_variables):
    variables = solution_variables(aid)
    assert name in variables, f"{aid} defines no variable {name!r} ({where})"
    got = variables[name]
    if tol is None:
        got = got.tolist() if isinstance(got, np.ndarray) else got
        assert got == expected, where
    else:
        np.testing.assert_allclose(np.asarray(got, dtype=float), expected, rtol=0, atol=tol, err_msg=where)


# --- 04_self_attention --------------------------------------------------------------------


def test_04_it_attends_to_animal_and_not_to_street(solution_variables):
    v = solution_variables("04_self_attention")
    row = v["weights_s"][v["tokens"].index("it")]
    animal, street = row[v["tokens"].index("animal")], row[v["tokens"].index("street")]
    assert animal > 0.5 and street < 0.05, (animal, street)  # "high attention to animal, low to street"


def test_04_cross_attention_runs_the_lectures_translation(solution_variables):
    v = solution_variables("04_self_attention")
    english, french = v["english"], v["french"]
    assert v["X_enc"].shape[0] == 3 and v["X_dec"].shape[0] == 3  # "The snow closed" / "La neige a"
    assert v["weights_cross"].shape == (3, 3)                      # (n_dec, n_enc)
    assert v["out_cross"].shape[0] == 3                            # one row per decoder token
    np.testing.assert_allclose(v["weights_cross"].sum(axis=-1), 1.0, atol=1e-12)
    # The decoder's query after "La neige a" finds "closed"; "neige" finds "snow".
    assert english[int(np.argmax(v["weights_cross"][french.index("a")]))] == "closed"
    assert english[int(np.argmax(v["weights_cross"][french.index("neige")]))] == "snow"


def test_04_shuffled_tokens_give_the_same_outputs_shuffled(solution_variables):
    v = solution_variables("04_self_attention")
    perm = v["perm"]
    assert sorted(perm.tolist()) == list(range(len(v["tokens"]))) and (perm != np.arange(len(perm))).any()
    np.testing.assert_allclose(v["out_shuffled"], v["out_s"][perm], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(v["weights_shuffled"], v["weights_s"][perm][:, perm], rtol=1e-12, atol=1e-12)
    # With positions added, the symmetry is broken: not merely shuffled any more.
    assert not np.allclose(v["out_pos_shuffled"], v["out_pos"][perm], atol=1e-3)


def test_04_slip_only_the_scores_are_symmetric(solution_variables):
    v = solution_variables("04_self_attention")
    np.testing.assert_allclose(v["S_shared"], v["S_shared"].T, rtol=1e-12)
    assert not np.allclose(v["weights_shared"], v["weights_shared"].T, atol=1e-3)
    text = _markdown("04_self_attention")
    assert "attention would be symmetric" not in text
    assert re.search(r"\*\*scores\*\* would be symmetric", text)


def test_04_slip_best_match_is_not_always_itself(solution_variables):
    v = solution_variables("04_self_attention")
    assert (v["best"] != np.arange(len(v["best"]))).any()  # the counterexample is shown
    assert "best match is itself" not in _markdown("04_self_attention")


# --- 05_multi_head ------------------------------------------------------------------------


def test_05_heads_find_the_lectures_three_relations_of_snow(solution_variables):
    v = solution_variables("05_multi_head")
    # positional (snow is near "The"), syntactic (subject of "closed"), semantic (snow and "campus")
    assert v["snow_looks_at"][:3] == ["The", "closed", "campus"]
    assert v["w_sent"].shape == (8, 5, 5)


def test_05_slip_heads_are_not_free(solution_variables):
    cost = solution_variables("05_multi_head")["cost"]
    assert cost["score multiply-adds, 8 heads of 64"] == cost["score multiply-adds, 1 head of 512"]
    assert cost["attention weights, 8 heads"] == 8 * cost["attention weights, 1 head"]  # h * n^2
    text = _markdown("05_multi_head")
    assert "heads are free" not in text and "h \\cdot n^2" in text


def test_05_the_constructed_heads_live_in_attnlab():
    nb = _notebook("05_multi_head")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "lecture_heads()" in code and "def head(" not in code
    longest = max(len(c.source.splitlines()) for c in nb.cells if c.cell_type == "code"
                  and not c.metadata.get("nbgrader"))
    assert longest <= 25, longest


# --- 06_masking ---------------------------------------------------------------------------


def test_06_slip_the_slides_weights_are_an_illustration_not_a_rounding(solution_variables):
    v = solution_variables("06_masking")
    assert not np.allclose(np.round(v["weights_masked"], 1), v["slide_weights"])  # it really is not a rounding
    assert v["weights_unmasked"][3:].sum() > 0.1                                     # PAD would take 14%
    text = _markdown("06_masking")
    assert "illustration" in text and "rounded for" not in text
    assert "2.6" not in "\n".join(c.source for c in _notebook("06_masking").cells if c.cell_type == "code")


def test_06_the_notebook_warns_about_pytorchs_opposite_mask(solution_variables):
    agrees = solution_variables("06_masking")["torch_agrees"]
    assert agrees == {"F.scaled_dot_product_attention, our mask": True,
                      "nn.MultiheadAttention, our mask": False,
                      "nn.MultiheadAttention, ~mask": True}
    assert "not allowed" in _markdown("06_masking")


def test_pytorch_boolean_masks_mean_what_the_notebook_says():
    """Independent of the notebook: True = blocked for nn.MultiheadAttention, True = may attend for SDPA."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = torch.randn(1, 4, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    causal = torch.tril(torch.ones(4, 4, dtype=torch.bool))        # the course's convention: True = may attend
    scores = (x @ x.transpose(-1, -2)) / 8 ** 0.5
    ours = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1) @ x
    assert torch.allclose(F.scaled_dot_product_attention(x, x, x, attn_mask=causal), ours)
    mha = torch.nn.MultiheadAttention(8, 1, bias=False, batch_first=True).double()
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.eye(8).repeat(3, 1))
        mha.out_proj.weight.copy_(torch.eye(8))
        assert torch.allclose(mha(x, x, x, attn_mask=~causal)[0], ours)
        assert not torch.allclose(mha(x, x, x, attn_mask=causal)[0], ours)


# --- 07_bertviz ---------------------------------------------------------------------------


def test_07_slip_the_lectures_picture_is_not_credited_to_bert():
    text = _markdown("07_bertviz")
    assert "which is where the\nlecture's picture comes from" not in text
    assert "where the lecture's picture comes from" not in " ".join(text.split())
    assert "Illustrated Transformer" in text and "it is neither BERT nor this model" in " ".join(text.split())


def test_07_asks_which_side_the_student_takes():
    nb = _notebook("07_bertviz")
    manual = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "answer_attention_explanation"]
    assert len(manual) == 1 and manual[0].cell_type == "markdown"
    text = _markdown("07_bertviz")
    assert "Jain and Wallace, 2019" in text and "Wiegreffe and Pinter, 2019" in text


# --- helpers ------------------------------------------------------------------------------


def _notebook(aid: str):
    return nbformat.read(str(SOLUTIONS / aid / f"{aid}.ipynb"), as_version=4)


def _markdown(aid: str) -> str:
    return "\n".join(c.source for c in _notebook(aid).cells if c.cell_type == "markdown")

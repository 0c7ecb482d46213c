"""Notebooks 01-03 teach the lecture (shared/lecture/: the notes and the Lecture 6 slides).

The tables below are the lecture's own examples and numbers. They are checked against the
*variables* of the executed solution notebooks (what a student finds in the kernel after Run
All), not against their text; where the prose quotes a number, it is checked against the
variable it comes from. Then: the slips of issue 12 stay fixed, the lecture's material comes
in the lecture's order, and the manually graded reflections exist, are released empty and carry
the right nbgrader metadata.
"""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest

from autograder import RELEASES, SOLUTIONS
from autograder.notebooks import nbgrader_meta

# --- the lecture's examples ---------------------------------------------------------------
# name in the notebook -> (the lecture's value, absolute tolerance). Values rounded to three
# places (the exact results) get 5e-4; the slide's own figures and the inputs are exact.

BOARD_WORK = {  # 03, slides Part 4: translating "snow closed campus", d_k = 4
    "tokens": (["snow", "closed", "campus"], None),
    "d_k": (4, 0),
    "q": ([1, 0, 1, 2], 0),
    "K": ([[2, 1, 0, 1], [0, 2, 1, 0], [2, 0, 1, 2]], 0),
    "V": ([[1, 0, 1, 2], [0, 1, 2, 0], [2, 1, 0, 1]], 0),
    "scores": ([4, 1, 7], 1e-12),
    "scaled_scores": ([2, 0.5, 3.5], 1e-12),
    "slide_weights": ([0.18, 0.04, 0.78], 0),              # the slide, rounded
    "weights": ([0.175, 0.039, 0.786], 5e-4),              # exact
    "slide_context": ([1.74, 0.82, 0.26, 1.14], 1e-12),    # exact for the slide's weights
    "context": ([1.746, 0.825, 0.254, 1.136], 5e-4),       # exact for the exact weights
}
SOFTMAX_EXAMPLE = {  # 03, slides Part 3, step 3: an illustration, not a rounding
    "slide_scores": ([3.2, 1.1, 5.8], 0),
    "slide_softmax": ([0.15, 0.05, 0.80], 0),
    "softmax_exact": ([0.069, 0.008, 0.923], 5e-4),
}
COSINES = {  # 01, the notes: "≈ 1" and "≈ 0"; the packaged all-MiniLM-L6-v2 gives these
    "lecture_sentences": (["earthquake damage on the coast", "seismic destruction near shore",
                           "prolonged drought and water shortage"], None),
    "cos_paraphrase": (0.758, 5e-4),
    "cos_drought": (0.160, 5e-4),
}
BANK = {  # 02, slides "What if we could look back?"
    "money_sentence": ("I got cash from the bank on the way home", None),
    "cos_banks_in": (1.0, 1e-5),  # the same token at the same position: float32 vectors
}
TABLES = [("01_embeddings", COSINES), ("02_bottleneck", BANK),
          ("03_qkv_by_hand", BOARD_WORK), ("03_qkv_by_hand", SOFTMAX_EXAMPLE)]

# The manually graded reflections: (assignment, grade_id, points).
REFLECTIONS = [("02_bottleneck", "reflect_five_words", 1),
               ("03_qkv_by_hand", "reflect_explain_steps", 2)]


def _markdown(aid: str, folder=SOLUTIONS) -> str:
    nb = nbformat.read(str(folder / aid / f"{aid}.ipynb"), as_version=4)
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", text)


def _rows():
    return [pytest.param(aid, name, value, atol, id=f"{aid}-{name}")
            for aid, table in TABLES for name, (value, atol) in table.items()]


# --- the numbers, from the notebooks' variables ----------------------------------------------


@pytest.mark.parametrize("aid, name, value, atol", _rows())
def test_notebook_holds_the_lectures_value(aid, name, value, atol, solution_variables):
    variables = solution_variables(aid)
    assert name in variables, f"{aid} has no variable {name!r} after Run All"
    got = variables[name]
    if atol is None:
        assert got == value
    else:
        assert np.shape(got) == np.shape(value), name
        np.testing.assert_allclose(np.asarray(got, dtype=float), value, rtol=0, atol=atol, err_msg=name)


def test_board_work_roundings_are_what_the_notebook_says(solution_variables):
    v = solution_variables("03_qkv_by_hand")
    w = v["weights"]
    assert np.array_equal(np.round(w, 2), [0.18, 0.04, 0.79])  # 0.786 rounds to 0.79, not 0.78
    assert round(float(np.round(w, 2).sum()), 2) == 1.01 and round(float(v["slide_weights"].sum()), 2) == 1.0
    text = _markdown("03_qkv_by_hand")
    assert f"**{100 * w[2]:.1f}%**" == "**78.6%**" and "**78.6%**" in text
    assert "**1.01**" in text
    exact_w = "[" + ", ".join(f"{x:.3f}" for x in w) + "]"
    exact_c = "[" + ", ".join(f"{x:.3f}" for x in v["context"]) + "]"
    slide_c = "[" + ", ".join(f"{x:.2f}" for x in v["slide_context"]) + "]"
    for quoted in (exact_w, exact_c, slide_c, "[0.18, 0.04, 0.78]"):
        assert quoted in text, quoted


def test_softmax_example_is_named_an_illustration_with_its_exact_values(solution_variables):
    exact = solution_variables("03_qkv_by_hand")["softmax_exact"]
    text = _markdown("03_qkv_by_hand")
    quoted = "[" + ", ".join(f"{x:.3f}" for x in exact) + "]"
    paragraph = next(p for p in text.split("\n\n") if quoted in p)
    assert "illustration" in paragraph and "not a rounding" in paragraph
    assert not np.allclose(exact, [0.15, 0.05, 0.80], atol=0.005)  # it really is not a rounding


def test_01_quotes_the_real_models_cosines_and_credits_the_notes(solution_variables):
    v = solution_variables("01_embeddings")
    text = _markdown("01_embeddings")
    assert f"**{v['cos_paraphrase']:.2f}**" in text and f"**{v['cos_drought']:.2f}**" in text
    assert f"about {v['cos_drought']:.2f}" in text  # the notes' "≈ 0" is, here, about 0.16
    assert "slide" not in text.lower()  # 01's example is the lecture notes', not the slides'
    assert "Word2Vec" in text and "CNN" in text and "similar contexts" in text
    # The ranking the prose describes: paraphrase, then tsunami, then the drought sentence
    # leading the low group.
    top = np.sort(v["cos_to_ref"])[::-1]
    assert top[0] == pytest.approx(v["cos_paraphrase"]) and top[2] == pytest.approx(v["cos_drought"])
    assert top[1] > 0.5 > 0.3 > top[2]  # the tsunami second, then a gap down to the low group


def test_02_bank_takes_in_its_sentence(solution_variables):
    v = solution_variables("02_bottleneck")
    assert v["cos_banks_out"] < 0.95  # the two banks moved apart after the layers
    (money_cash, money_river), (river_cash, river_river) = v["bank_vs_words"]
    assert money_cash > river_cash and river_river > money_river  # what the prose says
    assert "cash" not in v["river_sentence"] and "bank" in v["river_sentence"].split()


# --- the slips of issue 12 ---------------------------------------------------------------------


def test_02_credits_each_scoring_to_its_authors():
    text = _markdown("02_bottleneck")
    for s in _sentences(text):
        if "Bahdanau" in s:
            assert not re.search(r"dot.product|\\sqrt|√", s), s
    credit = [p for p in text.split("\n\n") if "Bahdanau" in p and "additive" in p]
    assert credit, "no paragraph says Bahdanau et al.'s score is additive"
    assert re.search(r"dot product[^.]*Luong", credit[0])
    assert re.search(r"\\sqrt\{d\}[^.]*Vaswani", credit[0])


def test_02_says_transformers_add_positions():
    text = _markdown("02_bottleneck")
    positional = [s for s in _sentences(text) if "positional" in s.lower()]
    assert positional
    for s in positional:
        assert re.search(r"\badd", s), f"says positions are not added: {s!r}"
    assert any("ransformers" in s and re.search(r"\badd\b", s) for s in positional)


@pytest.mark.parametrize("aid", ["01_embeddings", "02_bottleneck", "03_qkv_by_hand"])
def test_no_latex_row_written_as_backslash_space(aid):
    # `\ ` where `\\` belongs renders a matrix as one row; these notebooks use neither.
    assert not re.search(r"(?<!\\)\\ ", _markdown(aid))


# --- the lecture's order -------------------------------------------------------------------------


@pytest.mark.parametrize("aid, landmarks", [
    ("02_bottleneck", ["The snow closed the campus", "256 numbers", "geologist", "exactly five words",
                       "I got cash from the bank on the way home", "Bahdanau"]),
    ("03_qkv_by_hand", ["Googling your symptoms", "Why keys and values are separate",
                        "[3.2, 1.1, 5.8]", "explain it to your neighbour",
                        'translating "snow closed campus"', "### Step 1", "### Step 4"]),
])
def test_lecture_material_comes_in_the_lectures_order(aid, landmarks):
    text = _markdown(aid)
    where = [text.find(m) for m in landmarks]
    assert -1 not in where, [m for m, w in zip(landmarks, where) if w == -1]
    assert where == sorted(where), landmarks


# --- the manually graded reflections ------------------------------------------------------------


def _cell(aid: str, folder, grade_id: str):
    nb = nbformat.read(str(folder / aid / f"{aid}.ipynb"), as_version=4)
    found = [(i, c) for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") == grade_id]
    assert len(found) == 1, f"{aid}: {len(found)} cells with grade_id {grade_id!r}"
    return nb, *found[0]


@pytest.mark.parametrize("aid, grade_id, points", REFLECTIONS)
def test_reflection_is_a_manually_graded_answer_with_a_model_answer(aid, grade_id, points):
    nb, i, cell = _cell(aid, SOLUTIONS, grade_id)
    assert cell.cell_type == "markdown"
    meta = nbgrader_meta(cell)
    assert {k: meta.get(k) for k in ("grade", "solution", "locked", "points", "schema_version", "task")} \
        == {"grade": True, "solution": True, "locked": False, "points": points, "schema_version": 3,
            "task": False}
    assert len(cell.source.split()) > 40 and "YOUR ANSWER HERE" not in cell.source  # a model answer
    prompt = nb.cells[i - 1]
    assert prompt.cell_type == "markdown" and "Graded by your instructor" in prompt.source
    assert f"{points} point" in prompt.source


@pytest.mark.parametrize("aid, grade_id, points", REFLECTIONS)
def test_reflection_is_released_empty(aid, grade_id, points):
    _, _, cell = _cell(aid, RELEASES, grade_id)
    assert cell.cell_type == "markdown" and cell.source.strip() == "YOUR ANSWER HERE"
    meta = nbgrader_meta(cell)
    assert meta["grade"] and meta["solution"] and not meta["locked"] and meta["points"] == points


# --- attnlab.models.token_vector, which 02 uses ---------------------------------------------------


@pytest.fixture(scope="module")
def model():
    from attnlab.models import load_model

    return load_model()


def test_token_vector_is_contextual_and_quiet(model, capfd):
    from attnlab.models import token_vector

    tokenizer, m = model
    capfd.readouterr()
    a = token_vector("I got cash from the bank on the way home", "bank", tokenizer, m)
    b = token_vector("I sat down on the bank of the river to fish", "bank", tokenizer, m)
    a0 = token_vector("I got cash from the bank on the way home", "bank", tokenizer, m, layer=0)
    b0 = token_vector("I sat down on the bank of the river to fish", "bank", tokenizer, m, layer=0)
    assert capfd.readouterr().err == ""
    assert a.shape == (384,) and a.dtype == np.float32
    np.testing.assert_allclose(a0, b0, rtol=1e-5, atol=1e-5)  # same token, same position, no context yet
    assert not np.allclose(a, b, atol=1e-2)                    # after the layers: context


def test_token_vector_finds_whole_words_only(model):
    from attnlab.models import token_vector

    tokenizer, m = model
    with pytest.raises(ValueError, match="not a word of"):
        token_vector("the cat sat on the mat", "dog", tokenizer, m)
    with pytest.raises(ValueError, match="not a word of"):
        token_vector("we went snowboarding", "snow", tokenizer, m)  # snow ##boarding: not the word
    both = token_vector("we went snowboarding", "snowboarding", tokenizer, m)  # a word in pieces
    assert both.shape == (384,)

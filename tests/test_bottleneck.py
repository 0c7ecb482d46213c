"""The numbers notebook 02's prose quotes are the numbers its experiment measures.

The text of 02_bottleneck states results of its experiment ("86% after 4 words", "attention
reads the first word perfectly at every length", "only about 70% after the first two words").
If the experiment changes (seeds, sizes, NumPy), these tests say which sentence to update.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from attnlab.widgets import bottleneck_explorer  # noqa: E402
from autograder import SOLUTIONS  # noqa: E402
from autograder.notebooks import load_functions, read  # noqa: E402

AID = "02_bottleneck"


def _cell_text(nb, needle: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "code" and needle in cell.source:
            return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    raise AssertionError(f"no code cell contains {needle!r}")


def _markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_the_prose_quotes_the_measured_fading(executed_solution):
    nb = executed_solution(AID)
    out = _cell_text(nb, "acc_final = [readout_accuracy(")
    acc = {int(T): float(a) / 100 for T, a in re.findall(r"T = +(\d+) words: .*? +([\d.]+)%", out)}
    assert sorted(acc) == [1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 25, 30, 40]
    text = _markdown(nb)
    assert "86% after 4 words" in text and round(acc[4] * 100) == 86
    assert acc[10] < 0.5                                      # "after 10 words ... less than half"
    assert all(acc[T] < 0.25 for T in (16, 20, 25, 30, 40))   # "from about 16 words on hardly better"
    assert all(a > b - 0.02 for a, b in zip(list(acc.values()), list(acc.values())[1:]))  # fades


def test_looking_back_reads_word_1_perfectly_and_the_mean_does_not(executed_solution):
    out = _cell_text(executed_solution(AID), "acc_attention, acc_mean = [], []")
    final, mean, attention = (float(x) / 100 for x in
                              re.search(r"final state (\d+)%, mean of the states (\d+)%, attention (\d+)%",
                                        out).groups())
    assert attention == 1.0
    assert final < 0.2 and mean < 0.2


@pytest.fixture(scope="module")
def default_explorer():
    fns = load_functions(read(SOLUTIONS / AID / f"{AID}.ipynb"), ["rnn_step", "rnn_encode", "attention_pool"])
    w = bottleneck_explorer(fns["rnn_encode"], fns["attention_pool"])
    yield w
    plt.close("all")


def test_the_explorer_shows_what_the_prose_says(default_explorer):
    acc_last, acc_attn = default_explorer.result           # T = 20, d_h = 32, sharpness 10
    assert np.all(acc_attn[:2] > 0.95)                     # word 1 (and 2) read back perfectly
    assert 0.6 < acc_attn[2:].mean() < 0.8                 # "only about 70% after the first two words"
    assert np.all(acc_last[:6] < 0.25)                     # "only the last dozen or so words leave a trace"
    assert np.all(acc_last[-8:] > 0.3)

"""Interactive explorers (ipywidgets 8).

Each explorer takes the student's own function as an argument and calls it,
so moving a slider shows *your* implementation at work. Each returns an
``ipywidgets.interactive`` whose ``.result`` holds the numbers last shown
(handy for tests) and whose ``.children`` are the controls then the output.
"""

from __future__ import annotations

from typing import Callable, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .plots import arrows_2d, bars


def _unit(deg: float) -> np.ndarray:
    rad = np.deg2rad(deg)
    return np.array([np.cos(rad), np.sin(rad)])


def vector_angle_explorer(cosine_similarity: Callable) -> widgets.interactive:
    """Two 2-D vectors; drag their angles and lengths, watch the cosine.

    The cosine shown is computed by the ``cosine_similarity`` you pass in, next
    to cos(angle between them) from trigonometry, so you can compare.
    """
    slider = dict(continuous_update=False, style={"description_width": "initial"})

    def draw(angle_a=30.0, length_a=1.0, angle_b=75.0, length_b=2.0):
        a, b = length_a * _unit(angle_a), length_b * _unit(angle_b)
        cos = float(cosine_similarity(a, b))
        between = (angle_b - angle_a + 180) % 360 - 180
        fig, ax = plt.subplots(figsize=(3.8, 3.8))
        arrows_2d(np.stack([a, b]), ["a", "b"], ax=ax,
                  title=f"angle {abs(between):.0f}°   cosine {cos:+.3f}")
        plt.show()
        print(f"your cosine_similarity(a, b) = {cos:+.4f}    cos({abs(between):.0f}°) = "
              f"{np.cos(np.deg2rad(between)):+.4f}    (lengths do not matter)")
        return cos

    return widgets.interactive(
        draw,
        angle_a=widgets.FloatSlider(value=30, min=-180, max=180, step=5, description="angle of a (°)", **slider),
        length_a=widgets.FloatSlider(value=1, min=0.2, max=3, step=0.1, description="length of a", **slider),
        angle_b=widgets.FloatSlider(value=75, min=-180, max=180, step=5, description="angle of b (°)", **slider),
        length_b=widgets.FloatSlider(value=2, min=0.2, max=3, step=0.1, description="length of b", **slider),
    )


def sentence_similarity_explorer(sentences: Sequence[str], vectors: np.ndarray,
                                 cosine_similarity: Callable) -> widgets.interactive:
    """Pick a sentence; see its cosine similarity to every other sentence."""
    vectors = np.asarray(vectors)
    short = [s if len(s) <= 38 else s[:36] + "…" for s in sentences]

    def draw(sentence=sentences[0]):
        i = list(sentences).index(sentence)
        sims = np.array([float(cosine_similarity(vectors[i], v)) for v in vectors])
        order = np.argsort(-sims, kind="stable")
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(sentences) + 0.8))
        ax.barh(range(len(order)), sims[order], color=["tab:orange" if j == i else "tab:blue" for j in order])
        ax.set_yticks(range(len(order)), labels=[short[j] for j in order], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(min(0.0, sims.min() - 0.05), 1.05)
        ax.set_xlabel("cosine similarity")
        ax.set_title(f"Similarity to: {short[i]}")
        for y, j in enumerate(order):
            ax.text(sims[j] + 0.01, y, f"{sims[j]:.2f}", va="center", fontsize=7)
        plt.show()
        return sims

    return widgets.interactive(draw, sentence=widgets.Dropdown(
        options=list(sentences), value=sentences[0], description="sentence",
        layout=widgets.Layout(width="95%")))


def scaling_explorer(softmax: Callable, n_keys: int = 6, seed: int = 0) -> widgets.interactive:
    """Why divide by sqrt(d_k): softmax saturation as the key dimension grows.

    Random queries and keys with unit-variance entries have dot products whose
    spread grows like sqrt(d_k); the ``softmax`` you pass in turns them into
    weights with and without scaling.
    """
    rng = np.random.default_rng(seed)
    q_full = rng.standard_normal(1024)
    k_full = rng.standard_normal((n_keys, 1024))
    labels = [f"k{i + 1}" for i in range(n_keys)]

    def draw(d_k=4):
        scores = k_full[:, :d_k] @ q_full[:d_k]  # (n_keys,)
        raw = np.asarray(softmax(scores), dtype=float)
        scaled = np.asarray(softmax(scores / np.sqrt(d_k)), dtype=float)
        fig, axes = plt.subplots(1, 2, figsize=(8, 2.8), sharey=True)
        bars(raw, labels, ax=axes[0], ylim=(0, 1.15), fmt=".2f", color="tab:red",
             title=f"softmax(q·k)   max weight {raw.max():.2f}")
        bars(scaled, labels, ax=axes[1], ylim=(0, 1.15), fmt=".2f",
             title=f"softmax(q·k / √{d_k})   max weight {scaled.max():.2f}")
        fig.suptitle(f"d_k = {d_k}: scores spread (std) {scores.std():.1f} raw, "
                     f"{(scores / np.sqrt(d_k)).std():.2f} scaled", fontsize=10)
        fig.tight_layout()
        plt.show()
        return raw.max(), scaled.max()

    return widgets.interactive(draw, d_k=widgets.SelectionSlider(
        options=[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], value=4, description="d_k",
        continuous_update=False))

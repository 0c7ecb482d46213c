"""Matplotlib pictures used across the course: heatmaps with token labels, bars."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np


def heatmap(matrix, row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
            *, ax=None, title: str | None = None, cmap: str = "viridis", annotate: bool | None = None,
            vmin: float | None = None, vmax: float | None = None, fmt: str = ".2f",
            xlabel: str | None = None, ylabel: str | None = None, colorbar: bool = True):
    """Draw a 2-D array as a labelled heatmap (rows = queries, columns = keys).

    ``annotate`` writes each value in its cell; by default only for matrices
    small enough to read (at most 12 x 12). Returns the Axes.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D array, got shape {m.shape}")
    n_rows, n_cols = m.shape
    for labels, n, what in ((row_labels, n_rows, "row"), (col_labels, n_cols, "column")):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{len(labels)} {what} labels for {n} {what}s")
    if ax is None:
        _, ax = plt.subplots(figsize=(max(3.0, 0.6 * n_cols + 1.5), max(2.5, 0.5 * n_rows + 1)))
    im = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(n_cols), labels=col_labels if col_labels is not None else range(n_cols),
                  rotation=45 if col_labels is not None else 0, ha="right" if col_labels is not None else "center")
    ax.set_yticks(range(n_rows), labels=row_labels if row_labels is not None else range(n_rows))
    if annotate is None:
        annotate = n_rows <= 12 and n_cols <= 12
    if annotate:
        # Dark text on the bright half of the colour scale, light text on the dark half.
        lo = np.nanmin(m) if vmin is None else vmin
        hi = np.nanmax(m) if vmax is None else vmax
        mid = (lo + hi) / 2
        for i in range(n_rows):
            for j in range(n_cols):
                ax.text(j, i, format(m[i, j], fmt), ha="center", va="center", fontsize=8,
                        color="black" if m[i, j] > mid else "white")
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def bars(values, labels: Sequence[str], *, ax=None, title: str | None = None,
         ylim: tuple[float, float] | None = None, fmt: str = ".3f", color: str = "tab:blue"):
    """A bar chart with each bar's value written on top (e.g. softmax weights)."""
    v = np.asarray(values, dtype=float).ravel()
    if len(labels) != len(v):
        raise ValueError(f"{len(labels)} labels for {len(v)} values")
    if ax is None:
        _, ax = plt.subplots(figsize=(max(3.0, 0.7 * len(v) + 1), 2.8))
    rects = ax.bar(range(len(v)), v, color=color)
    ax.set_xticks(range(len(v)), labels=labels)
    ax.bar_label(rects, labels=[format(x, fmt) for x in v], fontsize=8)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if title:
        ax.set_title(title)
    return ax


def arrows_2d(vectors, labels: Sequence[str], *, ax=None, title: str | None = None,
              colors: Sequence[str] = ("tab:blue", "tab:orange", "tab:green", "tab:red")):
    """Draw 2-D vectors as arrows from the origin, on equal axes."""
    vs = np.asarray(vectors, dtype=float)
    if vs.ndim != 2 or vs.shape[1] != 2:
        raise ValueError(f"arrows_2d needs an (n, 2) array, got shape {vs.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.6))
    lim = max(1.0, float(np.abs(vs).max())) * 1.2
    for v, label, c in zip(vs, labels, colors):
        ax.annotate("", xy=v, xytext=(0, 0), arrowprops=dict(arrowstyle="-|>", color=c, lw=2))
        ax.text(*(v * 1.08), label, color=c, ha="center", va="center")
    ax.axhline(0, color="0.85", lw=0.8)
    ax.axvline(0, color="0.85", lw=0.8)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax

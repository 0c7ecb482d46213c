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


def masked_heatmap(weights, mask, row_labels: Sequence[str] | None = None,
                   col_labels: Sequence[str] | None = None, *, ax=None, title: str | None = None,
                   xlabel: str | None = "key", ylabel: str | None = "query", fmt: str = ".2f",
                   colorbar: bool = True):
    """An attention heatmap whose blocked cells (``mask`` False) are hatched grey.

    ``mask`` broadcasts to the shape of ``weights`` (e.g. a key mask of shape
    ``(n_k,)``). Colours run from 0 to 1, so pictures are comparable. Returns the Axes.
    """
    from matplotlib.patches import Rectangle

    w = np.asarray(weights, dtype=float)
    m = np.broadcast_to(np.asarray(mask, dtype=bool), w.shape)
    ax = heatmap(w, row_labels, col_labels, ax=ax, title=title, vmin=0, vmax=1, fmt=fmt,
                 xlabel=xlabel, ylabel=ylabel, colorbar=colorbar)
    for i, j in zip(*np.nonzero(~m)):
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.93", edgecolor="0.65",
                               hatch="///", linewidth=0, zorder=4))
    return ax


def heatmap_grid(weights, row_labels: Sequence[str] | None = None,
                 col_labels: Sequence[str] | None = None, *, titles: Sequence[str] | None = None,
                 ncols: int = 4, vmin: float | None = 0.0, vmax: float | None = 1.0,
                 cmap: str = "viridis", annotate: bool = False, suptitle: str | None = None,
                 xlabel: str | None = "key", ylabel: str | None = "query", cell: float = 0.32):
    """One labelled heatmap per head: ``weights (h, n_q, n_k)`` on a grid of ``ncols`` columns.

    All panels share one colour scale (``vmin``/``vmax``; ``None`` = the data's
    range) and one colour bar; token labels (and ``ylabel``/``xlabel``) are
    written on the left column (queries) and the bottom row (keys). Returns the
    Figure: ``fig.axes`` holds the panels in head order, then the colour bar.
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 3:
        raise ValueError(f"heatmap_grid needs an (h, n_q, n_k) array, got shape {w.shape}")
    h, n_rows, n_cols = w.shape
    if titles is not None and len(titles) != h:
        raise ValueError(f"{len(titles)} titles for {h} heads")
    vmin = float(np.nanmin(w)) if vmin is None else vmin
    vmax = float(np.nanmax(w)) if vmax is None else vmax
    ncols = max(1, min(ncols, h))
    nrows = -(-h // ncols)
    panel_w, panel_h = max(1.6, cell * n_cols + 0.6), max(1.4, cell * n_rows + 0.5)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_w * ncols + 1.2, panel_h * nrows + 0.4),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= h:
            ax.remove()
            continue
        c = k % ncols
        heatmap(w[k], row_labels, col_labels, ax=ax, cmap=cmap, vmin=vmin, vmax=vmax,
                annotate=annotate, colorbar=False, title=titles[k] if titles is not None else f"head {k}")
        ax.title.set_fontsize(9)
        left, bottom = c == 0, k + ncols >= h
        ax.tick_params(labelsize=8, labelleft=left, labelbottom=bottom)
        if left and ylabel:
            ax.set_ylabel(ylabel, fontsize=8)
        if bottom and xlabel:
            ax.set_xlabel(xlabel, fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.93, 0.95 if suptitle else 1))
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    cax = fig.add_axes((0.945, 0.15, 0.012, 0.7))
    fig.colorbar(axes.flat[0].images[0], cax=cax)
    return fig


def attention_grid(attentions, tokens: Sequence[str], *, layers: Sequence[int] | None = None,
                   heads: Sequence[int] | None = None, query: int | None = None,
                   panel: float = 1.25, cmap: str = "viridis", title: str | None = None,
                   label_tokens: bool = True):
    """A plain-matplotlib "model view": one small heatmap per (layer, head).

    ``attentions (layers, heads, n, n)`` (rows = queries, columns = keys) of one
    sentence, e.g. ``run.sentence(0)[1]``. Rows of the grid are layers, columns
    are heads, all on one colour scale from 0 to 1; the token labels are written
    along the left column (queries) and the bottom row (keys). ``query`` (a
    token index) outlines that query's row in every panel. Works in any renderer,
    including static ones (GitHub, PDF). Returns the Figure; ``fig.axes`` holds
    the panels layer by layer, then the colour bar.
    """
    a = np.asarray(attentions, dtype=float)
    if a.ndim != 4 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"attention_grid needs (layers, heads, n, n), got shape {a.shape}")
    if len(tokens) != a.shape[-1]:
        raise ValueError(f"{len(tokens)} tokens for attention over {a.shape[-1]} positions")
    layers = list(range(a.shape[0])) if layers is None else list(layers)
    heads = list(range(a.shape[1])) if heads is None else list(heads)
    n = a.shape[-1]
    fig, axes = plt.subplots(len(layers), len(heads), squeeze=False,
                             figsize=(panel * len(heads) + 1.6, panel * len(layers) + 1.2))
    fontsize = max(4.5, min(7.0, 90.0 / n))
    for r, layer in enumerate(layers):
        for c, head in enumerate(heads):
            ax = axes[r, c]
            im = ax.imshow(a[layer, head], cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if query is not None:
                ax.add_patch(plt.Rectangle((-0.5, query - 0.5), n, 1, fill=False, edgecolor="tab:red",
                                           linewidth=0.8))
            if r == 0:
                ax.set_title(f"head {head}", fontsize=8)
            if c == 0:
                ax.set_ylabel(f"layer {layer}", fontsize=8)
                if label_tokens:
                    ax.set_yticks(range(n), labels=tokens, fontsize=fontsize)
            if r == len(layers) - 1 and label_tokens:
                ax.set_xticks(range(n), labels=tokens, fontsize=fontsize, rotation=90)
    fig.subplots_adjust(left=0.1, right=0.92, bottom=0.12, top=0.9 if title else 0.95,
                        wspace=0.08, hspace=0.08)
    if title:
        fig.suptitle(title, fontsize=11)
    cax = fig.add_axes((0.935, 0.3, 0.01, 0.4))
    fig.colorbar(im, cax=cax)
    return fig

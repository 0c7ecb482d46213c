"""Interactive explorers (ipywidgets 8).

Each explorer takes the student's own function as an argument and calls it,
so moving a slider shows *your* implementation at work. Each returns an
``ipywidgets.interactive`` whose ``.result`` holds the numbers last shown
(handy for tests) and whose ``.children`` are the controls then the output.

An explorer whose exercise is not done yet shows one friendly line instead of
a traceback ("Finish `softmax` above to use this explorer."): see
:func:`_explorer`. Its ``.result`` is then ``None``.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .plots import arrows_2d, bars

# --- the student's functions inside an explorer ------------------------------------------


class _YourCodeFailed(Exception):
    """A function the student passed to an explorer raised ``error``."""

    def __init__(self, fn: Callable, error: Exception):
        super().__init__(getattr(fn, "__name__", "your function"), error)
        self.fn, self.error = fn, error
        self.name = getattr(fn, "__name__", "your function")


def _yours(fn: Callable) -> Callable:
    """``fn``, a function the student wrote, wrapped so that its failures can be told apart
    from the explorer's own."""

    @functools.wraps(fn)
    def call(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except _YourCodeFailed:
            raise
        except Exception as exc:
            raise _YourCodeFailed(fn, exc) from exc

    return call


def _unfinished(failed: _YourCodeFailed) -> str:
    """The name of the stub that raised NotImplementedError: the innermost frame of the
    traceback that runs in the student's notebook (the same globals as the function passed)."""
    notebook = getattr(failed.fn, "__globals__", None)
    tb, name = failed.error.__traceback__, failed.name
    while tb is not None:
        code = tb.tb_frame.f_code
        if tb.tb_frame.f_globals is notebook and not code.co_name.startswith("<"):
            name = code.co_name
        tb = tb.tb_next
    return name


def _short(error: Exception, limit: int = 160) -> str:
    text = " ".join(str(error).split()) or "no message"
    return text if len(text) <= limit else text[:limit - 1] + "…"


def friendly_message(failed: _YourCodeFailed) -> str:
    """One line for a student whose function failed inside an explorer."""
    error = failed.error
    if isinstance(error, NotImplementedError):
        return f"Finish `{_unfinished(failed)}` above to use this explorer."
    if isinstance(error, NameError):
        missing = f"`{error.name}`" if getattr(error, "name", None) else "a name"
        return (f"`{failed.name}` uses {missing}, which is not defined yet: run the cells above "
                "(or finish the exercise that defines it), then this cell again.")
    return (f"`{failed.name}` raised {type(error).__name__}: {_short(error)}. Fix it above (its test "
            "cell says more), then run this cell again.")


def _explorer(draw: Callable, yours: Sequence[Callable], **controls) -> widgets.interactive:
    """``widgets.interactive(draw, **controls)`` that never shows a traceback.

    ``draw`` calls the student's functions ``yours`` (wrapped with :func:`_yours`). If one
    of them fails (an exercise not done yet, a bug), or the explorer cannot draw what they
    returned, the output shows one line saying what to do, the half-drawn figure is
    dropped, and ``.result`` is ``None``.
    """
    names = ", ".join(f"`{getattr(f, '__name__', 'your function')}`" for f in yours)

    @functools.wraps(draw)
    def safe_draw(**kwargs):
        figures = set(plt.get_fignums())
        try:
            return draw(**kwargs)
        except Exception as exc:  # noqa: BLE001 - a student sees one line, whatever went wrong
            for num in set(plt.get_fignums()) - figures:
                plt.close(num)
            _clear_partial_output()
            if isinstance(exc, _YourCodeFailed):
                print(friendly_message(exc))
            else:
                print(f"This explorer could not draw what {names} returned ({type(exc).__name__}: "
                      f"{_short(exc)}). Check that their tests above pass.")
            return None

    return widgets.interactive(safe_draw, **controls)


def _clear_partial_output() -> None:
    """Wipe what a failed draw printed before it failed (only inside IPython)."""
    try:
        from IPython import get_ipython
        from IPython.display import clear_output
    except ImportError:  # pragma: no cover - ipywidgets needs IPython
        return
    if get_ipython() is not None:
        clear_output(wait=True)


def _unit(deg: float) -> np.ndarray:
    rad = np.deg2rad(deg)
    return np.array([np.cos(rad), np.sin(rad)])


def vector_angle_explorer(cosine_similarity: Callable) -> widgets.interactive:
    """Two 2-D vectors; drag their angles and lengths, watch the cosine.

    The cosine shown is computed by the ``cosine_similarity`` you pass in, next
    to cos(angle between them) from trigonometry, so you can compare.
    """
    yours = [cosine_similarity]
    cosine_similarity = _yours(cosine_similarity)
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

    return _explorer(draw, yours,
        angle_a=widgets.FloatSlider(value=30, min=-180, max=180, step=5, description="angle of a (°)", **slider),
        length_a=widgets.FloatSlider(value=1, min=0.2, max=3, step=0.1, description="length of a", **slider),
        angle_b=widgets.FloatSlider(value=75, min=-180, max=180, step=5, description="angle of b (°)", **slider),
        length_b=widgets.FloatSlider(value=2, min=0.2, max=3, step=0.1, description="length of b", **slider),
    )


def sentence_similarity_explorer(sentences: Sequence[str], vectors: np.ndarray,
                                 cosine_similarity: Callable) -> widgets.interactive:
    """Pick a sentence; see its cosine similarity to every other sentence."""
    yours = [cosine_similarity]
    cosine_similarity = _yours(cosine_similarity)
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

    return _explorer(draw, yours, sentence=widgets.Dropdown(
        options=list(sentences), value=sentences[0], description="sentence",
        layout=widgets.Layout(width="95%")))


def scaling_explorer(softmax: Callable, n_keys: int = 6, seed: int = 0) -> widgets.interactive:
    """Why divide by sqrt(d_k): softmax saturation as the key dimension grows.

    Random queries and keys with unit-variance entries have dot products whose
    spread grows like sqrt(d_k); the ``softmax`` you pass in turns them into
    weights with and without scaling.
    """
    yours = [softmax]
    softmax = _yours(softmax)
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

    return _explorer(draw, yours, d_k=widgets.SelectionSlider(
        options=[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], value=4, description="d_k",
        continuous_update=False))


def mask_explorer(padding_mask: Callable, causal_mask: Callable, masked_attention: Callable,
                  sentences: Sequence[str] = ("The cat sat on the mat", "I love NLP"),
                  d: int = 8, seed: int = 0) -> widgets.interactive:
    """Toggle a padding mask and a causal mask; watch one sentence's attention change.

    The sentences form one batch, padded with "PAD" to a common length (the
    slider pads further). Toy embeddings and projections (seeded) give Q, K, V;
    your ``padding_mask``, ``causal_mask`` and ``masked_attention`` compute the
    weights shown. Hatched cells are blocked. ``.result`` is the weights shown.
    """
    yours = [padding_mask, causal_mask, masked_attention]
    padding_mask, causal_mask = _yours(padding_mask), _yours(causal_mask)
    masked_attention = _yours(masked_attention)
    from .plots import masked_heatmap

    sentences = list(sentences)
    token_lists = [s.split() for s in sentences]
    lengths = np.array([len(t) for t in token_lists])
    longest = int(lengths.max())
    rng = np.random.default_rng(seed)
    vocab = sorted({t for toks in token_lists for t in toks} | {"PAD"})
    emb = dict(zip(vocab, rng.standard_normal((len(vocab), d))))
    W_q, W_k, W_v = rng.standard_normal((3, d, d)) / np.sqrt(d)

    def draw(sentence=sentences[0], pad_to=longest, padding=True, causal=False):
        padded = [toks + ["PAD"] * (pad_to - len(toks)) for toks in token_lists]
        X = np.array([[emb[t] for t in toks] for toks in padded])  # (batch, n, d)
        mask = np.ones((len(sentences), 1, pad_to), dtype=bool)    # (batch, 1, n): nothing blocked
        if padding:
            mask = mask & np.asarray(padding_mask(lengths, pad_to), dtype=bool)[:, None, :]
        if causal:
            mask = mask & np.asarray(causal_mask(pad_to), dtype=bool)[None, :, :]
        _, weights = masked_attention(X @ W_q, X @ W_k, X @ W_v, mask)
        b = sentences.index(sentence)
        w = np.asarray(weights, dtype=float)[b]                     # (n, n)
        shown = np.broadcast_to(mask[b], w.shape)
        which = " + ".join(n for n, on in (("padding", padding), ("causal", causal)) if on) or "no"
        fig, ax = plt.subplots(figsize=(0.55 * pad_to + 2.2, 0.45 * pad_to + 1.3))
        masked_heatmap(w, shown, padded[b], padded[b], ax=ax,
                       title=f"{which} mask   (hatched = blocked)")
        plt.show()
        print("row sums:", np.array2string(w.sum(axis=-1), precision=3, suppress_small=True))
        n_real = int(lengths[b])
        if pad_to > n_real:
            print(f"share of the real tokens' attention that goes to PAD: "
                  f"{w[:n_real, n_real:].sum(axis=-1).mean():.1%}")
        return w

    return _explorer(draw, yours,
        sentence=widgets.Dropdown(options=sentences, value=sentences[0], description="sentence"),
        pad_to=widgets.IntSlider(value=longest, min=longest, max=longest + 3,
                                 description="pad to", continuous_update=False),
        padding=widgets.Checkbox(value=True, description="padding mask"),
        causal=widgets.Checkbox(value=False, description="causal mask"),
    )


def heads_explorer(multi_head_attention: Callable, X, tokens: Sequence[str], W_q, W_k, W_v, W_o,
                   head_names: Sequence[str] | None = None,
                   options: Sequence[int] = (1, 2, 4, 8, 16)) -> widgets.interactive:
    """Slide the number of heads h; see every head's weights on one sentence.

    Runs the ``multi_head_attention`` you pass in as self-attention on ``X (n, d_model)``
    with the same four weight matrices for every h: only how their columns are cut
    into heads changes (head i = columns i*d_model/h to (i+1)*d_model/h). Prints
    the shapes at each step; ``head_names`` title the panels when there are that
    many heads. ``.result`` holds the weights shown, ``(h, n, n)``.
    """
    yours = [multi_head_attention]
    multi_head_attention = _yours(multi_head_attention)
    from .plots import heatmap_grid

    X = np.asarray(X)
    n, d_model = X.shape[-2:]
    options = [h for h in options if d_model % h == 0]

    def draw(num_heads=8):
        d_head = d_model // num_heads
        out, weights = multi_head_attention(X, X, W_q, W_k, W_v, W_o, num_heads)
        weights = np.asarray(weights, dtype=float)
        print(f"h = {num_heads} heads of d_head = {d_model} / {num_heads} = {d_head} columns each\n"
              f"X {tuple(X.shape)} -> Q, K, V {(n, d_model)} -> split {(num_heads, n, d_head)} -> "
              f"weights {tuple(weights.shape)}, head outputs {(num_heads, n, d_head)}\n"
              f"-> merged {(n, d_model)} -> @ W_o -> output {tuple(np.shape(out))}")
        named = head_names is not None and len(head_names) == num_heads
        titles = [f"head {i}: {head_names[i]}" if named else f"head {i} (cols {i * d_head}:{(i + 1) * d_head})"
                  for i in range(num_heads)]
        heatmap_grid(weights, tokens, tokens, titles=titles, ncols=4,
                     cell=0.32 if num_heads <= 8 else 0.22)
        plt.show()
        return weights

    return _explorer(draw, yours, num_heads=widgets.SelectionSlider(
        options=options, value=8 if 8 in options else options[-1], description="heads h",
        continuous_update=False))


def attention_row_explorer(self_attention: Callable, X, tokens: Sequence[str], W_q, W_k, W_v,
                           query: str | None = None) -> widgets.interactive:
    """Pick a query word; see its row of self-attention weights; sharpen or flatten them.

    Runs the ``self_attention`` you pass in on ``X (n, d_model)``, with ``W_q``
    multiplied by the slider's factor: at 0 every query is zero, so every score
    is 0 and the weights are uniform; a larger factor multiplies every score, so
    the softmax sharpens. Left: all the weights, the chosen query's row outlined;
    right: that row as bars, its largest weight(s) in orange. ``query`` picks the
    word shown first. ``.result`` holds the row shown, ``(n,)``.
    """
    yours = [self_attention]
    self_attention = _yours(self_attention)
    from matplotlib.patches import Rectangle

    from .plots import heatmap

    X = np.asarray(X)
    tokens = list(tokens)
    n = len(tokens)
    labels = [t if tokens.count(t) == 1 else f"{t} ({i})" for i, t in enumerate(tokens)]
    start = tokens.index(query) if query in tokens else 0

    def draw(word=start, scale=1.0):
        _, weights = self_attention(X, scale * np.asarray(W_q, dtype=float), W_k, W_v)
        weights = np.asarray(weights, dtype=float)
        row = weights[word]
        top = [j for j in range(n) if row[j] >= row.max() - 1e-3]  # the largest weight, and ties
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [1.15, 1]})
        heatmap(weights, tokens, tokens, ax=ax1, vmin=0, vmax=1, annotate=False, xlabel="key",
                ylabel="query", title=f"all the weights  (W_q × {scale:g})")
        ax1.add_patch(Rectangle((-0.5, word - 0.5), n, 1, fill=False, edgecolor="tab:red", lw=2.5))
        rects = ax2.bar(range(n), row, color=["tab:orange" if j in top else "tab:blue" for j in range(n)])
        ax2.bar_label(rects, labels=[f"{v:.2f}" for v in row], fontsize=8)
        ax2.axhline(1 / n, color="0.6", ls=":", lw=1)
        ax2.set_xticks(range(n), labels=tokens, rotation=45, ha="right")
        ax2.set_ylim(0, 1.08)
        ax2.set_ylabel("weight")
        ax2.set_title(f"row of '{tokens[word]}': where it looks  (dotted: uniform 1/{n})")
        fig.tight_layout()
        plt.show()
        who = f"'{tokens[word]}'"
        if len(top) == n:
            print(f"{who} spreads its attention evenly: 1/{n} = {1 / n:.2f} to every token "
                  "(all its scores are equal).")
        else:
            names = " and ".join(f"'{tokens[j]}'" for j in top)
            each = " each" if len(top) > 1 else ""
            print(f"{who} attends most to {names} (weight {row[top[0]]:.2f}{each}); "
                  f"a uniform row would give {1 / n:.2f} to every token.")
        return row

    slider = dict(continuous_update=False, style={"description_width": "initial"})
    return _explorer(draw, yours,
        word=widgets.Dropdown(options=list(zip(labels, range(n))), value=start, description="query word"),
        scale=widgets.FloatSlider(value=1.0, min=0.0, max=3.0, step=0.25, description="W_q ×", **slider),
    )


def real_attention_explorer(attention_entropy: Callable, sentences: dict,
                            start: tuple[int, int] = (0, 0)) -> widgets.interactive:
    """Pick a sentence, a layer and a head of a real model; see that head's weights and entropy.

    ``sentences`` maps a name to ``(tokens, attentions (layers, heads, n, n))``
    (e.g. ``run.sentence(0)`` of :func:`attnlab.models.run_attention`). Left:
    the head's weights (rows = queries, columns = keys); right: the entropy of
    every query's row, computed by the ``attention_entropy`` you pass in, next
    to its largest possible value log(n) (uniform attention). ``start`` is the
    (layer, head) shown first. ``.result`` holds the entropies shown, ``(n,)``.
    """
    yours = [attention_entropy]
    attention_entropy = _yours(attention_entropy)
    from .plots import heatmap

    names = list(sentences)
    n_layers, n_heads = np.shape(sentences[names[0]][1])[:2]

    def draw(sentence=names[0], layer=start[0], head=start[1]):
        tokens, att = sentences[sentence]
        w = np.asarray(att, dtype=float)[layer, head]  # (n, n)
        n = len(tokens)
        ent = np.asarray(attention_entropy(w), dtype=float)  # (n,)
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 0.3 * n + 2.2),
                                       gridspec_kw={"width_ratios": [1.2, 1]})
        heatmap(w, tokens, tokens, ax=ax1, vmin=0, vmax=1, annotate=False, xlabel="key",
                ylabel="query", title=f"layer {layer}, head {head}")
        ax2.barh(range(n), ent, color="tab:purple")
        ax2.axvline(np.log(n), color="0.5", ls=":", label=f"uniform: log {n} = {np.log(n):.2f}")
        ax2.set_yticks(range(n), labels=tokens)
        ax2.invert_yaxis()
        ax2.set_xlim(0, np.log(n) * 1.08)
        ax2.set_xlabel("entropy (nats)")
        ax2.set_title(f"entropy of each row   (mean {ent.mean():.2f})")
        ax2.legend(loc="lower right", fontsize=8)
        favourite = np.argmax(w.sum(axis=0))
        # In the figure, not print(): with text printed inside an explorer's output, nbclient
        # (nbgrader's executor) now and then misses the cell's reply and waits out its timeout.
        fig.suptitle(f"mean entropy {ent.mean():.2f} nats (0 = each query looks at one token; "
                     f"{np.log(n):.2f} = everywhere equally).  Most attended token: "
                     f"'{tokens[favourite]}' ({w[:, favourite].mean():.0%} of the average row)",
                     fontsize=10)
        fig.tight_layout()
        plt.show()
        return ent

    slider = dict(continuous_update=False)
    return _explorer(draw, yours,
        sentence=widgets.Dropdown(options=names, value=names[0], description="sentence",
                                  layout=widgets.Layout(width="60%")),
        layer=widgets.IntSlider(value=start[0], min=0, max=n_layers - 1, description="layer", **slider),
        head=widgets.IntSlider(value=start[1], min=0, max=n_heads - 1, description="head", **slider),
    )


def _readout_accuracy(features, targets, n_train: int, n_classes: int) -> np.ndarray:
    """Least-squares linear readouts, fit on the first ``n_train`` sentences, scored on the rest.

    ``features (..., N, d)`` and integer ``targets (..., N)`` broadcast against each
    other (one readout per leading index). Returns each readout's test accuracy ``(...)``.
    Solves the normal equations (plus 1e-6 I, so redundant features do no harm).
    """
    F = np.asarray(features, dtype=float)
    F = np.concatenate([F, np.ones(F.shape[:-1] + (1,))], axis=-1)               # (..., N, d + 1)
    Y = np.eye(n_classes)[targets]                                                 # (..., N, classes)
    Ft = np.swapaxes(F[..., :n_train, :], -1, -2)                                  # (..., d + 1, n_train)
    W = np.linalg.solve(Ft @ F[..., :n_train, :] + 1e-6 * np.eye(F.shape[-1]),
                        Ft @ Y[..., :n_train, :])                                  # (..., d + 1, classes)
    guesses = (F[..., n_train:, :] @ W).argmax(axis=-1)                           # (..., n_test)
    return np.mean(guesses == targets[..., n_train:], axis=-1)


def bottleneck_explorer(rnn_encode: Callable, attention_pool: Callable,
                        vocab: Sequence[str] = ("snow", "closed", "campus", "the", "today",
                                                "because", "of", "heavy"),
                        max_len: int = 40, n_train: int = 600, n_test: int = 300, d_x: int = 4,
                        input_scale: float = 0.3, seed: int = 2) -> widgets.interactive:
    """Which words can a decoder still read back: from the final state only, or by looking back?

    Notebook 02's experiment with sliders. Random sentences over ``vocab`` (random
    word embeddings of size ``d_x``); a fixed random tanh RNN with ``d_h`` hidden
    units (W_h orthogonal, W_x scaled by ``input_scale``, no bias), run by the
    ``rnn_encode`` you pass in; a least-squares linear readout per position, fit on
    ``n_train`` sentences and scored on ``n_test`` others. Bars: the word at each
    position read back from the final state h_T alone. Line: read back from
    ``attention_pool(query_k, states)`` over all T states, each tagged with its
    position (one-hot), where query_k asks for position k with scaled score
    ``sharpness`` (0 gives equal weights: the mean of the states). The scores depend
    on the tags only, so every sentence gets the same weights: your
    ``attention_pool`` computes them once per position, on the example sentence
    shown, and they are applied to all sentences. ``.result`` holds
    (accuracy from h_T, accuracy with attention), each ``(T,)``.
    """
    yours = [rnn_encode, attention_pool]
    rnn_encode, attention_pool = _yours(rnn_encode), _yours(attention_pool)
    from .plots import heatmap

    vocab = list(vocab)
    n_words = len(vocab)
    rng = np.random.default_rng(seed)
    E = rng.standard_normal((n_words, d_x))                                      # (V, d_x)
    sentences = rng.integers(0, n_words, size=(n_train + n_test, max_len))       # (N, max_len)
    tags = np.eye(max_len)                                                       # (max_len, max_len)
    example = n_train                                                            # the first test sentence
    cache: dict = {}

    def states_for(d_h):
        if d_h not in cache:
            r = np.random.default_rng([seed, d_h])
            W_x = input_scale * r.standard_normal((d_x, d_h)) / np.sqrt(d_x)     # (d_x, d_h)
            W_h = np.linalg.qr(r.standard_normal((d_h, d_h)))[0]                  # (d_h, d_h)
            b = np.zeros(d_h)
            cache[d_h] = np.stack([np.asarray(rnn_encode(E[s], W_h, W_x, b), dtype=float)
                                   for s in sentences])                          # (N, max_len, d_h)
        return cache[d_h]

    def draw(T=20, d_h=32, sharpness=10.0):
        H = states_for(d_h)[:, :T]                                               # (N, T, d_h)
        acc_last = _readout_accuracy(H[:, -1], sentences[:, :T].T, n_train, n_words)   # (T,)
        S = np.concatenate([H[example], tags[:T]], axis=-1)                      # (T, d_h + max_len)
        d = S.shape[-1]
        queries = sharpness * np.sqrt(d) * np.concatenate([np.zeros((T, d_h)), tags[:T]], axis=-1)
        weights = np.stack([np.asarray(attention_pool(q, S)[1], dtype=float)
                            for q in queries])                                   # (T, T): row k asks for word k
        contexts = weights @ H                                                   # (N, T, d_h)
        # (The tag part of each context is the same for every sentence; the readout needs the rest.)
        acc_attn = _readout_accuracy(np.swapaxes(contexts, 0, 1), sentences[:, :T].T,
                                     n_train, n_words)                             # (T,)
        words = [vocab[i] for i in sentences[example, :T]]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5.0), gridspec_kw={"width_ratios": [1, 1.25]})
        heatmap(weights, [str(k) for k in range(1, T + 1)], words, ax=ax1, vmin=0, vmax=1,
                annotate=T <= 8, xlabel="encoder state of each word (an example sentence)",
                ylabel="decoder asks for word k", title=f"attention weights (sharpness {sharpness:g})")
        ax1.tick_params(labelsize=7 if T > 16 else 9)
        pos = np.arange(1, T + 1)
        ax2.bar(pos, acc_last, color="tab:blue", label=f"from the final state h_T alone ({d_h} numbers)")
        ax2.plot(pos, acc_attn, "o-", color="tab:orange", ms=4, label=f"looking back over all {T} states")
        ax2.axhline(1 / n_words, color="0.4", ls=":", label=f"chance (1/{n_words})")
        ax2.set(xlabel="position of the word in the sentence", ylabel="read back correctly (test set)",
                ylim=(0, 1.05), xlim=(0.4, T + 0.6), title=f"T = {T} words, d_h = {d_h}: which words survive?")
        ax2.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8, frameon=False)
        fig.tight_layout()
        plt.show()
        print(f"From h_T alone: word 1 read back {acc_last[0]:.0%} of the time, the last word "
              f"{acc_last[-1]:.0%}; {int(np.sum(acc_last >= 0.5))} of the {T} words at 50% or better.\n"
              f"Looking back:   word 1 {acc_attn[0]:.0%}, the last word {acc_attn[-1]:.0%}; "
              f"{int(np.sum(acc_attn >= 0.5))} of the {T} words at 50% or better.")
        return acc_last, acc_attn

    slider = dict(continuous_update=False, style={"description_width": "initial"})
    return _explorer(draw, yours,
        T=widgets.IntSlider(value=20, min=1, max=max_len, description="sentence length T", **slider),
        d_h=widgets.SelectionSlider(options=[8, 16, 32, 64, 128], value=32,
                                    description="state size d_h", **slider),
        sharpness=widgets.FloatSlider(value=10.0, min=0.0, max=10.0, step=0.5,
                                      description="query sharpness", **slider),
    )

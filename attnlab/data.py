"""Where the course data lives, and loaders for it.

Everything here reads files in the repository's ``data/`` folder; nothing is
downloaded. Set ``ATTNLAB_DATA`` to use a copy of that folder elsewhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The folder that holds the course data (``<repo>/data`` by default)."""
    return Path(os.environ.get("ATTNLAB_DATA", REPO_ROOT / "data"))


def data_path(*parts: str) -> Path:
    """Path of a file under the data folder; a clear error if it is missing."""
    path = data_dir().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"Course data file {path} is missing. Run the notebook from a full checkout of "
            "the course (the data/ folder ships with it), or regenerate it with "
            "`make data`."
        )
    return path


@dataclass(frozen=True)
class Embeddings:
    """Real sentence and word embeddings, precomputed by scripts/make_embeddings.py."""

    model: str
    sentences: list[str]
    sentence_vectors: np.ndarray  # (n_sentences, d), float32, mean-pooled, NOT normalised
    words: list[str]
    word_vectors: np.ndarray  # (n_words, d), float32

    def sentence(self, text: str) -> np.ndarray:
        """The vector of one of the stored sentences."""
        try:
            return self.sentence_vectors[self.sentences.index(text)]
        except ValueError:
            raise KeyError(f"{text!r} is not one of the precomputed sentences: {self.sentences}") from None

    def word(self, word: str) -> np.ndarray:
        """The vector of one of the stored words."""
        try:
            return self.word_vectors[self.words.index(word)]
        except ValueError:
            raise KeyError(f"{word!r} is not in the precomputed vocabulary ({len(self.words)} words)") from None


EMBEDDINGS_FILE = "embeddings.npz"


def load_embeddings() -> Embeddings:
    """Load the precomputed all-MiniLM-L6-v2 embeddings used in 01_embeddings."""
    with np.load(data_path(EMBEDDINGS_FILE), allow_pickle=False) as f:
        return Embeddings(
            model=str(f["model"]),
            sentences=[str(s) for s in f["sentences"]],
            sentence_vectors=f["sentence_vectors"],
            words=[str(w) for w in f["words"]],
            word_vectors=f["word_vectors"],
        )


def reference_path(assignment: str) -> Path:
    return data_dir() / "reference" / f"{assignment}.npz"


def load_reference(assignment: str) -> tuple[dict, dict[str, np.ndarray]]:
    """The reference cases of one assignment: (manifest, arrays).

    Written by ``python -m autograder.build reference`` from the solutions; the
    layout is ``autograder.build.reference_arrays``'s.
    """
    with np.load(data_path("reference", f"{assignment}.npz"), allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    manifest = json.loads(str(arrays.pop("__manifest__")))
    return manifest, arrays


def ref_key(function: str, case: int, kind: str, index: int, mistake: int | None = None) -> str:
    """Name of one array in a reference file.

    ``kind`` is ``"arg"`` (a positional input) or ``"out"`` (an expected
    output); ``mistake`` selects the output a known wrong implementation gives.
    The one place both the writer (autograder) and the reader (checks) agree on.
    """
    if mistake is None:
        return f"{function}/{case}/{kind}/{index}"
    return f"{function}/{case}/mistake{mistake}/{kind}/{index}"

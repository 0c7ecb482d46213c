"""attnlab.data and attnlab.models: real data, the real model, offline."""

from __future__ import annotations

import numpy as np
import pytest

from attnlab import data
from attnlab.models import ModelUnavailable, embed, load_model
from conftest import MODEL_F32_RTOL, assert_close


@pytest.fixture(scope="module")
def model():
    return load_model()


def test_embeddings_cover_the_lecture_sentences_and_words():
    emb = data.load_embeddings()
    assert emb.sentence_vectors.shape == (len(emb.sentences), 384)
    assert emb.word_vectors.shape == (len(emb.words), 384)
    assert len(set(emb.words)) == len(emb.words)
    q = emb.sentence("earthquake damage on the coast")
    cos = lambda a, b: a @ b / np.linalg.norm(a) / np.linalg.norm(b)  # noqa: E731
    paraphrase = cos(q, emb.sentence("seismic destruction near shore"))
    unrelated = cos(q, emb.sentence("prolonged drought and water shortage"))
    assert paraphrase > 0.7 > 0.3 > unrelated
    # Vectors are left un-normalised, so cosine is not just a dot product.
    assert np.ptp(np.linalg.norm(emb.sentence_vectors, axis=1)) > 0.5


def test_unknown_sentence_or_word_is_a_clear_key_error():
    emb = data.load_embeddings()
    with pytest.raises(KeyError, match="not one of the precomputed sentences"):
        emb.sentence("hello")
    with pytest.raises(KeyError, match="not in the precomputed vocabulary"):
        emb.word("zyzzyva")


def test_missing_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTNLAB_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="make data"):
        data.load_embeddings()


def test_stored_embeddings_equal_what_the_model_gives_now(model):
    """data/embeddings.npz is derived from the packaged model by scripts/make_embeddings.py."""
    emb = data.load_embeddings()
    tokenizer, m = model
    # Stored on one machine, recomputed here: float32 model outputs (see conftest.MODEL_F32_RTOL).
    assert_close(embed(emb.sentences, tokenizer, m), emb.sentence_vectors, rtol=MODEL_F32_RTOL)
    assert_close(embed(emb.words[:20], tokenizer, m), emb.word_vectors[:20], rtol=MODEL_F32_RTOL)


def test_packaged_model_gives_real_attention_offline(model, capfd):
    tokenizer, m = model
    enc = tokenizer("The animal didn't cross the street because it was too tired", return_tensors="pt")
    out = m(**enc, output_attentions=True)
    assert len(out.attentions) == 6
    att = out.attentions[0].detach().numpy()
    assert att.shape == (1, 12, enc["input_ids"].shape[1], enc["input_ids"].shape[1])
    # A row is a float32 softmax: its sum is off by at most about n * eps (here < 3e-6).
    np.testing.assert_allclose(att.sum(-1), 1.0, atol=att.shape[-1] * np.finfo(np.float32).eps)


def test_loading_is_silent_on_stderr(capfd):
    capfd.readouterr()
    load_model()
    assert capfd.readouterr().err == ""


def test_a_hub_model_offline_fails_with_a_clear_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailable, match="needs internet access.*load_model\\(\\)"):
        load_model("no-such-org/no-such-model")

"""all-MiniLM-L6-v2 embeddings: unit vectors, paraphrases close, and equal to sentence-transformers."""

from __future__ import annotations

import numpy as np
import pytest

from pluralign.embed import embed

TEXTS = ["The AI should not lie to people.", "The assistant must never deceive anyone.",
         "Trains in Taiwan run on time."]


@pytest.fixture(scope="module")
def vectors():
    return embed(TEXTS)


def test_unit_vectors_and_paraphrases(vectors):
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sim = vectors @ vectors.T
    assert sim[0, 1] > 0.4 > 0.2 > sim[0, 2]


def test_matches_sentence_transformers(vectors):
    st = pytest.importorskip("sentence_transformers")
    from pluralign.embed import model_dir

    reference = st.SentenceTransformer(str(model_dir()), device="cpu").encode(TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(vectors, reference, atol=1e-5)


def test_empty_input():
    assert embed([]).shape == (0, 384)

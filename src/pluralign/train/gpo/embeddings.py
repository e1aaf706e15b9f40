"""x for GPO: an embedding of "question + option" per option, cached on disk by (model, text).

The reference embeds each question with each option appended and averages the LM's last hidden states
(reference ``baselines/get_emb/get_embeds.py``); here any backend's ``embed`` (mean of last hidden states,
L2-normalised) or MiniLM (:func:`pluralign.embed.embed`) does it. The cache is a folder per model identity
(a hash of its name) holding ``.npz`` shards of (text hash, vector); each call embeds only texts no shard
holds and writes them as one new shard (temp file + rename, so a killed run leaves no half shard).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from pluralign.train.gpo.data import Question, Survey

MINILM = "minilm"


def option_text(question: Question, option: str) -> str:
    """The text embedded for one option: the question followed by the option as its answer."""
    return f"{question.text}\nAnswer: {option}"


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """``cache.embed(texts)`` -> (n, dim) float32, from disk where seen before.

    encoder: ``"minilm"`` or a :class:`~pluralign.lm.base.LanguageModel` (its ``embed``); ``identity``: what the
    cache is keyed by (defaults to ``"minilm"`` or the model's ``name``).
    """

    def __init__(self, directory: str | Path | None, encoder=MINILM, identity: str | None = None):
        self.encoder = encoder
        self.identity = identity or (MINILM if encoder == MINILM else getattr(encoder, "name", repr(encoder)))
        self.folder = Path(directory) / hashlib.sha256(self.identity.encode()).hexdigest()[:16] \
            if directory is not None else None
        self.vectors: dict[str, np.ndarray] = {}
        self.misses = 0  # texts embedded by the model (not found in the cache) over this object's life
        if self.folder is not None and self.folder.is_dir():
            for shard in sorted(self.folder.glob("*.npz")):
                with np.load(shard) as data:
                    self.vectors.update(zip(data["keys"].tolist(), data["vectors"]))

    def _encode(self, texts: list[str], progress) -> np.ndarray:
        if self.encoder == MINILM:
            from pluralign.embed import embed

            vectors = embed(texts)
            if progress:
                progress(len(texts))
            return vectors
        return np.asarray(self.encoder.embed(texts, progress=progress), dtype=np.float32)

    def embed(self, texts: list[str], progress=None) -> np.ndarray:
        keys = [_key(t) for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts) if k not in self.vectors}.items())
        if progress:
            progress(len(texts) - len(todo))
        if todo:
            new = self._encode([t for _, t in todo], progress)
            self.misses += len(todo)
            self.vectors.update(zip([k for k, _ in todo], new))
            self._write_shard([k for k, _ in todo], new)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self.vectors[k] for k in keys]).astype(np.float32)

    def _write_shard(self, keys: list[str], vectors: np.ndarray) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "model.txt").write_text(self.identity + "\n", encoding="utf-8")
        name = hashlib.sha256("".join(keys).encode()).hexdigest()[:16]
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, keys=np.array(keys), vectors=np.asarray(vectors, dtype=np.float32))
        os.replace(tmp, self.folder / f"{name}.npz")


def cache_for(embedder: str, cache_dir: str | Path | None = "") -> EmbeddingCache:
    """The cache for an embedder spec: ``minilm`` or any :func:`pluralign.lm.load_model` spec (loaded here).
    ``cache_dir`` "" means ``$PLURALIGN_HOME/gpo-embeddings``; None keeps nothing on disk."""
    from pluralign.lm.cache import cache_root

    if cache_dir == "":
        cache_dir = cache_root() / "gpo-embeddings"
    if embedder == MINILM:
        return EmbeddingCache(cache_dir, MINILM)
    from pluralign.lm import load_model

    lm = load_model(embedder)
    return EmbeddingCache(cache_dir, lm, identity=f"lm:{embedder}:{lm.name}")


def embed_survey(survey: Survey, cache: EmbeddingCache, progress=None) -> dict[str, np.ndarray]:
    """Question id -> (n_options, dim) embeddings of each "question + option" text."""
    ids = sorted(survey.questions)
    texts = [option_text(survey.questions[q], o) for q in ids for o in survey.questions[q].options]
    flat = cache.embed(texts, progress)
    out, start = {}, 0
    for q in ids:
        n = len(survey.questions[q].options)
        out[q] = flat[start:start + n]
        start += n
    return out

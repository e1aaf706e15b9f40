"""Retrieval of past contexts: embeddings (cached by text) and a memory searched by cosine similarity.

CIPHER and ICL-edit keep (context, item) pairs and look up the k past contexts closest to the new one
(gao-g/prelude ``src/agent/rag.py``: a dot product of encodings, ``topk``). The embedder is MiniLM
(:func:`pluralign.embed.embed`) or a model's own ``embed`` (mean of last hidden states); both give unit vectors,
so the dot product is the cosine similarity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class Embedder:
    """Texts -> unit vectors, each text embedded once (rounds and agents ask for the same documents)."""

    def __init__(self, fn: Callable[[list[str]], np.ndarray], name: str):
        self.fn, self.name = fn, name
        self._cache: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if new:
            for text, vec in zip(new, np.asarray(self.fn(new), dtype=np.float32)):
                self._cache[text] = vec
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 0), np.float32)


def minilm_embedder() -> Embedder:
    from pluralign.embed import embed

    return Embedder(embed, "all-MiniLM-L6-v2")


def lm_embedder(lm) -> Embedder:
    return Embedder(lambda texts: lm.embed(texts), f"embed:{lm.name}")


class Memory:
    """Past (context, item, round) entries; ``top_k`` returns the entries of the most similar contexts."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder
        self.contexts: list[str] = []
        self.items: list[Any] = []
        self.rounds: list[int] = []

    def __len__(self) -> int:
        return len(self.items)

    def add(self, context: str, item: Any, round_: int) -> None:
        self.contexts.append(context)
        self.items.append(item)
        self.rounds.append(round_)

    def top_k(self, context: str, k: int) -> list[int]:
        """Indices of the ``k`` past contexts most similar to ``context``, most similar first (ties: earlier)."""
        if not self.items or k < 1:
            return []
        sims = self.embedder(self.contexts) @ self.embedder([context])[0]
        return [int(i) for i in np.argsort(-sims, kind="stable")[:k]]

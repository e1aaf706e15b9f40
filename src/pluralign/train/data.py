"""Training data: pluralign records or TRL-format files -> ``datasets.Dataset`` in TRL's columns.

Accepted inputs (JSONL or Parquet, told apart by their columns):

* pluralign ``Preference`` records, or TRL preference rows (``prompt``/``chosen``/``rejected``);
* pluralign ``Comparison`` records: the better response (by ``p_a``) becomes ``chosen``, and
  ``p_chosen = max(p_a, 1 − p_a)`` keeps the soft label; ``weight`` is the annotator weight;
* pluralign ``Demonstration`` records, or TRL SFT rows (``prompt``/``completion``, ``messages`` or ``text``).

Preference datasets always carry ``prompt, chosen, rejected, p_chosen, weight, margin`` (``margin`` is NaN where
a pair has none). With ``conversational=True`` texts become ``{role, content}`` lists so the model's chat
template applies.

Every row is validated before any model loads (TRL-format rows against the models below: texts are strings or
``{role, content}`` turns, ``p_chosen`` in [0, 1], finite numbers): a bad row is an
:class:`~pluralign.errors.InputError` naming file, line (for Parquet, the row) and field.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pluralign.errors import InputError
from pluralign.io import iter_jsonl, read_records, to_dataset, validate_row
from pluralign.records import Comparison, Demonstration, Message, Preference, Text

PREFERENCE_COLUMNS = ("prompt", "chosen", "rejected", "p_chosen", "weight", "margin")


class _TRLRow(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class TRLPreferenceRow(_TRLRow):
    prompt: Text
    chosen: Text
    rejected: Text
    p_chosen: float = Field(1.0, ge=0.0, le=1.0, strict=True)
    weight: float = Field(1.0, ge=0.0, le=1e6, strict=True)
    margin: float | None = Field(None, ge=-1e6, le=1e6, strict=True)


class TRLCompletionRow(_TRLRow):
    prompt: Text
    completion: Text


class TRLMessagesRow(_TRLRow):
    messages: list[Message] = Field(min_length=1)


class TRLTextRow(_TRLRow):
    text: str = Field(min_length=1)


class TRLPromptRow(_TRLRow):
    prompt: Text

    @field_validator("prompt")
    @classmethod
    def _not_empty(cls, prompt):
        if not prompt:
            raise ValueError("empty prompt")
        return prompt


def column_names(path: str | Path) -> list[str]:
    """The columns of a JSONL (keys of its first row) or Parquet file."""
    path = str(path)
    if not Path(path).is_file():
        raise InputError("data file not found", path=path)
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    for lineno, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise InputError("expected a JSON object", path=path, line=lineno)
        return list(row)
    raise InputError("no rows", path=path)


def _trl_rows(path: str, row_model: type[_TRLRow]) -> list[_TRLRow]:
    """The rows of a TRL-format file (not pluralign records), each validated against ``row_model``."""
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        try:
            rows = enumerate(pq.read_table(path).to_pylist(), 1)
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read Parquet: {err}", path=path) from None
        rows = ((i, {k: v for k, v in row.items() if v is not None}) for i, row in rows)
    else:
        rows = iter_jsonl(path)
    return [validate_row(row_model, row, path=path, line=line) for line, row in rows]


def _preference_row(prompt, chosen, rejected, p_chosen=1.0, weight=1.0, margin=None) -> dict[str, Any]:
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected, "p_chosen": float(p_chosen),
            "weight": float(weight), "margin": math.nan if margin is None else float(margin)}


def _comparison_rows(records: list[Comparison]) -> list[dict[str, Any]]:
    rows = []
    for c in records:
        a_better = c.p_a >= 0.5
        rows.append(_preference_row(c.prompt, c.response_a if a_better else c.response_b,
                                    c.response_b if a_better else c.response_a, max(c.p_a, 1 - c.p_a), c.weight))
    return rows


def load_preferences(path: str | Path, *, conversational: bool = True):
    """Preferences or comparisons from ``path`` -> ``Dataset`` with :data:`PREFERENCE_COLUMNS`."""
    return preference_dataset(read_preferences(path), conversational)


def read_preferences(path: str | Path) -> list[dict[str, Any]]:
    """The validated rows of a preference or comparison file, as dicts of :data:`PREFERENCE_COLUMNS` (no model
    or tokenizer needed: runs read their data first)."""
    path = str(path)
    columns = set(column_names(path))
    kind = _record_kind(columns)
    if kind is Comparison:
        rows = _comparison_rows(read_records(path, Comparison))
    elif kind is Preference:
        rows = [_preference_row(p.prompt, p.chosen, p.rejected, 1.0, p.weight, p.margin)
                for p in read_records(path, Preference)]
    elif {"prompt", "chosen", "rejected"} <= columns:
        rows = [_preference_row(r.prompt, r.chosen, r.rejected, r.p_chosen, r.weight, r.margin)
                for r in _trl_rows(path, TRLPreferenceRow)]
    else:
        raise InputError("expected preference columns prompt/chosen/rejected or comparison columns "
                         f"prompt/response_a/response_b; found {sorted(columns)}", path=path)
    if not rows:
        raise InputError("no preference rows", path=path)
    return rows


def preference_dataset(rows: list[dict[str, Any]], conversational: bool):
    """Preference rows -> Dataset; texts as chat turns or plain strings (via the records' own conversion)."""
    from datasets import Dataset, concatenate_datasets

    records = [Preference(prompt=r["prompt"], chosen=r["chosen"], rejected=r["rejected"]) for r in rows]
    texts = to_dataset(records, conversational=conversational).select_columns(["prompt", "chosen", "rejected"])
    extra = Dataset.from_dict({k: [r[k] for r in rows] for k in ("p_chosen", "weight", "margin")})
    return concatenate_datasets([texts, extra], axis=1)


def load_demonstrations(path: str | Path, *, conversational: bool = True):
    """Demonstrations (pluralign records, or TRL prompt/completion, messages or text rows) -> ``Dataset``."""
    return demonstration_dataset(read_demonstrations(path), conversational)


def read_demonstrations(path: str | Path) -> list[Demonstration] | list[dict[str, Any]]:
    """The validated rows of a demonstration file: ``Demonstration`` records (from records or TRL
    prompt/completion rows), or ``{"messages": ...}`` / ``{"text": ...}`` dicts."""
    path = str(path)
    columns = set(column_names(path))
    if _record_kind(columns) is Demonstration:
        return read_records(path, Demonstration)
    if {"prompt", "completion"} <= columns:
        return [Demonstration(prompt=r.prompt, completion=r.completion) for r in _trl_rows(path, TRLCompletionRow)]
    if "messages" in columns:
        return [r.model_dump(include={"messages"}) for r in _trl_rows(path, TRLMessagesRow)]
    if "text" in columns:
        return [{"text": r.text} for r in _trl_rows(path, TRLTextRow)]
    raise InputError(f"expected demonstration columns prompt/completion, messages or text; found {sorted(columns)}",
                     path=path)


def demonstration_dataset(rows: list[Demonstration] | list[dict[str, Any]], conversational: bool):
    """Rows of :func:`read_demonstrations` -> Dataset (prompt/completion as chat turns or text; others as is)."""
    from datasets import Dataset

    if rows and isinstance(rows[0], Demonstration):
        return to_dataset(rows, conversational=conversational).select_columns(["prompt", "completion"])
    return Dataset.from_list(rows)


def _record_kind(columns: set[str]):
    """The pluralign record class whose fields cover ``columns`` (None for TRL-format files)."""
    for cls in (Comparison, Preference, Demonstration):
        required = {n for n, f in cls.model_fields.items() if f.is_required()}
        if required <= columns <= set(cls.model_fields):
            return cls
    return None


def load_prompts(path: str | Path) -> list[Any]:
    """The prompts of any file above, or of TRL rows with a ``prompt`` (text or messages), in file order."""
    path = str(path)
    columns = set(column_names(path))
    if "prompt" not in columns:
        raise InputError("no 'prompt' column", path=path)
    cls = _record_kind(columns)
    if cls is not None:
        return [r.model_dump(mode="json")["prompt"] for r in read_records(path, cls)]
    return [row.model_dump(mode="json")["prompt"] for row in _trl_rows(path, TRLPromptRow)]


def split_by_prompt(dataset, fraction: float, seed: int):
    """(train, held_out): about ``fraction`` of the distinct prompts go to held_out, with all their rows,
    so no held-out prompt was seen in training. ``fraction == 0`` gives (dataset, None)."""
    if fraction <= 0:
        return dataset, None
    keys = [json.dumps(p, sort_keys=True) for p in dataset["prompt"]]
    distinct = sorted(set(keys))
    if len(distinct) < 2:
        raise InputError("need at least two distinct prompts to hold some out (or give eval_data)")
    random.Random(seed).shuffle(distinct)
    n_held = min(len(distinct) - 1, max(1, round(fraction * len(distinct))))
    held = set(distinct[:n_held])
    held_idx = [i for i, k in enumerate(keys) if k in held]
    train_idx = [i for i, k in enumerate(keys) if k not in held]
    return dataset.select(train_idx), dataset.select(held_idx)


def read_preference_data(cfg) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """The validated rows of ``cfg.data`` and ``cfg.eval_data`` (None when not given), read before anything loads."""
    return read_preferences(cfg.data), read_preferences(cfg.eval_data) if cfg.eval_data else None


def preference_splits(cfg, tokenizer, rows):
    """(train, held_out) preference datasets from :func:`read_preference_data`'s ``rows``: ``cfg.eval_data``
    when given, else ``cfg.eval_split`` of ``cfg.data``'s prompts held out. Conversational when the tokenizer
    has a chat template."""
    conversational = getattr(tokenizer, "chat_template", None) is not None
    train_rows, held_rows = rows
    train = preference_dataset(train_rows, conversational)
    if held_rows is not None:
        return train, preference_dataset(held_rows, conversational)
    return split_by_prompt(train, cfg.eval_split, cfg.seed)

"""Ranking files straight into :class:`~.profiles.Profiles`, parsed column-wise.

Validating 500k ``Ranking`` records one by one costs more than every rule together, so a JSONL file of plain
text prompts is parsed by Arrow's JSON reader and its fields are checked as whole columns (the same rules as
:class:`pluralign.records.Ranking`). Anything the columns cannot vouch for (conversations, a field of another
type, a broken line, a rule broken anywhere) sends the file through ``read_records``, whose one-line error
names the file, line and field.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from pluralign.aggregate.voting.profiles import Profiles, from_columns, from_rankings
from pluralign.errors import InputError
from pluralign.records import Provenance, Ranking

FIELDS = {"id", "prompt", "candidates", "order", "annotator", "weight", "provenance"}


def read_profiles(path: str | Path, annotator_weights: Mapping[str, float] | None = None) -> Profiles:
    """The ballots of a Ranking file (JSONL or Parquet) as tensors; bad input raises a one-line InputError."""
    columns = _columns(path) if str(path).endswith(".jsonl") else None
    if columns is None:
        return read_profiles_slowly(path, annotator_weights)
    try:
        return from_columns(*columns, annotator_weights=annotator_weights, validate=True)
    except InputError:
        return read_profiles_slowly(path, annotator_weights)  # the same error, named by file:line:field


def read_profiles_slowly(path: str | Path, annotator_weights: Mapping[str, float] | None = None) -> Profiles:
    """Every row validated as a Ranking record (the errors name file:line:field), then :func:`from_rankings`."""
    from pluralign.aggregate.socialchoice import check_weights
    from pluralign.io import read_records

    records = read_records(path, Ranking)
    check_weights(records, str(path))
    return from_rankings(records, annotator_weights)


def _columns(path: str | Path):
    """The arguments of :func:`from_columns` when every row passes the checks, else None."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    text, texts = pa.string(), pa.list_(pa.string())
    known = pa.schema([("prompt", text), ("candidates", texts), ("order", pa.list_(texts)), ("annotator", text)])
    try:  # a field of another type in any row raises
        # Arrow's parse threads cost more than they save on a machine of 2 or 3 cores (36 MB: 0.69 s wall with
        # them, 0.39 s without, on 2 cores); more cores share the parse.
        table = pj.read_json(path, read_options=pj.ReadOptions(use_threads=(os.cpu_count() or 1) >= 4),
                             parse_options=pj.ParseOptions(explicit_schema=known, unexpected_field_behavior="infer"))
        table.validate(full=True)  # Arrow's reader does not check that strings are UTF-8
    except (pa.ArrowInvalid, OSError):
        return None
    names, n = set(table.column_names), table.num_rows
    if n == 0 or not {"prompt", "candidates", "order"} <= names or not names <= FIELDS:
        return None
    col = {k: table[k].combine_chunks() for k in table.column_names}
    if (col["prompt"].type != text or col["candidates"].type != texts or col["order"].type != pa.list_(texts)
            or any(k in col and col[k].type not in (text, pa.null()) for k in ("id", "annotator"))
            or ("id" in col and col["id"].null_count)
            or ("weight" in col and not (pa.types.is_integer(col["weight"].type) or pa.types.is_floating(col["weight"].type)))
            or ("provenance" in col and not _provenance_ok(col["provenance"].type))):
        return None
    candidates, order, tiers = col["candidates"], col["order"], pc.list_flatten(col["order"])
    if any(a.null_count for a in (col["prompt"], candidates, order, pc.list_flatten(candidates), tiers,
                                  pc.list_flatten(tiers))) or ("weight" in col and col["weight"].null_count):
        return None
    if (pc.min(pc.list_value_length(candidates)).as_py() < 2 or pc.min(pc.list_value_length(order)).as_py() < 1
            or pc.min(pc.list_value_length(tiers)).as_py() < 1):
        return None
    weights = col["weight"].to_numpy(zero_copy_only=False).astype(np.float64) if "weight" in col else np.ones(n)
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        return None
    prompts = pc.dictionary_encode(col["prompt"])
    ids = col["id"] if "id" in col else range(1, n + 1)  # read for messages only
    annotators = col.get("annotator", pa.nulls(n, text)).cast(text)
    return (prompts.indices.to_numpy(zero_copy_only=False).astype(np.int64), prompts.dictionary.to_pylist(),
            candidates, order, annotators, weights, ids)


def _provenance_ok(kind) -> bool:
    """A provenance column whose fields are Provenance's, of its types (``details`` may hold anything)."""
    import pyarrow as pa

    if pa.types.is_null(kind):
        return True
    if not pa.types.is_struct(kind):
        return False
    lists = {"participants", "principles"}
    for f in kind:
        if f.name not in Provenance.model_fields:
            return False
        ok = (f.name == "details" and (pa.types.is_struct(f.type) or pa.types.is_null(f.type))) or \
            (f.name in lists and f.type in (pa.list_(pa.string()), pa.list_(pa.null()), pa.null())) or \
            (f.name not in lists | {"details"} and f.type in (pa.string(), pa.null()))
        if not ok:
            return False
    return True

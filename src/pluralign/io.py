"""Reading and writing records: JSONL, Parquet, one-JSON constitutions, and HF ``datasets`` in TRL's columns.

Every reader validates each row and raises :class:`~pluralign.errors.InputError` naming the file, the line
(1-based; for Parquet the row) and the field; text that is not UTF-8 (a binary file, another encoding) is such
an error too. Every writer writes to a temporary file beside the target and renames it into place, so a
failure never leaves half a file; the file gets the permissions the umask gives a new file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from pluralign.errors import InputError
if TYPE_CHECKING:  # the record models are imported where a function needs them: a command that only writes a
    # file (atomic_path) does not pay for building every pydantic model
    from pluralign.records import Constitution, Record

R = TypeVar("R", bound="Record")

# Fields whose values may be nested (messages, dicts, lists) and are stored JSON-encoded in Parquet.
_PARQUET_JSON_KEY = b"pluralign.json_columns"


def _record_type(kind: str | type[R]) -> type[R]:
    if isinstance(kind, type):
        return kind
    from pluralign.records import RECORD_TYPES

    if kind not in RECORD_TYPES:
        raise InputError(f"unknown record kind {kind!r}; one of {sorted(RECORD_TYPES)}")
    return RECORD_TYPES[kind]  # type: ignore[return-value]


def _first_error(err: ValidationError) -> tuple[str, str]:
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or None
    return field or "", first["msg"]


def validate_row(cls: type[R], row: Any, *, path: str, line: int) -> R:
    """Validate one raw row into ``cls``; errors name path, line and field."""
    if not isinstance(row, dict):
        raise InputError(f"expected a JSON object, got {type(row).__name__}", path=path, line=line)
    try:
        return cls.model_validate(row)
    except ValidationError as err:
        field, msg = _first_error(err)
        raise InputError(msg, path=path, line=line, field=field) from None


def not_utf8(err: UnicodeDecodeError, path: str, line: int | None = None, *, column: bool = True) -> InputError:
    """The one-line error for bytes that are not UTF-8 (``column``: the offset is within a line)."""
    where = f"column {err.start + 1}" if column else f"offset {err.start}"
    return InputError(f"not UTF-8 text (byte {err.object[err.start]:#04x} at {where}): is this a binary file?",
                      path=path, line=line)


def read_text(path: str | Path) -> str:
    """A whole UTF-8 text file (a leading BOM dropped); unreadable or non-UTF-8 files give an InputError."""
    path = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=path) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise not_utf8(err, path, line, column=False) from None


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed JSON) for each non-blank line; a parse or decoding error names the line."""
    path = str(path)
    try:
        fh = open(path, "rb")
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=path) from None
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as err:
                raise not_utf8(err, path, lineno) from None
            if not text.strip():
                continue
            try:
                yield lineno, json.loads(text)
            except json.JSONDecodeError as err:
                raise InputError(f"invalid JSON: {err.msg} (column {err.colno})", path=path, line=lineno) from None


def read_records(path: str | Path, kind: str | type[R]) -> list[R]:
    """Read a JSONL or Parquet file of one record kind, validating every row."""
    from pluralign.records import Constitution

    cls = _record_type(kind)
    path = str(path)
    if path.endswith(".parquet"):
        return [validate_row(cls, row, path=path, line=i) for i, row in enumerate(_read_parquet_rows(path), 1)]
    if path.endswith(".json") and cls is Constitution:
        return [load_constitution(path)]  # type: ignore[list-item]
    return [validate_row(cls, row, path=path, line=lineno) for lineno, row in iter_jsonl(path)]


def check_output_file(path: str | Path) -> Path:
    """Refuse, before any work, an output path that cannot become a file: a folder, or a parent that is a file."""
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder; give a file name to write", path=str(path))
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise InputError(f"cannot write here: {parent} is a file, not a folder", path=str(path))
    return path


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block succeeds."""
    path = check_output_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a written file gets what open() would give it
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (setting it to read it back would
    briefly change it for every thread, e.g. the web server's)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def write_jsonl(path: str | Path, rows: Iterable[dict]) -> int:
    """Write dicts as JSONL atomically; returns the number of rows."""
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def write_records(path: str | Path, records: Iterable[Record]) -> int:
    """Write records to ``.jsonl`` or ``.parquet`` (by suffix), atomically. Returns the count."""
    rows = [r.model_dump(mode="json") for r in records]
    if str(path).endswith(".parquet"):
        _write_parquet_rows(path, rows)
        return len(rows)
    return write_jsonl(path, rows)


def _write_parquet_rows(path: str | Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, list] = {}
    for row in rows:
        for key in row:
            columns.setdefault(key, [])
    json_cols = [k for k in columns if any(isinstance(r.get(k), (dict, list)) for r in rows)]
    for key in columns:
        columns[key] = [json.dumps(r.get(key)) if key in json_cols else r.get(key) for r in rows]
    table = pa.table(columns) if columns else pa.table({})
    table = table.replace_schema_metadata({_PARQUET_JSON_KEY: json.dumps(json_cols).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _read_parquet_rows(path: str) -> list[dict]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read Parquet: {err}", path=path) from None
    meta = table.schema.metadata or {}
    json_cols = set(json.loads(meta.get(_PARQUET_JSON_KEY, b"[]")))
    rows = table.to_pylist()
    for i, row in enumerate(rows, 1):
        for key in json_cols & row.keys():
            try:
                row[key] = json.loads(row[key]) if row[key] is not None else None
            except (TypeError, json.JSONDecodeError):
                raise InputError("not valid JSON in a JSON-encoded column", path=path, line=i, field=key) from None
        for key in [k for k, v in row.items() if v is None]:
            del row[key]  # absent and null mean the same: use the field's default
    return rows


def read_json(path: str | Path) -> Any:
    """One JSON document from a file; errors name the file (and the line, for bad JSON)."""
    path = str(path)
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON: {err.msg}", path=path, line=err.lineno) from None


def load_constitution(path: str | Path) -> Constitution:
    """Load a constitution saved by :func:`save_constitution` (one JSON object)."""
    from pluralign.records import Constitution

    return validate_row(Constitution, read_json(path), path=str(path), line=1)


def save_constitution(path: str | Path, constitution: Constitution) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(constitution.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n")


# ---- HF datasets in TRL's column conventions -------------------------------------------------------------

_TRL_COLUMNS = {"preference": ("prompt", "chosen", "rejected"), "demonstration": ("prompt", "completion")}


def _as_messages(value: Any, role: str) -> list[dict]:
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return [m if isinstance(m, dict) else m.model_dump() for m in value]


def to_dataset(records: list[Record], *, conversational: bool | None = None):
    """Records -> ``datasets.Dataset``.

    Preference -> TRL's ``prompt``/``chosen``/``rejected``; Demonstration -> ``prompt``/``completion``.
    ``conversational=True`` gives lists of ``{role, content}`` (a text prompt as a user turn, answers as
    assistant turns), ``False`` plain strings; ``None`` (default): conversational when any record holds a
    conversation, so no roles are lost. A conversation asked for as plain text is refused (its system and user
    turns would be merged). Other kinds keep their fields. ``provenance`` is kept as a JSON string column so that
    TRL's trainers ignore it and :func:`from_dataset` restores it.
    """
    from datasets import Dataset

    if conversational is None:
        conversational = any(not isinstance(getattr(rec, col), str) for rec in records
                             for col in _TRL_COLUMNS.get(rec.kind, ()))
    rows = []
    for rec in records:
        row = rec.model_dump(mode="json")
        cols = _TRL_COLUMNS.get(rec.kind)
        if cols:
            for col in cols:
                role = "user" if col == "prompt" else "assistant"
                if not conversational and not isinstance(row[col], str):
                    raise InputError(f"{rec.kind} {getattr(rec, 'id', '')}: field '{col}' is a conversation; "
                                     "give conversational=True (as plain text its roles would be lost)")
                row[col] = _as_messages(row[col], role) if conversational else row[col]
        if "provenance" in row:
            row["provenance"] = json.dumps(row["provenance"])
        rows.append(row)
    return Dataset.from_list(rows)


def from_dataset(dataset, kind: str | type[R]) -> list[R]:
    """``datasets.Dataset`` (or list of dicts) with TRL columns -> records; rows are validated."""
    cls = _record_type(kind)
    out = []
    for i, row in enumerate(dataset, 1):
        row = {k: v for k, v in dict(row).items() if v is not None and k in cls.model_fields}
        if isinstance(row.get("provenance"), str):
            row["provenance"] = json.loads(row["provenance"])
        out.append(validate_row(cls, row, path="<dataset>", line=i))
    return out

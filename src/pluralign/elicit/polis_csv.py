"""The one reader of Polis CSV exports (``comments.csv``, ``votes.csv``, ``participants-votes.csv``,
``summary.csv``), shared by the importer (:mod:`pluralign.elicit.polis`) and the opinion analysis
(:mod:`pluralign.aggregate.opinion.matrix`).

A file is read column-wise by ``pyarrow.csv`` (every wanted cell as text; integer columns then checked and
converted by numpy over the cells' bytes, all vectorised). Whenever that fast read fails or a cell breaks a rule,
the file is read again by Python's ``csv`` module, whose line counter names the exact ``file:line: field`` of the
first bad cell, also when comment bodies span several lines. Both reads apply the same rules:

- the file is UTF-8 (a BOM is allowed); the header names every required column;
- every record has exactly as many fields as the header (an unquoted comma in a comment body adds one);
- integer cells are ASCII digits with an optional minus sign (no ``0.9``, ``inf``, ``1e3``, ``0x1``, ``1_0``,
  non-ASCII digits) and fit in 64 bits; vote and moderation cells are -1, 0 or 1; blank cells only where a column allows them.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pluralign.errors import InputError

# Column kinds; "?" = blank allowed. VOTE: -1, 0 or 1 (votes, and ``moderated`` in comments.csv).
INT, OPT_INT, VOTE, OPT_VOTE, TEXT = "int", "int?", "vote", "vote?", "text"
_INTEGER = r"^\s*-?[0-9]+\s*$"
_INTEGER_RE = re.compile(_INTEGER)
_INT64 = 2**63


@dataclass
class PolisTable:
    """A parsed Polis CSV: ``columns[name]`` is an int64 array for integer and vote columns (blanks are 0 and
    marked in ``blank[name]``) and a list of str for text columns; ``header`` in file order."""

    path: Path
    header: list[str]
    columns: dict[str, np.ndarray | list[str]]
    blank: dict[str, np.ndarray] = field(default_factory=dict)
    _starts: list[int] | None = None

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def line(self, row: int) -> int:
        """The line on which record ``row`` (0-based) starts, counted by the csv module."""
        if self._starts is None:
            self._starts = _slow_read(self.path, {}, (), TEXT, starts_only=True)
        return self._starts[row]

    def error(self, row: int, column: str, message: str) -> InputError:
        return InputError(message, path=str(self.path), line=self.line(row), field=column)


def read_text(path: str | Path) -> str:
    """A file's text as UTF-8 (BOM dropped), or an InputError naming the line of the first invalid byte."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror or err}", path=str(path)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text (byte 0x{data[err.start]:02x})", path=str(path), line=line) from None


def read_header(path: str | Path) -> list[str]:
    """The column names on a CSV's first line (no checks: :func:`read_polis_csv` makes them)."""
    with open(path, "rb") as fh:
        return next(csv.reader([fh.readline().decode("utf-8-sig")]), [])


def read_polis_csv(path: str | Path, kinds: dict[str, str], *, required=(), others: str | None = None) -> PolisTable:
    """Read a Polis CSV. ``kinds``: column name -> kind (INT, OPT_INT, VOTE, OPT_VOTE, TEXT) for the columns
    wanted; ``required``: names that must be in the header; ``others``: the kind of the statement columns (names
    that are integers, as in ``participants-votes.csv``), None to skip them."""
    path = Path(path)
    try:
        return _fast_read(path, kinds, required, others)
    except _Fallback:
        return _slow_read(path, kinds, required, others)


class _Fallback(Exception):
    """The fast read met something it does not judge; the csv module reads the file again and names it."""


def _fast_read(path: Path, kinds: dict[str, str], required, others) -> PolisTable:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        header = read_header(path)
    except (OSError, UnicodeDecodeError, csv.Error):
        raise _Fallback from None
    if not header or any(c not in header for c in required) or len(set(header)) < len(header):
        raise _Fallback
    wanted = {name: kind for name in header if (kind := _kind(name, kinds, others)) is not None}
    try:
        table = pacsv.read_csv(
            path, read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                                 include_columns=list(wanted),
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, OSError):
        raise _Fallback from None
    columns, blank = {}, {}
    for name, kind in wanted.items():
        cells = table.column(name).combine_chunks()
        if kind == TEXT:
            columns[name] = cells.to_pylist()
            continue
        values, empty = _integers(cells)
        if not kind.endswith("?") and empty.any():
            raise _Fallback
        if kind.startswith(VOTE) and np.any((values < -1) | (values > 1)):
            raise _Fallback
        columns[name], blank[name] = values, empty
    return PolisTable(path=path, header=header, columns=columns, blank=blank)


_DIGITS = np.zeros(256, dtype=bool)
_DIGITS[ord("0"):ord("9") + 1] = True
_POWERS = 10 ** np.arange(19, dtype=np.int64)


def _integers(cells) -> tuple[np.ndarray, np.ndarray]:
    """(int64 values, blank mask) of a null-free arrow string array whose every cell is empty or
    ``-?[0-9]{1,18}`` (anything else, e.g. spaces or 19+ digits, is left to the csv module's read). Vectorised
    over the bytes, so the read needs no ``pyarrow.compute``, whose import alone costs a command 0.03 s."""
    n = len(cells)
    offsets = np.frombuffer(cells.buffers()[1], dtype=np.int32)[cells.offset:cells.offset + n + 1].astype(np.int64)
    data = np.frombuffer(cells.buffers()[2] or b"", dtype=np.uint8)[offsets[0]:offsets[-1]]
    offsets -= offsets[0]
    starts, lengths = offsets[:-1], np.diff(offsets)
    empty = lengths == 0
    filled = starts[~empty]  # where each non-empty cell's bytes start, strictly increasing
    minus = np.zeros(n, dtype=bool)
    minus[~empty] = data[filled] == ord("-")
    is_digit = _DIGITS[data]
    is_digit[starts[minus]] = True  # the leading minus sign
    digits = lengths - minus
    if not is_digit.all() or np.any(minus & (digits == 0)) or np.any(digits > 18):
        raise _Fallback
    cell = np.repeat(np.arange(n), lengths)
    place = offsets[1:][cell] - np.arange(len(data)) - 1  # 0 for a cell's last byte
    terms = (data.astype(np.int64) - ord("0")) * _POWERS[place]
    terms[starts[minus]] = 0
    values = np.zeros(n, dtype=np.int64)
    if len(data):
        values[~empty] = np.add.reduceat(terms, filled)
    return np.where(minus, -values, values), empty


def _kind(name: str, kinds: dict[str, str], others: str | None) -> str | None:
    return kinds.get(name, others if name.isascii() and name.isdigit() else None)


def _cell(text: str, kind: str, path: Path, line: int, name: str) -> int | None:
    """One integer or vote cell (None for an allowed blank), or the InputError naming it."""
    if text.strip() == "":
        if kind.endswith("?"):
            return None
        raise InputError("is blank", path=str(path), line=line, field=name)
    shown = text if len(text) <= 40 else text[:40] + "..."
    if not _INTEGER_RE.match(text):
        want = "-1, 0 or 1" if kind.startswith(VOTE) else "an integer"
        raise InputError(f"expected {want}, got {shown!r}", path=str(path), line=line, field=name)
    value = int(text)
    if not -_INT64 <= value < _INT64:
        raise InputError(f"integer out of range: {shown!r}", path=str(path), line=line, field=name)
    if kind.startswith(VOTE) and value not in (-1, 0, 1):
        raise InputError(f"expected -1, 0 or 1, got {shown!r}", path=str(path), line=line, field=name)
    return value


def _slow_read(path: Path, kinds: dict[str, str], required, others, *, starts_only: bool = False):
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    try:
        header = next(reader, None)
    except csv.Error as err:
        raise InputError(f"bad CSV: {err}", path=str(path), line=1) from None
    if not header:
        raise InputError("empty file: no header", path=str(path), line=1)
    if missing := [c for c in required if c not in header]:
        raise InputError(f"missing column{'s' * (len(missing) > 1)} {', '.join(map(repr, missing))}",
                         path=str(path), line=1)
    if len(set(header)) < len(header):
        raise InputError(f"repeated column {next(c for c in header if header.count(c) > 1)!r}", path=str(path), line=1)
    wanted = [(i, name, _kind(name, kinds, others)) for i, name in enumerate(header)]
    wanted = [w for w in wanted if w[2] is not None]
    cells: dict[str, list] = {name: [] for _, name, _ in wanted}
    starts, end = [], reader.line_num
    while True:
        try:
            record = next(reader, None)
        except csv.Error as err:
            raise InputError(f"bad CSV: {err}", path=str(path), line=end + 1) from None
        if record is None:
            break
        line, end = end + 1, reader.line_num
        if not record:  # a blank line
            continue
        if len(record) != len(header):
            extra = len(record) > len(header)
            name = header[-1] if extra else header[len(record)]
            raise InputError(f"{len(record)} fields where the header has {len(header)}"
                             + (" (an unquoted comma?)" if extra else ""), path=str(path), line=line, field=name)
        starts.append(line)
        if starts_only:
            continue
        for i, name, kind in wanted:
            cells[name].append(record[i] if kind == TEXT else _cell(record[i], kind, path, line, name))
    if starts_only:
        return starts
    columns, blank = {}, {}
    for _, name, kind in wanted:
        if kind == TEXT:
            columns[name] = cells[name]
            continue
        blank[name] = np.array([v is None for v in cells[name]], dtype=bool)
        columns[name] = np.array([0 if v is None else v for v in cells[name]], dtype=np.int64)
    return PolisTable(path=path, header=header, columns=columns, blank=blank, _starts=starts)

"""The vote matrix: participants x statements, sparse, with its readers.

A :class:`VoteMatrix` stores votes as a ``scipy.sparse.csr_array`` of *codes* so that "passed" and "never saw the
statement" stay distinct in a sparse structure: code 0 (not stored) = unseen, 1 = disagree, 2 = pass, 3 = agree,
i.e. ``code = vote + 2`` with votes coded as in Polis CSV exports and :class:`pluralign.records.Vote`
(agree = 1, disagree = -1, pass = 0). Memory is ~5 bytes per vote cast (int8 code + int32 column index),
so a million votes take ~5 MB.

Readers:
  - :func:`from_votes` — pluralign :class:`~pluralign.records.Vote` records (or a JSONL file of them);
  - :func:`read_polis_export` — a Polis export directory (``votes.csv`` log, else ``participants-votes.csv``,
    plus ``comments.csv`` for moderation);
  - :func:`read_polis_api` — the Polis API JSON (``votes.json`` + ``comments.json``).
When a participant voted twice on a statement, the latest vote (by timestamp, else file order) counts.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse

from pluralign.errors import InputError
from pluralign.records import Vote

AGREE, PASS, DISAGREE = 3, 2, 1  # codes stored in the sparse matrix (vote + 2)


@dataclass
class VoteLog:
    """Every vote in time order, as matrix indices (each of shape (n_votes,)): ``rows``, ``cols``, ``values``
    in {-1, 0, 1} and ``times`` in seconds. Re-votes are all kept; the matrix holds the last of each."""

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    times: np.ndarray


@dataclass
class VoteMatrix:
    """Votes of ``n_participants`` x ``n_statements``.

    codes: csr_array (int8), ``vote + 2`` where seen, absent where unseen.
    participants / statements: ids (str) of the rows / columns.
    mod_out: column indices of statements moderated out (Polis zeroes them before the math).
    meta: column indices of meta statements (about the conversation, not opinions; Polis moderates them out too).
    """

    codes: sparse.csr_array
    participants: list[str]
    statements: list[str]
    mod_out: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    meta: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    log: VoteLog | None = None  # kept when the votes came with times, for replaying a conversation's history

    @property
    def shape(self) -> tuple[int, int]:
        return self.codes.shape

    def counts(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Per-statement counts over ``rows`` (all participants if None): {"A", "D", "P", "S"} each (n_statements,).

        S (seen) = A + D + P, as in Polis.
        """
        codes = self.codes if rows is None else self.codes[rows]
        n = self.shape[1]
        out = {}
        for key, code in (("A", AGREE), ("D", DISAGREE), ("P", PASS)):
            cols = codes.indices[codes.data == code]
            out[key] = np.bincount(cols, minlength=n).astype(np.float64)
        out["S"] = out["A"] + out["D"] + out["P"]
        return out

    def values(self) -> sparse.csr_array:
        """Votes as float -1/0/1 with the same sparsity pattern as ``codes`` (explicit zeros for passes)."""
        return sparse.csr_array((self.codes.data.astype(np.float64) - 2.0, self.codes.indices, self.codes.indptr),
                                shape=self.shape)


def build(participant_ids, statement_ids, values, *, order=None, statements: list[str] | None = None,
          mod_out=(), meta=(), source: str = "<votes>", seconds_per_unit: float | None = None) -> VoteMatrix:
    """Triplets (participant id, statement id, vote in {-1, 0, 1}) -> :class:`VoteMatrix`.

    order: sort key per vote (e.g. timestamp); the last vote per (participant, statement) wins.
    seconds_per_unit: when ``order`` holds times, their unit (0.001 for Polis's milliseconds); the matrix then
    keeps the time-ordered :class:`VoteLog`.
    statements: the full statement list (ids), to keep statements nobody voted on and to reject unknown ids.
    Rows and columns are in numeric id order when the ids are integers, else in order of first appearance.
    mod_out / meta: statement ids.
    """
    values = np.asarray(values)
    if values.size == 0:
        raise InputError("no votes: the vote matrix is empty", path=source)
    bad = ~np.isin(values, (-1, 0, 1))
    if bad.any():
        raise InputError(f"vote {values[bad][0]!r} is not one of -1, 0, 1 (vote #{int(np.argmax(bad)) + 1})",
                         path=source)
    p_ids, rows = _ids_and_index(participant_ids)
    if statements is None:
        s_ids, cols = _ids_and_index(statement_ids)
    else:
        s_ids = [str(s) for s in statements]
        if all(s.isdigit() for s in s_ids):
            s_ids.sort(key=int)
        index = {s: i for i, s in enumerate(s_ids)}
        unknown = [s for s in statement_ids if str(s) not in index]
        if unknown:
            raise InputError(f"vote on unknown statement id {unknown[0]!r} ({len(unknown)} such votes)", path=source)
        cols = np.fromiter((index[str(s)] for s in statement_ids), dtype=np.int64, count=len(values))
    # Keep the last vote per cell: stable sort by order, then take the last of each (row, col) run.
    seq = np.argsort(np.asarray(order), kind="stable") if order is not None else np.arange(len(values))
    cell = rows[seq].astype(np.int64) * len(s_ids) + cols[seq]
    last = np.unique(cell[::-1], return_index=True)[1]
    keep = seq[len(seq) - 1 - last]
    codes = sparse.coo_array(((values[keep] + 2).astype(np.int8), (rows[keep], cols[keep])),
                             shape=(len(p_ids), len(s_ids))).tocsr()
    codes.sort_indices()
    col_of = {s: i for i, s in enumerate(s_ids)}
    log = None
    if seconds_per_unit is not None and order is not None:
        times = np.asarray(order, dtype=np.float64)[seq] * seconds_per_unit
        log = VoteLog(rows=rows[seq].astype(np.int32), cols=cols[seq].astype(np.int32),
                      values=values[seq].astype(np.int8), times=times)
    return VoteMatrix(codes=codes, participants=p_ids, statements=s_ids, log=log,
                      mod_out=np.unique(np.array([col_of[str(s)] for s in mod_out if str(s) in col_of], dtype=np.int64)),
                      meta=np.unique(np.array([col_of[str(s)] for s in meta if str(s) in col_of], dtype=np.int64)))


def _ids_and_index(ids) -> tuple[list[str], np.ndarray]:
    """Distinct ids (numeric order when all are integers, else first appearance) and each item's index."""
    ids = np.asarray([str(i) for i in ids])
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    if all(u.isdigit() for u in uniq):
        rank = np.argsort(uniq.astype(np.int64), kind="stable")
    else:
        rank = np.argsort(first, kind="stable")
    position = np.empty(len(uniq), dtype=np.int64)
    position[rank] = np.arange(len(uniq))
    return [str(u) for u in uniq[rank]], position[inverse]


def from_votes(votes: list[Vote] | str | Path, *, statements=None, mod_out=()) -> VoteMatrix:
    """Vote records (or a JSONL file of them) -> :class:`VoteMatrix`. ``statements``: Statement records or ids."""
    source = "<votes>"
    if isinstance(votes, (str, Path)):
        from pluralign.io import read_records

        source, votes = str(votes), read_records(votes, Vote)
    ids = None
    if statements is not None:
        ids = [getattr(s, "id", s) for s in statements]
        mod_out = list(mod_out) + [s.id for s in statements if getattr(s, "moderated", 0) == -1]
    order = [v.timestamp if v.timestamp is not None else -np.inf for v in votes]
    timed = all(v.timestamp is not None for v in votes)
    return build([v.participant for v in votes], [v.statement for v in votes], [v.value for v in votes],
                 order=order, statements=ids, mod_out=mod_out, source=source,
                 seconds_per_unit=1.0 if timed else None)


def _read_csv(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=str(path)) from None


def _int(row: dict, key: str, path: Path, line: int) -> int:
    try:
        return int(float(row[key]))
    except (KeyError, TypeError, ValueError):
        raise InputError(f"expected a number, got {row.get(key)!r}", path=str(path), line=line, field=key) from None


def read_polis_export(directory: str | Path, meta=()) -> VoteMatrix:
    """A Polis export directory -> :class:`VoteMatrix` (votes.csv preferred; participants-votes.csv otherwise).

    comments.csv, when present, gives the statement list and ``moderated`` (-1 = moderated out).
    meta: ids of meta statements (e.g. demographic questions such as "I am under 30"). Polis keeps them out of the
    math, but its CSV export does not mark them, so they must be named here.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError("not a directory (expected a Polis export with votes.csv)", path=str(directory))
    statements, mod_out = None, []
    comments = directory / "comments.csv"
    if comments.is_file():
        rows = _read_csv(comments)
        statements = [str(_int(r, "comment-id", comments, i + 2)) for i, r in enumerate(rows)]
        mod_out = [s for s, r in zip(statements, rows) if r.get("moderated", "0").strip() == "-1"]
    log = directory / "votes.csv"
    if log.is_file():
        rows = _read_csv(log)
        line = range(2, len(rows) + 2)
        matrix = build([_int(r, "voter-id", log, i) for r, i in zip(rows, line)],
                       [str(_int(r, "comment-id", log, i)) for r, i in zip(rows, line)],
                       [_int(r, "vote", log, i) for r, i in zip(rows, line)],
                       order=[_int(r, "timestamp", log, i) for r, i in zip(rows, line)],
                       statements=statements, mod_out=mod_out, source=str(log), seconds_per_unit=0.001)
        return with_meta(matrix, meta)
    wide = directory / "participants-votes.csv"
    if not wide.is_file():
        raise InputError("no votes.csv or participants-votes.csv", path=str(directory))
    p, s, v = [], [], []
    for i, row in enumerate(_read_csv(wide), start=2):
        for key, cell in row.items():
            if key is not None and key.isdigit() and cell not in ("", None):
                p.append(row["participant"]), s.append(key), v.append(_int(row, key, wide, i))
    return with_meta(build(p, s, v, statements=statements, mod_out=mod_out, source=str(wide)), meta)


def read_polis_groups(directory: str | Path) -> dict[str, int]:
    """Polis's own opinion group per participant (``participants-votes.csv`` ``group-id``; blank = unclustered)."""
    path = Path(directory) / "participants-votes.csv"
    return {r["participant"]: int(r["group-id"]) for r in _read_csv(path) if r.get("group-id", "").strip()}


def read_polis_api(directory: str | Path) -> VoteMatrix:
    """Polis API JSON (``votes.json``, ``comments.json``) -> :class:`VoteMatrix`.

    The API's votes use the CSV coding (agree = 1: a comment's ``agree_count`` equals its count of +1 votes);
    only Polis's math output (``math-pca2.json``: ``center``, projections) uses the internal agree = -1.

    Statements with ``mod`` / ``moderated`` = -1 or ``is_meta`` true are moderated out, as Polis does.
    """
    directory = Path(directory)

    def load(name: str) -> list[dict]:
        try:
            return json.loads((directory / name).read_text(encoding="utf-8"))
        except OSError as err:
            raise InputError(f"cannot read: {err.strerror}", path=str(directory / name)) from None
        except json.JSONDecodeError as err:
            raise InputError(f"invalid JSON: {err.msg}", path=str(directory / name), line=err.lineno) from None

    votes, comments = load("votes.json"), load("comments.json")
    pick = lambda row, *keys: next(row[k] for k in keys if k in row)  # noqa: E731 - field names vary by version
    tids = [str(pick(c, "tid", "statement_id")) for c in comments]
    mod_out = [t for t, c in zip(tids, comments) if pick(c, "mod", "moderated") == -1 or c.get("is_meta")]
    meta = [t for t, c in zip(tids, comments) if c.get("is_meta")]
    return build([str(pick(v, "pid", "participant_id")) for v in votes],
                 [str(pick(v, "tid", "statement_id")) for v in votes],
                 [int(v["vote"]) for v in votes],
                 order=[float(v.get("modified") or 0) for v in votes],
                 statements=tids, mod_out=mod_out, meta=meta, source=str(directory / "votes.json"),
                 seconds_per_unit=0.001)


def read_statement_texts(source: str | Path) -> dict[str, str]:
    """Statement id -> text, from a Polis export directory (comments.csv ``comment-body``), the Polis API
    directory (comments.json ``txt``) or a JSONL of :class:`~pluralign.records.Statement` records."""
    source = Path(source)
    if source.is_dir() and (source / "comments.csv").is_file():
        return {str(_int(r, "comment-id", source / "comments.csv", i + 2)): r.get("comment-body", "")
                for i, r in enumerate(_read_csv(source / "comments.csv"))}
    if source.is_dir() and (source / "comments.json").is_file():
        rows = json.loads((source / "comments.json").read_text(encoding="utf-8"))
        return {str(r.get("tid", r.get("statement_id"))): r["txt"] for r in rows}
    if source.is_dir():
        raise InputError("no comments.csv or comments.json with the statements' text", path=str(source))
    from pluralign.io import read_records
    from pluralign.records import Statement

    return {s.id: s.text for s in read_records(source, Statement)}


def read_votes(source: str | Path, statements: str | Path | None = None, meta=()) -> VoteMatrix:
    """Votes from a Polis export directory, a Polis API directory, or a Vote JSONL (with optional Statement
    JSONL ``statements`` for the full list and moderation). ``meta``: statement ids kept out of the math."""
    source = Path(source)
    if source.is_dir() and (source / "votes.json").is_file():
        matrix = read_polis_api(source)
    elif source.is_dir():
        return read_polis_export(source, meta=meta)
    elif statements is not None:
        from pluralign.io import read_records
        from pluralign.records import Statement

        matrix = from_votes(source, statements=read_records(statements, Statement))
    else:
        matrix = from_votes(source)
    return with_meta(matrix, meta)


def with_meta(matrix: VoteMatrix, meta) -> VoteMatrix:
    """The same votes with statements ``meta`` (ids) marked meta and kept out of the math."""
    meta = [str(s) for s in meta]
    if not meta:
        return matrix
    index = {s: j for j, s in enumerate(matrix.statements)}
    if unknown := [s for s in meta if s not in index]:
        raise InputError(f"meta names unknown statement id {unknown[0]!r}")
    cols = np.array([index[s] for s in meta], dtype=np.int64)
    return VoteMatrix(codes=matrix.codes, participants=matrix.participants, statements=matrix.statements,
                      mod_out=np.union1d(matrix.mod_out, cols), meta=np.union1d(matrix.meta, cols), log=matrix.log)

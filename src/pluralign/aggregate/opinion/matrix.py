"""The vote matrix: participants x statements, sparse, with its readers.

A :class:`VoteMatrix` stores votes as a compressed-sparse-row matrix (:class:`~.csr.CSR`) of *codes* so that "passed" and "never saw the
statement" stay distinct in a sparse structure: code 0 (not stored) = unseen, 1 = disagree, 2 = pass, 3 = agree,
i.e. ``code = vote + 2`` with votes coded as in Polis CSV exports and :class:`pluralign.records.Vote`
(agree = 1, disagree = -1, pass = 0). Memory is ~5 bytes per vote cast (int8 code + int32 column index),
so a million votes take ~5 MB.

Readers:
  - :func:`from_votes` — pluralign :class:`~pluralign.records.Vote` records (or a JSONL file of them);
  - :func:`read_polis_export` — a Polis export directory (``votes.csv`` log, else ``participants-votes.csv``,
    plus ``comments.csv`` for moderation), through the one Polis CSV reader :mod:`pluralign.elicit.polis_csv`;
  - :func:`read_polis_api` — the Polis API JSON (``votes.json`` + ``comments.json``);
  - :func:`read_votes` — any of those, or one votes file chosen by its extension.
When a participant voted twice on a statement, the latest vote (by timestamp, else file order) counts.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pluralign.aggregate.opinion.csr import CSR
from pluralign.elicit.polis_csv import INT, OPT_INT, OPT_VOTE, TEXT, VOTE, read_header, read_polis_csv, read_text
from pluralign.errors import InputError

if TYPE_CHECKING:
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

    codes: CSR (int8), ``vote + 2`` where seen, absent where unseen.
    participants / statements: ids (str) of the rows / columns.
    mod_out: column indices of statements moderated out (Polis zeroes them before the math).
    meta: column indices of meta statements (about the conversation, not opinions; Polis moderates them out too).
    """

    codes: CSR
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

    def values(self) -> CSR:
        """Votes as float -1/0/1 with the same sparsity pattern as ``codes`` (explicit zeros for passes)."""
        return self.codes.with_data(self.codes.data.astype(np.float64) - 2.0)


def build(participant_ids, statement_ids, values, *, order=None, statements: list[str] | None = None,
          mod_out=(), meta=(), source: str = "<votes>", seconds_per_unit: float | None = None) -> VoteMatrix:
    """Triplets (participant id, statement id, vote in {-1, 0, 1}) -> :class:`VoteMatrix`.

    order: sort key per vote (e.g. timestamp); the last vote per (participant, statement) wins.
    seconds_per_unit: when ``order`` holds times, their unit (0.001 for Polis's milliseconds); the matrix then
    keeps the time-ordered :class:`VoteLog` (the times must be finite).
    statements: the full statement list (ids), to keep statements nobody voted on and to reject unknown ids.
    Rows and columns are in numeric id order when the ids are integers, else in order of first appearance.
    mod_out / meta: statement ids. Integer numpy arrays of ids take a vectorised path (a million votes in ~0.1 s).
    """
    values = np.asarray(values)
    if values.size == 0:
        raise InputError("no votes: the vote matrix is empty", path=source)
    if values.dtype.kind not in "iuf":
        bad = next((v for v in values.tolist() if isinstance(v, bool) or not isinstance(v, (int, float))), None)
        raise InputError(f"vote {bad!r} is not a number -1, 0 or 1", path=source)
    bad = ~np.isin(values, (-1, 0, 1))
    if bad.any():
        raise InputError(f"vote {values[bad][0].item()!r} is not one of -1, 0, 1 (vote #{int(np.argmax(bad)) + 1})",
                         path=source)
    p_ids, rows = _ids_and_index(participant_ids)
    if statements is None:
        s_ids, cols = _ids_and_index(statement_ids)
    else:
        s_ids, cols = _index_in(statements, statement_ids, source)
    if order is not None and seconds_per_unit is not None:
        order = np.asarray(order, dtype=np.float64)
        if not np.isfinite(order).all():
            k = int(np.argmax(~np.isfinite(order)))
            raise InputError(f"vote #{k + 1}: timestamp {order[k]} is not a finite number", path=source)
    # Keep the last vote per cell: stable sort by order, then take the last of each (row, col) run.
    seq = np.argsort(np.asarray(order), kind="stable") if order is not None else np.arange(len(values))
    cell = rows[seq].astype(np.int64) * len(s_ids) + cols[seq]
    last = np.unique(cell[::-1], return_index=True)[1]
    keep = seq[len(seq) - 1 - last]
    codes = CSR.from_triplets(rows[keep], cols[keep], (values[keep] + 2).astype(np.int8), (len(p_ids), len(s_ids)))
    log = None
    if seconds_per_unit is not None and order is not None:
        log = VoteLog(rows=rows[seq].astype(np.int32), cols=cols[seq].astype(np.int32),
                      values=values[seq].astype(np.int8), times=order[seq] * seconds_per_unit)
    return VoteMatrix(codes=codes, participants=p_ids, statements=s_ids, log=log,
                      mod_out=_columns(s_ids, mod_out), meta=_columns(s_ids, meta))


def _columns(s_ids: list[str], ids) -> np.ndarray:
    col_of = {s: i for i, s in enumerate(s_ids)}
    return np.unique(np.array([col_of[str(s)] for s in ids if str(s) in col_of], dtype=np.int64))


def _ids_and_index(ids) -> tuple[list[str], np.ndarray]:
    """Distinct ids (numeric order when all are integers, else first appearance) and each item's index."""
    if isinstance(ids, np.ndarray) and ids.dtype.kind in "iu":
        uniq, inverse = np.unique(ids, return_inverse=True)
        return [str(u) for u in uniq.tolist()], inverse.ravel()
    ids = np.asarray([str(i) for i in ids])
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    if all(u.isascii() and u.isdigit() for u in uniq):
        rank = np.argsort(uniq.astype(np.int64), kind="stable")
    else:
        rank = np.argsort(first, kind="stable")
    position = np.empty(len(uniq), dtype=np.int64)
    position[rank] = np.arange(len(uniq))
    return [str(u) for u in uniq[rank]], position[inverse.ravel()]


def _index_in(statements, statement_ids, source: str) -> tuple[list[str], np.ndarray]:
    """The statement list (numeric order when integers) and each vote's column in it; unknown ids are an error."""
    s_ids = list(dict.fromkeys(str(s) for s in statements))
    numeric = all(s.isascii() and s.isdigit() for s in s_ids)
    if numeric:
        s_ids.sort(key=int)
    if numeric and isinstance(statement_ids, np.ndarray) and statement_ids.dtype.kind in "iu":
        keys = np.array([int(s) for s in s_ids], dtype=np.int64)
        cols = np.minimum(np.searchsorted(keys, statement_ids), max(len(keys) - 1, 0))
        unknown = statement_ids[keys[cols] != statement_ids] if len(keys) else statement_ids
    else:
        index = {s: i for i, s in enumerate(s_ids)}
        unknown = [s for s in statement_ids if str(s) not in index]
        cols = np.fromiter((index.get(str(s), 0) for s in statement_ids), dtype=np.int64, count=len(statement_ids))
    if len(unknown):
        raise InputError(f"vote on unknown statement id {str(unknown[0])!r} ({len(unknown)} such votes)", path=source)
    return s_ids, cols


def from_votes(votes: list[Vote] | str | Path, *, statements=None, mod_out=()) -> VoteMatrix:
    """Vote records (or a JSONL file of them) -> :class:`VoteMatrix`. ``statements``: Statement records or ids."""
    source = "<votes>"
    if isinstance(votes, (str, Path)):
        from pluralign.io import read_records
        from pluralign.records import Vote

        source, votes = str(votes), read_records(votes, Vote)
    ids = None
    if statements is not None:
        ids = [getattr(s, "id", s) for s in statements]
        mod_out = list(mod_out) + [s.id for s in statements if getattr(s, "moderated", 0) == -1]
    timed = all(v.timestamp is not None for v in votes)
    order = [v.timestamp if v.timestamp is not None else -np.inf for v in votes]
    return build([v.participant for v in votes], [v.statement for v in votes], [v.value for v in votes],
                 order=order, statements=ids, mod_out=mod_out, source=source,
                 seconds_per_unit=1.0 if timed else None)


COMMENT_KINDS = {"comment-id": INT, "moderated": VOTE}
VOTE_KINDS = {"timestamp": INT, "comment-id": INT, "voter-id": INT, "vote": VOTE}


def read_comments_csv(path: Path) -> tuple[list[str], list[str]]:
    """(statement ids, moderated-out ids) of a Polis ``comments.csv``."""
    table = read_polis_csv(path, COMMENT_KINDS, required=["comment-id"])
    ids = [str(i) for i in table.columns["comment-id"].tolist()]
    moderated = table.columns.get("moderated")
    return ids, [] if moderated is None else [s for s, m in zip(ids, moderated.tolist()) if m == -1]


def _votes_csv(path: Path, statements, mod_out) -> VoteMatrix:
    table = read_polis_csv(path, VOTE_KINDS, required=list(VOTE_KINDS))
    c = table.columns
    return build(c["voter-id"], c["comment-id"], c["vote"], order=c["timestamp"], statements=statements,
                 mod_out=mod_out, source=str(path), seconds_per_unit=0.001)


def _wide_csv(path: Path, statements, mod_out) -> VoteMatrix:
    table = read_polis_csv(path, {"participant": INT}, required=["participant"], others=OPT_VOTE)
    columns = [h for h in table.header if h in table.blank and h != "participant"]
    people = table.columns["participant"]
    cast = [np.flatnonzero(~table.blank[h]) for h in columns]
    return build(np.concatenate([people[r] for r in cast] or [np.zeros(0, np.int64)]),
                 np.concatenate([np.full(len(r), int(h)) for r, h in zip(cast, columns)] or [np.zeros(0, np.int64)]),
                 np.concatenate([table.columns[h][r] for r, h in zip(cast, columns)] or [np.zeros(0, np.int64)]),
                 statements=statements, mod_out=mod_out, source=str(path))


def _votes_file(path: Path, statements, mod_out) -> VoteMatrix:
    """votes.csv (the log) or participants-votes.csv (the matrix), told apart by the header."""
    try:
        header = read_header(path)
    except (OSError, UnicodeDecodeError, csv.Error):
        header = []  # the votes.csv reader names the problem
    if "voter-id" in header or "participant" not in header:
        return _votes_csv(path, statements, mod_out)
    return _wide_csv(path, statements, mod_out)


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
    if (directory / "comments.csv").is_file():
        statements, mod_out = read_comments_csv(directory / "comments.csv")
    for name, reader in (("votes.csv", _votes_csv), ("participants-votes.csv", _wide_csv)):
        if (directory / name).is_file():
            return with_meta(reader(directory / name, statements, mod_out), meta)
    raise InputError("no votes.csv or participants-votes.csv", path=str(directory))


def read_polis_groups(directory: str | Path) -> dict[str, int]:
    """Polis's own opinion group per participant (``participants-votes.csv`` ``group-id``; blank = unclustered)."""
    table = read_polis_csv(Path(directory) / "participants-votes.csv", {"participant": INT, "group-id": OPT_INT},
                           required=["participant", "group-id"])
    people, groups, blank = table.columns["participant"], table.columns["group-id"], table.blank["group-id"]
    return {str(p): int(g) for p, g, b in zip(people.tolist(), groups.tolist(), blank.tolist()) if not b}


def read_json(path: Path):
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON: {err.msg}", path=str(path), line=err.lineno) from None


def _api_statements(path: Path) -> tuple[list[str], list[str], list[str]]:
    """(ids, moderated out, meta) of a Polis API ``comments.json``: ``mod`` -1 or ``is_meta`` is moderated out."""
    comments = read_json(path)
    try:
        tids = [str(c["tid"] if "tid" in c else c["statement_id"]) for c in comments]
        mods = [c.get("mod", c.get("moderated", 0)) for c in comments]
    except (KeyError, TypeError, AttributeError):
        raise InputError("expected a list of comments with 'tid' (or 'statement_id')", path=str(path)) from None
    meta = [t for t, c in zip(tids, comments) if c.get("is_meta")]
    return tids, [t for t, m, c in zip(tids, mods, comments) if m == -1 or c.get("is_meta")], meta


def _api_votes(path: Path, statements, mod_out, meta) -> VoteMatrix:
    """The API's votes use the CSV coding (agree = 1: a comment's ``agree_count`` equals its count of +1 votes);
    only Polis's math output (``math-pca2.json``: ``center``, projections) uses the internal agree = -1."""
    votes = read_json(path)
    try:
        pids = [str(v["pid"] if "pid" in v else v["participant_id"]) for v in votes]
        tids = [str(v["tid"] if "tid" in v else v["statement_id"]) for v in votes]
        values, order = [v["vote"] for v in votes], [_millis(v.get("modified") or 0, path) for v in votes]
    except (KeyError, TypeError, AttributeError):
        raise InputError("expected a list of votes with 'pid', 'tid', 'vote'", path=str(path)) from None
    return build(pids, tids, values, order=order, statements=statements, mod_out=mod_out, meta=meta,
                 source=str(path), seconds_per_unit=0.001)


def _millis(value, path: Path) -> float:
    """A vote's ``modified`` time: milliseconds as a number or a string of digits (the API writes both)."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"'modified' must be milliseconds, got {str(value)[:40]!r}", path=str(path))
    return float(value)


def read_polis_api(directory: str | Path) -> VoteMatrix:
    """Polis API JSON (``votes.json``, ``comments.json``) -> :class:`VoteMatrix`; statements with ``mod`` /
    ``moderated`` = -1 or ``is_meta`` true are moderated out, as Polis does (conversation.clj ``mod-update``)."""
    directory = Path(directory)
    return _api_votes(directory / "votes.json", *_api_statements(directory / "comments.json"))


def read_statement_texts(source: str | Path) -> dict[str, str]:
    """Statement id -> text, from a Polis export directory or ``comments.csv`` (``comment-body``), a Polis API
    directory or ``comments.json`` (``txt``), or a JSONL of :class:`~pluralign.records.Statement` records."""
    source = Path(source)
    if source.is_dir():
        source = next((source / n for n in ("comments.csv", "comments.json") if (source / n).is_file()), source)
        if source.is_dir():
            raise InputError("no comments.csv or comments.json with the statements' text", path=str(source))
    if source.suffix == ".csv":
        table = read_polis_csv(source, {"comment-id": INT, "comment-body": TEXT}, required=["comment-id"])
        return dict(zip(map(str, table.columns["comment-id"].tolist()),
                        table.columns.get("comment-body") or [""] * len(table)))
    if source.suffix == ".json":
        return {str(r.get("tid", r.get("statement_id"))): r.get("txt", "") for r in read_json(source)}
    from pluralign.io import read_records
    from pluralign.records import Statement

    return {s.id: s.text for s in read_records(source, Statement)}


VOTE_FORMATS = "a Polis export or API directory, votes.csv, participants-votes.csv, votes.json or Vote .jsonl"


def read_votes(source: str | Path, statements: str | Path | None = None, meta=()) -> VoteMatrix:
    """Votes from a directory (Polis CSV export or API dump) or one file read by its extension: ``.csv`` (Polis
    ``votes.csv`` or ``participants-votes.csv``), ``.json`` (Polis API ``votes.json``), ``.jsonl`` (Vote records).
    ``statements``: the statement list and moderation (``comments.csv``, ``comments.json`` or Statement JSONL).
    ``meta``: statement ids kept out of the math."""
    source = Path(source)
    if source.is_dir():
        matrix = read_polis_api(source) if (source / "votes.json").is_file() else read_polis_export(source)
        return with_meta(matrix, meta)
    if not source.is_file():
        raise InputError(f"no such file or directory (expected {VOTE_FORMATS})", path=str(source))
    ids, mod_out, api_meta = None, [], []
    if statements is not None:
        statements = Path(statements)
        if statements.suffix == ".csv":
            ids, mod_out = read_comments_csv(statements)
        elif statements.suffix == ".json":
            ids, mod_out, api_meta = _api_statements(statements)
        elif source.suffix != ".jsonl":
            raise InputError("expected comments.csv or comments.json with these votes", path=str(statements))
    if source.suffix == ".csv":
        matrix = _votes_file(source, ids, mod_out)
    elif source.suffix == ".json":
        matrix = _api_votes(source, ids, mod_out, api_meta)
    elif source.suffix == ".jsonl":
        from pluralign.io import read_records
        from pluralign.records import Statement

        records = None if statements is None else read_records(statements, Statement)
        matrix = from_votes(source, statements=records)
    else:
        raise InputError(f"unknown votes format {source.suffix or '(no extension)'!r}: expected {VOTE_FORMATS}",
                         path=str(source))
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


def drop_participants(matrix: VoteMatrix, ids) -> tuple[VoteMatrix, list[str]]:
    """The votes without participants ``ids`` (e.g. Polis's ``ids-to-toss.csv`` of spam voters), and the listed
    ids that are not in the matrix."""
    toss = {str(p) for p in ids}
    keep = np.array([p not in toss for p in matrix.participants], dtype=bool)
    unknown = sorted(toss - set(matrix.participants))
    new_row = np.cumsum(keep) - 1
    log = matrix.log
    if log is not None:
        kept = keep[log.rows]
        log = VoteLog(rows=new_row[log.rows[kept]].astype(np.int32), cols=log.cols[kept], values=log.values[kept],
                      times=log.times[kept])
    return VoteMatrix(codes=matrix.codes[np.flatnonzero(keep)], participants=[p for p, k in zip(matrix.participants,
                      keep) if k], statements=matrix.statements, mod_out=matrix.mod_out, meta=matrix.meta,
                      log=log), unknown


def read_id_list(path: str | Path) -> list[str]:
    """Participant ids from a file: one per line, or a CSV whose header names ``participant``, ``pid``,
    ``voter-id`` or ``id`` (else its first column is taken)."""
    rows = list(csv.reader(line for line in read_text(path).splitlines() if line.strip()))
    if not rows:
        raise InputError("no participant ids in the file", path=str(path))
    head = [h.strip().lower() for h in rows[0]]
    column, body = 0, rows
    if not all(h.isascii() and h.isdigit() for h in head):  # a header line
        column = next((head.index(c) for c in ("participant", "pid", "voter-id", "id") if c in head), 0)
        body = rows[1:]
    return [r[column].strip() for r in body if len(r) > column and r[column].strip()]

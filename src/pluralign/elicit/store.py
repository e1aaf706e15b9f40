"""The elicitation store: processes, participants, statements, votes and judgements, over SQLAlchemy.

Every rule about what input is allowed lives here or in :mod:`~pluralign.elicit.inputs` (text, votes), so the
web app, the CLI and the importers share it: one current vote per participant and statement (a re-vote
replaces it; every vote is also appended to the history), votes only on accepted statements, statement length
limits, organiser tokens checked by hash. A refused input raises :class:`Rejected` with an HTTP status and a
one-line message.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from pluralign.elicit import schema as S
from pluralign.elicit.engine import WRITE_OPTION, is_sqlite, make_engine
from pluralign.elicit.fastpath import CompiledStatement, dbapi_transaction
from pluralign.elicit.inputs import (  # noqa: F401 (the rules on input, importable from the store too)
    MAX_STATEMENT_CHARS,
    MIN_STATEMENT_CHARS,
    Rejected,
    bidi_balanced,
    check_text,
    parse_vote,
    shown,
    validate_statement_text,
)
from pluralign.elicit.routing import Candidate, Router, priority_then_random
from pluralign.errors import InputError

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
PROCESS_PATHS = {"conversation": "c", "comparison": "t", "demonstration": "d", "edit": "e"}
"""Process kind -> the first segment of its participants' address (text tasks: task_store.py)."""


@dataclass(frozen=True)
class ProcessInfo:
    id: int
    slug: str
    kind: str
    title: str
    instructions: str
    min_votes: int
    meta: dict

    @property
    def path(self) -> str:
        """The participants' page."""
        return f"/{PROCESS_PATHS[self.kind]}/{self.slug}"


def now_ms() -> int:
    return int(time.time() * 1000)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Store:
    """All reads and writes of the elicitation database. ``db``: a SQLite path or a SQLAlchemy URL.

    Opening a store creates or migrates the schema. Writes take ``self.write_lock`` on SQLite (one writer).
    cache_size: participant ids kept in memory (least recently used dropped first).
    """

    def __init__(self, db: str | Engine, *, router: Router = priority_then_random, pg_schema: str | None = None,
                 cache_size: int = 10_000):
        self.engine = db if isinstance(db, Engine) else make_engine(db, pg_schema=pg_schema)
        self.sqlite = is_sqlite(self.engine)
        self.router = router
        self.write_lock = threading.Lock() if self.sqlite else _NoLock()
        # The vote path, compiled once (see fastpath.py).
        self._find_statement = CompiledStatement(select(S.Statement.id, S.Statement.moderated).where(
            S.Statement.process_id == bindparam("process_id"), S.Statement.number == bindparam("number")), self.engine)
        self._upsert_vote = CompiledStatement(upsert_vote_statement(self.engine.dialect.name), self.engine,
                                              VOTE_COLUMNS)
        self._log_vote = CompiledStatement(insert(S.VoteEvent.__table__), self.engine, VOTE_COLUMNS)
        self._insert_participant = (dialect_insert(self.engine.dialect.name)(S.Participant.__table__)
                                    .on_conflict_do_nothing(index_elements=["process_id", "anon_id"])
                                    .returning(S.Participant.id))
        try:
            S.migrate(self.engine)
        except DBAPIError as err:  # a folder, a file that is not a database, a server that does not answer
            self.engine.dispose()
            reason = " ".join(str(err.orig).split())[:200]
            raise InputError(f"cannot open the database: {reason}",
                             path=self.engine.url.render_as_string(hide_password=True)) from None
        self._processes = BoundedCache(1_000)
        self._participants = BoundedCache(cache_size)

    @contextmanager
    def writing(self):
        """A write transaction (serialised on SQLite)."""
        with self.write_lock, self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    # --- processes -------------------------------------------------------------------------------------

    def create_process(self, kind: str, title: str, *, instructions: str = "", min_votes: int = 0,
                       slug: str | None = None, meta: dict | None = None, token: str | None = None,
                       fill: Callable[[Connection, int], None] | None = None) -> tuple[ProcessInfo, str]:
        """Create a process; returns it and its organiser token (shown once, stored only as a hash).

        fill: called with (connection, process id) in the same transaction, to add the process's content, so
        a failure leaves nothing behind.
        """
        if kind not in PROCESS_PATHS:
            raise Rejected(422, f"kind must be one of {list(PROCESS_PATHS)}, got {shown(kind)}", field="kind")
        if not title.strip():
            raise Rejected(422, "title is empty", field="title")
        if isinstance(min_votes, bool) or not isinstance(min_votes, int) or not 0 <= min_votes < 2**31:
            raise Rejected(422, f"min_votes must be a whole number >= 0, got {shown(min_votes)}", field="min_votes")
        for name, value in (("title", title), ("instructions", instructions)):
            check_text(value, name)
        slug = slug or secrets.token_hex(4)
        if not isinstance(slug, str) or not SLUG_RE.match(slug):
            raise Rejected(422, f"slug {shown(slug)} must be lowercase letters, digits and '-' (max 64)", field="slug")
        token = token or secrets.token_urlsafe(24)
        with self.writing() as conn:
            try:
                process_id = conn.execute(insert(S.Process).values(
                    slug=slug, kind=kind, title=title.strip(), instructions=instructions, min_votes=min_votes,
                    token_hash=hash_token(token), created_at=now_ms(), meta=json.dumps(meta or {}))
                    .returning(S.Process.id)).scalar_one()
            except IntegrityError:
                raise Rejected(409, f"a process with slug {slug!r} already exists", field="slug") from None
            if fill is not None:
                fill(conn, process_id)
            S.init_counters(conn, process_id)
        return self.process(slug), token

    def create_conversation(self, title: str, statements: list[str] = (), *, min_votes: int = 40,
                            **process_fields) -> tuple[ProcessInfo, str]:
        """A statement conversation with accepted seed ``statements``; returns it and its organiser token."""
        texts = [validate_statement_text(t) for t in statements]
        at = now_ms()

        def seed(conn: Connection, process_id: int) -> None:
            if texts:
                conn.execute(insert(S.Statement), [dict(process_id=process_id, number=n, text=t, moderated=1,
                                                        priority=0.0, created_at=at) for n, t in enumerate(texts)])

        return self.create_process("conversation", title, min_votes=min_votes, fill=seed, **process_fields)

    def set_priorities(self, process: ProcessInfo, priorities: dict[int, float]) -> None:
        """Write routing priorities (statement number -> priority; higher is shown first), e.g. from
        Polis-style comment routing computed on the votes so far."""
        with self.writing() as conn:
            for number, priority in priorities.items():
                conn.execute(update(S.Statement).where(S.Statement.process_id == process.id,
                                                       S.Statement.number == number).values(priority=priority))

    def process(self, slug: str) -> ProcessInfo:
        """The process named by ``slug`` (cached: a process's fields do not change after creation)."""
        info = self._processes.get(slug)
        if info is None:
            if not SLUG_RE.match(slug):
                raise Rejected(404, f"no process named {shown(slug)}")
            with self.engine.connect() as conn:
                row = conn.execute(select(S.Process.__table__).where(S.Process.slug == slug)).first()
            if row is None:
                raise Rejected(404, f"no process named {slug!r}")
            info = ProcessInfo(row.id, row.slug, row.kind, row.title, row.instructions, row.min_votes,
                               json.loads(row.meta or "{}"))
            self._processes.put(slug, info)
        return info

    def processes(self) -> list[ProcessInfo]:
        with self.engine.connect() as conn:
            slugs = conn.execute(select(S.Process.slug).order_by(S.Process.id)).scalars().all()
        return [self.process(s) for s in slugs]

    def check_token(self, process: ProcessInfo, token: str | None) -> None:
        """Raise 401/403 unless ``token`` is the organiser token of ``process``."""
        if not token:
            raise Rejected(401, "this page needs the organiser token")
        with self.engine.connect() as conn:
            stored = conn.execute(select(S.Process.token_hash).where(S.Process.id == process.id)).scalar_one()
        if not hmac.compare_digest(stored, hash_token(token)):
            raise Rejected(403, "wrong organiser token")

    def secret(self, key: str = "csrf") -> bytes:
        """A server secret kept in the database, so it survives restarts and is shared by workers."""
        with self.engine.connect() as conn:
            value = conn.execute(select(S.Setting.value).where(S.Setting.key == key)).scalar()
        if value is None:
            try:
                with self.writing() as conn:
                    conn.execute(insert(S.Setting).values(key=key, value=secrets.token_hex(32)))
            except IntegrityError:
                pass  # another worker created it first
            return self.secret(key)
        return bytes.fromhex(value)

    # --- participants ----------------------------------------------------------------------------------

    def find_participant(self, process: ProcessInfo, anon_id: str) -> int | None:
        """The participant id of browser ``anon_id`` in ``process``, or None before its first write (reads only)."""
        key = (process.id, anon_id)
        pid = self._participants.get(key)
        if pid is None:
            with self.engine.connect() as conn:
                pid = conn.execute(select(S.Participant.id).where(
                    S.Participant.process_id == process.id, S.Participant.anon_id == anon_id)).scalar()
            if pid is not None:
                self._participants.put(key, pid)
        return pid

    def participant(self, process: ProcessInfo, anon_id: str) -> int:
        """The participant id of browser ``anon_id`` in ``process``, created on its first write."""
        pid = self.find_participant(process, anon_id)
        if pid is None:
            try:
                with self.writing() as conn:
                    number = self._take_number(conn, process.id, "participants")
                    pid = conn.execute(self._insert_participant.values(
                        process_id=process.id, number=number, anon_id=anon_id, created_at=now_ms())).scalar()
                    if pid is None:  # the same browser raced itself and won: give its number back
                        raise _Lost
            except _Lost:
                pid = self.find_participant(process, anon_id)
            self._participants.put((process.id, anon_id), pid)
        return pid

    def _take_number(self, conn: Connection, process_id: int, table: str) -> int:
        """The next ``number`` of ``table`` in the process, in the caller's transaction (the row lock
        serialises concurrent writers on PostgreSQL; a rolled-back insert gives its number back)."""
        c = S.Counter
        return conn.execute(update(c).where(c.process_id == process_id, c.name == table)
                            .values(next=c.next + 1).returning(c.next)).scalar_one() - 1

    # --- statements and votes --------------------------------------------------------------------------

    def add_statement(self, process: ProcessInfo, text: str, *, author: int | None = None,
                      moderated: int = 0) -> int:
        """Add a statement (participants' go to the moderation queue: ``moderated=0``); returns its number."""
        self.require_kind(process, "conversation")
        text = validate_statement_text(text)
        with self.writing() as conn:
            number = self._take_number(conn, process.id, "statements")
            conn.execute(insert(S.Statement).values(process_id=process.id, number=number, text=text,
                                                    author_id=author, moderated=moderated, priority=0.0,
                                                    created_at=now_ms()))
        return number

    def moderate(self, process: ProcessInfo, number: int, accept: bool) -> None:
        """Accept (shown to participants) or reject (hidden) statement ``number``."""
        with self.writing() as conn:
            done = conn.execute(update(S.Statement).where(S.Statement.process_id == process.id,
                                                          S.Statement.number == number)
                                .values(moderated=1 if accept else -1)).rowcount
        if not done:
            raise Rejected(404, f"statement {number} not found in {process.slug!r}")

    def statements(self, process: ProcessInfo, moderated: int | None = None, *, limit: int | None = None,
                   offset: int = 0) -> list:
        """Rows (number, text, author_id, moderated, created_at), by number; optionally one moderation state
        and one page (``limit`` rows from ``offset``)."""
        q = select(S.Statement.number, S.Statement.text, S.Statement.author_id, S.Statement.moderated,
                   S.Statement.created_at).where(S.Statement.process_id == process.id)
        if moderated is not None:
            q = q.where(S.Statement.moderated == moderated)
        with self.engine.connect() as conn:
            return conn.execute(q.order_by(S.Statement.number).limit(limit).offset(offset)).all()

    def next_statement(self, process: ProcessInfo, participant: int | None, participant_key: str):
        """(the statement row to show next or None, remaining unseen count, votes cast); ``participant`` None:
        a browser that has not written yet."""
        voted = select(S.Vote.statement_id).where(S.Vote.participant_id == participant)
        with self.engine.connect() as conn:
            unseen = conn.execute(select(S.Statement.number, S.Statement.priority).where(
                S.Statement.process_id == process.id, S.Statement.moderated == 1,
                S.Statement.id.not_in(voted))).all()
            n_voted = conn.execute(select(func.count()).select_from(voted.subquery())).scalar_one()
            if not unseen:
                return None, 0, n_voted
            first = self.router([Candidate(n, p) for n, p in unseen], participant_key)[0]
            row = conn.execute(select(S.Statement.number, S.Statement.text).where(
                S.Statement.process_id == process.id, S.Statement.number == first.number)).one()
        return row, len(unseen), n_voted

    def vote(self, process: ProcessInfo, participant: int, number: int, value: int | str,
             at: int | None = None) -> None:
        """Record a vote (1 agree, -1 disagree, 0 pass) on accepted statement ``number``; a re-vote replaces."""
        row = dict(process_id=process.id, participant_id=participant, value=parse_vote(value),
                   created_at=at or now_ms(), number=number)
        with self.write_lock, dbapi_transaction(self.engine) as cursor:
            found = self._find_statement.run(cursor, row).fetchone()
            if found is None:
                raise Rejected(404, f"statement {number} not found in {process.slug!r}", field="statement")
            row["statement_id"], moderated = found
            if moderated != 1:
                state = "awaiting moderation" if moderated == 0 else "rejected by the organiser"
                raise Rejected(409, f"statement {number} is not open for voting ({state})", field="statement")
            self._upsert_vote.run(cursor, row)
            self._log_vote.run(cursor, row)

    def counts(self, process: ProcessInfo) -> dict[str, int]:
        """Participants, voters, current votes, votes cast, statements by moderation state, judgements."""
        def count(model, *where):
            return select(func.count()).select_from(model).where(model.process_id == process.id, *where)

        with self.engine.connect() as conn:
            n = {name: conn.execute(q).scalar_one() for name, q in {
                "participants": count(S.Participant),
                "voters": select(func.count(func.distinct(S.Vote.participant_id))).where(
                    S.Vote.process_id == process.id),
                "votes": count(S.Vote),
                "votes cast": count(S.VoteEvent),
                "accepted statements": count(S.Statement, S.Statement.moderated == 1),
                "queued statements": count(S.Statement, S.Statement.moderated == 0),
                "rejected statements": count(S.Statement, S.Statement.moderated == -1),
                "judgements": count(S.Judgement),
                "texts written": count(S.Submission),
            }.items()}
        return n

    def require_kind(self, process: ProcessInfo, kind: str) -> None:
        if process.kind != kind:
            raise Rejected(404, f"{process.slug!r} is a {process.kind}, not a {kind}")


class _Lost(Exception):
    """A concurrent transaction inserted the same row first."""


class BoundedCache:
    """A thread-safe mapping that keeps the ``size`` most recently used entries."""

    def __init__(self, size: int):
        self.size, self._data, self._lock = size, OrderedDict(), threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
            return self._data.get(key)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


VOTE_COLUMNS = ["process_id", "participant_id", "statement_id", "value", "created_at"]


def dialect_insert(dialect: str):
    """The dialect's ``insert``, which has ``on_conflict_do_update`` / ``on_conflict_do_nothing``."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def upsert_vote_statement(dialect: str):
    """INSERT ... ON CONFLICT (participant, statement) DO UPDATE: the current vote, replaced by a re-vote."""
    stmt = dialect_insert(dialect)(S.Vote.__table__)
    return stmt.on_conflict_do_update(index_elements=["participant_id", "statement_id"],
                                      set_={"value": stmt.excluded.value, "created_at": stmt.excluded.created_at})

"""The elicitation store's tables and their explicit, versioned schema.

Tables (SQLAlchemy 2 ORM; the hot vote path uses the same tables through Core):

- ``processes``: a statement conversation or a comparison task, with its organiser token (SHA-256 only).
- ``participants``: one per (process, anonymous browser id), or imported from Polis; ``number`` is the
  Polis participant id within the process.
- ``statements``: ``number`` is the Polis comment id; ``moderated`` -1 rejected, 0 queued, 1 accepted.
- ``votes``: the current vote of a participant on a statement (one per pair; a re-vote replaces it) and
  ``vote_events``: every vote ever cast, append-only (Polis ``votes.csv`` is this log).
- ``items`` (a prompt with 2+ responses) and ``judgements`` (an A/B choice with strength, or a ranking).
  Text tasks reuse ``items`` (no response to show, or the one to edit) and keep what participants wrote in
  ``submissions``, one row per participant and item (task_store.py).
- ``settings``: server secrets that must survive restarts (the CSRF key).
- ``counters``: the next participant and statement number of each process, taken by an atomic
  ``UPDATE ... RETURNING`` in the inserting transaction (concurrent writers queue on the row lock instead of
  colliding on ``max + 1``).

The database records its schema version in ``schema_version``. :func:`migrate` applies the ordered
:data:`MIGRATIONS` above that version, refuses a database newer than this code, and then checks that every
table and column the code expects is present, so the schema never drifts silently.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    inspect,
    literal,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pluralign.errors import InputError


class Base(DeclarativeBase):
    metadata = MetaData()


class Process(Base):
    __tablename__ = "processes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "conversation" | "comparison"
    title: Mapped[str] = mapped_column(Text)
    instructions: Mapped[str] = mapped_column(Text, default="")
    min_votes: Mapped[int] = mapped_column(Integer, default=0)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)  # ms since the epoch, as Polis
    meta: Mapped[str] = mapped_column(Text, default="{}")  # JSON: Polis summary fields kept on import


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("process_id", "number"), UniqueConstraint("process_id", "anon_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    number: Mapped[int] = mapped_column(Integer)
    anon_id: Mapped[str | None] = mapped_column(String(64))
    xid: Mapped[str | None] = mapped_column(Text)
    group_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[int] = mapped_column(BigInteger)


class Statement(Base):
    __tablename__ = "statements"
    __table_args__ = (UniqueConstraint("process_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id"))
    moderated: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[int] = mapped_column(BigInteger)


class VoteColumns:
    """The columns a current vote and a vote-history event share."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id"))
    value: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Vote(VoteColumns, Base):
    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("participant_id", "statement_id"), Index("ix_votes_process", "process_id"))


class VoteEvent(VoteColumns, Base):
    __tablename__ = "vote_events"
    __table_args__ = (Index("ix_vote_events_process", "process_id"),)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("process_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    number: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)  # JSON: text or a list of {role, content}
    responses: Mapped[str] = mapped_column(Text)  # JSON list of response texts (2 or more)


class Judgement(Base):
    """An A/B choice (``choice`` = the chosen response index, ``shown_a`` = the index shown as A,
    ``strength`` 1..4) or a ranking (``order``: JSON tiers of response indexes, best first)."""

    __tablename__ = "judgements"
    __table_args__ = (UniqueConstraint("participant_id", "item_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    shown_a: Mapped[int | None] = mapped_column(Integer)
    choice: Mapped[int | None] = mapped_column(Integer)
    strength: Mapped[int | None] = mapped_column(Integer)
    order: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Counter(Base):
    __tablename__ = "counters"
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(16), primary_key=True)  # the numbered table
    next: Mapped[int] = mapped_column(Integer)


NUMBERED = {"participants": Participant, "statements": Statement}
"""Tables whose per-process ``number`` comes from ``counters``."""


def init_counters(conn: Connection, process_id: int | None = None) -> None:
    """Start the counters of one process (or all) after their highest number so far."""
    for name, model in NUMBERED.items():
        query = select(Process.id, literal(name), func.coalesce(func.max(model.number) + 1, 0)).outerjoin(
            model, model.process_id == Process.id).group_by(Process.id)
        if process_id is not None:
            query = query.where(Process.id == process_id)
        conn.execute(insert(Counter).from_select(["process_id", "name", "next"], query))


class Submission(Base):
    """What a participant wrote for an item of a text task: an answer, or the edited response."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("participant_id", "item_id"), Index("ix_submissions_process", "process_id"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)  # first submission
    updated_at: Mapped[int] = mapped_column(BigInteger)  # latest (a resubmission replaces the text)


class Setting(Base):
    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


schema_version = Table("schema_version", MetaData(), Column("version", Integer, nullable=False))


def _v1_initial_tables(conn: Connection) -> None:
    Base.metadata.create_all(conn)


def _v2_counters(conn: Connection) -> None:
    Counter.__table__.create(conn, checkfirst=True)
    init_counters(conn)


def _v3_submissions(conn: Connection) -> None:
    Submission.__table__.create(conn, checkfirst=True)


MIGRATIONS: list[Callable[[Connection], None]] = [_v1_initial_tables, _v2_counters, _v3_submissions]
"""Ordered migrations; ``MIGRATIONS[i]`` takes a database from version ``i`` to ``i + 1``. Append only."""

SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: Connection) -> int:
    """The database's schema version (0 for an empty database)."""
    if not inspect(conn).has_table("schema_version"):
        return 0
    return conn.execute(select(schema_version.c.version)).scalar() or 0


def migrate(engine: Engine) -> int:
    """Bring the database to :data:`SCHEMA_VERSION` in one transaction; returns the version it found.

    Raises InputError when the database is newer than this code or lacks a table/column the code expects.
    """
    with engine.begin() as conn:
        found = current_version(conn)
        if found > SCHEMA_VERSION:
            raise InputError(f"database schema is version {found}, newer than this pluralign ({SCHEMA_VERSION}); "
                             "upgrade pluralign", path=_safe_url(engine))
        schema_version.create(conn, checkfirst=True)
        for step in MIGRATIONS[found:]:
            step(conn)
        if found == 0:
            conn.execute(schema_version.insert().values(version=SCHEMA_VERSION))
        elif found < SCHEMA_VERSION:
            conn.execute(schema_version.update().values(version=SCHEMA_VERSION))
        _check_no_drift(conn, engine)
    return found


def _check_no_drift(conn: Connection, engine: Engine) -> None:
    insp = inspect(conn)
    for table in Base.metadata.sorted_tables:
        if not insp.has_table(table.name):
            raise InputError(f"schema drift: table {table.name!r} is missing", path=_safe_url(engine))
        present = {c["name"] for c in insp.get_columns(table.name)}
        missing = [c.name for c in table.columns if c.name not in present]
        if missing:
            raise InputError(f"schema drift: table {table.name!r} lacks columns {missing}", path=_safe_url(engine))


def _safe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)

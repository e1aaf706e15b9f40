"""Opening the store's database: a SQLite file (default) or PostgreSQL by URL, same code.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a committed transaction is in the WAL file (the OS page
cache) before the commit returns, so an acknowledged vote survives the server being killed (SIGKILL, crash)
but not a power loss or kernel crash, which would need ``synchronous=FULL`` (an fsync per commit).
SQLite allows one writer at a time; writes in one server process are serialised by a lock (see
:class:`~pluralign.elicit.store.Store`) rather than by SQLite's sleeping busy handler, which would add
milliseconds of latency under load; ``busy_timeout`` covers other processes (the CLI) writing alongside.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from pluralign.errors import InputError


WRITE_OPTION = "pluralign_write"
"""Execution option marking a connection that will write (SQLite then begins with BEGIN IMMEDIATE)."""


def database_url(db: str) -> str:
    """A SQLAlchemy URL from what a user typed: a URL as is, anything else as a SQLite file path."""
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def make_engine(db: str, *, pg_schema: str | None = None) -> Engine:
    """An engine for ``db`` (URL or SQLite path). ``pg_schema``: PostgreSQL schema to use (tests isolate with it)."""
    url = make_url(database_url(db))
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if url.get_backend_name() == "postgresql":
        connect_args = {"options": f"-csearch_path={pg_schema}"} if pg_schema else {}
        return create_engine(url, pool_pre_ping=True, pool_size=10, connect_args=connect_args)
    raise InputError(f"unsupported database {url.get_backend_name()!r}; use a SQLite path or a postgresql:// URL",
                     field="db")


def _sqlite_engine(url) -> Engine:
    if url.database and url.database != ":memory:":
        blocker = next((p for p in Path(url.database).parents if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            raise InputError(f"cannot create the database's folder: {blocker} is a file", path=url.database)
        try:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"cannot create the database's folder: {err.strerror}", path=url.database) from None
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" below start transactions explicitly
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        # Writers take the write lock up front: a deferred transaction that reads, then writes after another
        # process committed, fails at once with SQLITE_BUSY instead of waiting.
        immediate = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"

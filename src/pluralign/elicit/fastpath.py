"""The vote path without SQLAlchemy's per-execution overhead, keeping SQLAlchemy's SQL.

A vote is three statements (find the statement, upsert the current vote, append to the history). Run through
SQLAlchemy Core they take ~0.6 ms per vote on this machine; the same SQL, compiled once by SQLAlchemy for the
engine's dialect and run on the DBAPI cursor, takes ~0.16 ms (``benchmarks/bench_elicit.py`` measures the
server end to end). The SQL text still comes from SQLAlchemy, so SQLite and PostgreSQL share the code.
"""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import Engine


class CompiledStatement:
    """A statement compiled once for ``engine``'s dialect; ``run`` executes it on a DBAPI cursor.

    keys: the columns an INSERT sets (in the values passed to ``run``).
    """

    def __init__(self, stmt, engine: Engine, keys: list[str] | None = None):
        compiled = stmt.compile(dialect=engine.dialect, column_keys=keys)
        self.sql = compiled.string
        self.order = compiled.positiontup  # positional paramstyles (SQLite "?"); None for named (psycopg)

    def run(self, cursor, values: dict):
        cursor.execute(self.sql, [values[k] for k in self.order] if self.order is not None else values)
        return cursor


@contextmanager
def dbapi_transaction(engine: Engine):
    """A cursor in a write transaction on a pooled DBAPI connection; commit on success, else roll back."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")  # take the write lock now: no read-to-write upgrade to fail
        yield cursor
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()

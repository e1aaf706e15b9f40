"""Fixtures for the elicitation tests: a store on a temporary SQLite file and, when PLURALIGN_TEST_PG_URL is
set, the same tests again on PostgreSQL (each test in its own schema, dropped afterwards)."""

from __future__ import annotations

import os
import uuid

import pytest

PG_URL = os.environ.get("PLURALIGN_TEST_PG_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    """A fresh :class:`Store`: SQLite in tmp_path, or PostgreSQL in a throwaway schema."""
    from pluralign.elicit.store import Store

    if request.param == "sqlite":
        yield Store(str(tmp_path / "elicit.db"))
        return
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    s = Store(PG_URL, pg_schema=schema)
    try:
        yield s
    finally:
        s.engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def conversation(store):
    """(store, process, organiser token): a conversation with three accepted seed statements."""
    process, token = store.create_process("conversation", "Rules for our AI", instructions="Vote please",
                                          min_votes=2, slug="rules")
    for text in ("The AI should be honest.", "The AI should not give medical advice.",
                 "The AI should <script>alert(1)</script> respect privacy."):
        store.add_statement(process, text, moderated=1)
    return store, process, token



@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """A database another process can open (``pluralign serve --db``): a SQLite path, or a PostgreSQL URL whose
    search_path is a throwaway schema."""
    if request.param == "sqlite":
        yield str(tmp_path / "served.db")
        return
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()

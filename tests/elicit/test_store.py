"""The store: versioned schema, one vote per participant and statement with history, moderation, limits."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from pluralign.elicit import schema as S
from pluralign.elicit.routing import Candidate, priority_then_random
from pluralign.elicit.store import MAX_STATEMENT_CHARS, Rejected, Store
from pluralign.errors import InputError


def test_schema_version_recorded_and_reopen_is_idempotent(store):
    with store.engine.connect() as conn:
        assert S.current_version(conn) == S.SCHEMA_VERSION
    assert S.migrate(store.engine) == S.SCHEMA_VERSION  # found current: nothing to do
    with store.engine.connect() as conn:
        assert conn.execute(select(S.schema_version.c.version)).scalars().all() == [S.SCHEMA_VERSION]


def test_newer_database_is_refused(store):
    with store.engine.begin() as conn:
        conn.execute(S.schema_version.update().values(version=S.SCHEMA_VERSION + 1))
    with pytest.raises(InputError, match="newer than this pluralign"):
        S.migrate(store.engine)


def test_schema_drift_is_detected(tmp_path):
    db = tmp_path / "drift.db"
    store = Store(str(db))
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE statements DROP COLUMN priority"))
    with pytest.raises(InputError, match="lacks columns \\['priority'\\]"):
        Store(str(db))


def test_sqlite_runs_in_wal_mode(tmp_path):
    store = Store(str(tmp_path / "wal.db"))
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_revote_replaces_and_history_keeps_every_vote(conversation):
    store, process, _ = conversation
    alice = store.participant(process, "alice-browser")
    store.vote(process, alice, 0, "agree", at=1000)
    store.vote(process, alice, 0, "disagree", at=2000)
    store.vote(process, alice, 1, 0, at=3000)
    with store.engine.connect() as conn:
        current = conn.execute(select(S.Vote.statement_id, S.Vote.value).order_by(S.Vote.created_at)).all()
        log = conn.execute(select(S.VoteEvent.value).order_by(S.VoteEvent.created_at)).scalars().all()
    assert [v for _, v in current] == [-1, 0]
    assert log == [1, -1, 0]


def test_votes_on_unknown_or_unaccepted_statements_are_rejected(conversation):
    store, process, _ = conversation
    bob = store.participant(process, "bob-browser")
    with pytest.raises(Rejected, match="not found") as err:
        store.vote(process, bob, 99, 1)
    assert err.value.status == 404
    queued = store.add_statement(process, "Please add this rule", author=bob)
    with pytest.raises(Rejected, match="awaiting moderation") as err:
        store.vote(process, bob, queued, 1)
    assert err.value.status == 409
    store.moderate(process, queued, accept=False)
    with pytest.raises(Rejected, match="rejected by the organiser"):
        store.vote(process, bob, queued, 1)
    store.moderate(process, queued, accept=True)
    store.vote(process, bob, queued, 1)
    with pytest.raises(Rejected, match="agree, disagree or pass"):
        store.vote(process, bob, 0, "maybe")
    with pytest.raises(Rejected, match="1, -1 or 0"):
        store.vote(process, bob, 0, 2)


def test_statement_length_limits(conversation):
    store, process, _ = conversation
    with pytest.raises(Rejected, match="too short"):
        store.add_statement(process, "  a ")
    with pytest.raises(Rejected, match="too long"):
        store.add_statement(process, "x" * (MAX_STATEMENT_CHARS + 1))
    assert store.add_statement(process, "x" * MAX_STATEMENT_CHARS) == 3


def test_participants_are_numbered_per_process_and_remembered(conversation):
    store, process, _ = conversation
    other, _ = store.create_process("conversation", "Another", slug="other")
    first = [store.participant(process, b) for b in ("b1", "b2")]
    store._participants.clear()  # the ids come from the database, not only from the cache
    assert [store.participant(process, b) for b in ("b1", "b2")] == first
    store.participant(other, "b1")
    with store.engine.connect() as conn:
        numbers = conn.execute(select(S.Participant.process_id, S.Participant.number)
                               .order_by(S.Participant.id)).all()
    assert numbers == [(process.id, 0), (process.id, 1), (other.id, 0)]


def test_next_statement_walks_all_unseen_then_stops(conversation):
    store, process, _ = conversation
    me = store.participant(process, "walker")
    seen = []
    while True:
        row, remaining, n_voted = store.next_statement(process, me, "walker")
        if row is None:
            break
        assert remaining == 3 - len(seen) and n_voted == len(seen)
        seen.append(row.number)
        store.vote(process, me, row.number, "pass")
    assert sorted(seen) == [0, 1, 2]


def test_order_is_random_per_participant_and_priority_first():
    candidates = [Candidate(n, 0.0) for n in range(20)]
    orders = {tuple(c.number for c in priority_then_random(candidates, f"p{i}")) for i in range(5)}
    assert len(orders) == 5  # five people, five orders
    assert priority_then_random(candidates, "p0") == priority_then_random(candidates, "p0")  # stable on reload
    boosted = candidates[:7] + [Candidate(7, 2.0)] + candidates[8:]
    assert priority_then_random(boosted, "p3")[0].number == 7


def test_duplicate_slug_and_bad_fields(store):
    store.create_process("conversation", "One", slug="same")
    with pytest.raises(Rejected, match="already exists"):
        store.create_process("conversation", "Two", slug="same")
    with pytest.raises(Rejected, match="slug"):
        store.create_process("conversation", "Three", slug="Bad Slug!")
    with pytest.raises(Rejected, match="kind"):
        store.create_process("survey", "Four")
    with pytest.raises(Rejected, match="no process named"):
        store.process("missing")


def test_organiser_token_is_checked_by_hash(conversation):
    store, process, token = conversation
    store.check_token(process, token)
    with pytest.raises(Rejected, match="wrong organiser token"):
        store.check_token(process, token + "x")
    with pytest.raises(Rejected, match="needs the organiser token"):
        store.check_token(process, None)
    with store.engine.connect() as conn:
        assert token not in conn.execute(select(S.Process.token_hash)).scalar_one()


def test_priorities_route_statements_first(conversation):
    store, process, _ = conversation
    store.set_priorities(process, {2: 5.0, 1: 1.0})
    me = store.participant(process, "prioritised")
    shown = []
    for _ in range(3):
        row, _, _ = store.next_statement(process, me, "prioritised")
        shown.append(row.number)
        store.vote(process, me, row.number, "agree")
    assert shown == [2, 1, 0]


def test_failed_creation_leaves_nothing(store):
    with pytest.raises(Rejected, match="too short"):
        store.create_conversation("Seeds", ["A fine statement", "no"], slug="seeds")

    def broken(conn, process_id):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        store.create_process("conversation", "Broken", slug="broken", fill=broken)
    assert store.processes() == []
    process, _ = store.create_conversation("Seeds", ["A fine statement", "Another one"], slug="seeds")
    assert [(s.number, s.moderated) for s in store.statements(process)] == [(0, 1), (1, 1)]


def test_two_writers_on_one_sqlite_file_wait_for_each_other(tmp_path):
    """A server and a CLI open the same file: their write transactions queue up instead of failing."""
    import threading

    db = str(tmp_path / "shared.db")
    server, cli = Store(db), Store(db)  # separate stores: separate in-process locks, like two processes
    process, _ = server.create_conversation("Shared", ["First statement"], slug="shared")
    voter = server.participant(process, "voter-browser")
    errors = []

    def votes():
        try:
            for _ in range(150):
                server.vote(process, voter, 0, "agree")
        except Exception as err:  # noqa: BLE001 (the assertion below reports it)
            errors.append(err)

    thread = threading.Thread(target=votes)
    thread.start()
    added = [cli.add_statement(cli.process("shared"), f"Statement from the command line {i}", moderated=1)
             for i in range(30)]
    thread.join()
    assert errors == [] and added == list(range(1, 31))
    assert server.counts(process)["votes cast"] == 150


def test_upgrade_from_version_1_starts_counters_after_existing_numbers(tmp_path):
    db = tmp_path / "v1.db"
    store = Store(str(db))
    process, _ = store.create_process("conversation", "Old", slug="old")
    for statement in ("First statement", "Second statement"):
        store.add_statement(process, statement, moderated=1)
    store.participant(process, "browser-a")
    with store.engine.begin() as conn:  # what a version-1 database looks like
        conn.execute(text("DROP TABLE counters"))
        conn.execute(S.schema_version.update().values(version=1))
    store.engine.dispose()
    upgraded = Store(str(db))
    assert upgraded.add_statement(process, "Third statement") == 2
    assert upgraded.participant(process, "browser-b") != upgraded.participant(process, "browser-a")
    with upgraded.engine.connect() as conn:
        numbers = conn.execute(select(S.Participant.number).order_by(S.Participant.number)).scalars().all()
    assert numbers == [0, 1]

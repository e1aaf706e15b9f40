"""Concurrent writers on both databases, and a writer blocked by another process not stalling the server."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import uvicorn
from sqlalchemy import func, select

from pluralign.elicit import comparisons as C
from pluralign.elicit import schema as S
from pluralign.elicit.app import create_app
from pluralign.elicit.store import Store


def test_concurrent_identical_judgements_and_new_rows_never_fail(store):
    """40 identical pair judgements at once (was delete-then-insert: 500s on PostgreSQL), 150 new statements
    and 150 new participants at once (was max + 1 with retries: 503s), one browser racing itself."""
    task, _ = C.create_comparison(store, "Compare", [{"prompt": "Hi", "responses": ["Hello!", "Go away."]}],
                                  slug="cmp")
    talk, _ = store.create_process("conversation", "Talk", slug="talk")
    judge = store.participant(task, "judge-browser")
    with ThreadPoolExecutor(40) as pool:
        list(pool.map(lambda _: C.judge_pair(store, task, judge, "judge-browser", 0, "a", 3), range(40)))
        statements = list(pool.map(lambda i: store.add_statement(talk, f"Concurrent statement {i}"), range(150)))
        people = list(pool.map(lambda i: store.participant(talk, f"browser-{i}"), range(150)))
        same = set(pool.map(lambda _: store.participant(talk, "one-browser"), range(30)))
    assert sorted(statements) == list(range(150))
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(S.Judgement)).scalar_one() == 1
        numbers = conn.execute(select(S.Participant.number).where(S.Participant.process_id == talk.id)).scalars().all()
    assert len(same) == 1 and len(set(people)) == 150
    assert sorted(numbers) == list(range(151))  # dense: a lost race gives its number back


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(app):
    """The app under uvicorn on a loopback port, in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_writer_blocked_by_another_process_does_not_stall_the_server(tmp_path):
    db = tmp_path / "stall.db"
    store = Store(str(db))
    process, _ = store.create_process("conversation", "Stall", slug="rules")
    store.add_statement(process, "Something to vote on", moderated=1)
    with served(create_app(store, rate=0, address_rate=0)) as base, httpx.Client(base_url=base) as voter:
        csrf = voter.get("/c/rules").text.split('name="csrf" value="')[1].split('"')[0]
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        reply = {}
        vote = threading.Thread(target=lambda: reply.setdefault("vote", voter.post(
            "/c/rules/vote", data={"csrf": csrf, "statement": 0, "vote": "agree"},
            headers={"accept": "application/json"}, timeout=30)))
        vote.start()
        time.sleep(0.3)  # the vote now waits for the lock
        started = time.perf_counter()
        static = httpx.get(f"{base}/static/style.css", timeout=10)
        page = httpx.get(f"{base}/c/rules", timeout=10)
        waited = time.perf_counter() - started
        time.sleep(max(0.0, 2.0 - waited))
        blocker.execute("ROLLBACK")
        vote.join(30)
    assert static.status_code == 200 and page.status_code == 200 and "Something to vote on" in page.text
    assert waited < 1.0, f"read paths waited {waited:.1f} s behind a blocked writer"
    assert reply["vote"].status_code == 200  # and the vote went through once the lock was free

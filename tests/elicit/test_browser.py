"""End to end in real headless Chromium against ``pluralign serve``: a participant votes and adds a statement,
the organiser accepts it, a second participant sees it and votes; the database holds every vote, also after
the server is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from pluralign.elicit import schema as S
from pluralign.elicit.store import Store

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
SEEDS = ["The AI should be honest.", "The AI should not give medical advice.", "The AI should respect privacy."]
NEW = "The AI should explain <b>why</b> it refuses."

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (Debian package 'chromium')")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(db: Path) -> tuple[str, subprocess.Popen]:
    """(base URL, process): ``pluralign serve --db db`` in a subprocess on a free port, once it accepts connections."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pluralign.cli", "serve", "--db", str(db), "--port", str(port),
                             "--log-level", "warning"], cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return f"http://127.0.0.1:{port}", proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("server did not start")
            time.sleep(0.2)


@pytest.fixture
def server(tmp_path):
    """(base URL, db path, organiser token, process): ``pluralign serve`` in a subprocess on a free port."""
    db = tmp_path / "e2e.db"
    store = Store(str(db))
    process, token = store.create_process("conversation", "Help us pick rules for our AI chatbot!",
                                          instructions="Vote on each rule.", min_votes=2, slug="rules")
    for text in SEEDS:
        store.add_statement(process, text, moderated=1)
    store.engine.dispose()
    base, proc = serve(db)
    yield base, db, token, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def vote_through(page, base: str, choices: dict[str, str]) -> list[str]:
    """Vote on every statement shown, choosing by text (default Pass); returns the texts in the order seen."""
    seen = []
    page.goto(f"{base}/c/rules")
    while page.locator("#statement").count():
        text = page.inner_text("#statement-text")
        remaining = int(page.inner_text("#remaining").split()[0])
        assert remaining == len(choices) - len(seen)
        seen.append(text)
        page.click(f"button[value={choices.get(text, 'pass')}]")
    assert "Thank you" in page.inner_text("#done")
    return seen


@pytest.mark.timeout(180)
def test_two_participants_and_an_organiser_in_chromium(server):
    from playwright.sync_api import sync_playwright

    base, db, token, proc = server
    first_choices = dict(zip(SEEDS, ["agree", "disagree", "pass"]))
    second_choices = {SEEDS[0]: "disagree", SEEDS[1]: "agree", SEEDS[2]: "agree", NEW: "agree"}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        first = browser.new_context().new_page()
        order_first = vote_through(first, base, first_choices)
        first.fill("#new-statement", NEW)
        first.click("#submit-statement")
        assert "waiting for moderation" in first.inner_text("#added")

        organiser = browser.new_context().new_page()
        organiser.goto(f"{base}/admin/rules?token={token}")
        assert organiser.url == f"{base}/admin/rules"  # token traded for a cookie
        queued = organiser.locator("#queue li")
        assert queued.count() == 1 and queued.first.locator(".statement-text").inner_text() == NEW
        queued.first.locator("button[value=accept]").click()
        assert organiser.locator("#queue-empty").count() == 1

        second = browser.new_context().new_page()
        order_second = vote_through(second, base, second_choices)
        assert NEW in order_second  # shown as text, not markup
        assert second.locator("b").count() == 0
        browser.close()
    assert sorted(order_first) == sorted(SEEDS) and sorted(order_second) == sorted(SEEDS + [NEW])

    os.kill(proc.pid, signal.SIGKILL)  # acknowledged votes must survive a crash
    proc.wait()
    store = Store(str(db))
    with store.engine.connect() as conn:
        rows = conn.execute(select(S.Participant.number, S.Statement.text, S.Vote.value)
                            .join(S.Participant, S.Participant.id == S.Vote.participant_id)
                            .join(S.Statement, S.Statement.id == S.Vote.statement_id)).all()
        new = conn.execute(select(S.Statement.moderated, S.Participant.number)
                           .join(S.Participant, S.Participant.id == S.Statement.author_id)
                           .where(S.Statement.text == NEW)).one()
    code = {"agree": 1, "disagree": -1, "pass": 0}
    votes = {(p, text): value for p, text, value in rows}
    # participant 0 is the first browser, 1 the second (organiser pages make no participant)
    expected = {(0, t): code[c] for t, c in first_choices.items()} | {(1, t): code[c] for t, c in second_choices.items()}
    assert votes == expected
    assert tuple(new) == (1, 0)  # accepted, written by the first participant

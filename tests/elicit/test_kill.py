"""kill -9 mid-load on each database: every vote the server acknowledged is in the database afterwards.

The real server (``pluralign serve``) in a subprocess on a loopback port, 16 concurrent voters until 200 votes
are acknowledged (at most 8 s), then SIGKILL while requests are in flight; a few seconds per database.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from pluralign.elicit import schema as S
from pluralign.elicit.store import Store

VOTERS, STATEMENTS = 16, 30
KILL_AT_VOTES, KILL_AFTER_S = 200, 8.0  # SIGKILL at whichever comes first (a loaded machine is slower)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(db: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "pluralign.cli", "serve", "--db", db, "--port", str(port),
                             "--rate", "0", "--address-rate", "0", "--log-level", "warning"],
                            cwd=Path(__file__).parents[2])
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("server did not start")
            time.sleep(0.1)


async def voter(base: str, rng: random.Random, acked: list) -> None:
    """One browser voting on statements in a random order until the server goes away."""
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            page = await client.get("/c/load")
            anon = client.cookies["pl_anon"].split(".")[0]
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
            for number in rng.sample(range(STATEMENTS), STATEMENTS):
                value = rng.choice(("agree", "disagree", "pass"))
                reply = await client.post("/c/load/vote", data={"csrf": csrf, "statement": number, "vote": value},
                                          headers={"accept": "application/json"})
                if reply.status_code == 200:
                    acked.append((anon, number, {"agree": 1, "disagree": -1, "pass": 0}[value]))
    except (httpx.HTTPError, OSError):
        pass  # killed mid-request: that vote was never acknowledged


async def load_then_kill(base: str, proc: subprocess.Popen) -> list:
    acked, rng = [], random.Random(0)
    tasks = []
    deadline = time.monotonic() + KILL_AFTER_S
    while time.monotonic() < deadline and len(acked) < KILL_AT_VOTES:  # fresh browsers keep arriving
        tasks = [t for t in tasks if not t.done()]
        while len(tasks) < VOTERS:
            tasks.append(asyncio.create_task(voter(base, random.Random(rng.random()), acked)))
        await asyncio.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    await asyncio.gather(*tasks)
    return acked


@pytest.mark.timeout(120)
def test_acknowledged_votes_survive_kill_9_mid_load(db_url):
    store = Store(db_url)
    process, _ = store.create_process("conversation", "Load", slug="load")
    for i in range(STATEMENTS):
        store.add_statement(process, f"Statement {i} under load", moderated=1)
    store.engine.dispose()
    port = free_port()
    proc = serve(db_url, port)
    try:
        acked = asyncio.run(load_then_kill(f"http://127.0.0.1:{port}", proc))
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and len(acked) >= 20
    store = Store(db_url)  # reopening checks the schema, as a restart does
    with store.engine.connect() as conn:
        rows = conn.execute(select(S.Participant.anon_id, S.Statement.number, S.Vote.value)
                            .join(S.Participant, S.Participant.id == S.Vote.participant_id)
                            .join(S.Statement, S.Statement.id == S.Vote.statement_id)).all()
    store.engine.dispose()
    stored = {(anon, number): value for anon, number, value in rows}
    lost = [a for a in acked if stored.get(a[:2]) != a[2]]
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged votes lost"

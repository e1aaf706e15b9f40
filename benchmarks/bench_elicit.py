"""Load and fault benchmark of the elicitation server: votes/s, latency, and no acknowledged vote lost.

Runs the real server (``pluralign serve``, uvicorn) on 127.0.0.1 with a SQLite file and, with ``--pg URL``,
again on PostgreSQL, and drives ``--voters`` concurrent voters over HTTP for ``--seconds``. Each voter is a browser: it loads the
conversation page (cookie + CSRF token), then votes (POST, ``Accept: application/json``) on statements in a
random order, never twice on the same one, starting a new browser when it has voted on all.

Then the fault phase: the same load again, the server is killed with SIGKILL mid-load, restarted, and every
vote the server acknowledged (HTTP 200 received) is looked up in the database.

Anchors (the targets): >= 500 acknowledged votes/s on SQLite on a 2-core machine, p99 < 50 ms at 50
concurrent voters, zero acknowledged votes lost. Prints the figures and the ratios against them.

The client is a minimal keep-alive HTTP/1.1 client on asyncio streams rather than httpx: on a 2-core machine
the load generator shares the CPU with the server, and a lighter client leaves more of it to the server.

At the end a table gives votes/s, p50 and p99 of each database side by side.

    python benchmarks/bench_elicit.py --voters 50 --seconds 10 --pg postgresql+psycopg://u:pw@127.0.0.1/db
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import select

from pluralign.elicit import schema as S
from pluralign.elicit.store import Store

TARGET_VOTES_PER_S, TARGET_P99_MS = 500.0, 50.0


class Connection:
    """One keep-alive HTTP/1.1 connection: just enough for our pages and JSON replies."""

    def __init__(self, port: int):
        self.port, self.reader, self.writer = port, None, None

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None):
        """(status, response headers (lower-case), body bytes)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        reply_headers = {}
        for line in header_lines:
            if line:
                key, _, value = line.partition(":")
                reply_headers.setdefault(key.strip().lower(), value.strip())
        data = await self.reader.readexactly(int(reply_headers.get("content-length", 0)))
        return int(status_line.split()[1]), reply_headers, data

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class Voter:
    """A simulated browser voting on ``statements`` in a random order; records acknowledged votes."""

    def __init__(self, port: int, slug: str, statements: list[int], rng: random.Random, pace: float):
        self.port, self.slug, self.statements, self.rng, self.pace = port, slug, statements, rng, pace
        self.acked: list[tuple[str, int, int]] = []  # (anonymous id, statement, value)
        self.latencies_ms: list[float] = []
        self.errors = 0

    async def run(self, until: float) -> None:
        conn = Connection(self.port)
        next_vote = time.monotonic() + self.rng.random() / self.pace if self.pace else 0.0
        try:
            while time.monotonic() < until:
                status, headers, body = await conn.request("GET", f"/c/{self.slug}")
                cookie_value = re.search(r"pl_anon=([^;]+)", headers.get("set-cookie", "")).group(1)
                anon = cookie_value.split(".")[0]  # the cookie is "browser id.signature"
                csrf = re.search(rb'name="csrf" value="([^"]+)"', body).group(1).decode()
                cookie = {"Cookie": f"pl_anon={cookie_value}", "Accept": "application/json",
                          "Content-Type": "application/x-www-form-urlencoded"}
                for number in self.rng.sample(self.statements, len(self.statements)):
                    if self.pace:  # a fixed schedule: a slow reply delays this voter, not the schedule
                        await asyncio.sleep(max(0.0, next_vote - time.monotonic()))
                        next_vote += 1 / self.pace
                    if time.monotonic() >= until:
                        return
                    value = self.rng.choice((1, -1, 0))
                    body = urlencode({"csrf": csrf, "statement": number, "vote": value}).encode()
                    start = time.perf_counter()
                    status, _, _ = await conn.request("POST", f"/c/{self.slug}/vote", body, cookie)
                    if status == 200:
                        self.latencies_ms.append((time.perf_counter() - start) * 1000)
                        self.acked.append((anon, number, value))
                    else:
                        self.errors += 1
        except (OSError, asyncio.IncompleteReadError, AttributeError):
            self.errors += 1  # the server went away (the fault phase) or answered oddly
        finally:
            conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: str, port: int) -> subprocess.Popen:
    """``pluralign serve`` with rate limits high enough not to refuse the simulated voters, who all come from
    127.0.0.1 (the limits still run)."""
    proc = subprocess.Popen([sys.executable, "-m", "pluralign.cli", "serve", "--db", db, "--port", str(port),
                             "--rate", "1000", "--burst", "1000", "--address-rate", "100000",
                             "--address-burst", "100000", "--log-level", "warning"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


async def drive(port: int, slug: str, statements: list[int], voters: int, seconds: float, seed: int,
                pace: float = 0.0, kill: subprocess.Popen | None = None) -> list[Voter]:
    """Run ``voters`` voters for ``seconds``, each voting ``pace`` times a second (0: as fast as the server
    answers); with ``kill``, SIGKILL that server halfway through."""
    rng = random.Random(seed)
    crowd = [Voter(port, slug, statements, random.Random(rng.random()), pace) for _ in range(voters)]
    until = time.monotonic() + seconds
    tasks = [asyncio.create_task(v.run(until)) for v in crowd]
    if kill is not None:
        await asyncio.sleep(seconds / 2)
        os.kill(kill.pid, signal.SIGKILL)
    await asyncio.gather(*tasks)
    return crowd


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


def lost_votes(db: str, slug: str, crowd: list[Voter]) -> tuple[int, int]:
    """(acknowledged votes checked, acknowledged votes missing or different in the database)."""
    store = Store(db)
    with store.engine.connect() as conn:
        rows = conn.execute(select(S.Participant.anon_id, S.Statement.number, S.Vote.value)
                            .join(S.Participant, S.Participant.id == S.Vote.participant_id)
                            .join(S.Statement, S.Statement.id == S.Vote.statement_id)
                            .join(S.Process, S.Process.id == S.Vote.process_id).where(S.Process.slug == slug)).all()
    stored = {(a, n): v for a, n, v in rows}
    acked = [a for v in crowd for a in v.acked]
    missing = sum(stored.get((anon, number)) != value for anon, number, value in acked)
    store.engine.dispose()
    return len(acked), missing


def load_phase(db: str, slug: str, statements: list[int], args, pace: float, label: str) -> dict:
    """Start a server, drive the voters, stop it; print throughput, latency and the acknowledged-vote check."""
    port = free_port()
    server = start_server(db, port)
    try:
        started = time.monotonic()
        crowd = asyncio.run(drive(port, slug, statements, args.voters, args.seconds, args.seed, pace))
        elapsed = time.monotonic() - started
    finally:
        server.kill()
        server.wait()
    latencies = [x for v in crowd for x in v.latencies_ms]
    rate, p50, p99 = len(latencies) / elapsed, percentile(latencies, 50), percentile(latencies, 99)
    checked, missing = lost_votes(db, slug, crowd)
    print(f"{label}: {len(latencies)} acknowledged votes in {elapsed:.1f} s = {rate:.0f} votes/s "
          f"(target {TARGET_VOTES_PER_S:.0f}: ratio {rate / TARGET_VOTES_PER_S:.2f}); p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms (target < {TARGET_P99_MS:.0f}: ratio {p99 / TARGET_P99_MS:.2f}); "
          f"errors {sum(v.errors for v in crowd)}; in database: {checked - missing}/{checked}")
    return {"votes/s": rate, "p50 ms": p50, "p99 ms": p99}


def bench_database(db: str, label: str, args) -> dict:
    """The three phases on one database; returns the figures of the load phases and the fault check."""
    store = Store(db)
    slug = f"bench-{int(time.time())}"
    process, _ = store.create_process("conversation", "Benchmark", slug=slug)
    for i in range(args.statements):
        store.add_statement(process, f"Statement number {i} for the load test", moderated=1)
    store.engine.dispose()
    statements = list(range(args.statements))
    print(f"[{label}] db: {db.split('@')[-1]}  voters: {args.voters}  seconds per phase: "
          f"{args.seconds}  cores: {os.cpu_count()}  load average before: "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    paced = load_phase(db, slug, statements, args, args.pace, f"[{label}] paced ({args.pace:g} votes/s per voter)")
    unpaced = load_phase(db, slug, statements, args, 0.0, f"[{label}] unpaced (as fast as answered)")

    port = free_port()
    server = start_server(db, port)
    crowd = asyncio.run(drive(port, slug, statements, args.voters, args.seconds, args.seed + 1, kill=server))
    server.wait()
    restarted = start_server(db, port)  # the schema check and migration run on start
    restarted.terminate()
    restarted.wait()
    checked, missing = lost_votes(db, slug, crowd)
    print(f"[{label}] fault: SIGKILL mid-load, restart; {checked} acknowledged votes checked, {missing} lost "
          f"(target 0) {'OK' if missing == 0 else 'FAIL'}")
    return {"paced": paced, "unpaced": unpaced, "lost": f"{missing}/{checked}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--voters", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--pace", type=float, default=10.0,
                    help="votes per second per voter in the paced phase (50 x 10 = the 500 votes/s target)")
    ap.add_argument("--statements", type=int, default=200)
    ap.add_argument("--db", help="SQLite path (default: a fresh file)")
    ap.add_argument("--pg", help="PostgreSQL URL: run every phase on it too, side by side")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    databases = {"SQLite": args.db or str(Path(tempfile.mkdtemp(prefix="bench-elicit-")) / "bench.db")}
    if args.pg:
        databases["PostgreSQL"] = args.pg
    results = {label: bench_database(db, label, args) for label, db in databases.items()}

    print(f"\n{'phase':<10} {'figure':<8}" + "".join(f"{label:>12}" for label in results))
    for phase in ("paced", "unpaced"):
        for figure in ("votes/s", "p50 ms", "p99 ms"):
            print(f"{phase:<10} {figure:<8}" + "".join(f"{r[phase][figure]:>12.1f}" for r in results.values()))
    print(f"{'fault':<10} {'lost':<8}" + "".join(f"{r['lost']:>12}" for r in results.values()))
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

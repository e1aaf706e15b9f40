"""Polis CSV exports in and out: ``summary.csv``, ``comments.csv``, ``votes.csv``, ``participants-votes.csv``.

Vote coding as in these CSVs: 1 agree, -1 disagree, 0 pass, empty = not seen. ``votes.csv`` is the full
timestamped log (re-votes included); the latest vote of a participant on a comment counts, and
``participants-votes.csv`` holds exactly those. Importing keeps the whole log (``vote_events``) and the
current votes (``votes``), Polis's participant and comment ids, moderation, authors and Polis's own group ids,
so a re-export reproduces the log and the matrix vote for vote.

``agrees``/``disagrees`` in ``comments.csv`` and the counts in ``participants-votes.csv`` are recomputed from
the current votes: in Polis's own exports the comment counts do not always match their ``votes.csv``.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select

from pluralign.elicit import schema as S
from pluralign.elicit.polis_csv import INT, OPT_INT, TEXT, VOTE, read_polis_csv, read_text
from pluralign.elicit.store import ProcessInfo, Store
from pluralign.errors import InputError
from pluralign.io import atomic_path

POLIS_FILES = ("summary.csv", "comments.csv", "votes.csv", "participants-votes.csv")
SUMMARY_KEYS = ("topic", "url", "views", "voters", "voters-in-conv", "commenters", "comments", "groups",
                "conversation-description")
COMMENT_COLUMNS = ["timestamp", "datetime", "comment-id", "author-id", "agrees", "disagrees", "moderated",
                   "comment-body"]
VOTE_COLUMNS = ["timestamp", "datetime", "comment-id", "voter-id", "vote"]


# --- reading (through the one Polis CSV reader, :mod:`pluralign.elicit.polis_csv`) ----------------------------

COMMENT_KINDS = {"timestamp": INT, "comment-id": INT, "author-id": OPT_INT, "moderated": VOTE, "comment-body": TEXT}
VOTE_KINDS = {"timestamp": INT, "comment-id": INT, "voter-id": INT, "vote": VOTE}


def read_summary(folder: Path) -> dict[str, str]:
    path = folder / "summary.csv"
    if not path.exists():
        return {}
    try:
        rows = list(csv.reader(io.StringIO(read_text(path), newline="")))
    except csv.Error as err:
        raise InputError(f"bad CSV: {err}", path=str(path)) from None
    return {row[0]: row[1] if len(row) > 1 else "" for row in rows if row}


def import_polis(store: Store, folder: str | Path, *, slug: str | None = None) -> tuple[ProcessInfo, str]:
    """Import a Polis export folder as a new conversation; returns it and its organiser token.

    Everything is validated before anything is written; then one transaction writes it all.
    """
    folder = Path(folder)
    summary = read_summary(folder)
    comments = read_polis_csv(folder / "comments.csv", COMMENT_KINDS, required=COMMENT_COLUMNS)
    votes = read_polis_csv(folder / "votes.csv", VOTE_KINDS, required=VOTE_COLUMNS)
    groups, xids = _read_participants(folder / "participants-votes.csv")

    statements = {}
    c = comments.columns
    for i, number in enumerate(c["comment-id"].tolist()):
        moderated = int(c["moderated"][i])
        if number in statements:
            raise comments.error(i, "comment-id", f"comment-id {number} repeats")
        author = None if comments.blank["author-id"][i] else int(c["author-id"][i])
        statements[number] = dict(number=number, text=c["comment-body"][i], moderated=moderated, priority=0.0,
                                  created_at=int(c["timestamp"][i]), author=author)
    v = votes.columns
    unknown = ~np.isin(v["comment-id"], np.fromiter(statements, dtype=np.int64, count=len(statements)))
    if unknown.any():
        i = int(np.argmax(unknown))
        raise votes.error(i, "comment-id", f"vote on comment-id {v['comment-id'][i]}, which comments.csv lacks")
    events = list(zip(v["timestamp"].tolist(), range(len(votes)), v["comment-id"].tolist(), v["voter-id"].tolist(),
                      v["vote"].tolist()))

    people = set(groups) | {e[3] for e in events} | {s["author"] for s in statements.values() if s["author"] is not None}
    meta = {k: v for k, v in summary.items() if k != "conversation-description"}
    meta["has_xid"] = bool(xids)
    events.sort(key=lambda e: (e[0], e[1]))  # the latest vote counts; equal timestamps: file order

    def fill(conn, process_id: int) -> None:
        conn.execute(insert(S.Participant), [
            dict(process_id=process_id, number=n, xid=xids.get(n) or None, group_id=groups.get(n) or None,
                 created_at=0) for n in sorted(people)])
        pid = dict(conn.execute(select(S.Participant.number, S.Participant.id)
                                .where(S.Participant.process_id == process_id)).all())
        conn.execute(insert(S.Statement), [
            dict(process_id=process_id, number=s["number"], text=s["text"], moderated=s["moderated"],
                 priority=0.0, created_at=s["created_at"], author_id=pid.get(s["author"]))
            for s in statements.values()])
        sid = dict(conn.execute(select(S.Statement.number, S.Statement.id)
                                .where(S.Statement.process_id == process_id)).all())
        log = [dict(process_id=process_id, participant_id=pid[v], statement_id=sid[c], value=x, created_at=t)
               for t, _, c, v, x in events]
        if log:
            conn.execute(insert(S.VoteEvent), log)
            latest = {(r["participant_id"], r["statement_id"]): r for r in log}
            conn.execute(insert(S.Vote), list(latest.values()))

    return store.create_process(
        "conversation", summary.get("topic") or folder.name, instructions=summary.get("conversation-description", ""),
        slug=slug, meta=meta, fill=fill)


def _read_participants(path: Path) -> tuple[dict[int, str], dict[int, str]]:
    """Polis's group id and xid per participant (both optional; the file itself is optional)."""
    if not path.exists():
        return {}, {}
    table = read_polis_csv(path, {"participant": INT, "group-id": TEXT, "xid": TEXT}, required=["participant"])
    people = table.columns["participant"].tolist()
    groups = dict(zip(people, (g.strip() for g in table.columns.get("group-id", [""] * len(people)))))
    xids = dict(zip(people, (x.strip() for x in table.columns["xid"]))) if "xid" in table.columns else {}
    return groups, xids


# --- writing -------------------------------------------------------------------------------------------

def polis_datetime(ms: int) -> str:
    """Polis's human-readable time column, in UTC."""
    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(ms / 1000))


def export_polis(store: Store, process: ProcessInfo, folder: str | Path) -> dict[str, int]:
    """Write the four Polis CSVs of a conversation into ``folder``; returns rows written per file."""
    folder = Path(folder)
    p, st, v, ev = S.Participant, S.Statement, S.Vote, S.VoteEvent
    with store.engine.connect() as conn:
        people = conn.execute(select(p.id, p.number, p.xid, p.group_id).where(p.process_id == process.id)).all()
        statements = conn.execute(select(st.id, st.number, st.text, st.author_id, st.moderated, st.created_at)
                                  .where(st.process_id == process.id).order_by(st.number)).all()
        current = conn.execute(select(v.participant_id, v.statement_id, v.value)
                               .where(v.process_id == process.id)).all()
        log = conn.execute(select(ev.created_at, ev.statement_id, ev.participant_id, ev.value)
                           .where(ev.process_id == process.id).order_by(ev.created_at, ev.id)).all()
    number = {r.id: r.number for r in people}
    comment = {r.id: r.number for r in statements}
    by_person: dict[int, dict[int, int]] = defaultdict(dict)
    agrees, disagrees = Counter(), Counter()
    for pid, sid, value in current:
        by_person[pid][sid] = value
        agrees[sid] += value == 1
        disagrees[sid] += value == -1
    authored = Counter(r.author_id for r in statements if r.author_id is not None)

    counts = {}
    counts["comments.csv"] = _write_csv(folder / "comments.csv", COMMENT_COLUMNS, (
        [r.created_at, polis_datetime(r.created_at), r.number, number.get(r.author_id, ""), agrees[r.id],
         disagrees[r.id], r.moderated, r.text] for r in statements))
    counts["votes.csv"] = _write_csv(folder / "votes.csv", VOTE_COLUMNS, (
        [t, polis_datetime(t), comment[sid], number[pid], value] for t, sid, pid, value in log))

    voted_statements = sorted({sid for votes in by_person.values() for sid in votes}, key=comment.get)
    has_xid = bool(process.meta.get("has_xid")) or any(r.xid for r in people)
    head = ["participant"] + (["xid"] if has_xid else []) + ["group-id", "n-comments", "n-votes", "n-agree",
                                                             "n-disagree"]
    rows = []
    for r in sorted((r for r in people if r.id in by_person), key=lambda r: r.number):
        votes = by_person[r.id]
        values = list(votes.values())
        rows.append([r.number] + ([r.xid or ""] if has_xid else []) + [
            r.group_id or "", authored[r.id], len(values), values.count(1), values.count(-1)]
            + [votes.get(sid, "") for sid in voted_statements])
    counts["participants-votes.csv"] = _write_csv(folder / "participants-votes.csv",
                                                  head + [str(comment[s]) for s in voted_statements], rows)

    summary = _summary(process, people, by_person, authored, statements)
    counts["summary.csv"] = _write_csv(folder / "summary.csv", None, ([k, summary[k]] for k in SUMMARY_KEYS))
    return counts


def _summary(process: ProcessInfo, people, by_person, authored, statements) -> dict:
    kept = process.meta
    return {
        "topic": process.title,
        "url": kept.get("url", ""),
        "views": kept.get("views", len(people)),
        "voters": len(by_person),
        "voters-in-conv": len(by_person),
        "commenters": len(authored),
        "comments": len(statements),
        "groups": len({r.group_id for r in people if r.group_id}) or kept.get("groups", ""),
        "conversation-description": process.instructions,
    }


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell):
    """A text cell that a spreadsheet shows as text: one starting like a formula gets a leading ``'`` (OWASP,
    "CSV Injection"). Numbers (vote codes such as -1) are left as they are."""
    return "'" + cell if isinstance(cell, str) and cell.startswith(FORMULA_STARTS) else cell


def _write_csv(path: Path, header: list[str] | None, rows) -> int:
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        if header is not None:
            writer.writerow(header)
        for row in rows:
            writer.writerow([spreadsheet_safe(cell) for cell in row])
            n += 1
    return n


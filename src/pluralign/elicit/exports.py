"""A process's data as pluralign records (JSONL) and, for conversations, as Polis CSVs.

Ids in the records are Polis's: a participant is its number in the process, a statement its comment id, so
records and Polis CSVs of one conversation name the same people and statements. Times are seconds since the
epoch. Comparisons become :class:`~pluralign.records.Comparison` records (A/B as the participant saw them,
8-point strength 1..4) and rankings :class:`~pluralign.records.Ranking` records; both also become
:class:`~pluralign.records.Preference` records, TRL's ``prompt``/``chosen``/``rejected`` columns (a ranking
gives one pair per two responses in different tiers). Text tasks give
:class:`~pluralign.records.Demonstration` and :class:`~pluralign.records.Edit` records (task_store.py).
"""

from __future__ import annotations

import tempfile
from itertools import combinations
from pathlib import Path

from sqlalchemy import select

from pluralign.elicit import schema as S
from pluralign.elicit.comparisons import judgements
from pluralign.elicit.polis import POLIS_FILES, export_polis
from pluralign.elicit.store import ProcessInfo, Rejected, Store
from pluralign.elicit.tasks_demos import demonstrations
from pluralign.elicit.tasks_edits import edits
from pluralign.io import write_records
from pluralign.records import Comparison, Participant, Preference, Provenance, Ranking, Statement, Vote

EXPORTS: dict[str, tuple[str, ...]] = {
    **{name: ("conversation",) for name in POLIS_FILES},
    "participants.jsonl": ("conversation", "comparison", "demonstration", "edit"),
    "statements.jsonl": ("conversation",),
    "votes.jsonl": ("conversation",),
    "vote-history.jsonl": ("conversation",),
    "comparisons.jsonl": ("comparison",),
    "rankings.jsonl": ("comparison",),
    "preferences.jsonl": ("comparison",),
    "demonstrations.jsonl": ("demonstration",),
    "edits.jsonl": ("edit",),
}
"""Export file name -> the process kinds that have it."""


def participants(store: Store, process: ProcessInfo) -> list[Participant]:
    p = S.Participant
    with store.engine.connect() as conn:
        rows = conn.execute(select(p.number, p.xid, p.group_id).where(p.process_id == process.id)
                            .order_by(p.number)).all()
    return [Participant(id=str(r.number), group=r.group_id, attributes={"xid": r.xid} if r.xid else {})
            for r in rows]


def statements(store: Store, process: ProcessInfo) -> list[Statement]:
    st, p = S.Statement, S.Participant
    with store.engine.connect() as conn:
        rows = conn.execute(select(st.number, st.text, p.number.label("author"), st.moderated, st.created_at)
                            .outerjoin(p, p.id == st.author_id).where(st.process_id == process.id)
                            .order_by(st.number)).all()
    return [Statement(id=str(r.number), text=r.text, author=None if r.author is None else str(r.author),
                      conversation=process.slug, moderated=r.moderated, created_at=r.created_at / 1000)
            for r in rows]


def votes(store: Store, process: ProcessInfo, *, history: bool = False) -> list[Vote]:
    """Current votes (one per participant and statement), or with ``history`` every vote cast, oldest first."""
    v = S.VoteEvent if history else S.Vote
    st, p = S.Statement, S.Participant
    with store.engine.connect() as conn:
        rows = conn.execute(select(p.number.label("participant"), st.number.label("statement"), v.value,
                                   v.created_at).join(p, p.id == v.participant_id).join(st, st.id == v.statement_id)
                            .where(v.process_id == process.id).order_by(v.created_at, v.id)).all()
    return [Vote(participant=str(r.participant), statement=str(r.statement), value=r.value,
                 timestamp=r.created_at / 1000) for r in rows]


def _provenance(process: ProcessInfo, j: dict, rule: str) -> Provenance:
    return Provenance(participants=[str(j["participant"])], rule=rule, source=f"elicit:{process.slug}",
                      details={"item": j["item"], "time": j["at"]})


def comparisons(store: Store, process: ProcessInfo) -> list[Comparison]:
    out = []
    for j in judgements(store, process):
        if j["choice"] is None:
            continue
        a, b = j["shown_a"], 1 - j["shown_a"]
        out.append(Comparison(
            id=f"{process.slug}-{j['item']}-{j['participant']}", prompt=j["prompt"], response_a=j["responses"][a],
            response_b=j["responses"][b], label="a" if j["choice"] == a else "b", strength=j["strength"],
            annotator=str(j["participant"]), provenance=_provenance(process, j, "elicit/8-point")))
    return out


def rankings(store: Store, process: ProcessInfo) -> list[Ranking]:
    out = []
    for j in judgements(store, process):
        if j["order"] is None:
            continue
        texts = j["responses"]
        out.append(Ranking(
            id=f"{process.slug}-{j['item']}-{j['participant']}", prompt=j["prompt"], candidates=texts,
            order=[[texts[i] for i in tier] for tier in j["order"]], annotator=str(j["participant"]),
            provenance=_provenance(process, j, "elicit/ranking")))
    return out


def preferences(store: Store, process: ProcessInfo) -> list[Preference]:
    """Pairwise preferences in TRL's columns from every A/B choice and every ranking."""
    out = []
    for c in comparisons(store, process):
        chosen, rejected = (c.response_a, c.response_b) if c.label == "a" else (c.response_b, c.response_a)
        out.append(Preference(id=c.id, prompt=c.prompt, chosen=chosen, rejected=rejected, margin=c.strength,
                              provenance=c.provenance))
    for r in rankings(store, process):
        for (hi, better), (lo, worse) in combinations(enumerate(r.order), 2):
            for chosen in better:
                for rejected in worse:
                    out.append(Preference(id=f"{r.id}-{r.candidates.index(chosen)}-{r.candidates.index(rejected)}",
                                          prompt=r.prompt, chosen=chosen, rejected=rejected, margin=float(lo - hi),
                                          provenance=r.provenance))
    return out


RECORD_EXPORTS = {
    "participants.jsonl": participants,
    "statements.jsonl": statements,
    "votes.jsonl": votes,
    "vote-history.jsonl": lambda store, process: votes(store, process, history=True),
    "comparisons.jsonl": comparisons,
    "rankings.jsonl": rankings,
    "preferences.jsonl": preferences,
    "demonstrations.jsonl": demonstrations,
    "edits.jsonl": edits,
}


def export_records(store: Store, process: ProcessInfo, folder: str | Path) -> dict[str, int]:
    """Write every record file this process kind has into ``folder``; returns records written per file."""
    return {name: write_records(Path(folder) / name, fn(store, process))
            for name, fn in RECORD_EXPORTS.items() if process.kind in EXPORTS[name]}


def export_file(store: Store, process: ProcessInfo, name: str) -> Path:
    """Write one export file into a fresh temporary folder and return its path (the caller removes the folder)."""
    if name not in EXPORTS or process.kind not in EXPORTS[name]:
        known = [n for n, kinds in EXPORTS.items() if process.kind in kinds]
        raise Rejected(404, f"no export {name!r} for a {process.kind}; one of {known}")
    folder = Path(tempfile.mkdtemp(prefix="pluralign-export-"))
    if name in POLIS_FILES:
        export_polis(store, process, folder)
    else:
        write_records(folder / name, RECORD_EXPORTS[name](store, process))
    return folder / name

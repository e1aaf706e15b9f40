"""Comparison tasks: prompts with two or more model responses that participants judge.

An item with two responses is an A/B choice on the 8-point scale of the RLHF interface
(A A A A B B B B: strength 4 "A is much better" ... 1 "A is barely better", then the same for B); an item
with k > 2 responses is ranked (ties allowed: equal rank numbers form one tier). Which response is shown as
A, and the order in which a ranking lists responses, is shuffled per participant, against position bias.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import insert, select

from pluralign.elicit import schema as S
from pluralign.elicit.routing import shuffle_key
from pluralign.elicit.store import ProcessInfo, Rejected, Store, dialect_insert, check_text, now_ms, shown

STRENGTHS = {4: "much better", 3: "better", 2: "slightly better", 1: "barely better"}
"""The 8-point scale's wording per side, strongest first."""
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ItemView:
    """An item as one participant sees it. ``shown``: response indexes in display order (A first)."""

    number: int
    prompt: str | list
    responses: list[str]
    shown: list[int]

    @property
    def is_pair(self) -> bool:
        return len(self.responses) == 2


def validate_items(items: list[dict]) -> list[dict]:
    """Check ``[{"prompt": text or messages, "responses": [2+ distinct texts]}]``; errors name the item."""
    if not items:
        raise Rejected(422, "a comparison task needs at least one item", field="items")
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict) or "prompt" not in item or "responses" not in item:
            raise Rejected(422, f"item {i} needs 'prompt' and 'responses'", field="items")
        responses = item["responses"]
        if not isinstance(responses, list) or len(responses) < 2 or not all(isinstance(r, str) and r.strip()
                                                                             for r in responses):
            raise Rejected(422, f"item {i}: 'responses' must be a list of 2 or more non-empty texts", field="items")
        if len(set(responses)) != len(responses):
            raise Rejected(422, f"item {i}: responses must be distinct", field="items")
        prompt = item["prompt"]
        messages = [prompt] if isinstance(prompt, str) else prompt if isinstance(prompt, list) else None
        if not messages or not all(isinstance(m, str) or (isinstance(m, dict) and m.get("role") in ROLES
                                                          and isinstance(m.get("content"), str)) for m in messages):
            raise Rejected(422, f"item {i}: 'prompt' must be a text or a list of {{role, content}} with a role in "
                                f"{list(ROLES)}", field="items")
        for text in responses + [m if isinstance(m, str) else m["content"] for m in messages]:
            check_text(text, f"item {i}")
    return items


def create_comparison(store: Store, title: str, items: list[dict], **process_fields) -> tuple[ProcessInfo, str]:
    """A comparison task with ``items``; returns the process and its organiser token."""
    items = validate_items(items)

    def add_items(conn, process_id: int) -> None:
        conn.execute(insert(S.Item), [dict(process_id=process_id, number=n, prompt=json.dumps(it["prompt"]),
                                           responses=json.dumps(it["responses"])) for n, it in enumerate(items)])

    return store.create_process("comparison", title, fill=add_items, **process_fields)


def display_order(participant_key: str, number: int, k: int) -> list[int]:
    """Response indexes in the order this participant sees them (fixed per participant and item)."""
    return sorted(range(k), key=lambda i: shuffle_key(f"{participant_key}:{number}", i))


def next_item(store: Store, process: ProcessInfo, participant: int | None, participant_key: str):
    """(the next unjudged item as an :class:`ItemView` or None, remaining count); ``participant`` None: a
    browser that has not judged yet."""
    judged = select(S.Judgement.item_id).where(S.Judgement.participant_id == participant)
    with store.engine.connect() as conn:
        rows = conn.execute(select(S.Item.number, S.Item.prompt, S.Item.responses).where(
            S.Item.process_id == process.id, S.Item.id.not_in(judged)).order_by(S.Item.number)).all()
    if not rows:
        return None, 0
    first = min(rows, key=lambda r: shuffle_key(participant_key, r.number))
    responses = json.loads(first.responses)
    return ItemView(first.number, json.loads(first.prompt), responses,
                    display_order(participant_key, first.number, len(responses))), len(rows)


def _item(conn, process: ProcessInfo, number: int):
    row = conn.execute(select(S.Item.id, S.Item.responses).where(
        S.Item.process_id == process.id, S.Item.number == number)).first()
    if row is None:
        raise Rejected(404, f"item {number} not found in {process.slug!r}", field="item")
    return row.id, len(json.loads(row.responses))


def judge_pair(store: Store, process: ProcessInfo, participant: int, participant_key: str, number: int,
               side: str, strength: int) -> None:
    """Record "``side`` (a/b, as shown) is better" with ``strength`` 1..4 on a two-response item."""
    if side not in ("a", "b"):
        raise Rejected(422, f"choice must be 'a' or 'b', got {shown(side)}", field="choice")
    if strength not in STRENGTHS:
        raise Rejected(422, f"strength must be 1, 2, 3 or 4, got {shown(strength)}", field="strength")
    with store.writing() as conn:
        item_id, k = _item(conn, process, number)
        if k != 2:
            raise Rejected(422, f"item {number} has {k} responses: rank them instead", field="item")
        shown = display_order(participant_key, number, 2)
        _save(conn, process, item_id, participant, shown_a=shown[0], choice=shown[0 if side == "a" else 1],
              strength=strength)


def judge_rank(store: Store, process: ProcessInfo, participant: int, number: int, ranks: dict[int, int]) -> None:
    """Record a ranking: ``ranks`` maps each response index to its rank (1 = best; equal ranks tie)."""
    with store.writing() as conn:
        item_id, k = _item(conn, process, number)
        if k == 2:
            raise Rejected(422, f"item {number} has 2 responses: choose A or B on its scale instead", field="item")
        if sorted(ranks) != list(range(k)):
            raise Rejected(422, f"item {number}: give a rank to each of its {k} responses", field="rank")
        if not all(1 <= r <= k for r in ranks.values()):
            raise Rejected(422, f"item {number}: ranks must be between 1 and {k}", field="rank")
        tiers = [[i for i in range(k) if ranks[i] == r] for r in sorted(set(ranks.values()))]
        _save(conn, process, item_id, participant, order=json.dumps(tiers))


JUDGED = ("shown_a", "choice", "strength", "order", "created_at")


def _save(conn, process: ProcessInfo, item_id: int, participant: int, **fields) -> None:
    """One judgement per participant and item: an upsert, so a new one replaces the old atomically (two
    concurrent submissions cannot both insert)."""
    row = {name: None for name in JUDGED} | fields | {"created_at": now_ms()}
    stmt = dialect_insert(conn.dialect.name)(S.Judgement.__table__).values(
        process_id=process.id, item_id=item_id, participant_id=participant, **row)
    conn.execute(stmt.on_conflict_do_update(index_elements=["participant_id", "item_id"],
                                            set_={name: stmt.excluded[name] for name in JUDGED}))


def judgements(store: Store, process: ProcessInfo) -> list[dict]:
    """Every judgement with its item: dicts of prompt, responses, participant number, and the judgement."""
    j, it, p = S.Judgement, S.Item, S.Participant
    with store.engine.connect() as conn:
        rows = conn.execute(select(it.number, it.prompt, it.responses, p.number.label("participant"), j.shown_a,
                                   j.choice, j.strength, j.order, j.created_at)
                            .join(it, it.id == j.item_id).join(p, p.id == j.participant_id)
                            .where(j.process_id == process.id).order_by(j.id)).all()
    return [dict(item=r.number, prompt=json.loads(r.prompt), responses=json.loads(r.responses),
                 participant=r.participant, shown_a=r.shown_a, choice=r.choice, strength=r.strength,
                 order=json.loads(r.order) if r.order else None, at=r.created_at / 1000)
            for r in rows]

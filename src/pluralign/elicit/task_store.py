"""Text tasks in the store: items a participant answers by writing, one stored text per participant and item.

Two kinds share the tables and the rules: ``demonstration`` ("write the answer you would want": an item is a
prompt) and ``edit`` ("edit this response": an item is a prompt with the model response to edit). Items live
in the ``items`` table (``responses`` is ``[]`` or ``[response]``); what participants write lives in
``submissions``, unique per (participant, item): a resubmission updates the row through the database's
upsert, so concurrent duplicates also leave one row.

Text rules (participants' and organisers'), the app's statement rules where they apply (no control
characters but tab and newline, bidirectional overrides and isolates closed in order: ``store.check_text`` and
``store.bidi_balanced``) plus: line breaks become ``\\n``, the text is put in Unicode NFC, leading and trailing
whitespace is dropped, U+FFFD (what bytes that are not UTF-8 decode to) is refused, and a text must show at
least one visible character.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import insert, select

from pluralign.elicit import schema as S
from pluralign.elicit.store import (
    ProcessInfo,
    Rejected,
    Store,
    bidi_balanced,
    check_text,
    dialect_insert,
    now_ms,
    shown,
)
from pluralign.records import Message, Provenance

KINDS = ("demonstration", "edit")
MAX_TEXT_CHARS = 7_000
"""What a participant may write, and a response to edit: 1.5x the longest DITTO benchmark demonstration, and
small enough that a text in a 3-byte UTF-8 script (9 bytes a character URL-encoded) fits the server's
default 64 KiB body cap."""
MAX_PROMPT_CHARS = 20_000
MAX_ITEMS = 10_000
_MESSAGES = TypeAdapter(list[Message])


def clean_text(text: str, *, limit: int = MAX_TEXT_CHARS, what: str = "text") -> str:
    """``text`` with the rules above applied; raises :class:`Rejected` (422) naming the first problem."""
    text = unicodedata.normalize("NFC", check_text(text, what).replace("\r\n", "\n").replace("\r", "\n")).strip()
    if "\ufffd" in text:
        raise Rejected(422, f"{what} is not valid UTF-8 (it contains U+FFFD)", field=what)
    if not bidi_balanced(text):
        raise Rejected(422, f"{what} has an unclosed or unmatched bidirectional override", field=what)
    if all(unicodedata.category(ch)[0] in "CZM" for ch in text):
        raise Rejected(422, f"{what} is empty", field=what)
    if len(text) > limit:
        raise Rejected(422, f"{what} is too long ({len(text):,} characters; at most {limit:,})", field=what)
    return text


def validate_items(kind: str, items) -> list[dict]:
    """Spec items -> ``[{"prompt": text or messages, "response": text or None}]``; errors name the item.

    Demonstration items have a ``prompt``; edit items a ``prompt`` and the ``response`` to edit.
    """
    keys = {"prompt", "response"} if kind == "edit" else {"prompt"}
    if not isinstance(items, list) or not items:
        raise Rejected(422, f"a{'n' if kind == 'edit' else ''} {kind} task needs a list of items", field="items")
    if len(items) > MAX_ITEMS:
        raise Rejected(422, f"{len(items)} items; at most {MAX_ITEMS}", field="items")
    out = []
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict) or set(item) != keys:
            found = shown(sorted(item)) if isinstance(item, dict) else type(item).__name__
            raise Rejected(422, f"item {i} needs exactly {sorted(keys)}, found {found}", field="items")
        response = None
        if kind == "edit":
            response = clean_text(item["response"], what=f"item {i}: response")
        out.append({"prompt": _prompt(item["prompt"], i), "response": response})
    return out


def _prompt(prompt, i: int):
    """A prompt as text, or as a conversation: a list of ``{role, content}`` messages."""
    what = f"item {i}: prompt"
    if isinstance(prompt, str):
        return clean_text(prompt, limit=MAX_PROMPT_CHARS, what=what)
    try:
        messages = _MESSAGES.validate_python(prompt)
    except ValidationError as err:
        first = err.errors()[0]
        raise Rejected(422, f"{what} must be text or a list of {{role, content}} messages "
                            f"({'.'.join(map(str, first['loc']))}: {first['msg']})", field="items") from None
    if not messages:
        raise Rejected(422, f"{what} is an empty conversation", field="items")
    contents = [clean_text(m.content, limit=MAX_PROMPT_CHARS, what=what) for m in messages]
    if sum(map(len, contents)) > MAX_PROMPT_CHARS:
        raise Rejected(422, f"{what} is too long (at most {MAX_PROMPT_CHARS} characters)", field="items")
    return [{"role": m.role, "content": c} for m, c in zip(messages, contents)]


def create_text_task(store: Store, kind: str, title: str, items, *, model: str | None = None,
                     **process_fields) -> tuple[ProcessInfo, str]:
    """A demonstration or edit task with ``items``; returns the process and its organiser token.

    model: who wrote the responses of an edit task (kept in the records' provenance).
    """
    if kind not in KINDS:
        raise Rejected(422, f"a text task's kind is one of {list(KINDS)}, got {shown(kind)}", field="kind")
    if model is not None:
        if kind != "edit":
            raise Rejected(422, "only edit tasks show a model's responses", field="model")
        model = clean_text(model, limit=200, what="model")
    items = validate_items(kind, items)

    def add_items(conn, process_id: int) -> None:
        conn.execute(insert(S.Item), [dict(process_id=process_id, number=n, prompt=json.dumps(it["prompt"]),
                                           responses=json.dumps([it["response"]] if kind == "edit" else []))
                                      for n, it in enumerate(items)])

    return store.create_process(kind, title, meta={"model": model} if model else None, fill=add_items,
                                **process_fields)


@dataclass(frozen=True)
class TextItem:
    """An item as one participant sees it: ``response`` to edit (edit tasks), ``text`` they wrote before."""

    number: int
    prompt: str | list
    response: str | None
    text: str | None


@dataclass(frozen=True)
class TaskView:
    """What a task page shows: the item (None once every item is written), the numbers written, the total."""

    item: TextItem | None
    written: list[int]
    total: int


def task_view(store: Store, process: ProcessInfo, participant: int | None, number: int | None = None) -> TaskView:
    """Item ``number`` (to revise an answer), or else the first item this participant has not written;
    ``participant`` None: a browser that has not written yet."""
    _require_text_task(process)
    it, sub = S.Item, S.Submission
    with store.engine.connect() as conn:
        numbers = conn.execute(select(it.number).where(it.process_id == process.id).order_by(it.number)).scalars().all()
        written = conn.execute(select(it.number).join(sub, sub.item_id == it.id).where(
            sub.participant_id == participant).order_by(it.number)).scalars().all()
        if number is None:
            done = set(written)
            number = next((n for n in numbers if n not in done), None)
            if number is None:
                return TaskView(None, written, len(numbers))
        row = conn.execute(select(it.prompt, it.responses, sub.text).outerjoin(
            sub, (sub.item_id == it.id) & (sub.participant_id == participant)).where(
            it.process_id == process.id, it.number == number)).first()
    if row is None:
        raise Rejected(404, f"item {number} not found in {process.slug!r}", field="item")
    responses = json.loads(row.responses)
    return TaskView(TextItem(number, json.loads(row.prompt), responses[0] if responses else None, row.text),
                    written, len(numbers))


def submit(store: Store, process: ProcessInfo, anon_id: str, number: int, text: str) -> str:
    """Store what browser ``anon_id`` wrote for item ``number`` (a resubmission replaces it); returns the stored
    text. The participant row is written with the first accepted text, not before."""
    _require_text_task(process)
    text = clean_text(text)
    with store.engine.connect() as conn:  # items never change once the task exists
        item_id = conn.execute(select(S.Item.id).where(S.Item.process_id == process.id,
                                                       S.Item.number == number)).scalar()
    if item_id is None:
        raise Rejected(404, f"item {number} not found in {process.slug!r}", field="item")
    participant = store.participant(process, anon_id)
    at = now_ms()
    with store.writing() as conn:
        conn.execute(_upsert(store), dict(process_id=process.id, item_id=item_id, participant_id=participant,
                                          text=text, created_at=at, updated_at=at))
    return text


def _upsert(store: Store):
    """INSERT ... ON CONFLICT (participant, item) DO UPDATE: the text and its time, keeping the first time."""
    stmt = dialect_insert(store.engine.dialect.name)(S.Submission.__table__)
    return stmt.on_conflict_do_update(index_elements=["participant_id", "item_id"],
                                      set_={"text": stmt.excluded.text, "updated_at": stmt.excluded.updated_at})


def submissions(store: Store, process: ProcessInfo) -> list[dict]:
    """Every stored text with its item, by item then participant: dicts of item, prompt, response,
    participant (number), text, created and updated (seconds since the epoch)."""
    it, sub, p = S.Item, S.Submission, S.Participant
    with store.engine.connect() as conn:
        rows = conn.execute(select(it.number, it.prompt, it.responses, p.number.label("participant"), sub.text,
                                   sub.created_at, sub.updated_at)
                            .join(it, it.id == sub.item_id).join(p, p.id == sub.participant_id)
                            .where(sub.process_id == process.id).order_by(it.number, p.number)).all()
    return [dict(item=r.number, prompt=json.loads(r.prompt), response=(json.loads(r.responses) or [None])[0],
                 participant=r.participant, text=r.text, created=r.created_at / 1000, updated=r.updated_at / 1000)
            for r in rows]


def provenance(process: ProcessInfo, submission: dict, rule: str) -> Provenance:
    """Who wrote a submission, in which process and item, when; ``model``: who wrote the response it edits."""
    return Provenance(participants=[str(submission["participant"])], rule=rule, model=process.meta.get("model"),
                      source=f"elicit:{process.slug}", details={"item": submission["item"],
                                                                "time": submission["updated"],
                                                                "first_time": submission["created"]})


def record_id(process: ProcessInfo, submission: dict) -> str:
    """``slug-item-participant``, as the comparison records' ids."""
    return f"{process.slug}-{submission['item']}-{submission['participant']}"


def _require_text_task(process: ProcessInfo) -> None:
    if process.kind not in KINDS:
        raise Rejected(404, f"{process.slug!r} is a {process.kind}, not a text task")

"""The "edit this response" task: a participant reads a prompt and a model's response and edits the response
into the one they would want (submitting it unchanged says it is already right). Each edit becomes an
:class:`~pluralign.records.Edit` (prompt, original, edited, annotator = the participant), the signal that
PRELUDE/CIPHER (Gao et al. 2024, "Aligning LLM Agents by Learning Latent Preference from User Edits") learns
a person's latent preference from.

Spec::

    kind = "edit"
    title = "Edit this response"
    model = "SmolLM2-135M-Instruct"   # optional: who wrote the responses (kept in provenance)
    [[items]]
    prompt = "Summarise this article: ..."   # or a list of {role, content}
    response = "The article says ..."
"""

from __future__ import annotations

from fastapi import APIRouter

from pluralign.elicit import task_store as T
from pluralign.elicit.store import ProcessInfo, Store
from pluralign.elicit.text_tasks import AppKit, text_task_router
from pluralign.records import Edit

KIND = "edit"


def create_edit_task(store: Store, title: str, items: list[dict], *, model: str | None = None, **process_fields):
    """An edit task with ``items`` (each a ``prompt`` and the ``response`` to edit); returns the process and its
    organiser token. model: who wrote the responses."""
    return T.create_text_task(store, KIND, title, items, model=model, **process_fields)


def edits(store: Store, process: ProcessInfo) -> list[Edit]:
    """One Edit per participant and item, by item then participant (ids ``slug-item-participant``)."""
    return [Edit(id=T.record_id(process, s), prompt=s["prompt"], original=s["response"], edited=s["text"],
                 annotator=str(s["participant"]), provenance=T.provenance(process, s, "elicit/edit"))
            for s in T.submissions(store, process)]


def router(kit: AppKit) -> APIRouter:
    """``/e/{slug}`` (the page) and ``/e/{slug}/edit`` (the form)."""
    return text_task_router(kit, kind=KIND, template="edit.html", action="edit")

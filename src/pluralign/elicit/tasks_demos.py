"""The "write the answer you would want" task: a participant reads a prompt and writes the response they
would want from the AI. Each answer becomes a :class:`~pluralign.records.Demonstration` (prompt, completion,
author = the participant), the input of SFT and of DITTO (Shaikh et al. 2025, "Show, Don't Tell": align a
model to one person from fewer than 10 demonstrations).

Spec::

    kind = "demonstration"
    title = "Write the answer you would want"
    [[items]]
    prompt = "Write a short email asking your landlord to fix the heating."   # or a list of {role, content}
"""

from __future__ import annotations

from fastapi import APIRouter

from pluralign.elicit import task_store as T
from pluralign.elicit.store import ProcessInfo, Store
from pluralign.elicit.text_tasks import AppKit, text_task_router
from pluralign.records import Demonstration

KIND = "demonstration"


def create_demonstration_task(store: Store, title: str, items: list[dict], **process_fields):
    """A demonstration task with ``items`` (each a ``prompt``); returns the process and its organiser token."""
    return T.create_text_task(store, KIND, title, items, **process_fields)


def demonstrations(store: Store, process: ProcessInfo) -> list[Demonstration]:
    """One Demonstration per participant and item, by item then participant (ids ``slug-item-participant``)."""
    return [Demonstration(id=T.record_id(process, s), prompt=s["prompt"], completion=s["text"],
                          author=str(s["participant"]), provenance=T.provenance(process, s, "elicit/demonstration"))
            for s in T.submissions(store, process)]


def router(kit: AppKit) -> APIRouter:
    """``/d/{slug}`` (the page) and ``/d/{slug}/answer`` (the form)."""
    return text_task_router(kit, kind=KIND, template="demonstration.html", action="answer")

"""The pages of a text task (a demonstration or edit task), shared by :mod:`tasks_demos` and :mod:`tasks_edits`.

``GET /d/{slug}`` (``/e/`` for edits) shows the first item the participant has not written, or ``?item=N`` to
revise an answer, with the list of items written so far; ``POST /d/{slug}/answer`` (``/e/{slug}/edit``)
stores the text (fields ``csrf``, ``item``, ``text``). Writes go through the app's own guard (browser cookie,
CSRF token, rate limits) and error pages, so a text task refuses what the other forms refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from pluralign.elicit import task_store as T
from pluralign.elicit.store import PROCESS_PATHS, Store


@dataclass(frozen=True)
class AppKit:
    """The helpers of :func:`pluralign.elicit.app.create_app` that task pages use: ``read``/``write`` run a
    store call in the database threads, ``visitor`` gives (browser id, cookie to set), ``page`` renders a
    template, ``guarded_form`` checks a POST and returns (browser id, fields), ``done`` answers a write,
    ``int_field`` reads an id from a form."""

    store: Store
    read: Callable
    write: Callable
    visitor: Callable
    page: Callable
    guarded_form: Callable
    done: Callable
    int_field: Callable


def text_task_router(kit: AppKit, *, kind: str, template: str, action: str) -> APIRouter:
    """The two routes of a text task of ``kind``, under its participants' path (``/d/`` or ``/e/``)."""
    router, store, letter = APIRouter(), kit.store, PROCESS_PATHS[kind]

    @router.get(f"/{letter}/{{slug}}", response_class=HTMLResponse)
    async def show(request: Request, slug: str):
        asked = request.query_params.get("item")
        number = None if asked is None else kit.int_field({"item": asked}, "item")
        who = anon, _ = kit.visitor(request)

        def load():
            process = store.process(slug)
            if process.kind != kind:
                return process, None
            return process, T.task_view(store, process, store.find_participant(process, anon), number)

        process, view = await kit.read(load)
        if view is None:
            return RedirectResponse(process.path, status_code=303)
        saved = request.query_params.get("saved", "")
        return kit.page(request, template, who=who, process=process, view=view, limit=T.MAX_TEXT_CHARS,
                        saved=int(saved) if saved.isascii() and saved.isdigit() and len(saved) < 7 else None)

    @router.post(f"/{letter}/{{slug}}/{action}")
    async def submit(request: Request, slug: str):
        anon, form = await kit.guarded_form(request)
        number = kit.int_field(form, "item")

        def save():
            process = store.process(slug)
            store.require_kind(process, kind)
            return T.submit(store, process, anon, number, form.get("text", ""))

        text = await kit.write(save)
        return kit.done(request, f"/{letter}/{slug}?saved={number}", item=number, characters=len(text))

    return router

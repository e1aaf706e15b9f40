"""The elicitation web app: FastAPI with server-rendered Jinja2 pages and a little vanilla JS from the package.

Participant pages: ``/c/{slug}`` (a statement conversation: one unseen statement at a time, Agree /
Disagree / Pass, add a statement) and ``/t/{slug}`` (a comparison task: A vs B on the 8-point scale, or a
ranking of k responses). Organiser pages: ``/admin/{slug}`` (moderation queue, counts, exports), opened once
with ``?token=...`` (then kept in an HTTP-only cookie) or with an ``Authorization: Bearer`` header.

Every request passes the perimeter first (body cap, same-origin writes, security headers: perimeter.py).
Every POST then needs a server-signed browser cookie, a free slot in the client address's rate limit, its
CSRF token and a free slot in the browser's own rate limit, checked in that order (cheapest first; the body
is parsed only after the first two). Page views write nothing: a participant row appears with the browser's
first accepted write. Database work runs in worker threads, writes and reads on separate pools, so a blocked
writer never stalls the event loop, static files or read-only pages.

A refusal is an HTTP error with a one-line message (HTML for browsers, ``{"detail": ...}`` JSON for API
clients), never a 500. Forms answer with a 303 redirect; clients sending ``Accept: application/json`` get
JSON instead.
"""

from __future__ import annotations

import logging
import math
import re
import shutil
from functools import partial
from pathlib import Path
from urllib.parse import parse_qsl

import anyio
import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from pluralign.elicit import comparisons as C
from pluralign.elicit import tasks_demos, tasks_edits
from pluralign.elicit.exports import EXPORTS, export_file
from pluralign.elicit.guard import RateLimiter, browser_id, csrf_ok, csrf_token, new_browser_cookie
from pluralign.elicit.limits import ServerLimits
from pluralign.elicit.perimeter import BodyLimit, SameOrigin, SecurityHeaders
from pluralign.elicit.store import ProcessInfo, Rejected, Store, parse_vote, shown, validate_statement_text
from pluralign.elicit.text_tasks import AppKit

ANON_COOKIE = "pl_anon"
NUMBER_RE = re.compile(r"[0-9]+")  # ASCII digits only: no signs, "_", spaces or other scripts' digits
RANK_FIELD_RE = re.compile(r"rank_([0-9]{1,4})")
HERE = Path(__file__).parent
log = logging.getLogger("pluralign.elicit")


class TooMany(Rejected):
    """429 with the seconds until the limit lets the client write again."""

    def __init__(self, wait: float):
        super().__init__(429, f"too many requests: wait {wait:.1f} s")
        self.retry_after = max(1, math.ceil(wait))


def create_app(store: Store, limits: ServerLimits | None = None, **overrides) -> FastAPI:
    """The app over ``store`` under ``limits`` (or ``ServerLimits(**overrides)``, e.g. ``rate=1, burst=3``)."""
    limits = limits or ServerLimits(**overrides)
    app = FastAPI(title="pluralign elicitation", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(BodyLimit, max_bytes=limits.max_body)
    app.add_middleware(SameOrigin, origins=limits.origins)
    app.add_middleware(SecurityHeaders)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    per_browser = RateLimiter(limits.rate, limits.burst, limits.tracked_keys)
    per_address = RateLimiter(limits.address_rate, limits.address_burst, limits.tracked_keys)
    secret = store.secret()
    writers, readers = anyio.CapacityLimiter(limits.db_threads), anyio.CapacityLimiter(2 * limits.db_threads)

    async def write(fn, *args):
        return await anyio.to_thread.run_sync(partial(fn, *args), limiter=writers)

    async def read(fn, *args):
        return await anyio.to_thread.run_sync(partial(fn, *args), limiter=readers)

    def visitor(request: Request) -> tuple[str, str | None]:
        """(browser id, signed cookie to set: None when the request already carries a valid one)."""
        anon = browser_id(secret, request.cookies.get(ANON_COOKIE))
        return (anon, None) if anon else new_browser_cookie(secret)

    def page(request: Request, template: str, status: int = 200, who: tuple | None = None,
             **context) -> HTMLResponse:
        anon, cookie = who or visitor(request)
        html = env.get_template(template).render(csrf=csrf_token(secret, anon), **context)
        response = HTMLResponse(html, status_code=status)
        if cookie:
            response.set_cookie(ANON_COOKIE, cookie, max_age=365 * 86400, httponly=True, samesite="lax",
                                secure=request.url.scheme == "https")
        return response

    async def guarded_form(request: Request) -> tuple[str, dict]:
        """Check cookie, address rate limit, CSRF token and browser rate limit of a POST; returns (browser id,
        form fields)."""
        anon = browser_id(secret, request.cookies.get(ANON_COOKIE))
        if anon is None:
            raise Rejected(403, "no session cookie: load the page first (cookies must be enabled)")
        wait = per_address.allow(request.client.host if request.client else "")
        if wait:
            raise TooMany(wait)
        form = await read_form(request)
        if not csrf_ok(secret, anon, form.get("csrf") or request.headers.get("x-csrf-token")):
            raise Rejected(403, "invalid or missing CSRF token: reload the page and try again")
        wait = per_browser.allow(anon)
        if wait:
            raise TooMany(wait)
        return anon, form

    def done(request: Request, location: str, **payload) -> Response:
        if wants_json(request):
            return JSONResponse({"ok": True, **payload})
        return RedirectResponse(location, status_code=303)

    def check_organiser(request: Request, slug: str) -> ProcessInfo:
        process = store.process(slug)
        store.check_token(process, request.cookies.get(organiser_cookie(slug)) or bearer(request))
        return process

    async def organiser(request: Request, slug: str) -> ProcessInfo:
        return await read(check_organiser, request, slug)

    # --- errors ----------------------------------------------------------------------------------------

    def error(request: Request, status: int, message: str) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": message}, status_code=status)
        return page(request, "error.html", status=status, status_code=status, message=message)

    @app.exception_handler(Rejected)
    async def _rejected(request: Request, exc: Rejected):
        response = error(request, exc.status, str(exc))
        if isinstance(exc, TooMany):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0]
        return error(request, 422, f"{'.'.join(map(str, first['loc']))}: {first['msg']}")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unexpected error")
        return error(request, 500, "internal error; the organiser can find details in the server log")

    # --- participants ----------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request):
        return page(request, "index.html", processes=await read(store.processes))

    @app.get("/c/{slug}", response_class=HTMLResponse)
    async def conversation(request: Request, slug: str):
        who = anon, _ = visitor(request)

        def load():
            process = store.process(slug)
            if process.kind != "conversation":
                return process, None
            return process, store.next_statement(process, store.find_participant(process, anon), anon)

        process, found = await read(load)
        if found is None:
            return RedirectResponse(process.path, status_code=303)
        statement, remaining, n_voted = found
        return page(request, "conversation.html", who=who, process=process, statement=statement,
                    remaining=remaining, n_voted=n_voted, added=request.query_params.get("added"),
                    finished=request.query_params.get("finished") == "1")

    @app.post("/c/{slug}/vote")
    async def vote(request: Request, slug: str):
        anon, form = await guarded_form(request)
        number, value = int_field(form, "statement"), parse_vote(form.get("vote", ""))

        def cast():
            process = store.process(slug)
            store.vote(process, store.participant(process, anon), number, value)

        await write(cast)
        return done(request, f"/c/{slug}", statement=number)

    @app.post("/c/{slug}/statements")
    async def add_statement(request: Request, slug: str):
        anon, form = await guarded_form(request)

        def add():
            process = store.process(slug)
            store.require_kind(process, "conversation")
            text = validate_statement_text(form.get("text", ""))  # refused before a participant row is made
            return store.add_statement(process, text, author=store.participant(process, anon))

        number = await write(add)
        return done(request, f"/c/{slug}?added={number}", statement=number, moderated=0)

    @app.get("/t/{slug}", response_class=HTMLResponse)
    async def comparison(request: Request, slug: str):
        who = anon, _ = visitor(request)

        def load():
            process = store.process(slug)
            if process.kind != "comparison":
                return process, None
            return process, C.next_item(store, process, store.find_participant(process, anon), anon)

        process, found = await read(load)
        if found is None:
            return RedirectResponse(process.path, status_code=303)
        item, remaining = found
        return page(request, "comparison.html", who=who, process=process, item=item, remaining=remaining,
                    strengths=C.STRENGTHS)

    @app.post("/t/{slug}/pair")
    async def pair(request: Request, slug: str):
        anon, form = await guarded_form(request)
        pick = form.get("pick", "")
        if len(pick) != 2 or pick[0] not in "ab" or pick[1] not in "1234":
            raise Rejected(422, f"pick must be a1..a4 or b1..b4, got {shown(pick)}", field="pick")
        number = int_field(form, "item")

        def judge():
            process = store.process(slug)
            C.judge_pair(store, process, store.participant(process, anon), anon, number, pick[0], int(pick[1]))

        await write(judge)
        return done(request, f"/t/{slug}")

    @app.post("/t/{slug}/rank")
    async def rank(request: Request, slug: str):
        anon, form = await guarded_form(request)
        number, ranks = int_field(form, "item"), {}
        for name in form:
            if name.startswith("rank_"):
                match = RANK_FIELD_RE.fullmatch(name)
                if match is None:
                    raise Rejected(422, f"field {shown(name)} must be rank_<response number>", field="rank")
                ranks[int(match[1])] = int_field(form, name)

        def judge():
            process = store.process(slug)
            C.judge_rank(store, process, store.participant(process, anon), number, ranks)

        await write(judge)
        return done(request, f"/t/{slug}")

    # --- organisers ------------------------------------------------------------------------------------

    @app.get("/admin/{slug}", response_class=HTMLResponse)
    async def admin(request: Request, slug: str):
        token = request.query_params.get("token")
        if token:  # trade the token in the URL for a cookie, and drop it from the address bar
            await read(lambda: store.check_token(store.process(slug), token))
            response = RedirectResponse(f"/admin/{slug}", status_code=303)
            response.set_cookie(organiser_cookie(slug), token, httponly=True, samesite="strict",
                                path=f"/admin/{slug}", secure=request.url.scheme == "https")
            return response
        process = await organiser(request, slug)
        number = request.query_params.get("page", "0")
        page_no = int(number) if NUMBER_RE.fullmatch(number) and len(number) < 7 else 0
        size = limits.queue_page

        def load():
            queue = (store.statements(process, 0, limit=size + 1, offset=page_no * size)
                     if process.kind == "conversation" else [])
            return queue, store.counts(process)

        queue, stats = await read(load)
        return page(request, "admin.html", process=process, queue=queue[:size], stats=stats, page_no=page_no,
                    more=len(queue) > size, exports=[name for name, kinds in EXPORTS.items() if process.kind in kinds])

    @app.post("/admin/{slug}/moderate")
    async def moderate(request: Request, slug: str):
        process = await organiser(request, slug)
        _, form = await guarded_form(request)
        action = form.get("action")
        if action not in ("accept", "reject"):
            raise Rejected(422, f"action must be accept or reject, got {shown(action)}", field="action")
        await write(store.moderate, process, int_field(form, "statement"), action == "accept")
        return done(request, f"/admin/{slug}")

    @app.post("/admin/{slug}/statements")
    async def seed(request: Request, slug: str):
        process = await organiser(request, slug)
        _, form = await guarded_form(request)
        number = await write(partial(store.add_statement, process, form.get("text", ""), moderated=1))
        return done(request, f"/admin/{slug}", statement=number)

    @app.get("/admin/{slug}/export/{name}")
    async def export(request: Request, slug: str, name: str):
        process = await organiser(request, slug)
        path = await read(export_file, store, process, name)
        media = "text/csv" if name.endswith(".csv") else "application/x-ndjson"
        return FileResponse(path, media_type=media, filename=name,
                            background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True))

    kit = AppKit(store, read, write, visitor, page, guarded_form, done, int_field)
    for task in (tasks_demos, tasks_edits):  # the text tasks' pages: /d/{slug} and /e/{slug}
        app.include_router(task.router(kit))
    return app


async def read_form(request: Request) -> dict:
    """The fields of a POSTed form (the body is capped by the perimeter). URL-encoded bodies (what our forms
    send) are parsed with the standard library, several times faster than the general multipart parser,
    which handles the rest."""
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def organiser_cookie(slug: str) -> str:
    return f"pl_org_{slug}"


def int_field(form: dict, name: str) -> int:
    """A form field as an id or rank: ASCII digits only, within 0..2^31-1 (what an SQL integer holds)."""
    value = form.get(name)
    if value is None:
        raise Rejected(422, f"field {name!r} is missing", field=name)
    value = value.strip()
    if not NUMBER_RE.fullmatch(value):
        raise Rejected(422, f"field {name!r} must be an integer (digits 0-9), got {shown(value)}", field=name)
    if len(value) > 10 or int(value) >= 2**31:
        raise Rejected(422, f"field {name!r} is out of range: {shown(value)}", field=name)
    return int(value)

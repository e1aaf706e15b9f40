"""The elicitation web app: FastAPI with server-rendered Jinja2 pages and a little vanilla JS from the package.

Participant pages: ``/c/{slug}`` (a statement conversation: one unseen statement at a time, Agree /
Disagree / Pass, add a statement) and ``/t/{slug}`` (a comparison task: A vs B on the 8-point scale, or a
ranking of k responses). Organiser pages: ``/admin/{slug}`` (moderation queue, counts, exports), opened once
with ``?token=...`` (then kept in an HTTP-only cookie) or with an ``Authorization: Bearer`` header.

Every POST needs the browser's cookie, its CSRF token and a free slot in the rate limit. A refusal is an
HTTP error with a one-line message (HTML for browsers, ``{"detail": ...}`` JSON for API clients), never a 500.
Forms answer with a 303 redirect; clients sending ``Accept: application/json`` get JSON instead.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
from pathlib import Path
from urllib.parse import parse_qsl

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from pluralign.elicit import comparisons as C
from pluralign.elicit.exports import EXPORTS, export_file
from pluralign.elicit.guard import RateLimiter, csrf_ok, csrf_token
from pluralign.elicit.store import ProcessInfo, Rejected, Store

ANON_COOKIE = "pl_anon"
ANON_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")  # what secrets.token_urlsafe makes
HERE = Path(__file__).parent
log = logging.getLogger("pluralign.elicit")


def create_app(store: Store, *, rate: float = 2.0, burst: int = 20) -> FastAPI:
    """The app over ``store``. rate/burst: per-participant writes per second and burst size (rate <= 0: no limit)."""
    app = FastAPI(title="pluralign elicitation", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    limiter = RateLimiter(rate, burst)
    secret = store.secret()

    async def call(fn, *args, **kwargs):
        # SQLite writes are serialised and take well under a millisecond: run them inline, avoiding a thread
        # hop per request; PostgreSQL round trips go to the thread pool so they do not block the event loop.
        if store.sqlite:
            return fn(*args, **kwargs)
        return await run_in_threadpool(fn, *args, **kwargs)

    def visitor(request: Request) -> tuple[str, bool]:
        """(anonymous id, is new)."""
        anon = request.cookies.get(ANON_COOKIE)
        if anon and ANON_RE.match(anon):
            return anon, False
        return secrets.token_urlsafe(18), True

    def page(template: str, anon: str, new: bool, status: int = 200, **context) -> HTMLResponse:
        html = env.get_template(template).render(csrf=csrf_token(secret, anon), **context)
        response = HTMLResponse(html, status_code=status)
        if new:
            response.set_cookie(ANON_COOKIE, anon, max_age=365 * 86400, httponly=True, samesite="lax")
        return response

    async def guarded_form(request: Request) -> tuple[str, dict]:
        """Check cookie, CSRF token and rate limit of a POST; returns (anonymous id, form fields)."""
        anon = request.cookies.get(ANON_COOKIE)
        if not anon or not ANON_RE.match(anon):
            raise Rejected(403, "no session cookie: load the page first (cookies must be enabled)")
        form = await read_form(request)
        if not csrf_ok(secret, anon, form.get("csrf") or request.headers.get("x-csrf-token")):
            raise Rejected(403, "invalid or missing CSRF token: reload the page and try again")
        wait = limiter.allow(anon)
        if wait:
            raise Rejected(429, f"too many requests: wait {wait:.1f} s")
        return anon, form

    def done(request: Request, location: str, **payload) -> Response:
        if wants_json(request):
            return JSONResponse({"ok": True, **payload})
        return RedirectResponse(location, status_code=303)

    async def organiser(request: Request, slug: str) -> ProcessInfo:
        process = await call(store.process, slug)
        token = request.cookies.get(organiser_cookie(slug)) or bearer(request)
        await call(store.check_token, process, token)
        return process

    # --- errors ----------------------------------------------------------------------------------------

    def error(request: Request, status: int, message: str) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": message}, status_code=status)
        anon, new = visitor(request)
        return page("error.html", anon, new, status=status, status_code=status, message=message)

    @app.exception_handler(Rejected)
    async def _rejected(request: Request, exc: Rejected):
        response = error(request, exc.status, str(exc))
        if exc.status == 429:
            response.headers["Retry-After"] = "1"
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
        anon, new = visitor(request)
        return page("index.html", anon, new, processes=await call(store.processes))

    @app.get("/c/{slug}", response_class=HTMLResponse)
    async def conversation(request: Request, slug: str):
        process = await call(store.process, slug)
        if process.kind != "conversation":
            return RedirectResponse(f"/t/{slug}", status_code=303)
        anon, new = visitor(request)
        participant = await call(store.participant, process, anon)
        statement, remaining, n_voted = await call(store.next_statement, process, participant, anon)
        return page("conversation.html", anon, new, process=process, statement=statement,
                    remaining=remaining, n_voted=n_voted, added=request.query_params.get("added"),
                    finished=request.query_params.get("finished") == "1")

    @app.post("/c/{slug}/vote")
    async def vote(request: Request, slug: str):
        anon, form = await guarded_form(request)
        process = await call(store.process, slug)
        number = int_field(form, "statement")
        participant = await call(store.participant, process, anon)
        await call(store.vote, process, participant, number, form.get("vote", ""))
        return done(request, f"/c/{slug}", statement=number)

    @app.post("/c/{slug}/statements")
    async def add_statement(request: Request, slug: str):
        anon, form = await guarded_form(request)
        process = await call(store.process, slug)
        participant = await call(store.participant, process, anon)
        number = await call(store.add_statement, process, form.get("text", ""), author=participant)
        return done(request, f"/c/{slug}?added={number}", statement=number, moderated=0)

    @app.get("/t/{slug}", response_class=HTMLResponse)
    async def comparison(request: Request, slug: str):
        process = await call(store.process, slug)
        if process.kind != "comparison":
            return RedirectResponse(f"/c/{slug}", status_code=303)
        anon, new = visitor(request)
        participant = await call(store.participant, process, anon)
        item, remaining = await call(C.next_item, store, process, participant, anon)
        return page("comparison.html", anon, new, process=process, item=item, remaining=remaining,
                    strengths=C.STRENGTHS)

    @app.post("/t/{slug}/pair")
    async def pair(request: Request, slug: str):
        anon, form = await guarded_form(request)
        process = await call(store.process, slug)
        pick = form.get("pick", "")
        if len(pick) != 2 or pick[0] not in "ab" or pick[1] not in "1234":
            raise Rejected(422, f"pick must be a1..a4 or b1..b4, got {pick!r}", field="pick")
        participant = await call(store.participant, process, anon)
        await call(C.judge_pair, store, process, participant, anon, int_field(form, "item"), pick[0], int(pick[1]))
        return done(request, f"/t/{slug}")

    @app.post("/t/{slug}/rank")
    async def rank(request: Request, slug: str):
        anon, form = await guarded_form(request)
        process = await call(store.process, slug)
        ranks = {int(k[5:]): int_field(form, k) for k in form if k.startswith("rank_") and k[5:].isdigit()}
        participant = await call(store.participant, process, anon)
        await call(C.judge_rank, store, process, participant, int_field(form, "item"), ranks)
        return done(request, f"/t/{slug}")

    # --- organisers ------------------------------------------------------------------------------------

    @app.get("/admin/{slug}", response_class=HTMLResponse)
    async def admin(request: Request, slug: str):
        token = request.query_params.get("token")
        if token:  # trade the token in the URL for a cookie, and drop it from the address bar
            await call(store.check_token, await call(store.process, slug), token)
            response = RedirectResponse(f"/admin/{slug}", status_code=303)
            response.set_cookie(organiser_cookie(slug), token, httponly=True, samesite="strict",
                                path=f"/admin/{slug}")
            return response
        process = await organiser(request, slug)
        anon, new = visitor(request)
        queue = await call(store.statements, process, 0) if process.kind == "conversation" else []
        stats = await call(store.counts, process)
        return page("admin.html", anon, new, process=process, queue=queue, stats=stats,
                    exports=[name for name, kinds in EXPORTS.items() if process.kind in kinds])

    @app.post("/admin/{slug}/moderate")
    async def moderate(request: Request, slug: str):
        process = await organiser(request, slug)
        _, form = await guarded_form(request)
        action = form.get("action")
        if action not in ("accept", "reject"):
            raise Rejected(422, f"action must be accept or reject, got {action!r}", field="action")
        await call(store.moderate, process, int_field(form, "statement"), action == "accept")
        return done(request, f"/admin/{slug}")

    @app.post("/admin/{slug}/statements")
    async def seed(request: Request, slug: str):
        process = await organiser(request, slug)
        _, form = await guarded_form(request)
        number = await call(store.add_statement, process, form.get("text", ""), moderated=1)
        return done(request, f"/admin/{slug}", statement=number)

    @app.get("/admin/{slug}/export/{name}")
    async def export(request: Request, slug: str, name: str):
        process = await organiser(request, slug)
        path = await run_in_threadpool(export_file, store, process, name)
        media = "text/csv" if name.endswith(".csv") else "application/x-ndjson"
        return FileResponse(path, media_type=media, filename=name,
                            background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True))

    return app


async def read_form(request: Request) -> dict:
    """The fields of a POSTed form. URL-encoded bodies (what our forms send) are parsed with the standard
    library, several times faster than the general multipart parser, which handles the rest."""
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
    value = form.get(name)
    if value is None:
        raise Rejected(422, f"field {name!r} is missing", field=name)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Rejected(422, f"field {name!r} must be an integer, got {value!r}", field=name) from None
    if not 0 <= number < 2**31:  # ids and ranks: larger values cannot name anything (and overflow SQL integers)
        raise Rejected(422, f"field {name!r} is out of range: {number}", field=name)
    return number

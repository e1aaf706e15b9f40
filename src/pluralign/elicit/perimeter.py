"""Checks every request passes before it reaches a route: body size, origin of writes, security headers.

Pure ASGI middleware, so a refused body is never read into memory and a refusal costs no parsing:

- ``BodyLimit``: a request whose ``Content-Length`` is over the cap gets 413 at once; a body without a
  length (chunked) is counted as it streams in and refused when it passes the cap.
- ``SameOrigin``: a POST/PUT/PATCH/DELETE that carries an ``Origin`` header naming another site (or
  ``null``) is refused with 403 (the OWASP CSRF cheat sheet's "verifying origin with standard headers"); the
  CSRF token stays the main defence, as clients without the header still need it. The own site is the
  request's scheme and ``Host``, plus any ``origins`` the deployer names (the public address of a reverse
  proxy that rewrites ``Host``).
- ``SecurityHeaders``: ``X-Frame-Options: DENY`` and ``Content-Security-Policy`` (no framing, scripts and
  styles from this site only; the pages have no inline script), ``nosniff``, a same-origin referrer.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = [(b"x-frame-options", b"DENY"), (b"content-security-policy", CSP.encode()),
           (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


async def refuse(send: Send, status: int, message: str) -> None:
    """A plain JSON refusal sent before any route ran."""
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), *HEADERS]})
    await send({"type": "http.response.body", "body": body})


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413 before reading them."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = header(scope, b"content-length")
        message = f"request body too large: at most {self.max_bytes:,} bytes"
        if length is not None and (not length.isascii() or not length.isdigit() or int(length) > self.max_bytes):
            return await refuse(send, 413, message)
        received = 0

        async def counted() -> Message:
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, message)
            return event

        await self.app(scope, counted, send)


class SameOrigin:
    """Refuse state-changing requests whose ``Origin`` is not this server's own or one of ``origins``."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...] = ()):
        self.app, self.origins = app, {o.rstrip("/") for o in origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS:
            origin = header(scope, b"origin")
            own = f"{scope.get('scheme', 'http')}://{header(scope, b'host')}"
            if origin is not None and origin != own and origin not in self.origins:
                return await refuse(send, 403, f"cross-origin request refused (Origin {origin[:80]!r}, "
                                               f"this site is {own[:80]!r})")
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Add the security headers to every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(event: Message) -> None:
            if event["type"] == "http.response.start":
                present = {k.lower() for k, _ in event.get("headers", [])}
                event["headers"] = list(event.get("headers", [])) + [h for h in HEADERS if h[0] not in present]
            await send(event)

        await self.app(scope, receive, with_headers)

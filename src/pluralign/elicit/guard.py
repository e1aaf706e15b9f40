"""Guards on every write: signed browser ids, CSRF tokens and rate limits.

Browser ids: the server issues each browser a random id and signs it (``id.HMAC``) in the ``pl_anon`` cookie,
so a client cannot pick its own id: a cookie that does not verify is replaced by a fresh one. Issuing an id
stores nothing; a participant row is written only with the browser's first accepted write.

CSRF: forms carry ``HMAC(server secret, id)``. A forged cross-site form cannot know the token (it cannot read
our pages), so a POST whose token does not match its cookie is refused. The secret lives in the database, so
ids and tokens stay valid across restarts and are shared by workers.

Rate limits: token buckets in memory per server process, one per browser id and one per client address, so
fresh ids from one address share that address's bucket. Both hold at most ``max_keys`` buckets.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time

ID_RE = re.compile(r"^([A-Za-z0-9_-]{22})\.([0-9a-f]{32})$")


def _mac(secret: bytes, purpose: str, anon_id: str) -> str:
    return hmac.new(secret, f"{purpose}:{anon_id}".encode(), hashlib.sha256).hexdigest()[:32]


def new_browser_cookie(secret: bytes) -> tuple[str, str]:
    """(browser id, signed cookie value) for a browser seen for the first time."""
    anon_id = secrets.token_urlsafe(16)
    return anon_id, f"{anon_id}.{_mac(secret, 'id', anon_id)}"


def browser_id(secret: bytes, cookie: str | None) -> str | None:
    """The browser id a cookie value carries, or None when it is absent, malformed or not signed by us."""
    match = ID_RE.match(cookie or "")
    if match and hmac.compare_digest(_mac(secret, "id", match[1]), match[2]):
        return match[1]
    return None


def csrf_token(secret: bytes, anon_id: str) -> str:
    """The CSRF token of a browser (32 hex characters)."""
    return _mac(secret, "csrf", anon_id)


def csrf_ok(secret: bytes, anon_id: str, token: str | None) -> bool:
    # compare_digest refuses non-ASCII str: compare bytes, so any text a client sends is just a wrong token
    return bool(token) and hmac.compare_digest(csrf_token(secret, anon_id).encode(),
                                               token.encode("utf-8", "surrogatepass"))


class RateLimiter:
    """Token buckets by key: ``allow(key)`` spends one token or says how long to wait.

    rate: tokens per second (<= 0 disables the limit); burst: bucket size; max_keys: buckets kept (beyond it,
    full buckets are dropped first, then the least recently used).
    """

    def __init__(self, rate: float = 2.0, burst: int = 20, max_keys: int = 100_000):
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, key: str) -> float:
        """0.0 when allowed (a token is spent), else the seconds until the next token."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))  # re-inserted: most recent last
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if len(self._buckets) >= self.max_keys:
                self._evict(now)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0

    def _evict(self, now: float) -> None:
        """Drop buckets that have refilled (they hold no state worth keeping), else the oldest half."""
        refill = self.burst / self.rate
        kept = {k: v for k, v in self._buckets.items() if now - v[1] < refill}
        if len(kept) >= self.max_keys:
            kept = dict(list(kept.items())[len(kept) // 2:])
        self._buckets = kept

"""Guards on every write: CSRF tokens and a per-participant rate limit.

CSRF: each browser has an anonymous id in a cookie; its forms carry ``HMAC(server secret, anonymous id)``.
A forged cross-site form cannot know the token (it cannot read our pages), so a POST whose token does not
match its cookie is refused. The secret lives in the database, so tokens stay valid across restarts.

Rate limit: a token bucket per anonymous id, in memory per server process: ``rate`` writes per second on
average, bursts up to ``burst``. It bounds one browser's writes; a fresh browser id needs a page view first.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time


def csrf_token(secret: bytes, anon_id: str) -> str:
    """The CSRF token of a browser (32 hex characters)."""
    return hmac.new(secret, anon_id.encode(), hashlib.sha256).hexdigest()[:32]


def csrf_ok(secret: bytes, anon_id: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(csrf_token(secret, anon_id), token)


class RateLimiter:
    """Token buckets keyed by participant: ``allow(key)`` spends one token or says how long to wait.

    rate: tokens per second (<= 0 disables the limit); burst: bucket size.
    """

    def __init__(self, rate: float = 2.0, burst: int = 20, max_keys: int = 100_000):
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> float:
        """0.0 when allowed (a token is spent), else the seconds until the next token."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) / self.rate
            if len(self._buckets) >= self.max_keys and key not in self._buckets:
                self._forget_full_buckets(now)
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0

    def _forget_full_buckets(self, now: float) -> None:
        """Drop buckets that have refilled completely (they hold no state worth keeping)."""
        refill = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill}

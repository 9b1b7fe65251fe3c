"""Okta-style per-minute rate limit with the X-Rate-Limit-* headers on every answer."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateDecision:
    """Whether the request may go on, and the headers Okta sends either way."""

    allowed: bool
    limit: int
    remaining: int
    reset: int  # epoch seconds when the window starts over

    def headers(self) -> dict[str, str]:
        """Return Okta's rate-limit headers."""
        return {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(self.remaining),
            "X-Rate-Limit-Reset": str(self.reset),
        }


class RateLimiter:
    """A fixed one-minute window counter for one bucket (here: /api/v1/apps*)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._window_start = 0
        self._count = 0

    def check(self, limit: int, consume: bool = True) -> RateDecision:
        """Count one request against limit (unless consume is False) and decide."""
        now = int(time.time())
        with self._lock:
            if now >= self._window_start + WINDOW_SECONDS:
                self._window_start, self._count = now, 0
            allowed = self._count < limit
            if allowed and consume:
                self._count += 1
            return RateDecision(allowed, limit, max(limit - self._count, 0), self._window_start + WINDOW_SECONDS)

    def exhausted(self, limit: int) -> RateDecision:
        """Return a refusal with the current window's headers (for the injected 429)."""
        decision = self.check(limit, consume=False)
        return RateDecision(False, limit, 0, decision.reset)

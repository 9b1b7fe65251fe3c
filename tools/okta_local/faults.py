"""Fault injection for tests, switchable on a running server through POST /_local/faults."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

KEYS_FAULTS = ("fail", "hang", "slow")
APPS_FAULTS = (429, 500)
TOKEN_FAULTS: tuple[str | int, ...] = ("fail", "slow", "hang", 429)
DPOP_NONCE_FAULTS = ("always",)
MAX_DELAY_SECONDS = 120.0
KEYS_LOG_SIZE = 1000


class FaultSpecError(ValueError):
    """The fault settings sent to the control API are not valid."""


@dataclass(frozen=True)
class FaultSpec:
    """What to break: keys endpoint, both token endpoints, Apps API, DPoP nonces, the Apps API rate limit."""

    keys: str | None = None
    token: str | int | None = None  # the custom (/oauth2/default/v1/token) and org (/oauth2/v1/token) endpoints
    apps: int | None = None
    delay_seconds: float = 2.0  # how long "slow" waits; "hang" waits until the fault is cleared
    apps_rate_limit: int | None = None  # None uses the limit the server was started with
    dpop_nonce: str | None = None  # "always": every org token request is first refused with a fresh nonce
    api_500_after: int | None = None  # the management API answers this many requests, then one 500 (once)

    @classmethod
    def from_json(cls, data: object) -> FaultSpec:
        """Build a spec from the control API's JSON body; absent fields mean no fault."""
        if not isinstance(data, dict):
            raise FaultSpecError("body must be a JSON object")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise FaultSpecError(f"unknown fields: {', '.join(sorted(unknown))}")
        keys, token, apps, nonce = data.get("keys"), data.get("token"), data.get("apps"), data.get("dpop_nonce")
        delay = data.get("delay_seconds", 2.0)
        limit = data.get("apps_rate_limit")
        after = data.get("api_500_after")
        if after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 0):
            raise FaultSpecError("api_500_after must be a whole number from 0, or null")
        if keys is not None and keys not in KEYS_FAULTS:
            raise FaultSpecError(f"keys must be one of {KEYS_FAULTS} or null")
        if token == "429":  # noqa: S105 (a fault name)
            token = 429  # the CLI's spelling, taken in JSON too
        if token is not None and (type(token) not in (str, int) or token not in TOKEN_FAULTS):
            raise FaultSpecError(f"token must be one of {TOKEN_FAULTS} or null")
        if nonce is not None and nonce not in DPOP_NONCE_FAULTS:
            raise FaultSpecError(f"dpop_nonce must be one of {DPOP_NONCE_FAULTS} or null")
        if apps is not None and (isinstance(apps, bool) or apps not in APPS_FAULTS):
            raise FaultSpecError(f"apps must be one of {APPS_FAULTS} or null")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= MAX_DELAY_SECONDS:
            raise FaultSpecError(f"delay_seconds must be a number from 0 to {MAX_DELAY_SECONDS:g}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise FaultSpecError("apps_rate_limit must be a positive whole number or null")
        return cls(
            keys=keys,
            token=token,
            apps=apps,
            delay_seconds=float(delay),
            apps_rate_limit=limit,
            dpop_nonce=nonce,
            api_500_after=after,
        )

    def to_json(self) -> dict[str, Any]:
        """Return the spec as the control API shows it."""
        return asdict(self)


class Faults:
    """The current fault spec; replacing it wakes any request that is hanging on the old one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spec = FaultSpec()
        self._changed = threading.Event()
        self._api_calls = 0  # management requests answered since api_500_after was set
        self._held = 0  # requests hanging now (a test waits for them instead of guessing how long to sleep)
        self._held_changed = threading.Condition(self._lock)

    @property
    def spec(self) -> FaultSpec:
        """Return the current spec."""
        with self._lock:
            return self._spec

    def set(self, spec: FaultSpec) -> None:
        """Replace the spec and release hanging requests."""
        with self._lock:
            self._spec = spec
            self._api_calls = 0
            old, self._changed = self._changed, threading.Event()
        old.set()

    def take_api_500(self) -> bool:
        """Count one management request; True for the one api_500_after says must fail (the fault then clears)."""
        with self._lock:
            after = self._spec.api_500_after
            if after is None:
                return False
            if self._api_calls < after:
                self._api_calls += 1
                return False
            self._spec = FaultSpec(**{**asdict(self._spec), "api_500_after": None})
            return True

    def release(self) -> None:
        """Release hanging requests (server shutdown)."""
        self.set(FaultSpec())

    def wait(self, seconds: float, interruptible: bool) -> None:
        """Sleep seconds; an interruptible wait ends early when the faults change."""
        if interruptible:
            with self._lock:
                changed = self._changed
                self._held += 1
                self._held_changed.notify_all()
            try:
                changed.wait(seconds)
            finally:
                with self._lock:
                    self._held -= 1
                    self._held_changed.notify_all()
        else:
            time.sleep(seconds)

    def wait_until_held(self, count: int, timeout: float) -> bool:
        """Wait until `count` requests hang (a fault holds them); False if that did not happen within timeout."""
        with self._lock:
            return self._held_changed.wait_for(lambda: self._held >= count, timeout)


class KeysLog:
    """The last KEYS_LOG_SIZE answers of the keys endpoint (GET /_local/keys-log), to see what faults did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=KEYS_LOG_SIZE)

    def add(self, received: float, status: int, fault: str | None) -> None:
        """Record one answer given now: when its request came (epoch seconds), its status, the keys fault then."""
        with self._lock:
            self._entries.append({"received": received, "answered": time.time(), "status": status, "fault": fault})

    def entries(self) -> list[dict[str, Any]]:
        """Return the recorded answers, oldest first."""
        with self._lock:
            return list(self._entries)

"""Bounded JSON GETs over https (or loopback http), and one started ahead of need. Standard library only."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

MAX_RESPONSE_BYTES = 512 * 1024
TIMEOUT_SECONDS = 3.0  # for a whole fetch: connect, answer and body


class HttpError(Exception):
    """A fetch that did not give a usable 200 answer; status is 0 where no HTTP status came back."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{reason} (status {status})")
        self.status = status


def fetch_json(url: str, timeout: float) -> Any:
    """GET a JSON document over https (or loopback http) within `timeout` seconds in all; redirects are not followed."""
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path or "/", headers={"Accept": "application/json", "User-Agent": "okta-m2m"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise HttpError(resp.status, "unexpected status")
        chunks: list[bytes] = []
        size = 0
        while chunk := resp.read1(65536):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise HttpError(200, "response too large")
            if time.monotonic() > deadline:
                raise HttpError(200, "response too slow")
            chunks.append(chunk)
        return json.loads(b"".join(chunks))
    except (OSError, http.client.HTTPException) as exc:
        raise HttpError(0, type(exc).__name__) from None
    except ValueError:
        raise HttpError(200, "not JSON") from None
    finally:
        conn.close()


class Prefetched:
    """A fetch of one URL started in a background thread (during Lambda's INIT), so it overlaps the imports.

    Call it as `fetch_json`. The first call for that URL takes the prefetched answer, waiting for it within that
    call's own timeout: a prefetch still under way is that call's fetch, and its failure the call's failure. If the
    prefetch had already failed, or its answer is older than `max_age` (INIT long before the first call, as with
    provisioned concurrency), the call fetches as it would have without it. Every other call goes to the network as
    usual. Starting never raises and never blocks.
    """

    def __init__(
        self, url: str, timeout: float, *, max_age: float = 60.0, fetch: Callable[[str, float], Any] = fetch_json
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.max_age = max_age
        self._fetch = fetch
        self._done = threading.Event()
        self._claimed = False
        self._document: Any = None
        self._error: HttpError | None = None
        self._fetched_at = float("-inf")
        try:
            threading.Thread(target=self._run, name="okta-m2m-prefetch", daemon=True).start()
        except RuntimeError:  # no thread to be had: nothing is pending, the first call fetches
            self._error = HttpError(0, "prefetch not started")
            self._done.set()

    def _run(self) -> None:
        try:
            self._document = self._fetch(self.url, self.timeout)
            self._fetched_at = time.time()  # wall clock: still right after a snapshot restore
        except HttpError as exc:
            self._error = exc
        except Exception as exc:  # a thread must not die noisily over the issuer; the first call will fetch
            self._error = HttpError(0, type(exc).__name__)
        finally:
            self._done.set()

    def __call__(self, url: str, timeout: float) -> Any:
        """The prefetched document for the first call on its URL, else a fetch of url within timeout seconds."""
        if self._claimed or url != self.url:
            return self._fetch(url, timeout)
        self._claimed = True
        settled = self._done.is_set()
        if not self._done.wait(timeout):
            raise HttpError(0, "prefetch still running")  # this call's whole budget went on waiting for it
        if self._error is None and time.time() - self._fetched_at <= self.max_age:
            return self._document
        if not settled and self._error is not None:
            raise self._error  # the fetch this call waited for failed: that was its fetch, as without a prefetch
        return self._fetch(url, timeout)

"""Okta's management API as the set-up tool calls it: one JSON call at a time, authenticated by an SSWS token or by
OAuth 2.0 for Okta with DPoP (the register function's own `OAuthForOkta`, from okta_m2m.clients).

Okta's 429 waits for `X-Rate-Limit-Reset` (at most MAX_WAIT_SECONDS a time, MAX_RATE_LIMITED_WAITS times) and
goes on; any other failure raises SetupError naming the step, the status and Okta's errorCode and errorSummary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import requests

from okta_m2m.clients import OktaAuth, okta_request, retry_after_seconds
from okta_m2m.errors import OktaM2MError
from okta_setup.errors import SetupError

MAX_WAIT_SECONDS = 60
MAX_RATE_LIMITED_WAITS = 5
MAX_PAGES = 50
CALL_BUDGET_MS = 30_000  # what each call may take (the layer turns it into connect and read timeouts)
_SUMMARY_CHARS = 200


class SswsAuth:
    """`Authorization: SSWS <token>`: the token comes from OKTA_SETUP_TOKEN, never from a flag."""

    def __init__(self, token: str) -> None:
        self._token = token

    def headers(self, method: str, url: str) -> dict[str, str]:
        """The header for every call."""
        return {"Authorization": f"SSWS {self._token}"}

    def retry_after_unauthorized(self, response: requests.Response) -> bool:
        """A refused API token stays refused."""
        return False

    def observe(self, response: requests.Response) -> None:
        """Nothing to learn from answers."""


def okta_error(response: requests.Response) -> str:
    """`errorCode: errorSummary` of an Okta error answer, on one line (or the status alone)."""
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code}"
    if not isinstance(body, dict):
        return f"{response.status_code}"
    code, summary = (
        body.get("errorCode") or body.get("error"),
        body.get("errorSummary") or body.get("error_description"),
    )
    text = " ".join(str(summary or "").split())[:_SUMMARY_CHARS]
    return f"{response.status_code} {code}: {text}" if code else f"{response.status_code}"


class OktaApi:
    """Calls one org's management API; `sleep` and `clock` are there for the rate-limit waits."""

    def __init__(
        self,
        org_url: str,
        auth: OktaAuth,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        say: Callable[[str], None] = print,
    ) -> None:
        self.org_url = org_url.rstrip("/")
        self._auth = auth
        self._session = session or requests.Session()
        self._sleep, self._clock, self._say = sleep, clock, say

    def response(self, step: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One call (path relative to the org, or an absolute URL of the org); waits out 429s; any answer back."""
        url = path if path.startswith(("http://", "https://")) else f"{self.org_url}{path}"
        if urlsplit(url).netloc != urlsplit(self.org_url).netloc:
            raise SetupError(f"{step}: refusing to send credentials to {urlsplit(url).netloc}")
        waits = 0
        unauthorized_retried = False
        while True:
            try:
                headers = {"Accept": "application/json", **self._auth.headers(method, url)}
                response = okta_request(
                    self._session, method, url, lambda: CALL_BUDGET_MS, path, headers=headers, **kwargs
                )
            except OktaM2MError as exc:
                raise SetupError(f"{step}: {exc}") from None
            self._auth.observe(response)
            if response.status_code == 401 and not unauthorized_retried:
                unauthorized_retried = True
                if self._auth.retry_after_unauthorized(response):
                    continue
            if response.status_code != 429:
                return response
            waits += 1
            if waits > MAX_RATE_LIMITED_WAITS:
                raise SetupError(f"{step}: Okta still rate-limits after {MAX_RATE_LIMITED_WAITS} waits; try later")
            delay = min(
                retry_after_seconds(response.headers.get("X-Rate-Limit-Reset"), self._clock()), MAX_WAIT_SECONDS
            )
            self._say(f"  (Okta rate limit on {step}: waiting {delay} s)")
            self._sleep(delay)

    def call(self, step: str, method: str, path: str, ok: tuple[int, ...] = (200, 201, 204), **kwargs: Any) -> Any:
        """One call that must succeed; its JSON body (None for no body)."""
        response = self.response(step, method, path, **kwargs)
        if response.status_code not in ok:
            raise SetupError(f"{step}: Okta answered {okta_error(response)}")
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise SetupError(f"{step}: Okta answered with something that is not JSON") from None

    def get_or_none(self, step: str, path: str) -> Any:
        """GET an object; None if Okta answers 404."""
        response = self.response(step, "GET", path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise SetupError(f"{step}: Okta answered {okta_error(response)}")
        return response.json()

    def pages(self, step: str, path: str, params: dict[str, str] | None = None) -> Iterator[Any]:
        """Every item of a list, following `Link: rel="next"` within the org."""
        url: str = f"{self.org_url}{path}"
        for _ in range(MAX_PAGES):
            response = self.response(step, "GET", url, params=params)
            if response.status_code != 200:
                raise SetupError(f"{step}: Okta answered {okta_error(response)}")
            body = response.json()
            yield from body if isinstance(body, list) else []
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            url, params = str(following), None
        raise SetupError(f"{step}: more than {MAX_PAGES} pages; narrow the org down")

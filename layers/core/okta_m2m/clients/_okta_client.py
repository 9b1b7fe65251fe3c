"""Okta management API client: service apps (find, read, create, deactivate, delete), their client secrets, and
authorization server access policies, authenticated by an OktaAuth (an SSWS API token, or OAuth 2.0 for Okta:
okta_m2m.clients._okta_auth)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import quote

import requests
from aws_lambda_powertools import Logger

from okta_m2m.errors import (
    OktaAuthError,
    OktaNotFoundError,
    OktaRateLimitedError,
    OktaRefusedError,
    OktaTimeoutError,
    OktaUnavailableError,
)

logger = Logger(child=True)

# Time kept back from every Okta call so the function can still log and answer before Lambda stops it.
SAFETY_MARGIN_SECONDS = 1.5
MAX_CONNECT_TIMEOUT_SECONDS = 3.0
MAX_READ_TIMEOUT_SECONDS = 8.0
# Below this there is no point starting a call (a POST we cannot wait for would leave an orphan app).
MIN_CALL_SECONDS = 0.5
# Okta's rate-limit windows are one minute long; used when X-Rate-Limit-Reset is missing or odd.
DEFAULT_RETRY_AFTER_SECONDS = 60
MAX_RETRY_AFTER_SECONDS = 3600
SEARCH_PAGE_SIZE = 200
MAX_SEARCH_PAGES = 5
# The app profile field that marks an app as made by a registration of ours (its value: that registration's id).
REGISTRATION_MARKER = "okta_m2m_registration"

RemainingMillis = Callable[[], int]
# What Okta's answers hold that its contract marks readOnly: never sent back in a PUT.
READ_ONLY_FIELDS = frozenset({"id", "created", "lastUpdated", "_links", "_embedded"})


class OktaAuth(Protocol):
    """How calls to Okta's management API are authenticated."""

    def headers(self, method: str, url: str) -> dict[str, str]:
        """The Authorization header (and a DPoP proof, where used) for one call."""

    def retry_after_unauthorized(self, response: requests.Response) -> bool:
        """After a 401 (Okta acted on nothing): renew what was refused; True if the call may be made once more."""

    def observe(self, response: requests.Response) -> None:
        """See every answer (a DPoP-Nonce header may come with any)."""


@dataclass(frozen=True)
class ServiceApp:
    """A newly created Okta service app; the secret is left out of repr so it cannot slip into a log."""

    app_id: str
    label: str
    client_id: str
    client_secret: str = field(repr=False)


def call_timeouts(remaining_ms: int) -> tuple[float, float]:
    """Return (connect, read) timeouts that end before the function's remaining time runs out."""
    budget = remaining_ms / 1000 - SAFETY_MARGIN_SECONDS
    if budget < MIN_CALL_SECONDS:
        raise OktaTimeoutError(f"only {remaining_ms} ms left, too little for an Okta call")
    return min(MAX_CONNECT_TIMEOUT_SECONDS, budget), min(MAX_READ_TIMEOUT_SECONDS, budget)


def retry_after_seconds(reset_header: str | None, now: float) -> int:
    """Turn X-Rate-Limit-Reset (epoch seconds) into a Retry-After delay in whole seconds."""
    try:
        reset = int(reset_header or "")
    except ValueError:
        return DEFAULT_RETRY_AFTER_SECONDS
    return max(1, min(MAX_RETRY_AFTER_SECONDS, reset - int(now)))


def service_app_body(label: str, registration: str | None = None, dpop: bool = False) -> dict[str, Any]:
    """Build the Okta create-app body for a client_credentials service app using client_secret_basic.

    `registration` goes into the app's profile, so that an app left behind by a crashed registration can be told
    from an app someone else made with the same label. With `dpop`, the app requires DPoP: Okta binds its tokens to
    the key of the proof its token requests carry (settings.oauthClient.dpop_bound_access_tokens)."""
    body: dict[str, Any] = {
        "name": "oidc_client",
        "label": label,
        "signOnMode": "OPENID_CONNECT",
        "credentials": {"oauthClient": {"token_endpoint_auth_method": "client_secret_basic"}},
        "settings": {
            "oauthClient": {
                "application_type": "service",
                "grant_types": ["client_credentials"],
                "response_types": ["token"],
            }
        },
    }
    if registration is not None:
        body["profile"] = {REGISTRATION_MARKER: registration}
    if dpop:
        body["settings"]["oauthClient"]["dpop_bound_access_tokens"] = True
    return body


def requires_dpop(app: dict[str, Any]) -> bool:
    """Whether an Okta app (as Okta's Apps API answers it) requires DPoP-bound tokens."""
    oauth = (app.get("settings") or {}).get("oauthClient") or {}
    return oauth.get("dpop_bound_access_tokens") is True


@lru_cache(maxsize=1)
def okta_session() -> requests.Session:
    """Create the HTTP session once per container so warm calls reuse the TLS connection to Okta."""
    return requests.Session()


def okta_request(
    session: requests.Session, method: str, url: str, remaining_ms: RemainingMillis, what: str, **kwargs: Any
) -> requests.Response:
    """One HTTP call to Okta within the invocation's remaining time; no redirects; transport failures mapped."""
    timeout = call_timeouts(remaining_ms())
    try:
        response = session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.Timeout:
        raise OktaTimeoutError(f"Okta {method} {what} timed out") from None
    except requests.RequestException as exc:
        raise OktaUnavailableError(f"Okta {method} {what} failed: {type(exc).__name__}") from None
    logger.debug(
        "Okta answered",
        method=method,
        what=what,
        status=response.status_code,
        okta_request_id=response.headers.get("X-Okta-Request-Id"),
    )
    return response


def raise_for_status(response: requests.Response, method: str, what: str, error: str) -> None:
    """Map an answer that is not 2xx to a domain error: 429 with its Retry-After, 5xx unavailable, others refused.

    `error` is a short, fixed identifier from the body (an errorCode, an OAuth error), never free text."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if status in (401, 403):
        raise OktaAuthError(f"Okta refused {method} {what}: {status} ({error})")
    if status == 404:
        raise OktaNotFoundError(f"Okta {method} {what}: not found ({error})")
    if status == 400:
        raise OktaRefusedError(f"Okta refused {method} {what}: 400 ({error})", error)
    if status == 429:
        raise OktaRateLimitedError(retry_after_seconds(response.headers.get("X-Rate-Limit-Reset"), time.time()))
    raise OktaUnavailableError(f"Okta {method} {what} answered {status} ({error})")


class OktaClient:
    """Calls one Okta org's management API; every call gets timeouts from the invocation's remaining time."""

    def __init__(
        self, org_url: str, remaining_ms: RemainingMillis, auth: OktaAuth, session: requests.Session | None = None
    ) -> None:
        """Bind the client to an org URL (no trailing slash), the invocation's clock and how calls authenticate."""
        self._org_url = org_url
        self._apps_url = f"{org_url}/api/v1/apps"
        self._remaining_ms = remaining_ms
        self._auth = auth
        self._session = session or okta_session()

    def find_apps(self, label: str) -> list[dict[str, Any]]:
        """Every app (any status) whose label is exactly label.

        Okta's ``q`` search matches name or label by prefix, so results are filtered for an exact,
        case-sensitive label here, following ``Link: rel="next"`` for up to MAX_SEARCH_PAGES pages.
        """
        url = self._apps_url
        params: dict[str, str] | None = {"q": label, "limit": str(SEARCH_PAGE_SIZE)}
        found: list[dict[str, Any]] = []
        for _ in range(MAX_SEARCH_PAGES):
            response = self._call("GET", url, "/api/v1/apps", params=params)
            apps = self._json(response)
            if not isinstance(apps, list):
                raise OktaUnavailableError("Okta app search did not answer a list")
            found += [app for app in apps if isinstance(app, dict) and app.get("label") == label]
            next_url = self._next_page(response)
            if next_url is None:
                return found
            url, params = next_url, None  # the next link carries the query
        # Fail closed: with more matches than we can page through, one we look for may be left unread.
        raise OktaUnavailableError("too many apps match the label prefix to read them all")

    def get_app(self, app_id: str) -> dict[str, Any]:
        """The app as Okta holds it (OktaNotFoundError if there is none)."""
        body = self._json(self._call("GET", self._app_url(app_id), "app"))
        if not isinstance(body, dict):
            raise OktaUnavailableError("Okta answered the app with something that is not an object")
        return body

    def create_service_app(self, label: str, registration: str | None = None, dpop: bool = False) -> ServiceApp:
        """Create an active client_credentials service app (requiring DPoP, if `dpop`); its id and credentials."""
        body = service_app_body(label, registration, dpop)
        response = self._call("POST", self._apps_url, "/api/v1/apps", json=body)
        body = self._json(response)
        try:
            client = body["credentials"]["oauthClient"]
            app = ServiceApp(
                app_id=_text(body["id"]),
                label=_text(body["label"]),
                client_id=_text(client["client_id"]),
                client_secret=_text(client["client_secret"]),
            )
        except (KeyError, TypeError, ValueError):
            # The app may exist now without us holding its secret; the id (if any) lets an operator clean up.
            app_id = body.get("id") if isinstance(body, dict) else None
            logger.error("Okta created-app answer is incomplete", okta_app_id=str(app_id) if app_id else None)
            raise OktaUnavailableError("Okta answered the app creation without usable credentials") from None
        return app

    def deactivate_app(self, app_id: str) -> None:
        """Deactivate an app (its credentials stop working); Okta deletes only inactive apps."""
        self._call("POST", f"{self._app_url(app_id)}/lifecycle/deactivate", "app deactivate")

    def delete_app(self, app_id: str) -> None:
        """Delete an inactive app."""
        self._call("DELETE", self._app_url(app_id), "app delete")

    def list_secrets(self, app_id: str) -> list[dict[str, Any]]:
        """The app's client secrets (id, status, created; the values are never used)."""
        body = self._json(self._call("GET", self._secrets_url(app_id), "client secrets"))
        if not isinstance(body, list) or not all(isinstance(s, dict) and isinstance(s.get("id"), str) for s in body):
            raise OktaUnavailableError("Okta answered the client secrets with something that is not a list of them")
        return body

    def create_secret(self, app_id: str) -> dict[str, Any]:
        """A new, active client secret made by Okta; the answer holds its value, once."""
        body = self._json(self._call("POST", self._secrets_url(app_id), "client secret create", json={}))
        if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body.get("client_secret"):
            logger.error("Okta created-secret answer is incomplete", okta_app_id=app_id)
            raise OktaUnavailableError("Okta answered the secret creation without a usable secret")
        return body

    def deactivate_secret(self, app_id: str, secret_id: str) -> None:
        """Deactivate one client secret (it stops working at once); Okta deletes only inactive ones."""
        url = f"{self._secrets_url(app_id)}/{quote(secret_id, safe='')}/lifecycle/deactivate"
        self._call("POST", url, "client secret deactivate")

    def delete_secret(self, app_id: str, secret_id: str) -> None:
        """Delete an inactive client secret."""
        self._call("DELETE", f"{self._secrets_url(app_id)}/{quote(secret_id, safe='')}", "client secret delete")

    def _app_url(self, app_id: str) -> str:
        return f"{self._apps_url}/{quote(app_id, safe='')}"

    def _secrets_url(self, app_id: str) -> str:
        return f"{self._app_url(app_id)}/credentials/secrets"

    def get_policy(self, server_id: str, policy_id: str) -> dict[str, Any]:
        """An access policy of a custom authorization server, as Okta holds it."""
        body = self._json(self._call("GET", self._policy_url(server_id, policy_id), "access policy"))
        if not isinstance(body, dict):
            raise OktaUnavailableError("Okta answered the access policy with something that is not an object")
        return body

    def put_policy(self, server_id: str, policy_id: str, policy: dict[str, Any]) -> None:
        """Replace the whole access policy (Okta's policies API has no partial update). The read-only fields of what
        GET answered (id, timestamps, links) stay out: Okta's contract marks them readOnly in a request."""
        body = {k: v for k, v in policy.items() if k not in READ_ONLY_FIELDS}
        self._call("PUT", self._policy_url(server_id, policy_id), "access policy", json=body)

    def _policy_url(self, server_id: str, policy_id: str) -> str:
        server, policy = quote(server_id, safe=""), quote(policy_id, safe="")
        return f"{self._org_url}/api/v1/authorizationServers/{server}/policies/{policy}"

    def _next_page(self, response: requests.Response) -> str | None:
        url = response.links.get("next", {}).get("url")
        if not url:
            return None
        # Only follow links back to the same org's apps endpoint: credentials must never go elsewhere.
        # Any other link fails closed, since the pages left unread could hold a duplicate.
        if not url.startswith(self._apps_url + "?"):
            raise OktaUnavailableError("Okta's next-page link leaves the org's apps endpoint")
        return str(url)

    def _call(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        # A 401 means Okta acted on nothing, so one retry with renewed credentials cannot duplicate anything.
        for attempt in (1, 2):
            headers = {"Accept": "application/json", **self._auth.headers(method, url)}
            response = okta_request(self._session, method, url, self._remaining_ms, what, headers=headers, **kwargs)
            self._auth.observe(response)
            if response.status_code != 401 or attempt == 2 or not self._auth.retry_after_unauthorized(response):
                break
        # Okta's error body is never passed on or logged: only its errorCode, which is a fixed identifier.
        raise_for_status(response, method, what, _error_code(response))
        return response

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise OktaUnavailableError("Okta answered with something that is not JSON") from None


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("expected a non-empty string")
    return value


def _error_code(response: requests.Response) -> str:
    try:
        code = response.json().get("errorCode")
    except (ValueError, AttributeError):
        return "no errorCode"
    # Only a short Okta identifier like E0000011 is kept; anything else could carry free text.
    return code if isinstance(code, str) and code.isalnum() and len(code) <= 16 else "no errorCode"

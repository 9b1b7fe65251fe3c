"""Client credentials (client_secret_basic) with a token cache, and API calls that retry once on 401.

With DPoP (RFC 9449, `ClientConfig.dpop`): one P-256 key pair per client object, made when it is created and never
written anywhere; the token request carries a proof of it (and, when the issuer asks with use_dpop_nonce, once more
with the issuer's nonce), and every API call a fresh proof for its method and URL with the token's hash (ath).
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from m2m_client.config import ClientConfig
from m2m_client.errors import (
    ApiError,
    ApiUnreachableError,
    ClientConfigError,
    IssuerUnreachableError,
    TokenRequestError,
)

DEFAULT_TIMEOUT = 10.0
# Refresh this long before expiry (at most), so a token never expires between our check and the API's.
MAX_REFRESH_MARGIN = 30.0
MAX_DETAIL = 160

# Hints for the statuses users meet most; the API's own message comes before them. A 403 has many causes (a
# missing scope, a revoked client, a route API Gateway does not have), so its hint comes from what the answer says.
STATUS_HINTS = {
    401: "the API refused the token (missing, invalid or expired)",
    429: "too many requests, retry later",
    502: "the API could not reach Okta",
    503: "authorization is temporarily unavailable",
}
# API Gateway's answer for a method or resource it does not have.
NO_SUCH_ROUTE = "Missing Authentication Token"
_SCOPE_ATTRIBUTE = re.compile(r'\bscope="([^"]*)"')


@dataclass(frozen=True)
class CachedToken:
    """An access token, its scheme (Bearer or DPoP) and the monotonic time after which we stop using it."""

    value: str
    use_until: float
    scheme: str = "Bearer"


class DpopKey:
    """A client's DPoP key pair (P-256, ES256), in memory only, and the proofs it signs."""

    def __init__(self) -> None:
        self._private = ec.generate_private_key(ec.SECP256R1())
        self.jwk = {k: v for k, v in ECAlgorithm.to_jwk(self._private.public_key(), as_dict=True).items() if k != "kid"}

    def proof(self, method: str, url: str, *, access_token: str | None = None, nonce: str | None = None) -> str:
        """A fresh proof for one request: its method, its URL without query and fragment, and the token's hash."""
        parts = urlsplit(url)
        claims: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "htm": method,
            "htu": urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", "")),
            "iat": int(time.time()),
        }
        if access_token is not None:
            digest = hashlib.sha256(access_token.encode("ascii")).digest()
            claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if nonce is not None:
            claims["nonce"] = nonce
        return jwt.encode(claims, self._private, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": self.jwk})


def _asks_for_nonce(response: requests.Response) -> bool:
    """An issuer's 400 use_dpop_nonce, or a resource's 401 with a use_dpop_nonce challenge, carrying a DPoP-Nonce."""
    if not response.headers.get("DPoP-Nonce"):
        return False
    if response.status_code == 400:
        return _json_or_empty(response).get("error") == "use_dpop_nonce"
    return response.status_code == 401 and "use_dpop_nonce" in response.headers.get("WWW-Authenticate", "")


def _short(text: str) -> str:
    return " ".join(text.split())[:MAX_DETAIL]


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _reason(exc: requests.RequestException) -> str:
    # requests' own messages are long and nested; name the kind of failure instead.
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(exc, requests.ConnectionError):
        return "connection refused or host unknown"
    return type(exc).__name__


class M2MClient:
    """Gets tokens with client credentials and calls the API with them; safe to share between threads."""

    def __init__(
        self,
        config: ClientConfig,
        session: requests.Session | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.session = session or requests.Session()
        self.timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: CachedToken | None = None
        self.tokens_fetched = 0
        self.dpop_key = DpopKey() if config.dpop else None
        self._issuer_nonce: str | None = None  # the last DPoP-Nonce the issuer gave
        self._api_nonce: str | None = None  # the last DPoP-Nonce the API gave, if it asks for any

    def token(self, *, fresh: bool = False) -> str:
        """Return a cached access token, or fetch one if none is cached, it is about to expire, or fresh is set."""
        return self._token(fresh=fresh).value

    def _token(self, *, fresh: bool = False) -> CachedToken:
        with self._lock:
            cached = self._cached
            if fresh or cached is None or self._clock() >= cached.use_until:
                cached = self._fetch_token()
                self._cached = cached
            return cached

    def _fetch_token(self) -> CachedToken:
        started = self._clock()
        response = self._token_request()
        if self.dpop_key is not None and _asks_for_nonce(response):
            self._issuer_nonce = response.headers["DPoP-Nonce"]
            response = self._token_request()  # once more, with a fresh proof carrying the issuer's nonce
        body = _json_or_empty(response)
        if response.status_code != 200:
            raise TokenRequestError(self._token_refusal(response.status_code, body))
        self._issuer_nonce = response.headers.get("DPoP-Nonce") or self._issuer_nonce
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int | float) or expires_in <= 0:
            raise TokenRequestError("the issuer's token response has no usable access_token and expires_in")
        scheme = "DPoP" if self.dpop_key is not None else "Bearer"
        if str(body.get("token_type", "Bearer")).lower() != scheme.lower():
            raise TokenRequestError(f"the issuer returned a token that is not a {scheme} token")
        self.tokens_fetched += 1
        return CachedToken(token, started + expires_in - min(MAX_REFRESH_MARGIN, expires_in / 10), scheme)

    def _token_request(self) -> requests.Response:
        data = {"grant_type": "client_credentials"}
        if self.config.scope:
            data["scope"] = self.config.scope
        headers = {"Accept": "application/json"}
        if self.dpop_key is not None:
            headers["DPoP"] = self.dpop_key.proof("POST", self.config.token_url, nonce=self._issuer_nonce)
        try:
            return self.session.post(
                self.config.token_url,
                data=data,
                auth=(self.config.client_id, self.config.client_secret),
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            reason = _reason(exc)
            raise IssuerUnreachableError(f"cannot reach the issuer at {self.config.token_url}: {reason}") from None

    def _token_refusal(self, status: int, body: dict[str, Any]) -> str:
        error = str(body.get("error") or "")
        detail = _short(str(body.get("error_description") or ""))
        if error == "invalid_client" or status == 401:
            what = f"the issuer refused the client credentials of {self.config.client_id}"
        elif error == "invalid_scope":
            what = f"the issuer refused the scope {self.config.scope!r}"
        elif error == "access_denied":
            # Okta's answer when no access policy rule grants this client what it asked for.
            asked = f"the scope {self.config.scope!r}" if self.config.scope else "its default scopes"
            what = f"the issuer's access policies do not grant {self.config.client_id} {asked}"
        else:
            what = f"the issuer answered {status} to the token request"
        return f"{what} ({error or status}{': ' + detail if detail else ''})"

    def url(self, route: str) -> str:
        """Join API_URL and a route such as /hello."""
        if not self.config.api_url:
            raise ClientConfigError("missing API_URL: set it in the environment or a .env file")
        return f"{self.config.api_url}/{route.lstrip('/')}"

    def request(self, method: str, route: str, json: Any = None) -> requests.Response:
        """Call the API with the token (and, with DPoP, a fresh proof); on 401 fetch a fresh token and try once more
        (with DPoP, first once more with the API's nonce if it asked for one). Returns any status."""
        response = self._send(method, route, self._token(), json)
        if response.status_code == 401 and self.dpop_key is not None and _asks_for_nonce(response):
            self._api_nonce = response.headers["DPoP-Nonce"]
            response = self._send(method, route, self._token(), json)
        if response.status_code == 401:
            response = self._send(method, route, self._token(fresh=True), json)
        return response

    def headers(self, method: str, url: str, token: CachedToken) -> dict[str, str]:
        """The headers that authorize one call: `Authorization: Bearer`, or `DPoP` with a fresh proof for it."""
        if self.dpop_key is None:
            return {"Authorization": f"Bearer {token.value}"}
        proof = self.dpop_key.proof(method, url, access_token=token.value, nonce=self._api_nonce)
        return {"Authorization": f"DPoP {token.value}", "DPoP": proof}

    def _send(self, method: str, route: str, token: CachedToken, json: Any) -> requests.Response:
        url = self.url(route)
        try:
            return self.session.request(
                method, url, json=json, headers=self.headers(method, url, token), timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise ApiUnreachableError(f"cannot reach the API at {url}: {_reason(exc)}") from None

    def call(self, method: str, route: str, json: Any = None) -> Any:
        """Call the API and return its JSON body; raise ApiError with a one-line reason on any error status."""
        response = self.request(method, route, json)
        if response.status_code >= 400:
            raise ApiError(describe_failure(method, route, response), response.status_code)
        try:
            return response.json()
        except ValueError:
            return response.text

    def register(self, label: str, *, dpop: bool = False) -> dict[str, Any]:
        """Ask POST /register for a new client app (one that must use DPoP, if `dpop`); the result holds its
        credentials, shown only this once."""
        result = self.call("POST", "/register", {"label": label, **({"dpop": True} if dpop else {})})
        if not isinstance(result, dict) or "client_id" not in result:
            raise ApiError("POST /register answered without client credentials", 200)
        return result

    def list_clients(self, limit: int | None = None, next_token: str | None = None) -> dict[str, Any]:
        """One page of GET /clients: {"clients": [...], "next": token or None}."""
        params = {name: value for name, value in (("limit", limit), ("next", next_token)) if value is not None}
        route = "/clients" + (f"?{urlencode(params)}" if params else "")
        page = self.call("GET", route)
        if not isinstance(page, dict) or not isinstance(page.get("clients"), list):
            raise ApiError("GET /clients answered without a list of clients", 200)
        return page

    def all_clients(self) -> Iterator[dict[str, Any]]:
        """Every registered client, page after page."""
        next_token: str | None = None
        while True:
            page = self.list_clients(next_token=next_token)
            yield from page["clients"]
            next_token = page.get("next")
            if not next_token:
                return

    def client_call(self, method: str, client_id: str, *rest: str) -> Any:
        """Call /clients/{clientId}[/...] with each path segment escaped."""
        return self.call(method, "/".join(["/clients", *(quote(part, safe="") for part in (client_id, *rest))]))


def _hint(status: int, message: str, challenge: str) -> str | None:
    if status != 403:
        return STATUS_HINTS.get(status)
    if "insufficient_scope" in challenge:
        needed = _SCOPE_ATTRIBUTE.search(challenge)
        return "the token has no scope that opens this route" + (f"; any of: {needed[1]}" if needed else "")
    if message == NO_SUCH_ROUTE:
        return "the API has no such route or method"
    return None  # the API's message says what happened (a revoked client, say)


def describe_failure(method: str, route: str, response: requests.Response) -> str:
    """One line for an error answer: status, the API's short message, and a hint from what it said (its
    WWW-Authenticate challenge, never other headers)."""
    status = response.status_code
    message = _short(str(_json_or_empty(response).get("message") or response.reason or ""))
    line = f"{method} /{route.lstrip('/')} answered {status}"
    if message:
        line += f": {message}"
    if hint := _hint(status, message, _short(response.headers.get("WWW-Authenticate", ""))):
        line += f" ({hint})"
    return line

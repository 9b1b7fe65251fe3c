"""How the register function authenticates to Okta's management API.

- `SswsAuth`: an SSWS API token from Secrets Manager (it acts with every right of the admin who made it).
- `OAuthForOkta`: OAuth 2.0 for Okta, Okta's recommendation. The function is a service app: it gets an access token
  from the org authorization server by client credentials with `private_key_jwt` (its private JWK is the secret),
  for the `okta.*` scopes it uses only, bound by DPoP (RFC 9449) to a key pair of the container's own.

No private key, assertion, DPoP proof or access token ever reaches a log line or an answer.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import jwt
import requests
from aws_lambda_powertools import Logger
from cryptography.hazmat.primitives.asymmetric import ec

from okta_m2m.clients._okta_client import RemainingMillis, okta_request, okta_session, raise_for_status
from okta_m2m.clients._secrets import okta_api_token, okta_private_jwk
from okta_m2m.clients._settings import RegisterSettings
from okta_m2m.errors import OktaAuthError, OktaUnavailableError

logger = Logger(child=True)

# What the register function does in Okta, and nothing more: create and remove apps, enrol them in a policy.
APPS_SCOPE = "okta.apps.manage"
POLICIES_SCOPE = "okta.authorizationServers.manage"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 60
# A cached access token is used until this long before it expires, so that no call carries one about to lapse.
EXPIRY_MARGIN_SECONDS = 60
MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600


class SswsAuth:
    """`Authorization: SSWS <token>`; after a 401, the secret is read again (it may have been rotated)."""

    def __init__(self, secret_id: str) -> None:
        self._secret_id = secret_id
        self._token: str | None = None  # read on the first call (cached per container by okta_m2m.clients._secrets)

    def headers(self, method: str, url: str) -> dict[str, str]:
        if self._token is None:
            self._token = okta_api_token(self._secret_id)
        return {"Authorization": f"SSWS {self._token}"}

    def retry_after_unauthorized(self, response: requests.Response) -> bool:
        fresh = okta_api_token(self._secret_id, refresh=True)
        if fresh == self._token:
            raise OktaAuthError("Okta refused the API token and the secret still holds the same one")
        logger.info("Okta refused the cached API token; retrying once with the re-read secret")
        self._token = fresh
        return True

    def observe(self, response: requests.Response) -> None:
        """Nothing to learn from answers."""


class _Token(NamedTuple):
    value: str
    kind: str  # "DPoP" or "Bearer"
    expires_at: float


# Per container: access tokens by (token URL, client id, DPoP or not), and the latest DPoP nonce by server.
_TOKENS: dict[tuple[str, str, bool, str], _Token] = {}
_NONCES: dict[str, str] = {}
_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def dpop_key() -> ec.EllipticCurvePrivateKey:
    """The container's DPoP key pair (P-256, ES256), made once and kept for the container's life."""
    return ec.generate_private_key(ec.SECP256R1())


@lru_cache(maxsize=1)
def _dpop_public_jwk() -> dict[str, Any]:
    return dict(jwt.algorithms.ECAlgorithm.to_jwk(dpop_key().public_key(), as_dict=True))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _without_query(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def dpop_proof(method: str, url: str, *, access_token: str | None = None, nonce: str | None = None) -> str:
    """A fresh DPoP proof for one request: `htm`, `htu` without query, `iat`, a unique `jti`, `ath` on API calls."""
    claims: dict[str, Any] = {
        "htm": method,
        "htu": _without_query(url),
        "iat": int(time.time()),
        "jti": str(uuid.uuid4()),
    }
    if access_token is not None:
        claims["ath"] = _b64url(hashlib.sha256(access_token.encode("ascii")).digest())
    if nonce is not None:
        claims["nonce"] = nonce
    return jwt.encode(claims, dpop_key(), algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": _dpop_public_jwk()})


def _oauth_error(response: requests.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return "no error code"
    # RFC 6749 error codes are short ASCII identifiers; anything else could carry free text.
    return (
        error if isinstance(error, str) and len(error) <= 40 and error.replace("_", "").isalnum() else "no error code"
    )


PrivateJwk = Callable[[bool], dict[str, str]]  # the service app's private JWK; True: read it again, skipping caches


def secret_private_jwk(secret_id: str) -> PrivateJwk:
    """The service app's private JWK as the register function keeps it: in a Secrets Manager secret."""
    return lambda refresh: okta_private_jwk(secret_id, refresh=refresh)


class OAuthForOkta:
    """Access tokens from `{org}/oauth2/v1/token` for the okta.* scopes, cached per container until shortly before
    they expire; DPoP proofs on every request, with one retry carrying the nonce when Okta asks for one.

    `private_jwk` gives the service app's private key: from its secret for the register function, from a file for
    the setup tool (okta_setup)."""

    def __init__(
        self,
        org_url: str,
        client_id: str,
        private_jwk: PrivateJwk,
        remaining_ms: RemainingMillis,
        *,
        scopes: tuple[str, ...] = (APPS_SCOPE, POLICIES_SCOPE),
        dpop: bool = True,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._token_url = f"{org_url}/oauth2/v1/token"
        self._scopes = " ".join(scopes)
        self._api = org_url
        self._client_id = client_id
        self._private_jwk = private_jwk
        self._remaining_ms = remaining_ms
        self._dpop = dpop
        self._session = session or okta_session()
        self._clock = clock
        self._key = (self._token_url, client_id, dpop, self._scopes)

    def headers(self, method: str, url: str) -> dict[str, str]:
        token = self._token()
        if token.kind != "DPoP":
            return {"Authorization": f"Bearer {token.value}"}
        proof = dpop_proof(method, url, access_token=token.value, nonce=_NONCES.get(self._api))
        return {"Authorization": f"DPoP {token.value}", "DPoP": proof}

    def retry_after_unauthorized(self, response: requests.Response) -> bool:
        challenge = response.headers.get("WWW-Authenticate", "")
        if "use_dpop_nonce" in challenge and response.headers.get("DPoP-Nonce"):
            return True  # observe() kept the nonce; the same token is fine
        with _LOCK:
            _TOKENS.pop(self._key, None)  # revoked, or expired early: fetch another once
        return True

    def observe(self, response: requests.Response) -> None:
        nonce = response.headers.get("DPoP-Nonce")
        if nonce and self._dpop:
            _NONCES[self._api] = nonce

    def _token(self) -> _Token:
        with _LOCK:
            cached = _TOKENS.get(self._key)
        if cached is not None and self._clock() < cached.expires_at - EXPIRY_MARGIN_SECONDS:
            return cached
        token = self._fetch()
        with _LOCK:
            _TOKENS[self._key] = token
        return token

    def _fetch(self) -> _Token:
        jwk = self._private_jwk(False)
        response = self._token_request(jwk)
        if response.status_code == 400 and _oauth_error(response) == "use_dpop_nonce" and self._dpop:
            response = self._token_request(jwk)  # observe() kept the nonce; a fresh assertion and proof
        elif response.status_code == 401 and _oauth_error(response) == "invalid_client":
            fresh = self._private_jwk(True)
            if fresh != jwk:  # the key was rotated in the secret since this container read it
                logger.info("Okta refused the service app's key; retrying once with the re-read secret")
                response = self._token_request(fresh)
        if (
            response.status_code == 400
        ):  # invalid_scope (a grant missing), invalid_dpop_proof...: our set-up, not Okta's
            raise OktaAuthError(f"Okta refused the service app's token request: 400 ({_oauth_error(response)})")
        raise_for_status(response, "POST", "/oauth2/v1/token", _oauth_error(response))
        return self._parse(response)

    def _token_request(self, jwk: dict[str, str]) -> requests.Response:
        form = {
            "grant_type": "client_credentials",
            "scope": self._scopes,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": self._assertion(jwk),
        }
        headers = {"Accept": "application/json"}
        if self._dpop:
            headers["DPoP"] = dpop_proof("POST", self._token_url, nonce=_NONCES.get(self._token_url))
        response = okta_request(
            self._session, "POST", self._token_url, self._remaining_ms, "/oauth2/v1/token", data=form, headers=headers
        )
        nonce = response.headers.get("DPoP-Nonce")
        if nonce and self._dpop:
            _NONCES[self._token_url] = nonce
        return response

    def _assertion(self, jwk: dict[str, str]) -> str:
        """The client assertion (RFC 7523): iss = sub = client id, aud = the token URL, short-lived, unique jti."""
        try:
            key = jwt.PyJWK(jwk)
        except jwt.PyJWKError:
            raise OktaAuthError("the secret's private JWK cannot sign (unsupported key)") from None
        now = int(self._clock())
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": self._token_url,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, key.key, algorithm=key.algorithm_name, headers={"kid": jwk["kid"]})

    def _parse(self, response: requests.Response) -> _Token:
        try:
            body = response.json()
            value, kind, lifetime = body["access_token"], body["token_type"], body["expires_in"]
        except (ValueError, KeyError, TypeError):
            raise OktaUnavailableError("Okta's token answer has no access_token, token_type and expires_in") from None
        if not (isinstance(value, str) and value and kind in ("DPoP", "Bearer") and isinstance(lifetime, int)):
            raise OktaUnavailableError("Okta's token answer is not usable")
        if self._dpop and kind != "DPoP":
            logger.warning("Okta issued a Bearer token although a DPoP proof was sent: the app does not require DPoP")
        logger.info("Okta access token fetched", token_type=kind, expires_in=lifetime, scopes=self._scopes)
        return _Token(value, kind, self._clock() + max(0, min(lifetime, MAX_TOKEN_LIFETIME_SECONDS)))


def okta_auth(settings: RegisterSettings, remaining_ms: RemainingMillis) -> SswsAuth | OAuthForOkta:
    """How this invocation authenticates to Okta, by OKTA_AUTH_MODE."""
    if settings.auth_mode == "ssws":
        return SswsAuth(settings.api_token_secret)
    # The policies scope only where new clients are enrolled: without it, the token cannot touch a policy.
    scopes = (APPS_SCOPE, POLICIES_SCOPE) if settings.access_policy_id else (APPS_SCOPE,)
    return OAuthForOkta(
        settings.okta_org_url,
        settings.client_id,
        secret_private_jwk(settings.api_token_secret),
        remaining_ms,
        scopes=scopes,
        dpop=settings.dpop,
    )

"""Helpers for the okta_local tests: a server per module, an independent JWT check, app request bodies,
and client assertions and DPoP proofs minted with pyjwt and cryptography (not with okta_local's code)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from okta_local.testing import LocalOkta

TIMEOUT = 10


@pytest.fixture(scope="module")
def okta(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOkta]:
    """One server for the module, with a limit high enough that only the rate-limit tests reach it."""
    with LocalOkta(tmp_path_factory.mktemp("okta_local"), apps_rate_limit=10_000) as server:
        yield server


@pytest.fixture
def clean_faults(okta: LocalOkta) -> Iterator[LocalOkta]:
    """The module server, with every fault cleared after the test."""
    yield okta
    okta.clear_faults()


def ssws(okta: LocalOkta, token: str | None = None) -> dict[str, str]:
    """Return the Apps API headers."""
    return {"Authorization": f"SSWS {token or okta.api_token}", "Accept": "application/json"}


def service_app(label: str = "svc", auth_method: str = "client_secret_basic") -> dict[str, Any]:
    """Return the body Okta documents for a client-credentials service app."""
    return {
        "name": "oidc_client",
        "label": label,
        "signOnMode": "OPENID_CONNECT",
        "credentials": {"oauthClient": {"token_endpoint_auth_method": auth_method}},
        "settings": {
            "oauthClient": {
                "application_type": "service",
                "grant_types": ["client_credentials"],
                "response_types": ["token"],
            }
        },
    }


def request_token(okta: LocalOkta, client_id: str, secret: str, scope: str | None = "hello") -> requests.Response:
    """POST a client_credentials request with client_secret_basic."""
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    return requests.post(okta.token_url, data=data, auth=(client_id, secret), timeout=TIMEOUT)


def verify(okta: LocalOkta, token: str) -> dict[str, Any]:
    """Verify a token the way an independent resource server would: discovery, JWKS, RS256, iss, aud, exp."""
    meta = requests.get(f"{okta.issuer}/.well-known/oauth-authorization-server", timeout=TIMEOUT).json()
    signing_key = jwt.PyJWKClient(meta["jwks_uri"], cache_keys=False, cache_jwk_set=False).get_signing_key_from_jwt(
        token
    )
    return jwt.decode(
        token,
        signing_key.key,
        algorithms=["RS256"],
        audience="api://default",
        issuer=meta["issuer"],
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
    )


def create_app(okta: LocalOkta, label: str = "svc", **kwargs: Any) -> dict[str, Any]:
    """Create a service app and return Okta's answer (with the one-time client secret)."""
    response = requests.post(
        f"{okta.org_url}/api/v1/apps", json=service_app(label, **kwargs), headers=ssws(okta), timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- org authorization server: keys, client assertions, DPoP proofs, minted independently of okta_local ---

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint, computed here rather than by okta_local."""
    members = ("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def rsa_key(kid: str = "test-key") -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    """Return a new RSA 2048 key and its public JWK (with kid) as Okta stores it for an app."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = dict(RSAAlgorithm.to_jwk(key.public_key(), as_dict=True))
    public.pop("key_ops", None)
    return key, {**public, "kid": kid, "use": "sig", "alg": "RS256"}


def ec_key() -> tuple[ec.EllipticCurvePrivateKey, dict[str, Any]]:
    """Return a new P-256 key (a DPoP key) and its public JWK."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = dict(ECAlgorithm.to_jwk(key.public_key(), as_dict=True))
    public.pop("key_ops", None)
    return key, public


def key_app(label: str, jwks: list[dict[str, Any]], dpop: bool = False) -> dict[str, Any]:
    """Return the body Okta documents for a private_key_jwt service app with these public keys."""
    body = service_app(label, auth_method="private_key_jwt")
    body["settings"]["oauthClient"]["jwks"] = {"keys": jwks}
    body["settings"]["oauthClient"]["dpop_bound_access_tokens"] = dpop
    return body


def create_key_app(
    okta: LocalOkta, label: str, scopes: tuple[str, ...] = ("okta.apps.manage",), dpop: bool = False
) -> tuple[str, rsa.RSAPrivateKey, str]:
    """Create a private_key_jwt app with a fresh key and the grants; return (client id, key, kid)."""
    key, public = rsa_key(f"kid-{label}")
    response = requests.post(
        f"{okta.org_url}/api/v1/apps", json=key_app(label, [public], dpop), headers=ssws(okta), timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    app_id = str(response.json()["id"])
    for scope in scopes:
        grant = requests.post(
            f"{okta.org_url}/api/v1/apps/{app_id}/grants",
            json={"issuer": okta.org_url, "scopeId": scope},
            headers=ssws(okta),
            timeout=TIMEOUT,
        )
        assert grant.status_code == 201, grant.text
    return app_id, key, public["kid"]


def assertion(
    okta: LocalOkta,
    client_id: str,
    key: Any,
    kid: str | None,
    alg: str = "RS256",
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """Return a private_key_jwt client assertion; claims override the defaults, drop removes some."""
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": okta.org_token_url,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    for name in drop:
        body.pop(name, None)
    headers = {} if kid is None else {"kid": kid}
    return jwt.encode(body, key, algorithm=alg, headers=headers)


def proof(
    key: Any,
    method: str,
    url: str,
    nonce: str | None = None,
    access_token: str | None = None,
    jwk: dict[str, Any] | None = None,
    header: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """Return a DPoP proof signed with key (EC P-256 unless header says otherwise)."""
    public = jwk if jwk is not None else dict(ECAlgorithm.to_jwk(key.public_key(), as_dict=True))
    body: dict[str, Any] = {"jti": uuid.uuid4().hex, "htm": method, "htu": url, "iat": int(time.time()), **claims}
    if nonce is not None:
        body["nonce"] = nonce
    if access_token is not None:
        body["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
    for name in drop:
        body.pop(name, None)
    head = {"typ": "dpop+jwt", "jwk": public, **(header or {})}
    alg = head.pop("alg", "ES256")
    return jwt.encode(body, key, algorithm=alg, headers={k: v for k, v in head.items() if v is not None})


def org_token(
    okta: LocalOkta,
    client_assertion: str | None,
    scope: str | None = "okta.apps.manage",
    dpop: str | None = None,
    **extra: Any,
) -> requests.Response:
    """POST a client_credentials request to the org authorization server's token endpoint."""
    data = {"grant_type": "client_credentials", **extra}
    if client_assertion is not None:
        data.update(client_assertion_type=JWT_BEARER, client_assertion=client_assertion)
    if scope is not None:
        data["scope"] = scope
    headers = {} if dpop is None else {"DPoP": dpop}
    return requests.post(okta.org_token_url, data=data, headers=headers, timeout=TIMEOUT)


def nonce_of(okta: LocalOkta, client_id: str, key: Any, kid: str, dpop_key: Any) -> str:
    """Return a fresh DPoP nonce: what the first proof without one is answered with."""
    refused = org_token(okta, assertion(okta, client_id, key, kid), dpop=proof(dpop_key, "POST", okta.org_token_url))
    assert refused.status_code == 400 and refused.json()["error"] == "use_dpop_nonce", refused.text
    return str(refused.headers["DPoP-Nonce"])


def dpop_token(okta: LocalOkta, client_id: str, key: Any, kid: str, dpop_key: Any, scope: str) -> str:
    """Return a DPoP-bound org access token (nonce round trip included)."""
    nonce = nonce_of(okta, client_id, key, kid, dpop_key)
    response = org_token(
        okta, assertion(okta, client_id, key, kid), scope, dpop=proof(dpop_key, "POST", okta.org_token_url, nonce)
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def oauth_error(response: requests.Response, status: int, error: str) -> dict[str, str]:
    """Check an RFC 6749 section 5.2 answer and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == error, body
    assert body["error_description"]
    return dict(body)


def okta_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    """Check an Okta error object and return it."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["errorCode"] == code
    assert body["errorLink"] == code
    assert body["errorSummary"] and body["errorId"]
    assert isinstance(body["errorCauses"], list)
    return dict(body)


def decode_unverified(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))

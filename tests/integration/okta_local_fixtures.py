"""Helpers for the okta_local tests: a server per module, an independent JWT check, app request bodies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests

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

"""The local API on the real template.yaml and handlers, over HTTP, with tokens from a key server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local_api import LocalApi
from tests.integration.api_key_fixtures import keys_in_moto
from tests.jwks_server import JwksServer
from tests.jwt_factory import CLIENT_ID, access_claims, mint, signing_key
from tests.route_tables import UNAUTHORIZED_CHALLENGE

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
KEY = signing_key("local-api-key")
AUTHORIZER = "AuthorizerFunction"
UNAVAILABLE = {"message": "Authorization is temporarily unavailable"}
# RFC 6750 section 3.1: a request with no authentication gets no error code; API Gateway answers every 401 alike.


def overrides(issuer: str, **extra: str) -> dict[str, str]:
    """Parameters for the real template: our key server as issuer, the rest required but unused here."""
    return {
        "Issuer": issuer,
        "OktaOrgUrl": "http://127.0.0.1:9",
        "OktaApiTokenSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:okta-api-token-AbCdEf",
        **extra,
    }


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    with JwksServer([KEY.jwk()]) as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def api_keys(moto_endpoint: str) -> Iterator[None]:
    """The template's routes require an API key: the test client's, in moto, which the local API is pointed at."""
    with keys_in_moto(moto_endpoint, TEMPLATE, [CLIENT_ID]):
        yield


@pytest.fixture(scope="module")
def api(jwks: JwksServer) -> Iterator[LocalApi]:
    with LocalApi(TEMPLATE, port=0, parameter_overrides=overrides(jwks.issuer)) as local_api:
        yield local_api


def token(jwks: JwksServer, scopes: tuple[str, ...] = ("hello",), key: Any = KEY) -> str:
    return mint(key, access_claims(jwks.issuer, scopes=scopes))


def get(api: LocalApi, path: str = "/hello", bearer: str | None = None, **headers: str) -> requests.Response:
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    return requests.get(f"{api.url}{path}", headers=headers, timeout=10)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer a.b"}])
def test_missing_or_malformed_header_is_401_without_calling_the_authorizer(api, headers):
    before = api.invocations[AUTHORIZER]

    response = get(api, **headers)

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert response.headers["WWW-Authenticate"] == UNAUTHORIZED_CHALLENGE
    assert response.headers["Cache-Control"] == "no-store"
    assert api.invocations[AUTHORIZER] == before


def test_token_signed_by_another_key_is_401_not_sams_502(api, jwks):
    forged = token(jwks, key=signing_key("local-api-key", 3072))  # same kid, different key
    before = api.invocations[AUTHORIZER]

    response = get(api, bearer=forged)

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert response.headers["WWW-Authenticate"] == UNAUTHORIZED_CHALLENGE
    assert api.invocations[AUTHORIZER] == before + 1


@pytest.mark.parametrize("path", ["/hello", "/"])
def test_valid_token_is_200_with_the_client_id(api, jwks, path):
    response = get(api, path, bearer=token(jwks))

    assert response.status_code == 200
    assert response.json() == {"message": "Hello World!", "clientId": CLIENT_ID}


def test_token_without_the_scope_is_403_with_insufficient_scope(api, jwks):
    response = get(api, bearer=token(jwks, scopes=("register",)))

    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}
    assert response.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'


def test_authorizer_result_is_cached_per_token(api, jwks):
    first, second = token(jwks), token(jwks)
    before_auth, before_hello = api.invocations[AUTHORIZER], api.invocations["HelloFunction"]

    statuses = [get(api, bearer=first).status_code, get(api, bearer=first).status_code]
    assert api.invocations[AUTHORIZER] == before_auth + 1
    statuses.append(get(api, bearer=second).status_code)

    assert statuses == [200, 200, 200]
    assert api.invocations[AUTHORIZER] == before_auth + 2
    assert api.invocations["HelloFunction"] == before_hello + 3


def test_cached_policy_is_checked_against_each_route(api, jwks):
    hello_only = token(jwks)
    assert get(api, bearer=hello_only).status_code == 200
    before = api.invocations[AUTHORIZER]

    response = requests.post(f"{api.url}/register", headers={"Authorization": f"Bearer {hello_only}"}, timeout=10)

    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'
    assert api.invocations[AUTHORIZER] == before


def test_unknown_route_is_403_missing_authentication_token(api):
    response = get(api, "/nope")

    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}


def test_cache_ttl_zero_calls_the_authorizer_every_time(jwks):
    params = overrides(jwks.issuer, AuthorizerCacheTtl="0")
    with LocalApi(TEMPLATE, port=0, parameter_overrides=params) as api:
        same = token(jwks)

        statuses = [get(api, bearer=same).status_code for _ in range(3)]

        assert statuses == [200, 200, 200]
        assert api.invocations[AUTHORIZER] == 3


def test_keys_unavailable_at_cold_start_is_503_and_not_cached(jwks):
    with LocalApi(TEMPLATE, port=0, parameter_overrides=overrides(jwks.issuer)) as api:
        valid = token(jwks)
        jwks.mode = "error"
        try:
            response = get(api, bearer=valid)
        finally:
            jwks.mode = "ok"

        assert response.status_code == 503
        assert response.json() == UNAVAILABLE
        assert response.headers["Retry-After"] == "5"
        assert "Traceback" not in response.text
        # A failure is not cached by the gateway: the next call with the same token runs the authorizer again.
        get(api, bearer=valid)
        assert api.invocations[AUTHORIZER] == 2


def test_env_vars_file_reaches_only_its_function(jwks, tmp_path):
    env_file = tmp_path / "env.json"
    env_file.write_text('{"AuthorizerFunction": {"ALLOWED_CLIENT_IDS": "0oasomeoneelse"}}')
    with LocalApi(TEMPLATE, port=0, env_vars=env_file, parameter_overrides=overrides(jwks.issuer)) as api:
        response = get(api, bearer=token(jwks))

    assert response.status_code == 403  # the allow list only the authorizer's env holds
    assert api.invocations["HelloFunction"] == 0

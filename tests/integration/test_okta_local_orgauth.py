"""okta_local's org authorization server: private_key_jwt, app grants, DPoP at the token endpoint, faults.

Client assertions and DPoP proofs are minted here with pyjwt and cryptography, as an Okta SDK would.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
import pytest
import requests

from okta_local.dpop import Nonces
from okta_local.testing import LocalOkta
from tests.integration.okta_local_fixtures import (
    JWT_BEARER,
    TIMEOUT,
    assertion,
    clean_faults,
    create_key_app,
    decode_unverified,
    ec_key,
    key_app,
    nonce_of,
    oauth_error,
    okta,
    okta_error,
    org_token,
    proof,
    request_token,
    rsa_key,
    ssws,
    thumbprint,
)

pytestmark = pytest.mark.integration
__all__ = ["clean_faults", "okta"]  # re-exported fixtures: pytest finds them here, and ruff reads them as used

USE_NONCE = {"error": "use_dpop_nonce", "error_description": "Authorization server requires nonce in DPoP proof."}


@pytest.fixture(scope="module")
def bearer_app(okta: LocalOkta) -> tuple[str, Any, str]:
    """A private_key_jwt app without DPoP-bound tokens, granted okta.apps.read."""
    return create_key_app(okta, "bearer-app", scopes=("okta.apps.read",))


@pytest.fixture(scope="module")
def dpop_app(okta: LocalOkta) -> tuple[str, Any, str]:
    """A private_key_jwt app that must use DPoP, granted okta.apps.manage."""
    return create_key_app(okta, "dpop-app", dpop=True)


def verify_org_token(okta: LocalOkta, token: str) -> dict[str, Any]:
    """Verify an org access token as a resource server would: org metadata, org keys, iss and aud = org."""
    meta = requests.get(f"{okta.org_url}/.well-known/oauth-authorization-server", timeout=TIMEOUT).json()
    key = jwt.PyJWKClient(meta["jwks_uri"], cache_keys=False).get_signing_key_from_jwt(token).key
    return dict(jwt.decode(token, key, algorithms=["RS256"], audience=okta.org_url, issuer=meta["issuer"]))


# metadata


@pytest.mark.parametrize("document", ["oauth-authorization-server", "openid-configuration"])
def test_org_metadata_names_the_token_endpoint_and_dpop(okta: LocalOkta, document: str) -> None:
    meta = requests.get(f"{okta.org_url}/.well-known/{document}", timeout=TIMEOUT).json()
    assert meta["issuer"] == okta.org_url
    assert meta["token_endpoint"] == okta.org_token_url
    assert meta["jwks_uri"] == f"{okta.org_url}/oauth2/v1/keys"
    assert meta["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert {"RS256", "ES256"} <= set(meta["dpop_signing_alg_values_supported"])
    keys = requests.get(meta["jwks_uri"], timeout=TIMEOUT).json()["keys"]
    assert keys and all("d" not in k for k in keys)


# private_key_jwt


def test_private_key_jwt_gets_a_bearer_token_with_the_granted_scope(
    okta: LocalOkta, bearer_app: tuple[str, Any, str]
) -> None:
    client_id, key, kid = bearer_app
    response = org_token(okta, assertion(okta, client_id, key, kid), "okta.apps.read")
    body = response.json()
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert set(body) == {"token_type", "expires_in", "access_token", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "okta.apps.read"
    claims = verify_org_token(okta, body["access_token"])
    assert claims["iss"] == claims["aud"] == okta.org_url
    assert claims["cid"] == claims["sub"] == client_id
    assert claims["scp"] == ["okta.apps.read"]
    assert claims["exp"] - claims["iat"] == 3600 and claims["jti"].startswith("AT.")
    assert "cnf" not in claims


def test_es256_client_keys_work_too(okta: LocalOkta) -> None:
    client_key, public = ec_key()
    created = requests.post(
        f"{okta.org_url}/api/v1/apps",
        json=key_app("ec-client", [{**public, "kid": "ec-1"}]),
        headers=ssws(okta),
        timeout=TIMEOUT,
    )
    app = created.json()
    assert created.status_code == 200, created.text
    assert app["credentials"]["oauthClient"]["token_endpoint_auth_method"] == "private_key_jwt"
    assert app["settings"]["oauthClient"]["jwks"]["keys"][0]["kid"] == "ec-1"
    assert app["settings"]["oauthClient"]["dpop_bound_access_tokens"] is False
    assert "client_secret" not in app["credentials"]["oauthClient"]
    requests.post(
        f"{okta.org_url}/api/v1/apps/{app['id']}/grants",
        json={"issuer": okta.org_url, "scopeId": "okta.apps.read"},
        headers=ssws(okta),
        timeout=TIMEOUT,
    )
    response = org_token(okta, assertion(okta, app["id"], client_key, "ec-1", alg="ES256"), "okta.apps.read")
    assert response.status_code == 200, response.text


def test_okta_sdk_style_parameters_in_the_query_string_work(okta: LocalOkta, bearer_app: tuple[str, Any, str]) -> None:
    # Okta's older Python SDK POSTs the parameters in the URL with an empty form body.
    client_id, key, kid = bearer_app
    params = {
        "grant_type": "client_credentials",
        "scope": "okta.apps.read",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion(okta, client_id, key, kid),
    }
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    response = requests.post(okta.org_token_url, params=params, headers=headers, timeout=TIMEOUT)
    assert response.status_code == 200, response.text


def test_a_single_registered_key_may_go_without_kid(okta: LocalOkta, bearer_app: tuple[str, Any, str]) -> None:
    client_id, key, _ = bearer_app
    assert org_token(okta, assertion(okta, client_id, key, None), "okta.apps.read").status_code == 200


@pytest.mark.parametrize(
    "credentials",
    ["basic", "client_secret_post", "none", "secret-app-basic"],
)
def test_other_client_authentication_is_invalid_client(
    okta: LocalOkta, bearer_app: tuple[str, Any, str], credentials: str
) -> None:
    client_id, _, _ = bearer_app
    data: dict[str, str] = {"grant_type": "client_credentials", "scope": "okta.apps.read"}
    auth = None
    if credentials == "basic":
        auth = (client_id, "some-secret")
    elif credentials == "client_secret_post":
        data.update(client_id=client_id, client_secret="some-secret")
    elif credentials == "none":
        data["client_id"] = client_id
    else:  # a client_secret_basic app (the demo client) with its real secret
        auth = (okta.env["CLIENT_ID"], okta.env["CLIENT_SECRET"])
    response = requests.post(okta.org_token_url, data=data, auth=auth, timeout=TIMEOUT)
    body = oauth_error(response, 401, "invalid_client")
    assert "private_key_jwt" in body["error_description"]


def test_secret_app_with_a_forged_assertion_is_invalid_client(okta: LocalOkta) -> None:
    key, _ = rsa_key()
    response = org_token(okta, assertion(okta, okta.env["CLIENT_ID"], key, "any"), "okta.apps.read")
    oauth_error(response, 401, "invalid_client")


def test_a_reused_assertion_jti_is_invalid_client(okta: LocalOkta, bearer_app: tuple[str, Any, str]) -> None:
    client_id, key, kid = bearer_app
    once = assertion(okta, client_id, key, kid)
    assert org_token(okta, once, "okta.apps.read").status_code == 200
    again = oauth_error(org_token(okta, once, "okta.apps.read"), 401, "invalid_client")
    assert "already been used" in again["error_description"]
    # The same jti in a freshly signed assertion is still a reuse
    jti = decode_unverified(once)["jti"]
    oauth_error(org_token(okta, assertion(okta, client_id, key, kid, jti=jti), "okta.apps.read"), 401, "invalid_client")


@pytest.mark.parametrize(
    ("change", "description"),
    [
        ({"aud": "AUD"}, "audience"),  # the custom server's token URL
        ({"aud": "ORG"}, "audience"),  # the org URL, not the token URL
        ({"aud": "ORG_TOKEN?x=1"}, "audience"),
        ({"exp": -120}, "expired"),
        ({"exp": 7200}, "expiration"),  # more than an hour ahead
        ({"iat": -7200, "exp": 120}, "expiration"),  # an exp more than an hour after iat
        ({"iat": 600}, "future"),
        ({"sub": "0oaSomeoneElse000000"}, "sub"),
        ({"iss": "0oaSomeoneElse000000"}, "sub"),
        ({"drop": ("jti",)}, "jti"),
        ({"drop": ("exp",)}, "exp"),
        ({"drop": ("aud",)}, "aud"),
    ],
    ids=lambda v: str(v),
)
def test_bad_assertion_claims_are_invalid_client(
    okta: LocalOkta, bearer_app: tuple[str, Any, str], change: dict[str, Any], description: str
) -> None:
    client_id, key, kid = bearer_app
    now = int(time.time())
    claims: dict[str, Any] = {}
    for name, value in change.items():
        if name in ("exp", "iat"):
            claims[name] = now + value
        elif name == "aud":
            replacements = {"AUD": okta.token_url, "ORG": okta.org_url}
            claims[name] = replacements.get(value, value.replace("ORG_TOKEN", okta.org_token_url))
        else:
            claims[name] = value
    body = oauth_error(
        org_token(okta, assertion(okta, client_id, key, kid, **claims), "okta.apps.read"), 401, "invalid_client"
    )
    assert description in body["error_description"]


def test_bad_signature_unknown_kid_and_wrong_alg_are_invalid_client(
    okta: LocalOkta, bearer_app: tuple[str, Any, str]
) -> None:
    client_id, key, kid = bearer_app
    other_key, _ = rsa_key()
    cases = {
        "another key under the registered kid": assertion(okta, client_id, other_key, kid),
        "unknown kid": assertion(okta, client_id, key, "not-registered"),
        "HS256 with a guessable secret": assertion(okta, client_id, "a" * 32, kid, alg="HS256"),
        "alg none": jwt.encode({"iss": client_id, "sub": client_id}, None, algorithm="none", headers={"kid": kid}),
        "not a JWT": "not.a.jwt",
    }
    for case, client_assertion in cases.items():
        response = org_token(okta, client_assertion, "okta.apps.read")
        assert response.status_code == 401 and response.json()["error"] == "invalid_client", case
    tampered = assertion(okta, client_id, key, kid)
    head, payload, signature = tampered.split(".")
    oauth_error(org_token(okta, f"{head}.{payload}.{signature[::-1]}", "okta.apps.read"), 401, "invalid_client")


def test_wrong_assertion_type_is_invalid_client(okta: LocalOkta, bearer_app: tuple[str, Any, str]) -> None:
    client_id, key, kid = bearer_app
    data = {
        "grant_type": "client_credentials",
        "scope": "okta.apps.read",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
        "client_assertion": assertion(okta, client_id, key, kid),
    }
    oauth_error(requests.post(okta.org_token_url, data=data, timeout=TIMEOUT), 401, "invalid_client")


# grants and scopes


@pytest.mark.parametrize(
    ("scope", "error"),
    [
        ("okta.apps.manage", "invalid_scope"),  # a real Okta scope the app has no grant for
        ("okta.apps.read okta.users.read", "invalid_scope"),
        ("hello", "invalid_scope"),  # a custom server scope: not configured on the org server
        (None, "invalid_scope"),  # the org server has no default scopes
    ],
)
def test_scope_not_granted_is_invalid_scope(
    okta: LocalOkta, bearer_app: tuple[str, Any, str], scope: str | None, error: str
) -> None:
    client_id, key, kid = bearer_app
    oauth_error(org_token(okta, assertion(okta, client_id, key, kid), scope), 400, error)


def test_unsupported_grant_type(okta: LocalOkta, bearer_app: tuple[str, Any, str]) -> None:
    client_id, key, kid = bearer_app
    response = org_token(okta, assertion(okta, client_id, key, kid), "okta.apps.read", grant_type="password")
    oauth_error(response, 400, "unsupported_grant_type")


def test_grants_api_lists_adds_and_revokes_in_okta_shape(okta: LocalOkta) -> None:
    client_id, key, kid = create_key_app(okta, "granted", scopes=())
    url = f"{okta.org_url}/api/v1/apps/{client_id}/grants"
    assert requests.get(url, headers=ssws(okta), timeout=TIMEOUT).json() == []
    created = requests.post(
        url, json={"issuer": okta.org_url, "scopeId": "okta.apps.read"}, headers=ssws(okta), timeout=TIMEOUT
    )
    grant = created.json()
    assert created.status_code == 201
    assert grant["id"].startswith("oag") and grant["status"] == "ACTIVE" and grant["source"] == "ADMIN"
    assert grant["issuer"] == okta.org_url and grant["clientId"] == client_id and grant["scopeId"] == "okta.apps.read"
    assert grant["_links"]["self"]["href"] == f"{url}/{grant['id']}"
    assert grant["_links"]["app"]["href"] == f"{okta.org_url}/api/v1/apps/{client_id}"
    listed = requests.get(url, params={"expand": "scope"}, headers=ssws(okta), timeout=TIMEOUT).json()
    assert [g["id"] for g in listed] == [grant["id"]] and listed[0]["_embedded"]["scope"]["id"] == "okta.apps.read"
    one = requests.get(f"{url}/{grant['id']}", headers=ssws(okta), timeout=TIMEOUT)
    assert one.status_code == 200 and one.json()["scopeId"] == "okta.apps.read"
    assert org_token(okta, assertion(okta, client_id, key, kid), "okta.apps.read").status_code == 200
    # Revoking the grant takes the scope away
    assert requests.delete(f"{url}/{grant['id']}", headers=ssws(okta), timeout=TIMEOUT).status_code == 204
    oauth_error(org_token(okta, assertion(okta, client_id, key, kid), "okta.apps.read"), 400, "invalid_scope")
    okta_error(requests.delete(f"{url}/{grant['id']}", headers=ssws(okta), timeout=TIMEOUT), 404, "E0000007")


@pytest.mark.parametrize(
    "body",
    [
        {"scopeId": "okta.apps.read"},  # no issuer
        {"scopeId": "okta.apps.read", "issuer": "https://elsewhere.example"},
        {"scopeId": "hello", "issuer": "ORG"},
        {"issuer": "ORG"},
    ],
)
def test_invalid_grants_are_api_validation_failed(okta: LocalOkta, body: dict[str, str]) -> None:
    client_id, _, _ = create_key_app(okta, "bad-grants", scopes=())
    body = {k: okta.org_url if v == "ORG" else v for k, v in body.items()}
    url = f"{okta.org_url}/api/v1/apps/{client_id}/grants"
    okta_error(requests.post(url, json=body, headers=ssws(okta), timeout=TIMEOUT), 400, "E0000001")


def test_a_duplicate_grant_is_refused_and_unknown_apps_are_404(okta: LocalOkta) -> None:
    client_id, _, _ = create_key_app(okta, "dup-grants", scopes=("okta.apps.read",))
    body = {"issuer": okta.org_url, "scopeId": "okta.apps.read"}
    url = f"{okta.org_url}/api/v1/apps/{client_id}/grants"
    okta_error(requests.post(url, json=body, headers=ssws(okta), timeout=TIMEOUT), 400, "E0000001")
    missing = f"{okta.org_url}/api/v1/apps/0oaDoesNotExist00000/grants"
    okta_error(requests.get(missing, headers=ssws(okta), timeout=TIMEOUT), 404, "E0000007")


def test_a_deactivated_app_gets_no_org_token(okta: LocalOkta) -> None:
    client_id, key, kid = create_key_app(okta, "retired-service")
    app_url = f"{okta.org_url}/api/v1/apps/{client_id}"
    requests.post(f"{app_url}/lifecycle/deactivate", headers=ssws(okta), timeout=TIMEOUT)
    oauth_error(org_token(okta, assertion(okta, client_id, key, kid)), 401, "invalid_client")
    requests.post(f"{app_url}/lifecycle/activate", headers=ssws(okta), timeout=TIMEOUT)
    assert org_token(okta, assertion(okta, client_id, key, kid)).status_code == 200


def test_private_key_jwt_apps_get_nothing_from_the_custom_server(okta: LocalOkta) -> None:
    # The custom server takes client secrets; a key app has none.
    response = request_token(okta, okta.service_client_id, "")
    oauth_error(response, 401, "invalid_client")


# DPoP at the token endpoint


def test_dpop_app_without_a_proof_is_refused(okta: LocalOkta, dpop_app: tuple[str, Any, str]) -> None:
    client_id, key, kid = dpop_app
    body = oauth_error(org_token(okta, assertion(okta, client_id, key, kid)), 400, "invalid_dpop_proof")
    assert body["error_description"] == "The DPoP proof JWT header is missing."


def test_dpop_nonce_round_trip_gives_a_bound_dpop_token(okta: LocalOkta, dpop_app: tuple[str, Any, str]) -> None:
    client_id, key, kid = dpop_app
    dpop_key, public = ec_key()
    # The first proof carries no nonce: Okta's use_dpop_nonce, with the nonce in a header
    first = org_token(okta, assertion(okta, client_id, key, kid), dpop=proof(dpop_key, "POST", okta.org_token_url))
    assert first.status_code == 400 and first.json() == USE_NONCE
    nonce = first.headers["DPoP-Nonce"]
    assert nonce and first.headers["Cache-Control"] == "no-store"
    # The retry, with the nonce, a new proof and a new assertion, gets a DPoP token bound to the proof's key
    second = org_token(
        okta, assertion(okta, client_id, key, kid), dpop=proof(dpop_key, "POST", okta.org_token_url, nonce)
    )
    body = second.json()
    assert second.status_code == 200, second.text
    assert body["token_type"] == "DPoP" and body["scope"] == "okta.apps.manage" and body["expires_in"] == 3600
    claims = verify_org_token(okta, body["access_token"])
    assert claims["cnf"] == {"jkt": thumbprint(public)}
    assert second.headers["DPoP-Nonce"]
    # The nonce stays good for further requests
    third = org_token(
        okta, assertion(okta, client_id, key, kid), dpop=proof(dpop_key, "POST", okta.org_token_url, nonce)
    )
    assert third.status_code == 200, third.text


def test_the_assertion_is_used_up_by_a_use_dpop_nonce_answer(okta: LocalOkta, dpop_app: tuple[str, Any, str]) -> None:
    # As Okta's SDKs note: the assertion's jti is consumed even when the answer is use_dpop_nonce.
    client_id, key, kid = dpop_app
    dpop_key, _ = ec_key()
    once = assertion(okta, client_id, key, kid)
    first = org_token(okta, once, dpop=proof(dpop_key, "POST", okta.org_token_url))
    nonce = first.headers["DPoP-Nonce"]
    again = org_token(okta, once, dpop=proof(dpop_key, "POST", okta.org_token_url, nonce))
    oauth_error(again, 401, "invalid_client")


def test_a_bearer_app_that_sends_a_proof_gets_a_bound_token(okta: LocalOkta, bearer_app: tuple[str, Any, str]) -> None:
    client_id, key, kid = bearer_app
    dpop_key, public = ec_key()
    nonce = nonce_of(okta, client_id, key, kid, dpop_key)
    response = org_token(
        okta,
        assertion(okta, client_id, key, kid),
        "okta.apps.read",
        dpop=proof(dpop_key, "POST", okta.org_token_url, nonce),
    )
    assert response.status_code == 200 and response.json()["token_type"] == "DPoP"
    assert decode_unverified(response.json()["access_token"])["cnf"]["jkt"] == thumbprint(public)


def test_an_unknown_nonce_is_answered_with_use_dpop_nonce(okta: LocalOkta, dpop_app: tuple[str, Any, str]) -> None:
    client_id, key, kid = dpop_app
    dpop_key, _ = ec_key()
    response = org_token(
        okta, assertion(okta, client_id, key, kid), dpop=proof(dpop_key, "POST", okta.org_token_url, "made-up")
    )
    assert response.status_code == 400 and response.json() == USE_NONCE and response.headers["DPoP-Nonce"]


def _bad_proofs(okta: LocalOkta, nonce: str) -> dict[str, str]:
    dpop_key, public = ec_key()
    rsa_dpop, rsa_public = rsa_key()
    url = okta.org_token_url
    private = dict(jwt.algorithms.ECAlgorithm.to_jwk(dpop_key, as_dict=True))
    return {
        "wrong htu": proof(dpop_key, "POST", okta.token_url, nonce),
        "wrong htm": proof(dpop_key, "GET", url, nonce),
        "no jwk": proof(dpop_key, "POST", url, nonce, header={"jwk": None}),
        "private jwk": proof(dpop_key, "POST", url, nonce, jwk=private),
        "jwk of another key": proof(dpop_key, "POST", url, nonce, jwk=ec_key()[1]),
        "jwk off the curve": proof(dpop_key, "POST", url, nonce, jwk=dict(public, x=public["y"])),
        "wrong typ": proof(dpop_key, "POST", url, nonce, header={"typ": "JWT"}),
        "stale iat": proof(dpop_key, "POST", url, nonce, iat=int(time.time()) - 600),
        "future iat": proof(dpop_key, "POST", url, nonce, iat=int(time.time()) + 600),
        "no jti": proof(dpop_key, "POST", url, nonce, drop=("jti",)),
        "no iat": proof(dpop_key, "POST", url, nonce, drop=("iat",)),
        "HS256": jwt.encode(
            {"jti": "x", "htm": "POST", "htu": url, "iat": int(time.time()), "nonce": nonce},
            "s" * 32,
            algorithm="HS256",
            headers={"typ": "dpop+jwt", "jwk": public},
        ),
        "RS256 proof": proof(rsa_dpop, "POST", url, nonce, jwk=rsa_public, header={"alg": "RS256"}),
        "garbage": "garbage",
    }


def test_bad_proofs_are_invalid_dpop_proof(okta: LocalOkta, dpop_app: tuple[str, Any, str]) -> None:
    client_id, key, kid = dpop_app
    nonce = nonce_of(okta, client_id, key, kid, ec_key()[0])
    for case, bad in _bad_proofs(okta, nonce).items():
        response = org_token(okta, assertion(okta, client_id, key, kid), dpop=bad)
        if case == "RS256 proof":  # RS256 proofs are fine
            assert response.status_code == 200, (case, response.text)
            continue
        assert response.status_code == 400, (case, response.text)
        assert response.json()["error"] == "invalid_dpop_proof", (case, response.text)


def test_two_dpop_headers_are_invalid_dpop_proof(okta: LocalOkta, dpop_app: tuple[str, Any, str]) -> None:
    client_id, key, kid = dpop_app
    dpop_key, _ = ec_key()
    nonce = nonce_of(okta, client_id, key, kid, dpop_key)
    body = urlencode(
        {
            "grant_type": "client_credentials",
            "scope": "okta.apps.manage",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": assertion(okta, client_id, key, kid),
        }
    ).encode()
    # requests would fold a repeated header into one, so this request goes out through http.client
    target = urlsplit(okta.org_token_url)
    connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=TIMEOUT)
    try:
        connection.putrequest("POST", target.path)
        connection.putheader("Content-Type", "application/x-www-form-urlencoded")
        connection.putheader("Content-Length", str(len(body)))
        for _ in range(2):
            connection.putheader("DPoP", proof(dpop_key, "POST", okta.org_token_url, nonce))
        connection.endheaders(body)
        answer = connection.getresponse()
        assert answer.status == 400 and json.loads(answer.read())["error"] == "invalid_dpop_proof"
    finally:
        connection.close()


def test_a_reused_proof_is_invalid_dpop_proof(okta: LocalOkta, dpop_app: tuple[str, Any, str]) -> None:
    client_id, key, kid = dpop_app
    dpop_key, _ = ec_key()
    nonce = nonce_of(okta, client_id, key, kid, dpop_key)
    once = proof(dpop_key, "POST", okta.org_token_url, nonce)
    assert org_token(okta, assertion(okta, client_id, key, kid), dpop=once).status_code == 200
    again = org_token(okta, assertion(okta, client_id, key, kid), dpop=once)
    body = oauth_error(again, 400, "invalid_dpop_proof")
    assert "already been used" in body["error_description"]


def test_nonces_rotate_and_expire() -> None:
    nonces = Nonces(rotate_seconds=60, ttl_seconds=300)
    first = nonces.current(now=1000)
    assert nonces.current(now=1059) == first  # the same nonce within a rotation period
    second = nonces.current(now=1061)
    assert second != first
    assert nonces.is_valid(first, now=1299) and nonces.is_valid(second, now=1299)
    assert not nonces.is_valid(first, now=1300)  # expired after ttl
    assert not nonces.is_valid("made-up", now=1100) and not nonces.is_valid(None, now=1100)


# faults on the org token endpoint


def test_token_fault_fail_applies_to_the_org_endpoint(clean_faults: LocalOkta) -> None:
    clean_faults.set_faults(token="fail")
    client = clean_faults.service_client()
    response = client.token_response("okta.apps.manage")
    assert response.status_code == 500 and response.json()["error"] == "server_error"


@pytest.mark.parametrize("fault", [429, "429"])
def test_token_fault_429_is_oktas_rate_limit(clean_faults: LocalOkta, fault: int | str) -> None:
    assert clean_faults.set_faults(token=fault)["token"] == 429
    for response in (
        clean_faults.service_client().token_response("okta.apps.manage"),
        request_token(clean_faults, clean_faults.env["CLIENT_ID"], clean_faults.env["CLIENT_SECRET"]),
    ):
        okta_error(response, 429, "E0000047")
        assert response.headers["X-Rate-Limit-Remaining"] == "0"
        assert int(response.headers["X-Rate-Limit-Reset"]) > time.time()
        assert "X-Rate-Limit-Limit" in response.headers


def test_token_fault_slow_delays_the_org_endpoint(clean_faults: LocalOkta) -> None:
    clean_faults.set_faults(token="slow", delay_seconds=0.6)
    started = time.monotonic()
    assert clean_faults.service_client().token("okta.apps.manage")
    assert time.monotonic() - started >= 0.6


def test_token_fault_hang_holds_both_endpoints_until_cleared(clean_faults: LocalOkta) -> None:
    clean_faults.set_faults(token="hang")
    with pytest.raises(requests.ReadTimeout):
        requests.post(clean_faults.org_token_url, data={"grant_type": "client_credentials"}, timeout=0.5)
    results: list[int] = []
    waiter = threading.Thread(
        target=lambda: results.append(
            request_token(clean_faults, clean_faults.env["CLIENT_ID"], clean_faults.env["CLIENT_SECRET"]).status_code
        )
    )
    waiter.start()
    assert clean_faults.wait_until_held(2)  # the server holds it (and the impatient one's), and answers nothing
    assert results == []
    clean_faults.clear_faults()
    waiter.join(60)
    assert results == [200]


def test_dpop_nonce_always_demands_a_fresh_nonce_on_every_request(clean_faults: LocalOkta) -> None:
    okta = clean_faults
    client_id, key, kid = okta.service_client_id, jwt.PyJWK(okta.service_jwk).key, okta.service_jwk["kid"]
    dpop_key, _ = ec_key()
    held = nonce_of(okta, client_id, key, kid, dpop_key)  # a valid nonce, before the fault
    shown = okta.set_faults(dpop_nonce="always")
    assert shown["dpop_nonce"] == "always"
    for _ in range(2):
        # Even with a valid nonce, the request is first refused with a new one ...
        refused = org_token(
            okta, assertion(okta, client_id, key, kid), dpop=proof(dpop_key, "POST", okta.org_token_url, held)
        )
        assert refused.status_code == 400 and refused.json() == USE_NONCE
        fresh = refused.headers["DPoP-Nonce"]
        assert fresh != held
        # ... and the retry with that nonce succeeds, once
        ok = org_token(
            okta, assertion(okta, client_id, key, kid), dpop=proof(dpop_key, "POST", okta.org_token_url, fresh)
        )
        assert ok.status_code == 200, ok.text
        held = fresh
    # An SDK-like client copes: it retries once with the demanded nonce
    assert okta.service_client().token("okta.apps.manage")
    okta.clear_faults()
    ok = org_token(okta, assertion(okta, client_id, key, kid), dpop=proof(dpop_key, "POST", okta.org_token_url, held))
    assert ok.status_code == 200, ok.text


def test_an_assertion_sent_many_times_at_once_is_accepted_once(
    okta: LocalOkta, bearer_app: tuple[str, Any, str]
) -> None:
    client_id, key, kid = bearer_app
    once = assertion(okta, client_id, key, kid)
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: org_token(okta, once, "okta.apps.read").status_code, range(16)))
    assert sorted(codes) == [200] + [401] * 15

"""okta_local's management API with org access tokens: DPoP proofs at the resource, scopes, revoked apps.

SSWS keeps every right (test_okta_local_apps.py covers it); here the callers are service apps.
"""

from __future__ import annotations

from typing import Any

import jwt
import pytest
import requests

from okta_local.testing import LocalOkta
from tests.integration.okta_local_fixtures import (
    TIMEOUT,
    assertion,
    create_key_app,
    dpop_token,
    ec_key,
    okta,
    okta_error,
    org_token,
    proof,
    service_app,
    ssws,
)

pytestmark = pytest.mark.integration
__all__ = ["okta"]  # re-exported fixture: pytest finds it here, and ruff reads it as used

POLICIES = "/api/v1/authorizationServers/default/policies"


def apps_url(okta: LocalOkta, suffix: str = "") -> str:
    return f"{okta.org_url}/api/v1/apps{suffix}"


@pytest.fixture(scope="module")
def manager(okta: LocalOkta) -> tuple[str, Any]:
    """A DPoP-bound okta.apps.manage token of the seeded service app, and its DPoP key."""
    dpop_key, _ = ec_key()
    jwk = okta.service_jwk
    token = dpop_token(okta, okta.service_client_id, jwt.PyJWK(jwk).key, jwk["kid"], dpop_key, "okta.apps.manage")
    return token, dpop_key


def dpop_headers(token: str, key: Any, method: str, url: str, **proof_args: Any) -> dict[str, str]:
    return {"Authorization": f"DPoP {token}", "DPoP": proof(key, method, url, access_token=token, **proof_args)}


def unauthorized(response: requests.Response, scheme: str, error: str | None = None) -> str:
    """Check Okta's 401 E0000011 with a WWW-Authenticate challenge; return the challenge."""
    okta_error(response, 401, "E0000011")
    assert response.json()["errorSummary"] == "Invalid token provided"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(f"{scheme} ")
    if error:
        assert f'error="{error}"' in challenge
    return challenge


def test_seeded_service_app_manages_apps_with_a_dpop_token(okta: LocalOkta, manager: tuple[str, Any]) -> None:
    token, key = manager
    # List, create, read and deactivate, each request with its own proof
    listed = requests.get(apps_url(okta), headers=dpop_headers(token, key, "GET", apps_url(okta)), timeout=TIMEOUT)
    assert listed.status_code == 200 and "X-Rate-Limit-Limit" in listed.headers
    created = requests.post(
        apps_url(okta),
        json=service_app("made-by-service"),
        headers=dpop_headers(token, key, "POST", apps_url(okta)),
        timeout=TIMEOUT,
    )
    assert created.status_code == 200, created.text
    one = apps_url(okta, f"/{created.json()['id']}")
    # htu has no query string, whatever the request's query
    query = requests.get(f"{one}?expand=x", headers=dpop_headers(token, key, "GET", one), timeout=TIMEOUT)
    assert query.status_code == 200
    off = f"{one}/lifecycle/deactivate"
    assert requests.post(off, headers=dpop_headers(token, key, "POST", off), timeout=TIMEOUT).status_code == 200


def test_the_okta_local_org_client_does_the_same(okta: LocalOkta) -> None:
    client = okta.service_client()
    client.token("okta.apps.manage okta.authorizationServers.manage")
    assert client.token_type == "DPoP"
    assert client.request("GET", apps_url(okta)).status_code == 200
    assert client.request("GET", okta.org_url + POLICIES).status_code == 200


@pytest.mark.parametrize(
    "case",
    [
        "no proof",
        "wrong ath",
        "no ath",
        "another key",
        "wrong htm",
        "wrong htu",
        "stale iat",
        "garbage proof",
    ],
)
def test_a_bad_proof_at_the_api_is_401(okta: LocalOkta, manager: tuple[str, Any], case: str) -> None:
    token, key = manager
    url = apps_url(okta)
    headers = {"Authorization": f"DPoP {token}"}
    if case == "wrong ath":
        headers["DPoP"] = proof(key, "GET", url, access_token=token + "x")
    elif case == "no ath":
        headers["DPoP"] = proof(key, "GET", url)
    elif case == "another key":
        headers["DPoP"] = proof(ec_key()[0], "GET", url, access_token=token)
    elif case == "wrong htm":
        headers["DPoP"] = proof(key, "POST", url, access_token=token)
    elif case == "wrong htu":
        headers["DPoP"] = proof(key, "GET", okta.org_token_url, access_token=token)
    elif case == "stale iat":
        headers["DPoP"] = proof(key, "GET", url, access_token=token, iat=1_000_000_000)
    elif case == "garbage proof":
        headers["DPoP"] = "garbage"
    unauthorized(requests.get(url, headers=headers, timeout=TIMEOUT), "DPoP", "invalid_dpop_proof")


def test_a_reused_proof_at_the_api_is_401(okta: LocalOkta, manager: tuple[str, Any]) -> None:
    token, key = manager
    headers = dpop_headers(token, key, "GET", apps_url(okta))
    assert requests.get(apps_url(okta), headers=headers, timeout=TIMEOUT).status_code == 200
    unauthorized(requests.get(apps_url(okta), headers=headers, timeout=TIMEOUT), "DPoP", "invalid_dpop_proof")


def test_a_dpop_token_sent_as_bearer_is_401(okta: LocalOkta, manager: tuple[str, Any]) -> None:
    token, key = manager
    for headers in (
        {"Authorization": f"Bearer {token}"},
        {"Authorization": f"Bearer {token}", "DPoP": proof(key, "GET", apps_url(okta), access_token=token)},
    ):
        unauthorized(requests.get(apps_url(okta), headers=headers, timeout=TIMEOUT), "DPoP", "invalid_token")


@pytest.mark.parametrize("which", ["custom server token", "garbage", "tampered", "empty"])
def test_tokens_that_are_not_valid_org_tokens_are_401(okta: LocalOkta, manager: tuple[str, Any], which: str) -> None:
    token, key = manager
    if which == "custom server token":  # right signature, but issuer and audience of the custom server
        token = okta.token()
    elif which == "garbage":
        token = "garbage"
    elif which == "tampered":
        head, payload, signature = token.split(".")
        token = f"{head}.{payload}.{signature[:-4]}AAAA"
    elif which == "empty":
        token = ""
    for scheme in ("Bearer", "DPoP"):
        headers = {"Authorization": f"{scheme} {token}".strip()}
        if scheme == "DPoP" and token:
            headers["DPoP"] = proof(key, "GET", apps_url(okta), access_token=token)
        response = requests.get(apps_url(okta), headers=headers, timeout=TIMEOUT)
        okta_error(response, 401, "E0000011")
        assert "WWW-Authenticate" in response.headers


def test_a_bearer_token_works_as_bearer(okta: LocalOkta) -> None:
    client_id, key, kid = create_key_app(okta, "bearer-reader", scopes=("okta.apps.read",))
    token = org_token(okta, assertion(okta, client_id, key, kid), "okta.apps.read").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(apps_url(okta), headers=headers, timeout=TIMEOUT).status_code == 200
    # As DPoP it is refused: it is not bound to a key
    dpop_key, _ = ec_key()
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof(dpop_key, "GET", apps_url(okta), access_token=token)}
    unauthorized(requests.get(apps_url(okta), headers=headers, timeout=TIMEOUT), "Bearer", "invalid_token")


def test_no_credentials_is_401_with_a_challenge(okta: LocalOkta) -> None:
    for url in (apps_url(okta), okta.org_url + POLICIES):
        unauthorized(requests.get(url, timeout=TIMEOUT), "Bearer")


def test_read_scope_reads_but_may_not_write(okta: LocalOkta) -> None:
    client_id, key, kid = create_key_app(okta, "read-only", scopes=("okta.apps.read",))
    token = org_token(okta, assertion(okta, client_id, key, kid), "okta.apps.read").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(apps_url(okta, f"/{client_id}"), headers=headers, timeout=TIMEOUT).status_code == 200
    assert requests.get(apps_url(okta, f"/{client_id}/grants"), headers=headers, timeout=TIMEOUT).status_code == 200
    for method, suffix in [("POST", ""), ("POST", f"/{client_id}/lifecycle/deactivate"), ("DELETE", f"/{client_id}")]:
        response = requests.request(method, apps_url(okta, suffix), json={}, headers=headers, timeout=TIMEOUT)
        body = okta_error(response, 403, "E0000006")
        assert body["errorSummary"] == "You do not have permission to perform the requested action"
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ") and 'error="insufficient_scope"' in challenge
        assert 'scope="okta.apps.manage"' in challenge
    grant = requests.post(
        apps_url(okta, f"/{client_id}/grants"),
        json={"issuer": okta.org_url, "scopeId": "okta.apps.manage"},
        headers=headers,
        timeout=TIMEOUT,
    )
    okta_error(grant, 403, "E0000006")
    # And the apps scope does not open the policy API
    okta_error(requests.get(okta.org_url + POLICIES, headers=headers, timeout=TIMEOUT), 403, "E0000006")


def test_policy_api_scopes(okta: LocalOkta) -> None:
    client_id, key, kid = create_key_app(okta, "policy-reader", scopes=("okta.authorizationServers.read",))
    token = org_token(okta, assertion(okta, client_id, key, kid), "okta.authorizationServers.read").json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(okta.org_url + POLICIES, headers=headers, timeout=TIMEOUT).status_code == 200
    created = requests.post(okta.org_url + POLICIES, json={"name": "x"}, headers=headers, timeout=TIMEOUT)
    okta_error(created, 403, "E0000006")
    assert 'scope="okta.authorizationServers.manage"' in created.headers["WWW-Authenticate"]
    okta_error(requests.get(apps_url(okta), headers=headers, timeout=TIMEOUT), 403, "E0000006")


def test_a_dpop_token_without_the_scope_is_403_with_a_dpop_challenge(okta: LocalOkta) -> None:
    client_id, key, kid = create_key_app(okta, "dpop-apps-only", dpop=True)
    dpop_key, _ = ec_key()
    token = dpop_token(okta, client_id, key, kid, dpop_key, "okta.apps.manage")
    url = okta.org_url + POLICIES
    response = requests.get(url, headers=dpop_headers(token, dpop_key, "GET", url), timeout=TIMEOUT)
    okta_error(response, 403, "E0000006")
    assert response.headers["WWW-Authenticate"].startswith("DPoP ")


def test_a_deactivated_service_app_loses_its_tokens(okta: LocalOkta) -> None:
    # Given a DPoP-bound service app with a working token
    client_id, key, kid = create_key_app(okta, "revoked-service", dpop=True)
    dpop_key, _ = ec_key()
    token = dpop_token(okta, client_id, key, kid, dpop_key, "okta.apps.manage")
    url = apps_url(okta)
    assert requests.get(url, headers=dpop_headers(token, dpop_key, "GET", url), timeout=TIMEOUT).status_code == 200
    # When an admin deactivates it
    off = requests.post(apps_url(okta, f"/{client_id}/lifecycle/deactivate"), headers=ssws(okta), timeout=TIMEOUT)
    assert off.status_code == 200
    # Then its token no longer works and it gets no new one
    unauthorized(requests.get(url, headers=dpop_headers(token, dpop_key, "GET", url), timeout=TIMEOUT), "DPoP")
    refused = org_token(
        okta, assertion(okta, client_id, key, kid), dpop=proof(dpop_key, "POST", okta.org_token_url, "any")
    )
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    # And once deleted, its tokens stay dead even if an app id were reused
    assert requests.delete(apps_url(okta, f"/{client_id}"), headers=ssws(okta), timeout=TIMEOUT).status_code == 204
    unauthorized(requests.get(url, headers=dpop_headers(token, dpop_key, "GET", url), timeout=TIMEOUT), "DPoP")


def test_a_revoked_grant_takes_the_scope_out_of_existing_tokens(okta: LocalOkta) -> None:
    client_id, key, kid = create_key_app(okta, "regranted", scopes=("okta.apps.read",))
    token = org_token(okta, assertion(okta, client_id, key, kid), "okta.apps.read").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(apps_url(okta), headers=headers, timeout=TIMEOUT).status_code == 200
    grants = requests.get(apps_url(okta, f"/{client_id}/grants"), headers=ssws(okta), timeout=TIMEOUT).json()
    requests.delete(apps_url(okta, f"/{client_id}/grants/{grants[0]['id']}"), headers=ssws(okta), timeout=TIMEOUT)
    okta_error(requests.get(apps_url(okta), headers=headers, timeout=TIMEOUT), 403, "E0000006")


def test_ssws_is_still_every_right(okta: LocalOkta) -> None:
    assert requests.get(apps_url(okta), headers=ssws(okta), timeout=TIMEOUT).status_code == 200
    assert requests.get(okta.org_url + POLICIES, headers=ssws(okta), timeout=TIMEOUT).status_code == 200
    # An SSWS token sent with the Bearer scheme is not an access token
    bearer = {"Authorization": f"Bearer {okta.api_token}"}
    okta_error(requests.get(apps_url(okta), headers=bearer, timeout=TIMEOUT), 401, "E0000011")
    # And the fault-control endpoints take SSWS only
    client = okta.service_client()
    client.token("okta.apps.manage")
    assert client.request("GET", f"{okta.org_url}/_local/faults").status_code == 401

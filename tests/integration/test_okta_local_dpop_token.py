"""okta_local's custom authorization server issues DPoP-bound access tokens as Okta does: to apps that require DPoP
(settings.oauthClient.dpop_bound_access_tokens), after the nonce exchange, with token_type DPoP and cnf.jkt."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from okta_local.testing import LocalOkta
from tests.dpop_factory import ec_key, rsa_key
from tests.integration.okta_local_fixtures import TIMEOUT, oauth_error, okta, service_app, ssws, verify

pytestmark = pytest.mark.integration
__all__ = ["okta"]


def dpop_app(okta: LocalOkta, label: str, dpop: bool = True) -> tuple[str, str]:
    body = service_app(label)
    body["settings"]["oauthClient"]["dpop_bound_access_tokens"] = dpop
    response = requests.post(f"{okta.org_url}/api/v1/apps", json=body, headers=ssws(okta), timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["settings"]["oauthClient"]["dpop_bound_access_tokens"] is dpop
    okta.enroll(created["id"])
    oauth = created["credentials"]["oauthClient"]
    return oauth["client_id"], oauth["client_secret"]


def token_request(okta: LocalOkta, client: tuple[str, str], proof: str | None, **data: Any) -> requests.Response:
    headers = {} if proof is None else {"DPoP": proof}
    form = {"grant_type": "client_credentials", "scope": "hello", **data}
    return requests.post(okta.token_url, data=form, auth=client, headers=headers, timeout=TIMEOUT)


def test_discovery_lists_the_proof_algorithms(okta: LocalOkta) -> None:
    meta = requests.get(f"{okta.issuer}/.well-known/oauth-authorization-server", timeout=TIMEOUT).json()
    assert {"ES256", "RS256"} <= set(meta["dpop_signing_alg_values_supported"])
    assert "cnf" in meta["claims_supported"]


@pytest.mark.parametrize("key", [ec_key("okta-dpop"), rsa_key("okta-dpop")], ids=["ES256", "RS256"])
def test_an_app_that_requires_dpop_gets_a_bound_token_after_the_nonce_exchange(okta: LocalOkta, key) -> None:
    client = dpop_app(okta, f"dpop-{key.alg}")
    # Given no nonce yet, the first proof is answered with one (Okta's use_dpop_nonce)
    first = token_request(okta, client, key.proof("POST", okta.token_url))
    body = oauth_error(first, 400, "use_dpop_nonce")
    assert body["error_description"] == "Authorization server requires nonce in DPoP proof."
    nonce = first.headers["DPoP-Nonce"]
    # When the client retries with a fresh proof carrying the nonce
    second = token_request(okta, client, key.proof("POST", okta.token_url, nonce=nonce))
    # Then the token is bound to the proof's key
    assert second.status_code == 200, second.text
    answer = second.json()
    assert answer["token_type"] == "DPoP" and second.headers["DPoP-Nonce"]
    claims = verify(okta, answer["access_token"])
    assert claims["cnf"] == {"jkt": key.jkt}
    assert claims["cid"] == client[0] and claims["scp"] == ["hello"]


def test_an_app_that_requires_dpop_gets_nothing_without_a_proof(okta: LocalOkta) -> None:
    client = dpop_app(okta, "dpop-no-proof")
    body = oauth_error(token_request(okta, client, None), 400, "invalid_dpop_proof")
    assert "missing" in body["error_description"]


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda key, url, nonce: key.proof("GET", url, nonce=nonce), "'htm'"),
        (lambda key, url, nonce: key.proof("POST", url + "x", nonce=nonce), "'htu'"),
        (lambda key, url, nonce: key.proof("POST", url, nonce=nonce, headers={"typ": "JWT"}), "'typ'"),
        (lambda key, url, nonce: key.proof("POST", url, nonce=nonce, headers={"jwk": key.private_jwk()}), "public"),
    ],
)
def test_a_bad_token_request_proof_is_invalid_dpop_proof(okta: LocalOkta, make, words) -> None:
    key, client = ec_key("okta-dpop-bad"), dpop_app(okta, "dpop-bad")
    nonce = token_request(okta, client, key.proof("POST", okta.token_url)).headers["DPoP-Nonce"]
    body = oauth_error(token_request(okta, client, make(key, okta.token_url, nonce)), 400, "invalid_dpop_proof")
    assert words in body["error_description"]


def test_a_token_request_proof_is_used_once(okta: LocalOkta) -> None:
    key, client = ec_key("okta-dpop-once"), dpop_app(okta, "dpop-once")
    nonce = token_request(okta, client, key.proof("POST", okta.token_url)).headers["DPoP-Nonce"]
    proof = key.proof("POST", okta.token_url, nonce=nonce)
    assert token_request(okta, client, proof).status_code == 200
    body = oauth_error(token_request(okta, client, proof), 400, "invalid_dpop_proof")
    assert "already been used" in body["error_description"]


def test_an_app_without_dpop_still_gets_bearer_tokens_and_bad_credentials_come_first(okta: LocalOkta) -> None:
    client = dpop_app(okta, "bearer-app", dpop=False)
    answer = token_request(okta, client, None)
    assert answer.status_code == 200 and answer.json()["token_type"] == "Bearer"
    assert "cnf" not in verify(okta, answer.json()["access_token"])
    # A DPoP app with a wrong secret is invalid_client before any proof is looked at.
    dpop_client = dpop_app(okta, "dpop-wrong-secret")
    oauth_error(token_request(okta, (dpop_client[0], "wrong"), None), 401, "invalid_client")

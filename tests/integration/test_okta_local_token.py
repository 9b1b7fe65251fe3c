"""okta_local's authorization server: discovery, keys and the token endpoint, checked over plain HTTP."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests

from okta_local.testing import LocalOkta
from tests.integration.okta_local_fixtures import TIMEOUT, okta, request_token, verify

pytestmark = pytest.mark.integration
__all__ = ["okta"]  # re-exported fixture: pytest finds it here, and ruff reads it as used

BAD_CLIENT = "Client authentication failed. Either the client or the client credentials are invalid."


def oauth_error(response: requests.Response, status: int, error: str) -> dict[str, str]:
    """Check an RFC 6749 section 5.2 answer and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    return dict(body)


@pytest.mark.parametrize("document", ["oauth-authorization-server", "openid-configuration"])
def test_discovery_documents_name_the_endpoints(okta: LocalOkta, document: str) -> None:
    # Given a running server, when a client reads the metadata document
    response = requests.get(f"{okta.issuer}/.well-known/{document}", timeout=TIMEOUT)
    # Then it names the issuer and the endpoints under it
    meta = response.json()
    assert response.status_code == 200
    assert meta["issuer"] == okta.issuer
    assert okta.issuer.startswith("http://127.0.0.1:") and okta.issuer.endswith("/oauth2/default")
    assert meta["token_endpoint"] == f"{okta.issuer}/v1/token"
    assert meta["jwks_uri"] == f"{okta.issuer}/v1/keys"
    assert meta["grant_types_supported"] == ["client_credentials"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    assert set(meta["scopes_supported"]) == {"hello", "register"}


def test_keys_are_rs256_public_keys_with_cache_control(okta: LocalOkta) -> None:
    response = requests.get(okta.jwks_uri, timeout=TIMEOUT)
    keys = response.json()["keys"]
    assert response.status_code == 200
    assert "max-age=" in response.headers["Cache-Control"]
    assert len(keys) >= 1
    for key in keys:
        assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
        assert "d" not in key and "p" not in key  # public parts only
        modulus = base64.urlsafe_b64decode(key["n"] + "=" * (-len(key["n"]) % 4))
        assert len(modulus) * 8 >= 2048


def test_basic_auth_token_is_okta_shaped_and_verifies(okta: LocalOkta) -> None:
    # Given the demo client, when it asks with client_secret_basic
    response = request_token(okta, okta.env["CLIENT_ID"], okta.env["CLIENT_SECRET"], "hello")
    body = response.json()
    # Then the answer and the token look like Okta's, and the token verifies against the published keys
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["scope"] == "hello"
    header = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[0] + "=="))
    assert set(header) == {"alg", "kid"} and header["alg"] == "RS256"
    claims = verify(okta, body["access_token"])
    assert claims["ver"] == 1
    assert claims["iss"] == okta.issuer and claims["aud"] == "api://default"
    assert claims["cid"] == claims["sub"] == okta.env["CLIENT_ID"]
    assert claims["scp"] == ["hello"]
    assert claims["exp"] - claims["iat"] == 3600
    assert abs(claims["iat"] - time.time()) < 60
    assert claims["jti"].startswith("AT.")


def test_post_auth_gets_a_token_too(okta: LocalOkta) -> None:
    # Given the admin client, when it sends its credentials in the form (client_secret_post)
    response = requests.post(
        okta.token_url,
        data={
            "grant_type": "client_credentials",
            "scope": "register",
            "client_id": okta.env["ADMIN_CLIENT_ID"],
            "client_secret": okta.env["ADMIN_CLIENT_SECRET"],
        },
        timeout=TIMEOUT,
    )
    # Then it gets a register token
    assert response.status_code == 200, response.text
    claims = verify(okta, response.json()["access_token"])
    assert claims["scp"] == ["register"] and claims["sub"] == okta.env["ADMIN_CLIENT_ID"]


def test_each_token_has_its_own_jti(okta: LocalOkta) -> None:
    first, second = (verify(okta, okta.token())["jti"] for _ in range(2))
    assert first != second


def test_no_scope_gets_the_default_scope(okta: LocalOkta) -> None:
    response = request_token(okta, okta.env["CLIENT_ID"], okta.env["CLIENT_SECRET"], scope=None)
    assert response.status_code == 200
    assert response.json()["scope"] == okta.env["DEFAULT_SCOPE"] == "hello"


def test_no_scope_for_a_client_whose_policy_lacks_the_default_scope_is_access_denied(okta: LocalOkta) -> None:
    response = request_token(okta, okta.env["ADMIN_CLIENT_ID"], okta.env["ADMIN_CLIENT_SECRET"], scope=None)
    oauth_error(response, 400, "access_denied")


@pytest.mark.parametrize(
    ("client", "scope"),
    [
        ("CLIENT", "hello openid"),  # unknown to the server
        ("CLIENT", "unknown"),
        ("CLIENT", 'hel"lo'),  # not a scope token
    ],
)
def test_a_scope_the_server_does_not_have_is_invalid_scope(okta: LocalOkta, client: str, scope: str) -> None:
    response = request_token(okta, okta.env[f"{client}_ID"], okta.env[f"{client}_SECRET"], scope)
    oauth_error(response, 400, "invalid_scope")


@pytest.mark.parametrize(("client", "scope"), [("CLIENT", "register"), ("ADMIN_CLIENT", "hello")])
def test_a_scope_no_policy_grants_the_client_is_access_denied(okta: LocalOkta, client: str, scope: str) -> None:
    # The server has the scope; the client's policy grants the other one (what Okta answers then).
    response = request_token(okta, okta.env[f"{client}_ID"], okta.env[f"{client}_SECRET"], scope)
    body = oauth_error(response, 400, "access_denied")
    assert "not configured" not in body["error_description"]


def test_repeated_scope_is_granted_once(okta: LocalOkta) -> None:
    response = request_token(okta, okta.env["CLIENT_ID"], okta.env["CLIENT_SECRET"], "hello hello")
    assert verify(okta, response.json()["access_token"])["scp"] == ["hello"]


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [
        ("CLIENT_ID", "wrong-secret"),
        ("0oaUnknownClient0000", "CLIENT_SECRET"),
        ("ADMIN_CLIENT_ID", "CLIENT_SECRET"),  # another client's secret
        ("CLIENT_ID", ""),
    ],
)
def test_wrong_credentials_are_invalid_client(okta: LocalOkta, client_id: str, secret: str) -> None:
    response = request_token(okta, okta.env.get(client_id, client_id), okta.env.get(secret, secret))
    body = oauth_error(response, 401, "invalid_client")
    assert body["error_description"] == BAD_CLIENT
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_wrong_secret_by_post_is_invalid_client(okta: LocalOkta) -> None:
    data = {"grant_type": "client_credentials", "client_id": okta.env["CLIENT_ID"], "client_secret": "nope"}
    response = requests.post(okta.token_url, data=data, timeout=TIMEOUT)
    oauth_error(response, 401, "invalid_client")


@pytest.mark.parametrize(
    "authorization",
    ["Bearer abc", "Basic not-base64!", "Basic " + base64.b64encode(b"no-colon").decode(), "Basic"],
)
def test_unusable_authorization_header_is_invalid_client(okta: LocalOkta, authorization: str) -> None:
    response = requests.post(
        okta.token_url,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": authorization},
        timeout=TIMEOUT,
    )
    oauth_error(response, 401, "invalid_client")


def test_no_client_credentials_is_invalid_client(okta: LocalOkta) -> None:
    response = requests.post(okta.token_url, data={"grant_type": "client_credentials"}, timeout=TIMEOUT)
    oauth_error(response, 401, "invalid_client")


@pytest.mark.parametrize(
    ("body_field", "env_name"),
    [("client_secret", "CLIENT_SECRET"), ("client_id", "ADMIN_CLIENT_ID")],
    ids=["secret-in-header-and-body", "body-client-id-differs-from-header"],
)
def test_body_credentials_beside_basic_are_invalid_request(okta: LocalOkta, body_field: str, env_name: str) -> None:
    response = requests.post(
        okta.token_url,
        data={"grant_type": "client_credentials", body_field: okta.env[env_name]},
        auth=(okta.env["CLIENT_ID"], okta.env["CLIENT_SECRET"]),
        timeout=TIMEOUT,
    )
    oauth_error(response, 400, "invalid_request")


def test_basic_credentials_are_form_urldecoded(okta: LocalOkta) -> None:
    # RFC 6749 section 2.3.1: id and secret are form-urlencoded before base64; ours have nothing to escape
    # except what quote would leave, so an encoded "-" (%2D) must still match.
    secret = okta.env["CLIENT_SECRET"].replace("-", "%2D").replace("_", "%5F")
    raw = base64.b64encode(f"{okta.env['CLIENT_ID']}:{secret}".encode()).decode()
    response = requests.post(
        okta.token_url,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {raw}"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "refresh_token"])
def test_other_grant_types_are_unsupported(okta: LocalOkta, grant_type: str) -> None:
    response = requests.post(
        okta.token_url,
        data={"grant_type": grant_type},
        auth=(okta.env["CLIENT_ID"], okta.env["CLIENT_SECRET"]),
        timeout=TIMEOUT,
    )
    oauth_error(response, 400, "unsupported_grant_type")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("scope=hello", "application/x-www-form-urlencoded"),  # no grant_type
        ('{"grant_type": "client_credentials"}', "application/json"),
        ("grant_type=client_credentials&grant_type=client_credentials", "application/x-www-form-urlencoded"),
        ("grant_type=client_credentials&&&=x", "application/x-www-form-urlencoded"),
        ("grant_type=client_credentials&scope=%FF", "application/x-www-form-urlencoded"),
    ],
)
def test_malformed_requests_are_invalid_request(okta: LocalOkta, body: str, content_type: str) -> None:
    response = requests.post(
        okta.token_url,
        data=body,
        headers={"Content-Type": content_type},
        auth=(okta.env["CLIENT_ID"], okta.env["CLIENT_SECRET"]),
        timeout=TIMEOUT,
    )
    oauth_error(response, 400, "invalid_request")


def test_get_on_the_token_endpoint_is_refused(okta: LocalOkta) -> None:
    response = requests.get(okta.token_url, timeout=TIMEOUT)
    assert response.status_code == 405
    assert response.json()["error"] == "invalid_request"


def test_unknown_path_is_an_okta_not_found(okta: LocalOkta) -> None:
    response = requests.get(f"{okta.issuer}/v1/authorize", timeout=TIMEOUT)
    assert response.status_code == 404
    assert response.json()["errorCode"] == "E0000007"


def test_post_on_keys_is_method_not_allowed(okta: LocalOkta) -> None:
    response = requests.post(okta.jwks_uri, timeout=TIMEOUT)
    assert response.status_code == 405
    assert response.json()["errorCode"] == "E0000022"


def test_oversized_body_is_refused(okta: LocalOkta) -> None:
    response = requests.post(
        okta.token_url,
        data={"grant_type": "client_credentials", "pad": "x" * 70_000},
        auth=(okta.env["CLIENT_ID"], okta.env["CLIENT_SECRET"]),
        timeout=TIMEOUT,
    )
    assert response.status_code == 413

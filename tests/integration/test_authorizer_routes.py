"""The authorizer handler with a route table of its own, several issuers and context claims, against real key
endpoints on 127.0.0.1 and tokens minted in the tests."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from functions.authorizer import app
from tests.jwks_server import JwksServer
from tests.jwt_factory import access_claims, mint, signing_key

pytestmark = pytest.mark.integration

PREFIX = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1"
ORDERS = """
# a team's own API
GET    /orders              orders:read
POST   /orders              orders:write
GET    /orders/{id}         orders:read
GET    /orders/{id}/audit   orders:audit
ANY    /files/{proxy+}      files
DELETE /files/{proxy+}      files:admin
"""
KEY_A, KEY_B = signing_key("key-a"), signing_key("key-b")


@pytest.fixture
def issuer_a() -> Iterator[JwksServer]:
    with JwksServer([KEY_A.jwk()]) as server:
        yield server


@pytest.fixture
def issuer_b() -> Iterator[JwksServer]:
    with JwksServer([KEY_B.jwk()]) as server:
        yield server


@pytest.fixture
def call(issuer_a: JwksServer, monkeypatch: pytest.MonkeyPatch, lambda_context: Any):
    """The real handler, called as API Gateway calls it, for the path `VERB/path`."""
    for name, value in {"ISSUER": issuer_a.issuer, "AUDIENCE": "api://default", "ROUTE_SCOPES": ORDERS}.items():
        monkeypatch.setenv(name, value)

    def invoke(token: str, request: str = "GET/orders") -> dict[str, Any]:
        event = {"type": "TOKEN", "methodArn": f"{PREFIX}/{request}", "authorizationToken": f"Bearer {token}"}
        return app.lambda_handler(event, lambda_context)

    return invoke


def statements(response: dict[str, Any]) -> dict[str, list[str]]:
    return {
        s["Effect"]: [r.removeprefix(PREFIX + "/") for r in s["Resource"]]
        for s in response["policyDocument"]["Statement"]
    }


def iam_allows(response: dict[str, Any], request: str) -> bool:
    """IAM's verdict for `VERB/path`: wildcards, and an explicit Deny wins."""

    def matches(effect: str) -> bool:
        found = statements(response).get(effect, [])
        return any(re.fullmatch(re.escape(r).replace(r"\*", ".*"), request) for r in found)

    return not matches("Deny") and matches("Allow")


def test_the_policy_lists_every_route_the_scopes_open_as_execute_api_resources(call, issuer_a):
    response = call(mint(KEY_A, access_claims(issuer_a.issuer, scopes=("orders:read", "files"))))
    assert statements(response) == {
        "Allow": ["GET/orders", "GET/orders/*", "*/files/*"],
        # GET/orders/* also matches GET/orders/1/audit, and */files/* matches DELETE/files/x: denied explicitly.
        "Deny": ["GET/orders/*/audit", "DELETE/files/*"],
    }
    assert iam_allows(response, "GET/orders/42")
    assert iam_allows(response, "PUT/files/a/b/c")
    assert not iam_allows(response, "GET/orders/42/audit")
    assert not iam_allows(response, "DELETE/files/a")
    assert not iam_allows(response, "POST/orders")


def test_the_same_policy_comes_back_whichever_route_is_called_first(call, issuer_a):
    # API Gateway caches the answer per token and reuses it for every route: it cannot depend on the route.
    token = mint(KEY_A, access_claims(issuer_a.issuer, scopes=("orders:audit",)))
    first = call(token, "GET/orders/7/audit")
    assert call(token, "GET/orders") == first
    assert statements(first) == {"Allow": ["GET/orders/*/audit"]}


def test_scopes_that_open_no_route_are_denied_everything(call, issuer_a):
    response = call(mint(KEY_A, access_claims(issuer_a.issuer, scopes=("hello",))))
    assert statements(response) == {"Deny": ["*/*"]}


@pytest.mark.parametrize(
    ("table", "line"),
    [
        ("GET /orders a\nFETCH /orders a", "line 2"),
        ("GET /orders", "line 1"),
        ("GET orders a", "line 1"),
        ("GET /orders a\n\nGET /orders b", "line 3"),
        ("", "ROUTE_SCOPES is missing"),
    ],
)
def test_a_malformed_table_fails_closed_naming_the_line(call, issuer_a, monkeypatch, table, line):
    monkeypatch.setenv("ROUTE_SCOPES", table)
    with pytest.raises(Exception) as raised:  # noqa: PT011 - any error but Unauthorized: API Gateway answers 503
        call(mint(KEY_A, access_claims(issuer_a.issuer, scopes=("a",))))
    assert str(raised.value) != "Unauthorized"
    assert "ROUTE_SCOPES" in str(raised.value) and line in str(raised.value)


# --- several issuers --------------------------------------------------------------------------------------------


@pytest.fixture
def two_issuers(call, issuer_a, issuer_b, monkeypatch):
    monkeypatch.setenv(
        "ISSUERS", f"{issuer_a.issuer} api://a api://shared\n# the partner's\n{issuer_b.issuer} api://b\n"
    )
    return call


def test_each_issuer_is_trusted_for_its_own_audiences(two_issuers, issuer_a, issuer_b):
    read = ("orders:read",)
    assert "Allow" in statements(two_issuers(mint(KEY_A, access_claims(issuer_a.issuer, read, aud="api://a"))))
    assert "Allow" in statements(
        two_issuers(mint(KEY_A, access_claims(issuer_a.issuer, read, aud=["x", "api://shared"])))
    )
    assert "Allow" in statements(two_issuers(mint(KEY_B, access_claims(issuer_b.issuer, read, aud="api://b"))))
    with pytest.raises(Exception, match="^Unauthorized$"):
        two_issuers(mint(KEY_B, access_claims(issuer_b.issuer, read, aud="api://a")))  # A's audience, B's token
    with pytest.raises(Exception, match="^Unauthorized$"):
        two_issuers(mint(KEY_A, access_claims(issuer_a.issuer, read, aud="api://default")))  # ISSUERS replaces it


def reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    found = [getattr(record, "reason", None) for record in caplog.records]
    caplog.clear()
    return [reason for reason in found if reason]


def test_a_token_signed_by_one_issuer_but_naming_another_is_refused(two_issuers, issuer_a, issuer_b, caplog):
    forged = mint(KEY_A, access_claims(issuer_b.issuer, aud="api://b"))
    with pytest.raises(Exception, match="^Unauthorized$"):
        two_issuers(forged)
    assert reasons(caplog) == ["unknown kid"]
    # The same kid published by B, with B's own key material: the signature check fails on B's key.
    issuer_b.keys = [KEY_B.jwk(), signing_key("other").jwk(kid=KEY_A.kid)]
    with pytest.raises(Exception, match="^Unauthorized$"):
        two_issuers(mint(KEY_A, access_claims(issuer_b.issuer, aud="api://b")))
    assert reasons(caplog) == ["bad signature"]


def test_an_unlisted_issuer_is_refused_without_a_network_call(two_issuers, issuer_a, issuer_b, caplog):
    with JwksServer([KEY_A.jwk()]) as stranger:
        with pytest.raises(Exception, match="^Unauthorized$"):
            two_issuers(mint(KEY_A, access_claims(stranger.issuer, aud="api://a")))
        assert stranger.key_requests == 0
    assert reasons(caplog) == ["wrong issuer"]
    assert (issuer_a.key_requests, issuer_b.key_requests) == (0, 0)


def test_each_issuer_has_its_own_key_cache_and_flood_limit(two_issuers, issuer_a, issuer_b):
    assert "Allow" in statements(
        two_issuers(mint(KEY_A, access_claims(issuer_a.issuer, ("orders:read",), aud="api://a")))
    )
    assert (issuer_a.key_requests, issuer_b.key_requests) == (1, 0)  # B is fetched only for B's tokens
    # A flood of unknown kids at A spends A's one refetch (then A's cooldown holds) ...
    for n in range(5):
        with pytest.raises(Exception, match="^Unauthorized$"):
            two_issuers(mint(signing_key(f"junk-{n}"), access_claims(issuer_a.issuer, aud="api://a")))
    assert issuer_a.key_requests == 2
    # ... and B's rotation is still picked up at once: B's limits are B's.
    assert "Allow" in statements(
        two_issuers(mint(KEY_B, access_claims(issuer_b.issuer, ("orders:read",), aud="api://b")))
    )
    rotated = signing_key("key-b2")
    issuer_b.keys = [KEY_B.jwk(), rotated.jwk()]
    assert "Allow" in statements(
        two_issuers(mint(rotated, access_claims(issuer_b.issuer, ("orders:read",), aud="api://b")))
    )
    assert issuer_b.key_requests == 2


@pytest.mark.parametrize(
    ("issuers", "message"),
    [
        ("https://a.example/oauth2/x", "ISSUERS line 1: expected ISSUER AUDIENCE"),
        ("http://a.example/oauth2/x aud", "ISSUERS line 1 must be an https URL"),
        ("\nhttps://a.example/x aud\nhttps://a.example/x aud2", "ISSUERS line 3: the issuer is already listed"),
        ("# none\n", "ISSUERS lists no issuer"),
    ],
)
def test_malformed_issuers_fail_closed(two_issuers, issuer_a, monkeypatch, issuers, message):
    monkeypatch.setenv("ISSUERS", issuers)
    with pytest.raises(Exception, match=re.escape(message)):
        two_issuers(mint(KEY_A, access_claims(issuer_a.issuer, aud="api://a")))


def test_jwks_uri_is_for_a_single_issuer_only(two_issuers, issuer_a, monkeypatch):
    monkeypatch.setenv("JWKS_URI", issuer_a.issuer + "/v1/keys")
    with pytest.raises(Exception, match="JWKS_URI applies to ISSUER alone"):
        two_issuers(mint(KEY_A, access_claims(issuer_a.issuer, aud="api://a")))


# --- context for the backends -----------------------------------------------------------------------------------


def test_context_claims_copies_flat_values_and_nothing_else(call, issuer_a, monkeypatch):
    monkeypatch.setenv("CONTEXT_CLAIMS", "tenant tier quota beta groups meta long https://example.com/region absent")
    claims = access_claims(
        issuer_a.issuer,
        ("orders:read",),
        tenant="acme",
        tier=2,
        quota=1.5,
        beta=False,
        groups=["a", "b"],
        meta={"k": "v"},
        long="x" * 257,
        **{"https://example.com/region": "eu"},
    )
    context = call(mint(KEY_A, claims))["context"]
    assert context == {
        "tenant": "acme",
        "tier": 2,
        "quota": 1.5,
        "beta": False,
        "https://example.com/region": "eu",
        "clientId": claims["cid"],
        "scopes": "orders:read",
        "sub": claims["sub"],
        "jti": claims["jti"],
    }
    assert json.loads(json.dumps(context, allow_nan=False)) == context


def test_a_claim_of_exactly_256_characters_is_copied(call, issuer_a, monkeypatch):
    monkeypatch.setenv("CONTEXT_CLAIMS", "label")
    context = call(mint(KEY_A, access_claims(issuer_a.issuer, ("orders:read",), label="y" * 256)))["context"]
    assert context["label"] == "y" * 256


@pytest.mark.parametrize("name", ["clientId", "scopes", "sub", "jti"])
def test_context_claims_cannot_name_what_the_authorizer_sets(call, issuer_a, monkeypatch, name):
    monkeypatch.setenv("CONTEXT_CLAIMS", f"tenant {name}")
    with pytest.raises(Exception, match=f"CONTEXT_CLAIMS names {name}"):
        call(mint(KEY_A, access_claims(issuer_a.issuer)))

"""The authorizer handler against a real key endpoint on 127.0.0.1, with tokens minted in the tests."""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from functions.authorizer import app  # imported without ISSUER: no prefetch, so faults set in a test apply to it
from okta_m2m.errors import KeySetUnavailableError, TokenError
from okta_m2m.tokens._jwks import KeyCache
from okta_m2m.tokens._log_format import LeanJsonFormatter
from tests.jwks_server import JwksServer
from tests.jwt_factory import CLIENT_ID, access_claims, b64url, mint, sign_raw, signing_key
from tests.route_tables import TEMPLATE_ROUTES

pytestmark = pytest.mark.integration

ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1/GET/hello"
PREFIX = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1"
KEY = signing_key("key-1")


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    with JwksServer([KEY.jwk()]) as server:
        yield server


@pytest.fixture
def authorizer(jwks: JwksServer, monkeypatch: pytest.MonkeyPatch, lambda_context: Any):
    """Call the real handler the way API Gateway does; returns (call, module)."""
    for name, value in {
        "ISSUER": jwks.issuer,
        "AUDIENCE": "api://default",
        "ROUTE_SCOPES": TEMPLATE_ROUTES,
    }.items():
        monkeypatch.setenv(name, value)

    def call(token: str | None, method_arn: str = ARN, scheme: str = "Bearer ") -> dict[str, Any]:
        event: dict[str, Any] = {"type": "TOKEN", "methodArn": method_arn}
        if token is not None:
            event["authorizationToken"] = scheme + token
        return app.lambda_handler(event, lambda_context)

    return call


def key_caches(settings: Any, **kwargs: Any) -> dict[str, KeyCache]:
    """One key cache per configured issuer, as the handler builds them."""
    return {i.issuer: KeyCache(i.issuer, i.jwks_uri, **kwargs) for i in settings.issuers}


def unauthorized(call: Any, token: str | None, **kwargs: Any) -> None:
    with pytest.raises(Exception, match="^Unauthorized$"):
        call(token, **kwargs)


def resources(response: dict[str, Any]) -> list[str]:
    return response["policyDocument"]["Statement"][0]["Resource"]


def effect(response: dict[str, Any]) -> str:
    return response["policyDocument"]["Statement"][0]["Effect"]


# --- decisions -------------------------------------------------------------------------------------------------


def test_valid_hello_token_allows_every_hello_route_with_flat_context(authorizer, jwks):
    claims = access_claims(jwks.issuer)
    response = authorizer(mint(KEY, claims))
    assert response["principalId"] == CLIENT_ID
    assert effect(response) == "Allow"
    assert resources(response) == [f"{PREFIX}/GET/", f"{PREFIX}/GET/hello"]
    assert response["context"] == {"clientId": CLIENT_ID, "scopes": "hello", "sub": CLIENT_ID, "jti": claims["jti"]}
    assert all(isinstance(v, str) for v in response["context"].values())


ADMIN_RESOURCES = [
    f"{PREFIX}/DELETE/clients/*",
    f"{PREFIX}/DELETE/clients/*/secrets/*",
    f"{PREFIX}/GET/clients",
    f"{PREFIX}/GET/clients/*",
    f"{PREFIX}/POST/clients/*/secrets",
    f"{PREFIX}/POST/register",
    f"{PREFIX}/PUT/clients/*",
]


def test_register_scope_opens_only_register_and_the_clients_routes(authorizer, jwks):
    response = authorizer(mint(KEY, access_claims(jwks.issuer, scopes=("register",))))
    assert effect(response) == "Allow"
    assert sorted(resources(response)) == ADMIN_RESOURCES


def test_policy_is_the_same_whichever_route_is_called_first(authorizer, jwks):
    token = mint(KEY, access_claims(jwks.issuer, scopes=("hello", "register")))
    first = authorizer(token, method_arn=f"{PREFIX}/POST/register")
    again = authorizer(token, method_arn=ARN)
    assert resources(first) == resources(again)
    assert sorted(resources(first)) == sorted([f"{PREFIX}/GET/", f"{PREFIX}/GET/hello", *ADMIN_RESOURCES])


def test_valid_token_without_a_route_scope_is_denied(authorizer, jwks):
    response = authorizer(mint(KEY, access_claims(jwks.issuer, scopes=("profile",))))
    assert effect(response) == "Deny"
    assert resources(response) == [f"{PREFIX}/*/*"]


def test_policy_follows_the_stage_and_api_of_the_method_arn(authorizer, jwks):
    token = mint(KEY, access_claims(jwks.issuer))
    other = "arn:aws:execute-api:eu-west-1:210987654321:zyx987/prod/GET/"
    assert resources(authorizer(token, method_arn=other)) == [
        "arn:aws:execute-api:eu-west-1:210987654321:zyx987/prod/GET/",
        "arn:aws:execute-api:eu-west-1:210987654321:zyx987/prod/GET/hello",
    ]


def test_client_outside_the_allow_list_is_denied(authorizer, jwks, monkeypatch):
    monkeypatch.setenv("ALLOWED_CLIENT_IDS", "0oaother, 0oasecond")
    assert effect(authorizer(mint(KEY, access_claims(jwks.issuer)))) == "Deny"
    listed = access_claims(jwks.issuer, cid="0oasecond", sub="0oasecond")
    assert effect(authorizer(mint(KEY, listed))) == "Allow"


def test_a_route_the_table_does_not_list_opens_to_no_scope(authorizer, jwks, monkeypatch):
    monkeypatch.setenv("ROUTE_SCOPES", "GET /hello hello")
    assert effect(authorizer(mint(KEY, access_claims(jwks.issuer, scopes=("register",))))) == "Deny"
    assert resources(authorizer(mint(KEY, access_claims(jwks.issuer)))) == [f"{PREFIX}/GET/hello"]


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer x.y.z", "Token a.b.c"])
def test_missing_or_malformed_header_is_unauthorized(authorizer, header):
    unauthorized(authorizer, header, scheme="")


def test_lower_case_scheme_is_unauthorized_like_the_gateway_validation_expression(authorizer, jwks):
    unauthorized(authorizer, mint(KEY, access_claims(jwks.issuer)), scheme="bearer ")


# --- hostile tokens ---------------------------------------------------------------------------------------------


def _hostile(issuer: str) -> dict[str, str]:
    """Tokens that must all be refused: RFC 8725 and published JWT library bugs."""
    good = access_claims(issuer)
    other = signing_key("key-1-impostor")  # same kid as the real key, different key
    hmac_header = b64url(json.dumps({"alg": "HS256", "kid": KEY.kid}).encode())
    valid = mint(KEY, good)
    h, p, s = valid.split(".")
    now = int(time.time())
    tokens = {
        "alg none": f"{b64url(json.dumps({'alg': 'none', 'kid': KEY.kid}).encode())}.{p}.",
        "alg None with signature": f"{b64url(json.dumps({'alg': 'None', 'kid': KEY.kid}).encode())}.{p}.{s}",
        "HS256 with the public key as secret": f"{hmac_header}.{p}.{s}",
        "RS512 header": sign_raw({"alg": "RS512", "kid": KEY.kid}, good, KEY),
        "PS256 header": sign_raw({"alg": "PS256", "kid": KEY.kid}, good, KEY),
        "signed by another key with the same kid": mint(other, good, kid=KEY.kid),
        "unknown kid": mint(signing_key("stranger"), good),
        "no kid": sign_raw({"alg": "RS256"}, good, KEY),
        "kid not a string": sign_raw({"alg": "RS256", "kid": 1}, good, KEY),
        "kid path traversal": sign_raw({"alg": "RS256", "kid": "../../dev/null"}, good, KEY),
        "embedded jwk": sign_raw({"alg": "RS256", "kid": KEY.kid, "jwk": other.jwk()}, good, KEY),
        "jku header": sign_raw({"alg": "RS256", "kid": KEY.kid, "jku": "https://evil.example/keys"}, good, KEY),
        "x5u header": sign_raw({"alg": "RS256", "kid": KEY.kid, "x5u": "https://evil.example/cert"}, good, KEY),
        "x5c header": sign_raw({"alg": "RS256", "kid": KEY.kid, "x5c": ["MIIB"]}, good, KEY),
        "unknown crit": sign_raw({"alg": "RS256", "kid": KEY.kid, "crit": ["exp"], "exp": 1}, good, KEY),
        "b64 false": sign_raw({"alg": "RS256", "kid": KEY.kid, "b64": False, "crit": ["b64"]}, good, KEY),
        "typ id token": sign_raw({"alg": "RS256", "kid": KEY.kid, "typ": "id_token+jwt"}, good, KEY),
        "duplicate alg member": sign_raw(f'{{"alg":"none","alg":"RS256","kid":"{KEY.kid}"}}'.encode(), good, KEY),
        "duplicate iss claim": sign_raw(
            {"alg": "RS256", "kid": KEY.kid},
            json.dumps(good)[:-1].encode() + b', "iss": "https://evil.example"}',
            KEY,
        ),
        "header not an object": sign_raw(b'["RS256"]', good, KEY),
        "payload not JSON": sign_raw({"alg": "RS256", "kid": KEY.kid}, b"not json", KEY),
        "payload an array": sign_raw({"alg": "RS256", "kid": KEY.kid}, b"[1]", KEY),
        "tampered payload": f"{h}.{b64url(json.dumps({**good, 'scp': ['hello', 'register']}).encode())}.{s}",
        "tampered signature": f"{h}.{p}.{s[:-4]}{'AAAA' if s[-4:] != 'AAAA' else 'BBBB'}",
        "signature truncated": f"{h}.{p}.{s[:-2]}",
        "signature empty": f"{h}.{p}.",
        "padding": f"{h}.{p}.{s}==",
        "whitespace inside": f"{h}.{p} .{s}",
        "four segments": f"{h}.{p}.{s}.{s}",
        "five segments (JWE)": f"{h}.{p}.{s}.{p}.{s}",
        "standard base64 characters": f"{h}.{p}.{s.replace('-', '+').replace('_', '/')}"
        if "-" in s or "_" in s
        else f"{h}+.{p}.{s}",
        "non-canonical base64 tail": f"{h}.{p}.{s[:-1]}{chr(ord(s[-1]) + 1) if s[-1] not in 'z9_-' else 'A'}",
        "oversized": f"{h}.{'A' * 9000}.{s}",
        "expired": mint(KEY, access_claims(issuer, iat=now - 7200, exp=now - 3600)),
        "expired beyond leeway": mint(KEY, access_claims(issuer, iat=now - 7200, exp=now - 31)),
        "not yet valid": mint(KEY, access_claims(issuer, nbf=now + 600)),
        "issued in the future": mint(KEY, access_claims(issuer, iat=now + 600, exp=now + 4200)),
        "exp as string": sign_raw({"alg": "RS256", "kid": KEY.kid}, {**good, "exp": str(now + 600)}, KEY),
        "exp as boolean": sign_raw({"alg": "RS256", "kid": KEY.kid}, {**good, "exp": True}, KEY),
        "exp missing": mint(KEY, access_claims(issuer, exp=None)),
        "iat missing": mint(KEY, access_claims(issuer, iat=None)),
        "nbf as string": sign_raw({"alg": "RS256", "kid": KEY.kid}, {**good, "nbf": "0"}, KEY),
        "exp beyond float range": sign_raw(
            {"alg": "RS256", "kid": KEY.kid},
            json.dumps(good).replace(f'"exp": {good["exp"]}', '"exp": ' + "9" * 400).encode(),
            KEY,
        ),
        "exp NaN": sign_raw(
            {"alg": "RS256", "kid": KEY.kid},
            json.dumps(good).replace(f'"exp": {good["exp"]}', '"exp": NaN').encode(),
            KEY,
        ),
        "lifetime over a day": mint(KEY, access_claims(issuer, iat=now, exp=now + 10 * 365 * 86400)),
        "nested JWT (cty)": sign_raw({"alg": "RS256", "kid": KEY.kid, "cty": "JWT"}, good, KEY),
        "exp infinite": sign_raw(
            {"alg": "RS256", "kid": KEY.kid},
            json.dumps(good).replace(f'"exp": {good["exp"]}', '"exp": 1e999').encode(),
            KEY,
        ),
        "wrong issuer": mint(KEY, access_claims("https://evil.example/oauth2/default")),
        "issuer with trailing slash": mint(KEY, access_claims(issuer + "/")),
        "issuer missing": mint(KEY, access_claims(issuer, iss=None)),
        "wrong audience": mint(KEY, access_claims(issuer, aud="api://other")),
        "audience missing": mint(KEY, access_claims(issuer, aud=None)),
        "audience list without ours": mint(KEY, access_claims(issuer, aud=["api://other"])),
        "ID token (no cid, no scp)": mint(KEY, access_claims(issuer, cid=None, scp=None, aud="api://default")),
        "scp as a string": mint(KEY, access_claims(issuer, scp="hello")),
        "scp with a non-string": mint(KEY, access_claims(issuer, scp=["hello", 1])),
        "cid missing": mint(KEY, access_claims(issuer, cid=None)),
        "sub missing": mint(KEY, access_claims(issuer, sub=None)),
        "jti not a string": mint(KEY, access_claims(issuer, jti=5)),
        "DPoP-bound (cnf.jkt)": mint(
            KEY, access_claims(issuer, cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})
        ),
        "mTLS-bound (cnf.x5t#S256)": mint(
            KEY, access_claims(issuer, cnf={"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"})
        ),
        "cnf of any other shape": mint(KEY, access_claims(issuer, cnf={})),
    }
    return tokens


HOSTILE = list(_hostile("http://placeholder").keys())


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_token_is_unauthorized(authorizer, jwks, case):
    token = _hostile(jwks.issuer)[case]
    unauthorized(authorizer, token)


def test_issuer_is_compared_exactly_as_configured(authorizer, jwks, monkeypatch):
    monkeypatch.setenv("ISSUER", jwks.issuer + "/")
    assert effect(authorizer(mint(KEY, access_claims(jwks.issuer + "/")))) == "Allow"
    unauthorized(authorizer, mint(KEY, access_claims(jwks.issuer)))


def test_bad_token_is_unauthorized_whatever_else_the_event_lacks(jwks, monkeypatch):
    from functions.authorizer import app

    for name, value in {"ISSUER": jwks.issuer, "AUDIENCE": "api://default", "ROUTE_SCOPES": TEMPLATE_ROUTES}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(Exception, match="^Unauthorized$"):
        app.lambda_handler({"type": "TOKEN", "authorizationToken": "Bearer a.b.c"}, None)
    event = {"type": "TOKEN", "authorizationToken": "Bearer " + mint(KEY, access_claims(jwks.issuer)), "methodArn": ARN}
    assert app.lambda_handler(event, None)["principalId"] == CLIENT_ID


def test_audience_list_with_ours_is_accepted(authorizer, jwks):
    response = authorizer(mint(KEY, access_claims(jwks.issuer, aud=["api://other", "api://default"])))
    assert effect(response) == "Allow"


def test_expiry_within_leeway_is_accepted_and_leeway_is_bounded(authorizer, jwks, monkeypatch):
    now = int(time.time())
    monkeypatch.setenv("CLOCK_LEEWAY_SECONDS", "60")
    assert effect(authorizer(mint(KEY, access_claims(jwks.issuer, exp=now - 30)))) == "Allow"
    from functions.authorizer import app
    from okta_m2m.tokens._settings import authorizer_settings

    authorizer_settings.cache_clear()
    app.token_authorizer.cache_clear()
    monkeypatch.setenv("CLOCK_LEEWAY_SECONDS", "600")
    with pytest.raises(Exception, match="CLOCK_LEEWAY_SECONDS"):
        authorizer(mint(KEY, access_claims(jwks.issuer)))


# --- keys ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "jwk_change",
    [{"use": "enc"}, {"key_ops": ["encrypt"]}, {"alg": "RS512"}, {"kty": "EC"}, {"d": "AQAB"}, {"e": "AQ"}],
    ids=["use-enc", "key-ops-encrypt", "alg-rs512", "kty-ec", "private-member", "exponent-one"],
)
def test_unusable_published_key_verifies_nothing(authorizer, jwks, jwk_change):
    jwks.keys = [KEY.jwk(**jwk_change)]
    with pytest.raises(KeySetUnavailableError):
        authorizer(mint(KEY, access_claims(jwks.issuer)))


def test_rsa_key_under_2048_bits_is_refused(authorizer, jwks):
    small = signing_key("small", 1024)
    jwks.keys = [KEY.jwk(), small.jwk()]
    unauthorized(authorizer, mint(small, access_claims(jwks.issuer)))
    assert effect(authorizer(mint(KEY, access_claims(jwks.issuer)))) == "Allow"


def test_duplicate_kid_in_key_set_trusts_neither(authorizer, jwks):
    twin = signing_key("twin")
    jwks.keys = [KEY.jwk(), signing_key("other").jwk(kid=KEY.kid)]
    with pytest.raises(KeySetUnavailableError):
        authorizer(mint(KEY, access_claims(jwks.issuer)))
    assert twin.kid == "twin"


def test_keys_are_fetched_once_for_many_calls(authorizer, jwks):
    for _ in range(20):
        authorizer(mint(KEY, access_claims(jwks.issuer)))
    assert jwks.key_requests == 1


def test_rotation_is_picked_up_on_the_first_token_of_the_new_key(authorizer, jwks):
    assert effect(authorizer(mint(KEY, access_claims(jwks.issuer)))) == "Allow"
    new = signing_key("key-2")
    jwks.keys = [KEY.jwk(), new.jwk()]
    assert effect(authorizer(mint(new, access_claims(jwks.issuer)))) == "Allow"
    assert jwks.key_requests == 2


def test_flood_of_unknown_kids_fetches_at_most_twice(authorizer, jwks):
    assert effect(authorizer(mint(KEY, access_claims(jwks.issuer)))) == "Allow"
    stranger = signing_key("stranger")
    for _ in range(200):
        token = mint(stranger, access_claims(jwks.issuer), kid=uuid.uuid4().hex)
        unauthorized(authorizer, token)
    assert jwks.key_requests <= 2


def test_a_failed_refetch_lets_the_next_unknown_kid_try_again_after_the_back_off(jwks):
    clock = [1000.0]
    cache = KeyCache(jwks.issuer, f"{jwks.issuer}/v1/keys", failure_backoff=5.0, clock=lambda: clock[0])
    assert cache.get(KEY.kid)
    new = signing_key("key-2")
    jwks.mode, jwks.keys = "error", [KEY.jwk(), new.jwk()]  # the issuer rotates during an outage
    with pytest.raises(TokenError):
        cache.get(new.kid)
    clock[0] += 1
    with pytest.raises(TokenError):
        cache.get(new.kid)  # within the back-off: no fetch
    assert jwks.key_requests == 2
    jwks.mode = "ok"
    clock[0] += 5  # past the back-off, well within the minute between refetches that worked
    assert cache.get(new.kid)
    assert jwks.key_requests == 3
    with pytest.raises(TokenError):
        cache.get(signing_key("stranger").kid)  # that refetch worked: the minute's cooldown holds again
    assert jwks.key_requests == 3


def test_key_endpoint_failing_after_warm_start_keeps_cached_keys(authorizer, jwks):
    assert effect(authorizer(mint(KEY, access_claims(jwks.issuer)))) == "Allow"
    jwks.mode = "error"
    unauthorized(authorizer, mint(signing_key("key-3"), access_claims(jwks.issuer)))  # refetch fails
    assert jwks.key_requests == 2
    assert effect(authorizer(mint(KEY, access_claims(jwks.issuer)))) == "Allow"


@pytest.mark.parametrize("mode", ["error", "notfound", "garbage", "redirect"])
def test_key_endpoint_failing_at_cold_start_fails_closed(authorizer, jwks, mode):
    jwks.mode = mode
    token = mint(KEY, access_claims(jwks.issuer))
    with pytest.raises(KeySetUnavailableError):
        authorizer(token)
    with pytest.raises(KeySetUnavailableError):  # within the back-off: no new fetch, still no Allow
        authorizer(token)
    assert jwks.key_requests == 1


def test_hanging_key_endpoint_times_out(jwks):
    jwks.mode = "hang"
    cache = KeyCache(jwks.issuer, f"{jwks.issuer}/v1/keys", timeout=0.5)
    started = time.monotonic()
    with pytest.raises(KeySetUnavailableError):
        cache.get(KEY.kid)
    assert time.monotonic() - started < 2.5


def test_key_set_found_through_authorization_server_metadata(authorizer, jwks):
    jwks.metadata = True
    assert effect(authorizer(mint(KEY, access_claims(jwks.issuer)))) == "Allow"


def test_stale_keys_are_refreshed_and_a_removed_key_stops_working(jwks):
    clock = [1000.0]
    cache = KeyCache(jwks.issuer, f"{jwks.issuer}/v1/keys", max_age=3600, clock=lambda: clock[0])
    cache.get(KEY.kid)
    jwks.keys = [signing_key("key-2").jwk()]
    clock[0] += 3601
    with pytest.raises(Exception, match="unknown kid"):
        cache.get(KEY.kid)
    assert jwks.key_requests == 2


# --- the cache of verified tokens ---------------------------------------------------------------------------------


def test_same_token_is_verified_once(authorizer, jwks, monkeypatch):
    from okta_m2m.tokens import _authorization as authorization

    calls = []
    real = authorization.validate_access_token
    monkeypatch.setattr(authorization, "validate_access_token", lambda *a, **k: calls.append(1) or real(*a, **k))
    token = mint(KEY, access_claims(jwks.issuer))
    assert authorizer(token) == authorizer(token)
    assert len(calls) == 1


def test_cached_token_is_refused_once_expired(jwks, monkeypatch):
    from okta_m2m.errors import TokenError
    from okta_m2m.tokens._authorization import TokenAuthorizer
    from okta_m2m.tokens._settings import authorizer_settings

    monkeypatch.setenv("ISSUER", jwks.issuer)
    for name, value in {
        "AUDIENCE": "api://default",
        "ROUTE_SCOPES": TEMPLATE_ROUTES,
        "CLOCK_LEEWAY_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    settings = authorizer_settings()
    clock = [time.time()]
    auth = TokenAuthorizer(settings, key_caches(settings), clock=lambda: clock[0])
    token = mint(KEY, access_claims(jwks.issuer, exp=int(clock[0]) + 60))
    assert effect(auth.authorize(f"Bearer {token}", ARN)) == "Allow"
    clock[0] += 61
    with pytest.raises(TokenError, match="expired"):
        auth.authorize(f"Bearer {token}", ARN)


def test_cached_tokens_are_dropped_when_the_key_set_changes(authorizer, jwks):
    token = mint(KEY, access_claims(jwks.issuer))
    assert effect(authorizer(token)) == "Allow"
    new = signing_key("key-2")
    jwks.keys = [new.jwk()]  # emergency rotation: key-1 withdrawn
    assert effect(authorizer(mint(new, access_claims(jwks.issuer)))) == "Allow"
    unauthorized(authorizer, token)


def test_cached_tokens_are_dropped_when_a_kid_gets_other_key_material(jwks, monkeypatch):
    from okta_m2m.errors import TokenError
    from okta_m2m.tokens._authorization import TokenAuthorizer
    from okta_m2m.tokens._settings import authorizer_settings

    for name, value in {"ISSUER": jwks.issuer, "AUDIENCE": "api://default", "ROUTE_SCOPES": TEMPLATE_ROUTES}.items():
        monkeypatch.setenv(name, value)
    settings = authorizer_settings()
    clock = [1000.0]
    auth = TokenAuthorizer(settings, key_caches(settings, max_age=3600, clock=lambda: clock[0]))
    token = mint(KEY, access_claims(jwks.issuer))
    assert effect(auth.authorize(f"Bearer {token}", ARN)) == "Allow"
    jwks.keys = [signing_key("replacement").jwk(kid=KEY.kid)]  # same kid, other key
    clock[0] += 3601  # the hourly refresh
    with pytest.raises(TokenError, match="bad signature"):
        auth.authorize(f"Bearer {token}", ARN)


def test_verified_token_cache_is_bounded(jwks, monkeypatch):
    from okta_m2m.tokens._authorization import TokenAuthorizer
    from okta_m2m.tokens._settings import authorizer_settings

    for name, value in {"ISSUER": jwks.issuer, "AUDIENCE": "api://default", "ROUTE_SCOPES": TEMPLATE_ROUTES}.items():
        monkeypatch.setenv(name, value)
    settings = authorizer_settings()
    auth = TokenAuthorizer(settings, key_caches(settings), cache_size=8)
    for _ in range(20):
        auth.authorize(f"Bearer {mint(KEY, access_claims(jwks.issuer))}", ARN)
    assert len(auth._verified) <= 8


# --- configuration and logs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "issuer",
    ["http://example.com/oauth2/default", "ftp://127.0.0.1/x", "https://user:pw@example.com/oauth2/default", ""],
)
def test_insecure_or_missing_issuer_is_a_configuration_error(authorizer, jwks, monkeypatch, issuer):
    monkeypatch.setenv("ISSUER", issuer)
    with pytest.raises(Exception, match="ISSUER") as info:
        authorizer(mint(KEY, access_claims(jwks.issuer)))
    assert "Unauthorized" not in str(info.value)


def test_local_http_host_needs_sam_local(monkeypatch):
    from okta_m2m.errors import ConfigError
    from okta_m2m.tokens._issuers import secure_url

    monkeypatch.setenv("SAM_LOCAL_HTTP_ISSUER_HOSTS", "172.17.0.1")
    with pytest.raises(ConfigError):
        secure_url("ISSUER", "http://172.17.0.1:9000/oauth2/default")
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    assert secure_url("ISSUER", "http://172.17.0.1:9000/oauth2/default") == "http://172.17.0.1:9000/oauth2/default"
    with pytest.raises(ConfigError):
        secure_url("ISSUER", "http://10.0.0.1:9000/oauth2/default")


def test_no_token_reaches_the_logs(authorizer, jwks, capsys, caplog, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG)
    tokens = [mint(KEY, access_claims(jwks.issuer)), mint(KEY, access_claims(jwks.issuer, scopes=("none",)))]
    tokens += list(_hostile(jwks.issuer).values())[:10]
    for token in tokens:
        try:
            authorizer(token)
            authorizer(token)
        except Exception:  # noqa: S110 (only the logs matter here)
            pass
    logged = capsys.readouterr().out + capsys.readouterr().err + caplog.text
    assert '"decision":"allow"' in logged.replace(" ", "") or "allow" in logged
    for token in tokens:
        for part in token.split("."):
            if len(part) > 16:
                assert part not in logged


# --- per-client API keys and the decision metric ----------------------------------------------------------------


def test_an_allow_names_the_clients_api_key_and_a_deny_names_none(authorizer, jwks):
    allowed = authorizer(mint(KEY, access_claims(jwks.issuer)))
    denied = authorizer(mint(KEY, access_claims(jwks.issuer, scopes=("none",))))

    assert allowed["usageIdentifierKey"] == f"oktam2mclient{CLIENT_ID}"
    assert "usageIdentifierKey" not in denied


def test_with_a_shared_key_every_allow_names_it_whatever_the_client(authorizer, jwks, monkeypatch):
    # PerClientApiKeys=false: the template gives the authorizer the one key of its open usage plan
    monkeypatch.setenv("SHARED_API_KEY", "oktam2mallclients-my-stack")
    one = authorizer(mint(KEY, access_claims(jwks.issuer)))
    other = authorizer(mint(KEY, access_claims(jwks.issuer, cid="0oaanotherclient0000", sub="0oaanotherclient0000")))
    denied = authorizer(mint(KEY, access_claims(jwks.issuer, scopes=("none",))))

    assert one["usageIdentifierKey"] == other["usageIdentifierKey"] == "oktam2mallclients-my-stack"
    assert other["context"]["clientId"] == "0oaanotherclient0000"
    assert "usageIdentifierKey" not in denied


def test_a_shared_key_api_gateway_would_refuse_is_a_config_error(authorizer, jwks, monkeypatch):
    from okta_m2m.errors import ConfigError

    monkeypatch.setenv("SHARED_API_KEY", "too-short")
    with pytest.raises(ConfigError, match="SHARED_API_KEY"):
        authorizer(mint(KEY, access_claims(jwks.issuer)))


@contextmanager
def authorizer_lines() -> Iterator[io.StringIO]:
    """Every line the authorizer's own logger writes while the block runs."""
    (handler,) = [h for h in app.logger.handlers if isinstance(h.formatter, LeanJsonFormatter)]
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def test_every_decision_is_counted_by_decision_never_by_client(authorizer, jwks):
    with authorizer_lines() as lines:
        authorizer(mint(KEY, access_claims(jwks.issuer)))
        authorizer(mint(KEY, access_claims(jwks.issuer, scopes=("none",))))
        unauthorized(authorizer, "not.a.token")
        jwks.keys = [KEY.jwk(alg="RS512")]  # a new container meets an issuer with no usable key
        app.token_authorizer.cache_clear()
        with pytest.raises(KeySetUnavailableError):
            authorizer(mint(KEY, access_claims(jwks.issuer)))

    records = [json.loads(line) for line in lines.getvalue().splitlines() if '"_aws"' in line]
    assert [r["decision"] for r in records] == ["allow", "deny", "unauthorized", "keys_unavailable"]
    for record in records:
        (directive,) = record["_aws"]["CloudWatchMetrics"]
        assert directive["Metrics"] == [{"Name": "AuthorizerDecisions", "Unit": "Count"}]
        assert directive["Dimensions"] == [["service", "decision"]]
        assert all(isinstance(record[name], str) for name in directive["Dimensions"][0])
        assert record["AuthorizerDecisions"] == 1
        assert abs(record["_aws"]["Timestamp"] / 1000 - time.time()) < 60

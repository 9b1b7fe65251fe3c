"""The key prefetch started during INIT: it overlaps the imports and never makes INIT fail or hang."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from okta_m2m.errors import KeySetUnavailableError
from okta_m2m.tokens._fetch import Prefetched
from okta_m2m.tokens._jwks import KeyCache
from tests.jwks_server import JwksServer
from tests.jwt_factory import access_claims, mint, signing_key
from tests.route_tables import TEMPLATE_ROUTES

pytestmark = pytest.mark.integration

KEY = signing_key("key-1")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    with JwksServer([KEY.jwk()]) as server:
        yield server


def keys_url(server: JwksServer) -> str:
    return f"{server.issuer}/v1/keys"


def settled(prefetch: Prefetched) -> Prefetched:
    assert prefetch._done.wait(5)
    return prefetch


def test_the_first_fetch_takes_the_prefetched_keys(jwks):
    prefetch = settled(Prefetched(keys_url(jwks), 3.0))
    cache = KeyCache(jwks.issuer, keys_url(jwks), fetch=prefetch)
    assert cache.get(KEY.kid).key_size == 2048
    assert jwks.key_requests == 1


def test_a_failed_prefetch_leaves_the_first_call_to_fetch(jwks):
    jwks.mode = "error"
    prefetch = settled(Prefetched(keys_url(jwks), 3.0))
    jwks.mode = "ok"
    assert KeyCache(jwks.issuer, keys_url(jwks), fetch=prefetch).get(KEY.kid).key_size == 2048
    assert jwks.key_requests == 2


def test_a_hanging_prefetch_holds_the_first_call_no_longer_than_a_fetch(jwks):
    jwks.mode = "hang"
    prefetch = Prefetched(keys_url(jwks), 0.5)
    cache = KeyCache(jwks.issuer, keys_url(jwks), timeout=0.5, fetch=prefetch)
    started = time.monotonic()
    with pytest.raises(KeySetUnavailableError):  # fails closed, as a hanging fetch does without a prefetch
        cache.get(KEY.kid)
    assert time.monotonic() - started < 1.5
    assert jwks.key_requests == 1  # the call waited for the prefetch instead of opening a second request


def test_a_prefetch_older_than_its_max_age_is_fetched_again(jwks):
    prefetch = settled(Prefetched(keys_url(jwks), 3.0, max_age=0.0))
    time.sleep(0.01)
    assert KeyCache(jwks.issuer, keys_url(jwks), fetch=prefetch).get(KEY.kid).key_size == 2048
    assert jwks.key_requests == 2


def test_only_the_first_call_for_its_url_takes_the_prefetch(jwks):
    prefetch = settled(Prefetched(keys_url(jwks), 3.0))
    assert prefetch(f"{jwks.base}/keys-elsewhere", 3.0)  # another URL: the network (this server answers it too)
    assert prefetch(keys_url(jwks), 3.0)["keys"]
    assert prefetch(keys_url(jwks), 3.0)["keys"]
    assert jwks.key_requests == 3  # the prefetch, the other URL, the second call on the prefetched URL


FIRST_CALL = """
import sys, time
started = time.monotonic()
from app import lambda_handler
imported = time.monotonic() - started
class Context:
    aws_request_id = "test"
event = {"type": "TOKEN", "authorizationToken": "Bearer " + sys.argv[1], "methodArn": sys.argv[2]}
started = time.monotonic()
try:
    outcome = lambda_handler(event, Context())["policyDocument"]["Statement"][0]["Effect"]
except Exception as exc:
    outcome = type(exc).__name__
print(f"{imported:.3f} {time.monotonic() - started:.3f} {outcome}")
"""
ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1/GET/hello"


def first_call(issuer: str, token: str) -> tuple[float, float, str]:
    """Import the authorizer in a fresh process and make its first call: (import s, call s, Allow or error)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ISSUER", "AUDIENCE", "JWKS_URI"))}
    env |= {
        "ISSUER": issuer,
        "AUDIENCE": "api://default",
        "ROUTE_SCOPES": TEMPLATE_ROUTES,
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "functions" / "authorizer"), str(ROOT / "layers" / "core")])
    out = subprocess.run(
        [sys.executable, "-c", FIRST_CALL, token, ARN], env=env, capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    return float(out[0]), float(out[1]), out[2]


def test_a_cold_start_allows_with_the_keys_fetched_during_init(jwks):
    imported, _, outcome = first_call(jwks.issuer, mint(KEY, access_claims(jwks.issuer)))
    assert outcome == "Allow"
    assert jwks.key_requests == 1


def test_a_hanging_issuer_neither_slows_init_nor_holds_the_first_call_past_the_fetch_timeout(jwks):
    jwks.mode = "hang"
    imported, called, outcome = first_call(jwks.issuer, mint(KEY, access_claims(jwks.issuer)))
    assert imported < 2.0  # INIT does not wait for the issuer (the import alone takes well under a second)
    assert outcome == "KeySetUnavailableError"  # fail closed: API Gateway answers 500/503, never Allow
    assert called < 3.0 + 1.0  # one fetch timeout, as without a prefetch


def test_without_settings_init_still_succeeds_and_the_first_call_reports_them(jwks):
    imported, _, outcome = first_call("http://", "x.y.z")
    assert outcome == "ConfigError"

"""The verified-token cache of TokenAuthorizer, offline (keys from a stub fetch)."""

from __future__ import annotations

import pytest

from okta_m2m.tokens import _authorization as authorization
from okta_m2m.tokens._authorization import TokenAuthorizer
from okta_m2m.tokens._jwks import KeyCache
from okta_m2m.tokens._settings import authorizer_settings
from tests.jwt_factory import access_claims, mint, signing_key
from tests.route_tables import TEMPLATE_ROUTES

ISSUER = "https://issuer.example/oauth2/default"
ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1/GET/hello"
KEY = signing_key("unit-authz")


@pytest.fixture
def make_authorizer(monkeypatch: pytest.MonkeyPatch):
    for name, value in {"ISSUER": ISSUER, "AUDIENCE": "api://default", "ROUTE_SCOPES": TEMPLATE_ROUTES}.items():
        monkeypatch.setenv(name, value)
    settings = authorizer_settings()

    def make(cache_size: int) -> TokenAuthorizer:
        keys = {
            i.issuer: KeyCache(i.issuer, i.jwks_uri, fetch=lambda uri, timeout: {"keys": [KEY.jwk()]})
            for i in settings.issuers
        }
        return TokenAuthorizer(settings, keys, cache_size=cache_size)

    return make


def test_the_verified_token_cache_drops_the_oldest_token_first(make_authorizer, monkeypatch):
    verified: list[str] = []
    real = authorization.validate_access_token
    monkeypatch.setattr(authorization, "validate_access_token", lambda raw, **k: verified.append(raw) or real(raw, **k))
    auth = make_authorizer(cache_size=3)
    tokens = [mint(KEY, access_claims(ISSUER)) for _ in range(4)]
    for token in tokens:
        auth.authorize(f"Bearer {token}", ARN)
    assert list(auth._verified) == tokens[1:]  # the first one made room for the fourth
    for token in tokens[1:]:
        auth.authorize(f"Bearer {token}", ARN)  # cached: not verified again
    auth.authorize(f"Bearer {tokens[0]}", ARN)  # verified again, and it drops the oldest (tokens[1])
    assert verified == [*tokens, tokens[0]]
    assert list(auth._verified) == [*tokens[2:], tokens[0]]

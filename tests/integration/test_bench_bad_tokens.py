"""make bench's refusal check: the bad tokens it sends every verifier, against our real handler and key endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.bad_tokens import CONTROL, answer, bad_tokens, failures
from functions.authorizer import app
from tests.jwks_server import JwksServer
from tests.jwt_factory import AUDIENCE, signing_key
from tests.route_tables import TEMPLATE_ROUTES

pytestmark = pytest.mark.integration

ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1/GET/hello"
KEY = signing_key("bench-bad-tokens")
NAMES = {
    "tampered",
    "expired",
    "wrong audience",
    "wrong issuer",
    "unknown kid",
    "alg none",
    "HS256 with the public key",
}


@pytest.fixture
def decide(monkeypatch: pytest.MonkeyPatch, lambda_context: Any) -> Iterator[tuple[Any, str]]:
    """Our handler on a real key endpoint, as a function of the bearer token; and the issuer."""
    with JwksServer([KEY.jwk()]) as server:
        for name, value in {"ISSUER": server.issuer, "AUDIENCE": AUDIENCE, "ROUTE_SCOPES": TEMPLATE_ROUTES}.items():
            monkeypatch.setenv(name, value)

        def call(token: str) -> dict[str, Any]:
            event = {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": ARN}
            return app.lambda_handler(event, lambda_context)

        yield call, server.issuer


def test_our_handler_allows_the_control_and_answers_401_to_every_bad_token(decide):
    call, issuer = decide
    tokens = bad_tokens(KEY.private, KEY.kid, issuer, AUDIENCE, ["hello"])
    assert set(tokens) == NAMES | {CONTROL}
    answers = {name: answer(call, token) for name, token in tokens.items()}
    assert answers == {CONTROL: "Allow"} | dict.fromkeys(NAMES, "Unauthorized")
    assert failures(answers) == []


def test_a_bad_token_allowed_or_a_500_or_a_control_refused_is_a_failure():
    answers = {CONTROL: "Deny", "expired": "Allow", "alg none": "error: KeyError", "tampered": "Deny"}
    assert failures(answers) == [f"{CONTROL}: Deny", "expired: Allow", "alg none: error: KeyError"]


def test_a_crash_is_not_taken_for_a_refusal():
    def crash(token: str) -> dict[str, Any]:
        raise KeyError(token)

    assert answer(crash, "x") == "error: KeyError"

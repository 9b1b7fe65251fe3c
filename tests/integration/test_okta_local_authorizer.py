"""The project's authorizer accepts okta_local's tokens unchanged, also across a key rotation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from okta_local.testing import LocalOkta
from okta_m2m.errors import KeySetUnavailableError
from tests.integration.okta_local_fixtures import create_app
from tests.route_tables import TEMPLATE_ROUTES

pytestmark = pytest.mark.integration

PREFIX = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1"
HELLO_ARN = f"{PREFIX}/GET/hello"
REGISTER_ARN = f"{PREFIX}/POST/register"

Call = Callable[..., dict[str, Any]]


@pytest.fixture
def okta(tmp_path: Path) -> Iterator[LocalOkta]:
    with LocalOkta(tmp_path) as server:
        yield server


@pytest.fixture
def authorize(okta: LocalOkta, monkeypatch: pytest.MonkeyPatch, lambda_context: Any) -> Call:
    """Call functions.authorizer.app as API Gateway does, configured for the local issuer (caches reset by conftest)."""
    for name, value in {
        "ISSUER": okta.issuer,
        "AUDIENCE": "api://default",
        "ROUTE_SCOPES": TEMPLATE_ROUTES,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JWKS_URI", raising=False)
    from functions.authorizer import app

    def call(token: str, method_arn: str = HELLO_ARN) -> dict[str, Any]:
        event = {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": method_arn}
        return app.lambda_handler(event, lambda_context)

    return call


def effect(policy: dict[str, Any]) -> str:
    return str(policy["policyDocument"]["Statement"][0]["Effect"])


def test_demo_client_token_is_allowed_on_hello(okta: LocalOkta, authorize: Call) -> None:
    policy = authorize(okta.token(), HELLO_ARN)
    assert effect(policy) == "Allow"
    assert policy["principalId"] == okta.env["CLIENT_ID"]
    assert policy["context"]["clientId"] == okta.env["CLIENT_ID"] and policy["context"]["scopes"] == "hello"


def test_hello_token_is_denied_on_register_and_register_token_allowed(okta: LocalOkta, authorize: Call) -> None:
    hello = okta.token()
    register = okta.token(okta.env["ADMIN_CLIENT_ID"], okta.env["ADMIN_CLIENT_SECRET"], "register")
    register_policy = authorize(register, REGISTER_ARN)
    assert effect(register_policy) == "Allow"
    assert f"{PREFIX}/POST/register" in register_policy["policyDocument"]["Statement"][0]["Resource"]
    hello_policy = authorize(hello, REGISTER_ARN)
    assert f"{PREFIX}/POST/register" not in hello_policy["policyDocument"]["Statement"][0]["Resource"]


def test_app_created_through_the_apps_api_and_enrolled_is_allowed(okta: LocalOkta, authorize: Call) -> None:
    oauth = create_app(okta, "authorized-app")["credentials"]["oauthClient"]
    okta.enroll(oauth["client_id"])
    assert effect(authorize(okta.token(oauth["client_id"], oauth["client_secret"]))) == "Allow"


def test_tokens_are_allowed_before_and_after_a_rotation(okta: LocalOkta, authorize: Call) -> None:
    # Given a warm authorizer that holds the first key
    before = okta.token()
    assert effect(authorize(before)) == "Allow"
    # When the server rotates (old key published for the grace period)
    new_kid = okta.rotate_keys(grace_seconds=300)
    after = okta.token()
    assert jwt.get_unverified_header(after)["kid"] == new_kid
    # Then the authorizer fetches the new key on first sight, and both tokens pass
    assert effect(authorize(after)) == "Allow"
    assert effect(authorize(before)) == "Allow"


def test_token_from_another_issuer_is_unauthorized(okta: LocalOkta, authorize: Call, tmp_path: Path) -> None:
    with LocalOkta(tmp_path / "other") as other:
        foreign = other.token()
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorize(foreign)


def test_authorizer_fails_closed_when_the_keys_endpoint_fails(okta: LocalOkta, authorize: Call) -> None:
    token = okta.token()
    okta.set_faults(keys="fail")
    with pytest.raises(KeySetUnavailableError):
        authorize(token)
    okta.clear_faults()

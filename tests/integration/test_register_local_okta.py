"""The whole register flow against the local Okta-compatible server (tools/okta_local) and moto's server.

An admin token with the register scope passes the real authorizer, the register function creates a service
app in the local Okta, and the new client at once gets a token that the authorizer lets through to GET /hello.
"""

from __future__ import annotations

import copy
import fnmatch
import importlib
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from okta_m2m.tokens._settings import log_settings
from tests.conftest import load_event
from tests.register_fixtures import fresh_tables, register_env
from tests.route_tables import TEMPLATE_ROUTES

okta_testing = pytest.importorskip("okta_local.testing", reason="tools/okta_local is not available")

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
API_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1"
# What the authorizer hands on for a caller with the register scope (tests that do not run the authorizer).
ADMIN_POLICY = {
    "principalId": "admin",
    "context": {"clientId": "admin", "scopes": "register", "sub": "admin", "jti": "j"},
}


@pytest.fixture
def local_okta(tmp_path, monkeypatch, moto_endpoint) -> Iterator[Any]:
    """The local Okta, moto's Secrets Manager holding its API token, and every function's settings."""
    endpoint = moto_endpoint
    with okta_testing.LocalOkta(tmp_path / "okta") as okta:
        register_env(monkeypatch, org_url=okta.org_url)
        secret_name = f"okta-api-token-{uuid.uuid4().hex}"
        for name, value in {
            "ISSUER": okta.issuer,
            "AUDIENCE": "api://default",
            "ROUTE_SCOPES": TEMPLATE_ROUTES,
            "OKTA_API_TOKEN_SECRET": secret_name,
            "OKTA_ACCESS_POLICY_ID": okta.clients_policy_id,
            "LOCKS_TABLE": "LocksTable",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        }.items():
            monkeypatch.setenv(name, value)
        client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=endpoint)
        client.create_secret(Name=secret_name, SecretString=json.dumps({"apiToken": okta.api_token}))
        fresh_tables(endpoint)
        yield okta


def authorize(token: str, method: str, path: str, context: Any) -> dict[str, Any]:
    """Run the real TOKEN authorizer as API Gateway would for method and path."""
    if "functions.authorizer.app" not in sys.modules:
        # Its own service name, as in its own Lambda function: the register function's logger stays Powertools'.
        with pytest.MonkeyPatch.context() as env:
            env.setenv("POWERTOOLS_SERVICE_NAME", "authorizer")
            log_settings.cache_clear()
            importlib.import_module("functions.authorizer.app")
        log_settings.cache_clear()
    authorizer = sys.modules["functions.authorizer.app"]
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": f"{API_ARN}/{method}{path}"}
    return authorizer.lambda_handler(event, context)


def allows(policy: dict[str, Any], method: str, path: str) -> bool:
    """Whether the policy allows method and path (and no statement denies it)."""
    arn = f"{API_ARN}/{method}{path}"
    effects = set()
    for statement in policy["policyDocument"]["Statement"]:
        resources = statement["Resource"]
        for resource in [resources] if isinstance(resources, str) else resources:
            if fnmatch.fnmatchcase(arn, resource):
                effects.add(statement["Effect"])
    return effects == {"Allow"}


def proxy_event(name: str, policy: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A proxy event from events/<name>.json carrying the authorizer's principal and context, as API Gateway does."""
    event = copy.deepcopy(load_event(name))
    event.update(changes)
    event["requestContext"]["authorizer"] = {"principalId": policy["principalId"], **policy["context"]}
    return event


def test_a_registered_client_gets_a_token_at_once_and_may_call_hello(local_okta, lambda_context):
    admin_token = local_okta.token(local_okta.env["ADMIN_CLIENT_ID"], local_okta.env["ADMIN_CLIENT_SECRET"], "register")
    admin_policy = authorize(admin_token, "POST", "/register", lambda_context)
    assert allows(admin_policy, "POST", "/register")

    register = importlib.import_module("functions.register.app")
    response = register.lambda_handler(proxy_event("register-valid", admin_policy), lambda_context)

    assert response["statusCode"] == 201
    created = json.loads(response["body"])
    assert created["request_token_url"] == local_okta.token_url
    token_response = requests.post(
        created["request_token_url"],
        data={"grant_type": "client_credentials", "scope": "hello"},
        auth=(created["client_id"], created["client_secret"]),
        timeout=10,
    )
    assert token_response.status_code == 200
    client_token = token_response.json()["access_token"]
    hello_policy = authorize(client_token, "GET", "/hello", lambda_context)
    assert allows(hello_policy, "GET", "/hello")
    assert not allows(hello_policy, "POST", "/register")
    hello = importlib.import_module("functions.hello.app")
    event = proxy_event("register-valid", hello_policy, path="/hello", resource="/hello", httpMethod="GET", body=None)
    greeting = hello.lambda_handler(event, lambda_context)
    assert greeting["statusCode"] == 200
    assert json.loads(greeting["body"])["clientId"] == created["client_id"]


def test_the_same_label_twice_is_a_409_against_the_local_okta(local_okta, lambda_context):
    register = importlib.import_module("functions.register.app")
    event = proxy_event("register-valid", ADMIN_POLICY)

    assert register.lambda_handler(event, lambda_context)["statusCode"] == 201
    assert register.lambda_handler(event, lambda_context)["statusCode"] == 409


def test_an_okta_rate_limit_reaches_the_caller_as_429_with_retry_after(local_okta, lambda_context):
    local_okta.set_faults(apps=429)
    register = importlib.import_module("functions.register.app")

    response = register.lambda_handler(proxy_event("register-valid", ADMIN_POLICY), lambda_context)

    assert response["statusCode"] == 429
    assert int(response["multiValueHeaders"]["Retry-After"][0]) >= 1

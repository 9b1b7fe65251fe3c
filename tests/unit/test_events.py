"""The sample events in events/ give what their names say, through the real handlers (offline)."""

import io
import json

import pytest

from okta_m2m.tokens._log_format import LeanJsonFormatter
from tests.conftest import load_event
from tests.route_tables import TEMPLATE_ROUTES

AUTHORIZER_ENV = {
    "ISSUER": "https://example.okta.com/oauth2/default",
    "AUDIENCE": "api://default",
    "ROUTE_SCOPES": TEMPLATE_ROUTES,
}


@pytest.fixture
def env(monkeypatch):
    for name, value in AUTHORIZER_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("authorizer-missing-token", "missing bearer token"),
        ("authorizer-malformed-token", "malformed token"),
        ("authorizer-wrong-scheme", "missing bearer token"),
        # REQUEST events of the DPoP route GET /hello/dpop, refused before any key or replay store is needed
        ("authorizer-dpop-bearer-scheme", "bearer token on a DPoP route"),
        ("authorizer-dpop-missing-proof", "no dpop header"),
    ],
)
def test_authorizer_sample_events_are_unauthorized(env, lambda_context, name, reason):
    from functions.authorizer import app

    (handler,) = [h for h in app.logger.handlers if isinstance(h.formatter, LeanJsonFormatter)]
    lines = io.StringIO()
    previous = handler.setStream(lines)
    try:
        with pytest.raises(Exception, match="^Unauthorized$"):
            app.lambda_handler(load_event(name), lambda_context)
    finally:
        handler.setStream(previous)
    (line,) = lines.getvalue().splitlines()
    assert json.loads(line)["reason"] == reason


@pytest.mark.parametrize("name", ["hello", "hello-root"])
def test_hello_sample_events_greet_the_client(env, lambda_context, name):
    from functions.hello import app

    response = app.lambda_handler(load_event(name), lambda_context)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"message": "Hello World!", "clientId": "0oademo1234567890"}


def test_hello_without_the_scope_is_forbidden_even_behind_a_misconfigured_api(env, lambda_context):
    from functions.hello import app

    response = app.lambda_handler(load_event("hello-missing-scope"), lambda_context)
    assert response["statusCode"] == 403
    assert json.loads(response["body"]) == {"message": "Forbidden"}


def test_hello_unknown_route_is_a_json_404(env, lambda_context):
    from functions.hello import app

    event = load_event("hello")
    event["path"] = event["resource"] = "/nope"
    response = app.lambda_handler(event, lambda_context)
    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == {"message": "Not found"}


@pytest.mark.parametrize("name", ["hello", "hello-root", "register-valid", "clients-list"])
def test_proxy_sample_events_name_a_route_of_the_template(name):
    from okta_m2m.tokens._routes import parse_route_table

    event = load_event(name)
    assert parse_route_table(TEMPLATE_ROUTES).route_for(event["httpMethod"], event["resource"]) is not None
    assert event["requestContext"]["resourcePath"] == event["resource"]

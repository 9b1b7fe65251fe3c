"""The register function end to end against a fake Okta (stdlib HTTP server) and moto's Secrets Manager server."""

from __future__ import annotations

import importlib
import json
import secrets
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from requests.adapters import HTTPAdapter

from okta_m2m.clients._okta_auth import SswsAuth
from okta_m2m.clients._okta_client import MAX_SEARCH_PAGES, REGISTRATION_MARKER, OktaClient, service_app_body
from okta_m2m.errors import OktaUnavailableError
from tests.register_fixtures import (
    CALLER_BEARER,
    CALLER_CLIENT_ID,
    ISSUER,
    FakeOkta,
    Fault,
    all_log_output,
    fresh_tables,
    header,
    message_of,
    register_env,
    register_event,
)

pytestmark = pytest.mark.integration

LABEL = "Awesome App Name"


@dataclass
class Stack:
    """The function under test and the servers it talks to."""

    okta: FakeOkta
    secretsmanager: Any
    secret_name: str
    api_token: str
    app: ModuleType
    context: Any

    def register(self, body: Any = None, remaining_ms: int = 10_000) -> dict[str, Any]:
        """POST /register as API Gateway would deliver it."""
        self.context.remaining_millis = remaining_ms
        return self.app.lambda_handler(register_event(body or {"label": LABEL}), self.context)

    def rotate(self) -> str:
        """Rotate the API token in Okta and in the secret, as an operator would."""
        new_token = "00b" + secrets.token_urlsafe(30)
        self.okta.valid_tokens = {new_token}
        self.secretsmanager.put_secret_value(
            SecretId=self.secret_name, SecretString=json.dumps({"apiToken": new_token})
        )
        return new_token


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str, lambda_context: Any) -> Iterator[Stack]:
    api_token = "00a" + secrets.token_urlsafe(30)
    secret_name = f"okta-api-token-{uuid.uuid4().hex}"
    with FakeOkta(api_token) as okta:
        register_env(monkeypatch, org_url=okta.org_url)
        monkeypatch.setenv("OKTA_API_TOKEN_SECRET", secret_name)
        # The standard boto3 variable: the function has no local-only code path.
        monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_endpoint)
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto_endpoint)
        fresh_tables(moto_endpoint)
        client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=moto_endpoint)
        client.create_secret(Name=secret_name, SecretString=api_token)
        app = importlib.import_module("functions.register.app")
        yield Stack(okta, client, secret_name, api_token, app, lambda_context)


def test_a_new_service_app_is_created_and_its_credentials_returned_once(stack):
    response = stack.register()

    assert response["statusCode"] == 201
    assert header(response, "Cache-Control") == "no-store"
    body = json.loads(response["body"])
    created = stack.okta.calls("POST")
    assert len(created) == 1
    assert created[0].authorization == f"SSWS {stack.api_token}"
    marker = created[0].body["profile"][REGISTRATION_MARKER]
    assert created[0].body == service_app_body(LABEL, marker)
    assert str(uuid.UUID(marker)) == marker  # the registration's id, to find its app again after a crash
    assert body["label"] == LABEL
    assert body["request_token_url"] == f"{ISSUER}/v1/token"
    assert body["app_id"].startswith("0oanew")
    assert body["client_id"] == f"0oaclient{body['app_id']}"
    assert len(body["client_secret"]) >= 40
    assert set(body) == {"client_id", "client_secret", "request_token_url", "app_id", "label", "dpop"}
    assert body["dpop"] is False


def test_the_registry_decides_a_label_is_taken_with_no_search_of_okta(stack):
    first = json.loads(stack.register()["body"])

    response = stack.register()

    assert response["statusCode"] == 409
    assert json.loads(response["body"]) == {
        "message": "A client with this label is already registered",
        "client_id": first["client_id"],
    }
    assert [r.method for r in stack.okta.requests] == ["POST"]  # Okta's per-minute /api/v1/apps budget is kept


@pytest.mark.parametrize(
    ("existing", "status"),
    [(LABEL + " 2", "ACTIVE"), (LABEL.lower(), "ACTIVE"), (LABEL, "INACTIVE"), (LABEL, "ACTIVE")],
    ids=["prefix-only", "other-case", "inactive", "made-outside-the-registry"],
)
def test_only_a_label_in_the_registry_counts_as_taken(stack, existing, status):
    stack.okta.add_app(existing, status)

    assert stack.register()["statusCode"] == 201


def finder(stack: Stack) -> OktaClient:
    return OktaClient(stack.okta.org_url, lambda: 10_000, SswsAuth(stack.secret_name))


def test_the_label_search_follows_next_page_links_and_keeps_exact_labels_only(stack):
    stack.okta.page_size = 2
    for n in range(5):
        stack.okta.add_app(f"{LABEL} {n}")
    wanted = stack.okta.add_app(LABEL, "INACTIVE")

    found = finder(stack).find_apps(LABEL)

    assert [app["id"] for app in found] == [wanted["id"]]
    assert len(stack.okta.calls("GET")) == 3


def test_more_matching_pages_than_can_be_read_fail_closed(stack):
    stack.okta.page_size = 1
    for n in range(MAX_SEARCH_PAGES + 1):
        stack.okta.add_app(f"{LABEL} {n}")

    with pytest.raises(OktaUnavailableError):
        finder(stack).find_apps(LABEL)
    assert len(stack.okta.calls("GET")) == MAX_SEARCH_PAGES


def test_a_next_page_link_to_another_host_is_not_followed_and_fails_closed(stack):
    stack.okta.page_size = 1
    stack.okta.next_link_base = "http://127.0.0.2:9"
    stack.okta.add_app(LABEL + " 1")
    stack.okta.add_app(LABEL)

    with pytest.raises(OktaUnavailableError):
        finder(stack).find_apps(LABEL)
    assert len(stack.okta.requests) == 1


def test_okta_rate_limit_is_a_429_with_retry_after_and_no_retry(stack):
    reset = int(time.time()) + 30
    stack.okta.fail_next("POST", Fault(429, {"X-Rate-Limit-Reset": str(reset)}, {"errorCode": "E0000047"}))

    response = stack.register()

    assert response["statusCode"] == 429
    assert 28 <= int(header(response, "Retry-After")) <= 30
    assert len(stack.okta.calls("POST")) == 1
    assert stack.register()["statusCode"] == 201  # Okta made nothing: the label was released at once


def test_okta_5xx_on_create_is_a_502_without_okta_text_and_without_retry(stack):
    leak = "E0000009 Internal Server Error 00aLEAKYDETAIL"
    stack.okta.fail_next("POST", Fault(500, {}, {"errorCode": "E0000009", "errorSummary": leak}))

    with all_log_output() as logs:
        response = stack.register()

    assert response["statusCode"] == 502
    assert message_of(response) == "Okta is unavailable"
    assert len(stack.okta.calls("POST")) == 1
    assert "00aLEAKYDETAIL" not in logs.getvalue()
    assert "E0000009" in logs.getvalue()


def test_a_create_that_times_out_is_a_504_and_is_never_retried(stack, monkeypatch):
    # 2.2 s left: 0.7 s for the read, well under the fault's delay.
    stack.okta.fail_next("POST", Fault(200, {}, {}, delay=2.0))
    sent: list[tuple[str, Any]] = []
    real_send = HTTPAdapter.send

    def send(self: HTTPAdapter, request: Any, **kwargs: Any) -> Any:
        sent.append((request.method, kwargs.get("timeout")))  # what the function gave the call, not the clock
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(HTTPAdapter, "send", send)
    response = stack.register(remaining_ms=2_200)

    assert response["statusCode"] == 504
    assert message_of(response) == "Okta did not answer in time"
    (create_timeout,) = [timeout for method, timeout in sent if method == "POST"]
    connect, read = create_timeout
    assert read < 2.0 and connect + read <= 2.2  # gives up before Okta answers, and within the time the function has
    assert len(stack.okta.calls("POST")) == 1


def test_no_okta_call_starts_without_time_to_finish_it(stack):
    response = stack.register(remaining_ms=1_000)

    assert response["statusCode"] == 504
    assert stack.okta.requests == []


def test_okta_unreachable_is_a_502(stack, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    monkeypatch.setenv("OKTA_ORG_URL", f"http://127.0.0.1:{closed_port}")

    response = stack.register()

    assert response["statusCode"] == 502


@pytest.mark.parametrize(
    "answer",
    [
        {"id": "0oahalf", "label": LABEL},
        {"id": "0oahalf", "credentials": {"oauthClient": {"client_id": "x"}}},
        b"<html>",
    ],
    ids=["no-credentials", "no-secret", "not-json"],
)
def test_an_unusable_create_answer_is_a_502(stack, answer):
    stack.okta.fail_next("POST", Fault(200, {}, answer))

    with all_log_output() as logs:
        response = stack.register()

    assert response["statusCode"] == 502
    if isinstance(answer, dict):
        assert "0oahalf" in logs.getvalue()  # the half-made app is named for clean-up


def test_a_rotated_token_is_re_read_once_and_the_registration_succeeds(stack):
    assert stack.register({"label": "first"})["statusCode"] == 201  # caches the old token
    new_token = stack.rotate()
    stack.okta.requests.clear()

    response = stack.register()

    assert response["statusCode"] == 201
    assert [(r.method, r.authorization) for r in stack.okta.requests] == [
        ("POST", f"SSWS {stack.api_token}"),
        ("POST", f"SSWS {new_token}"),
    ]


def test_a_refused_token_that_was_not_rotated_is_a_500_after_one_call(stack):
    stack.okta.valid_tokens = {"00zsomethingelse"}

    with all_log_output() as logs:
        response = stack.register()

    assert response["statusCode"] == 500
    assert message_of(response) == "Internal server error"
    assert len(stack.okta.requests) == 1
    assert "okta_auth_error" in logs.getvalue()


def test_a_token_without_app_rights_is_a_500_without_retry(stack):
    stack.okta.fail_next("POST", Fault(403, {}, {"errorCode": "E0000006"}))

    response = stack.register()

    assert response["statusCode"] == 500
    assert len(stack.okta.requests) == 1


def test_a_registration_logs_the_audit_trail_and_no_secret(stack, capsys):
    with all_log_output() as logs:
        response = stack.register()
    printed = capsys.readouterr()
    everything = logs.getvalue() + printed.out + printed.err

    body = json.loads(response["body"])
    powertools_lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
    audit = [line for line in powertools_lines if line["message"] == "client operation"]
    assert len(audit) == 1
    assert audit[0]["action"] == "register"
    assert audit[0]["caller_client_id"] == CALLER_CLIENT_ID
    assert audit[0]["target_client_id"] == body["client_id"]
    assert audit[0]["app_id"] == body["app_id"]
    assert audit[0]["label"] == LABEL
    assert audit[0]["outcome"] == "created"
    assert '"outcome":"created"' in printed.out  # the EMF metric
    assert '"Okta answered"' in logs.getvalue()  # DEBUG lines were caught too
    for secret in (stack.api_token, body["client_secret"], CALLER_BEARER):
        assert secret not in everything

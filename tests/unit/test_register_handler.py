"""The register handler's answers that need no Okta: scope, body, settings, secret, routing, bugs, metrics."""

from __future__ import annotations

import importlib
import json

import boto3
import pytest
from moto import mock_aws

from devstack.tables import create_tables
from tests.conftest import load_event
from tests.register_fixtures import ROOT, all_log_output, header, message_of, register_env, register_event


@pytest.fixture
def register(monkeypatch):
    """The register function's module, with the template's settings in the environment."""
    register_env(monkeypatch)
    module = importlib.import_module("functions.register.app")
    yield module
    # With POWERTOOLS_DEV set, metrics are not flushed, so their dimensions would outlive the test.
    module.metrics.clear_metrics()


def emf_outcomes(stdout: str) -> list[str]:
    """The outcome dimension of every ClientOperations metric of the register action printed (EMF) in the test."""
    blobs = [json.loads(line) for line in stdout.splitlines() if line.startswith('{"_aws"')]
    return [blob["outcome"] for blob in blobs if "ClientOperations" in blob and blob["action"] == "register"]


def test_a_caller_without_the_register_scope_is_forbidden(register, lambda_context, capsys):
    response = register.lambda_handler(load_event("register-missing-scope"), lambda_context)

    assert response["statusCode"] == 403
    assert message_of(response) == "Forbidden"
    assert header(response, "Cache-Control") == "no-store"
    assert emf_outcomes(capsys.readouterr().out) == ["forbidden"]


def test_a_request_without_authorizer_context_is_forbidden(register, lambda_context):
    response = register.lambda_handler(register_event(scopes=None), lambda_context)

    assert response["statusCode"] == 403


def test_bad_json_is_a_400_naming_the_problem(register, lambda_context, capsys):
    response = register.lambda_handler(load_event("register-bad-json"), lambda_context)

    assert response["statusCode"] == 400
    assert message_of(response) == "request body is not valid JSON"
    assert emf_outcomes(capsys.readouterr().out) == ["invalid_request"]


def test_a_base64_encoded_body_is_decoded_before_it_is_checked(register, lambda_context):
    event = register_event({"label": "ok", "admin": True}, base64_body=True)

    response = register.lambda_handler(event, lambda_context)

    assert response["statusCode"] == 400
    assert message_of(response) == "only the fields label and dpop are allowed"


@pytest.mark.parametrize(
    ("name", "value"), [("OKTA_ORG_URL", None), ("OKTA_API_TOKEN_SECRET", ""), ("OKTA_ORG_URL", "http://okta.example")]
)
def test_a_missing_or_unsafe_setting_is_a_generic_500_and_the_log_names_it(
    register, lambda_context, monkeypatch, name, value
):
    if value is None:
        monkeypatch.delenv(name)
    else:
        monkeypatch.setenv(name, value)

    with all_log_output() as logs:
        response = register.lambda_handler(load_event("register-valid"), lambda_context)

    assert response["statusCode"] == 500
    assert message_of(response) == "Internal server error"
    assert name in logs.getvalue()
    assert name not in response["body"]


def test_a_missing_secret_is_a_generic_500_and_the_log_names_the_setting(register, lambda_context, capsys):
    with mock_aws(), all_log_output() as logs:
        create_tables(boto3.client("dynamodb"), ROOT / "template.yaml")
        response = register.lambda_handler(load_event("register-valid"), lambda_context)
        claim = boto3.client("dynamodb").get_item(TableName="ClientsTable", Key={"pk": {"S": "label#Awesome App Name"}})

    assert response["statusCode"] == 500
    assert message_of(response) == "Internal server error"
    assert '"outcome": "secret_unavailable"' in logs.getvalue().replace('":"', '": "')
    assert "OKTA_API_TOKEN_SECRET" in logs.getvalue()
    assert emf_outcomes(capsys.readouterr().out) == ["secret_unavailable"]
    assert "Item" not in claim  # nothing was made in Okta: the label is free again


def test_a_bug_is_a_fixed_500_without_its_text(register, lambda_context, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("internal detail that must stay inside")

    monkeypatch.setattr(register, "register_service_app", broken)
    with mock_aws():
        response = register.lambda_handler(load_event("register-valid"), lambda_context)

    assert response["statusCode"] == 500
    assert response["body"] == '{"message": "Internal server error"}'
    assert emf_outcomes(capsys.readouterr().out) == ["internal_error"]


def test_an_unknown_route_is_404_not_500(register, lambda_context):
    event = register_event()
    event["path"] = event["resource"] = "/register/extra"

    response = register.lambda_handler(event, lambda_context)

    assert response["statusCode"] == 404
    assert message_of(response) == "Not found"


def test_the_event_and_caller_token_are_never_logged_even_when_the_env_asks(
    register, lambda_context, monkeypatch, capsys
):
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    monkeypatch.setenv("POWERTOOLS_DEV", "true")
    event = load_event("register-missing-scope")
    bearer = event["headers"]["Authorization"].split()[1]

    with all_log_output() as logs:
        response = register.lambda_handler(event, lambda_context)

    assert response["statusCode"] == 403
    assert "0oaadmin1234567890" in logs.getvalue()  # the caller is named: the catcher works
    assert bearer not in logs.getvalue()
    assert bearer not in capsys.readouterr().out

"""The register request checks: the caller's scope and the body {"label": ...}."""

from __future__ import annotations

import base64
import json

import pytest

from okta_m2m.clients._okta_client import service_app_body
from okta_m2m.clients._registration import MAX_BODY_BYTES, RegistrationRequest, read_label, read_registration
from okta_m2m.errors import ForbiddenError, InvalidRequestError, PayloadTooLargeError
from okta_m2m.http_errors import error_response
from okta_m2m.tokens._routes import parse_route_table
from okta_m2m.tokens._scopes import require_route_scope
from tests.route_tables import TEMPLATE_ROUTES


def test_a_plain_label_is_returned_as_given():
    assert read_label('{"label": "Awesome App Name"}') == "Awesome App Name"


def test_a_base64_body_is_decoded_first():
    body = base64.b64encode(json.dumps({"label": "Zürich Ingest"}).encode()).decode()

    assert read_label(body, is_base64_encoded=True) == "Zürich Ingest"


@pytest.mark.parametrize("label", ["a", "x" * 100, "Name with  inner spaces", "emoji 🚀 ok"])
def test_labels_at_the_edges_are_accepted(label):
    assert read_label(json.dumps({"label": label})) == label


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "request body is required"),
        ("", "request body is required"),
        ('{"label": "a"', "request body is not valid JSON"),
        ("[" * 3000 + "]" * 3000, "request body is larger than 4096 bytes"),
        ("[" * 2000 + "]" * 2000, "request body must be a JSON object"),
        ('"label"', "request body must be a JSON object"),
        ("[]", "request body must be a JSON object"),
        ("{}", "label is required"),
        ('{"label": "a", "scopes": ["admin"]}', "only the fields label and dpop are allowed"),
        ('{"label": "a", "label": "b"}', "request body has a duplicate field"),
        ('{"label": 42}', "label must be a string"),
        ('{"label": null}', "label must be a string"),
        ('{"label": ""}', "label must be 1 to 100 characters"),
        (json.dumps({"label": "x" * 101}), "label must be 1 to 100 characters"),
        ('{"label": "line\\nbreak"}', "label must contain only printable characters"),
        ('{"label": "tab\\there"}', "label must contain only printable characters"),
        ('{"label": "nul\\u0000"}', "label must contain only printable characters"),
        ('{"label": " padded"}', "label must not start or end with whitespace"),
        ('{"label": "padded "}', "label must not start or end with whitespace"),
        ('{"label": "   "}', "label must not start or end with whitespace"),
        ('{"label": "' + "x" * (MAX_BODY_BYTES) + '"}', f"request body is larger than {MAX_BODY_BYTES} bytes"),
    ],
)
def test_bad_bodies_are_refused_with_a_message_naming_the_problem(body, message):
    with pytest.raises(InvalidRequestError) as caught:
        read_label(body)

    assert str(caught.value) == message


def test_a_body_that_is_not_base64_is_refused():
    with pytest.raises(InvalidRequestError, match="request body is not valid base64"):
        read_label("not base64!", is_base64_encoded=True)


def test_a_body_that_is_not_utf8_is_refused():
    body = base64.b64encode(b'{"label": "\xff"}').decode()

    with pytest.raises(InvalidRequestError, match="request body is not UTF-8"):
        read_label(body, is_base64_encoded=True)


def test_the_size_limit_counts_decoded_bytes_of_a_base64_body():
    raw = json.dumps({"label": "a", "pad": "x" * MAX_BODY_BYTES}).encode()

    with pytest.raises(InvalidRequestError, match="larger than"):
        read_label(base64.b64encode(raw).decode(), is_base64_encoded=True)


@pytest.mark.parametrize("scopes", ["register", "hello register", "register hello other"])
def test_a_caller_with_the_register_scope_passes(scopes):
    require_route_scope(scopes, "POST", "/register", parse_route_table(TEMPLATE_ROUTES))


@pytest.mark.parametrize("scopes", [None, "", "hello", "registered", "register:read", "REGISTER"])
def test_a_caller_without_the_exact_register_scope_is_forbidden(scopes):
    with pytest.raises(ForbiddenError):
        require_route_scope(scopes, "POST", "/register", parse_route_table(TEMPLATE_ROUTES))


def test_dpop_is_an_optional_boolean():
    assert read_registration('{"label": "svc"}') == RegistrationRequest("svc", False)
    assert read_registration('{"label": "svc", "dpop": true}') == RegistrationRequest("svc", True)
    assert read_registration('{"dpop": false, "label": "svc"}') == RegistrationRequest("svc", False)
    for bad in ('"true"', "1", "null", "[true]"):
        with pytest.raises(InvalidRequestError, match="dpop must be true or false"):
            read_registration(f'{{"label": "svc", "dpop": {bad}}}')


def test_a_dpop_app_body_requires_dpop_in_okta():
    assert service_app_body("svc", dpop=True)["settings"]["oauthClient"]["dpop_bound_access_tokens"] is True
    assert "dpop_bound_access_tokens" not in service_app_body("svc")["settings"]["oauthClient"]


def test_a_body_larger_than_the_register_route_takes_is_413_content_too_large():
    # RFC 9110 15.5.14: the body is too large, not malformed (openapi.yaml declares 413 for POST /register).
    with pytest.raises(PayloadTooLargeError, match="request body is larger than 4096 bytes"):
        read_label('{"label": "' + "x" * MAX_BODY_BYTES + '"}')
    assert error_response(PayloadTooLargeError("request body is larger than 4096 bytes")).status_code == 413

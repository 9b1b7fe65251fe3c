"""The shared domain-error -> HTTP mapping (okta_m2m.http_errors), used by the register function."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError, ServiceError

from okta_m2m.errors import (
    ClientConflictError,
    ClientExistsError,
    ClientNotFoundError,
    ConfigError,
    EnrolmentFailedError,
    ForbiddenError,
    InvalidRequestError,
    KeySetUnavailableError,
    LeaseBusyError,
    LeaseUnavailableError,
    OktaAuthError,
    OktaNotFoundError,
    OktaRateLimitedError,
    OktaRefusedError,
    OktaTimeoutError,
    OktaUnavailableError,
    RegistrationInProgressError,
    RegistryUnavailableError,
    SecretUnavailableError,
    UnknownRouteError,
)
from okta_m2m.http_errors import error_response

LEAKY = "E0000011 Invalid token 00aSECRET provided at https://internal.example"


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (ForbiddenError(LEAKY), 403, "Forbidden"),
        (ClientNotFoundError(LEAKY), 404, "Client not found"),
        (RegistrationInProgressError(LEAKY), 409, "A registration of this label is in progress"),
        (OktaNotFoundError(LEAKY), 502, "Okta is unavailable"),
        (OktaRefusedError(LEAKY, "E0000001"), 502, "Okta refused the change"),
        (RegistryUnavailableError(LEAKY), 503, "The client registry is temporarily unavailable"),
        (OktaRateLimitedError(17), 429, "Too many requests to Okta, retry later"),
        (OktaUnavailableError(LEAKY), 502, "Okta is unavailable"),
        (OktaTimeoutError(LEAKY), 504, "Okta did not answer in time"),
        (SecretUnavailableError(LEAKY), 500, "Internal server error"),
        (ConfigError(LEAKY), 500, "Internal server error"),
        (OktaAuthError(LEAKY), 500, "Internal server error"),
        (KeySetUnavailableError(LEAKY), 500, "Internal server error"),
        (RuntimeError(LEAKY), 500, "Internal server error"),
        (NotFoundError(), 404, "Not found"),
        (UnknownRouteError(LEAKY), 404, "Not found"),
        (EnrolmentFailedError(LEAKY), 502, "Okta did not enrol the new client; nothing was registered"),
        (LeaseBusyError(LEAKY), 503, "Another registration is in progress, retry shortly"),
        (LeaseUnavailableError(LEAKY), 503, "Registration is temporarily unavailable"),
    ],
)
def test_each_error_gets_its_status_and_a_fixed_message(error, status, message):
    response = error_response(error)

    assert response.status_code == status
    assert json.loads(response.body) == {"message": message}
    assert response.headers["Cache-Control"] == "no-store"


def test_a_bad_request_shows_its_own_short_message():
    response = error_response(InvalidRequestError("label must be a string"))

    assert response.status_code == 400
    assert json.loads(response.body) == {"message": "label must be a string"}


def test_a_taken_label_names_the_client_that_holds_it():
    response = error_response(ClientExistsError("0oaexisting1"))

    assert response.status_code == 409
    assert json.loads(response.body) == {
        "message": "A client with this label is already registered",
        "client_id": "0oaexisting1",
    }


def test_a_conflict_shows_its_own_short_message():
    response = error_response(ClientConflictError("the client is revoked"))

    assert response.status_code == 409
    assert json.loads(response.body) == {"message": "the client is revoked"}


def test_a_registration_in_progress_says_when_to_retry():
    assert error_response(RegistrationInProgressError("x")).headers["Retry-After"] == "2"


def test_a_rate_limit_answer_says_when_to_retry():
    response = error_response(OktaRateLimitedError(42))

    assert response.headers["Retry-After"] == "42"


def test_only_rate_limit_answers_carry_retry_after():
    assert "Retry-After" not in error_response(OktaUnavailableError("x")).headers


def test_a_busy_answer_says_when_to_retry():
    assert error_response(LeaseBusyError("held")).headers["Retry-After"] == "2"


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (NotFoundError("Order 7 not found"), 404, {"message": "Order 7 not found"}),
        (BadRequestError("quantity must be positive"), 400, {"message": "quantity must be positive"}),
        (ServiceError(409, {"reason": "stock", "left": 0}), 409, {"message": {"reason": "stock", "left": 0}}),
    ],
)
def test_a_functions_own_http_error_answers_with_its_own_status_and_message(error, status, body):
    # Powertools' HTTP errors are what a function raises to answer its caller: nothing of ours replaces them.
    response = error_response(error)

    assert (response.status_code, json.loads(response.body)) == (status, body)
    assert response.headers["Cache-Control"] == "no-store"


def test_a_403_for_want_of_a_scope_names_the_scopes_that_would_open_the_route():
    response = error_response(ForbiddenError(LEAKY, frozenset({"orders:read", "orders:admin"})))

    assert json.loads(response.body) == {"message": "Forbidden"}
    assert response.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope", scope="orders:admin orders:read"'


@pytest.mark.parametrize("scopes", [frozenset(), frozenset({'say"hi'}), frozenset({"a\\b"})])
def test_the_scope_attribute_is_left_out_when_it_cannot_be_written_as_rfc_6750_allows(scopes):
    response = error_response(ForbiddenError(LEAKY, scopes))

    assert response.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'

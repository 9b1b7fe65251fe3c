"""Offline parts of the Okta client: timeouts from the remaining time, Retry-After, the create body.

Its HTTP behaviour is tested against a real server in tests/integration/test_register_okta.py.
"""

from __future__ import annotations

import pytest

from okta_m2m.clients._okta_client import (
    DEFAULT_RETRY_AFTER_SECONDS,
    MAX_READ_TIMEOUT_SECONDS,
    OktaClient,
    ServiceApp,
    call_timeouts,
    retry_after_seconds,
    service_app_body,
)
from okta_m2m.errors import OktaTimeoutError


class StaticAuth:
    """An OktaAuth that is never asked twice."""

    def headers(self, method: str, url: str) -> dict[str, str]:
        return {"Authorization": "SSWS 00aToken"}

    def retry_after_unauthorized(self, response: object) -> bool:
        return False

    def observe(self, response: object) -> None:
        pass


def test_plenty_of_time_gives_the_capped_timeouts():
    assert call_timeouts(14_000) == (3.0, MAX_READ_TIMEOUT_SECONDS)


def test_timeouts_shrink_to_end_before_the_function_does():
    connect, read = call_timeouts(3_000)

    assert connect == read == pytest.approx(1.5)


@pytest.mark.parametrize("remaining_ms", [1_999, 500, 0, -10])
def test_too_little_time_left_refuses_to_start_a_call(remaining_ms):
    with pytest.raises(OktaTimeoutError):
        call_timeouts(remaining_ms)


def test_the_client_refuses_to_call_okta_without_time_left():
    client = OktaClient("https://example.okta.com", remaining_ms=lambda: 100, auth=StaticAuth())

    with pytest.raises(OktaTimeoutError):
        client.create_service_app("Label")


@pytest.mark.parametrize(
    ("reset", "now", "expected"),
    [
        ("1700000030", 1_700_000_000.4, 30),
        ("1700000000", 1_700_000_000.0, 1),
        ("1699999000", 1_700_000_000.0, 1),
        ("1800000000", 1_700_000_000.0, 3600),
        (None, 1_700_000_000.0, DEFAULT_RETRY_AFTER_SECONDS),
        ("soon", 1_700_000_000.0, DEFAULT_RETRY_AFTER_SECONDS),
    ],
)
def test_retry_after_counts_whole_seconds_to_the_rate_limit_reset(reset, now, expected):
    assert retry_after_seconds(reset, now) == expected


def test_the_create_body_asks_for_a_client_credentials_service_app():
    body = service_app_body("Awesome App Name")

    assert body["name"] == "oidc_client"
    assert body["label"] == "Awesome App Name"
    assert body["signOnMode"] == "OPENID_CONNECT"
    assert body["credentials"]["oauthClient"]["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["settings"]["oauthClient"] == {
        "application_type": "service",
        "grant_types": ["client_credentials"],
        "response_types": ["token"],
    }


def test_a_service_app_repr_leaves_the_client_secret_out():
    app = ServiceApp(app_id="0oa1", label="L", client_id="0oaclient", client_secret="very-secret-value")

    assert "very-secret-value" not in repr(app)
    assert "0oaclient" in repr(app)

"""Reading the Okta API token from Secrets Manager (moto), with the cache and the forced refresh."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from okta_m2m.clients._secrets import okta_api_token
from okta_m2m.errors import SecretUnavailableError
from tests.register_fixtures import SECRET_NAME, all_log_output, register_env


@pytest.fixture
def secretsmanager(monkeypatch):
    register_env(monkeypatch)
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


@pytest.mark.parametrize(
    "secret_string",
    [
        "00aPlainToken_-x",
        "  00aPlainToken_-x\n",
        '{"apiToken": "00aPlainToken_-x"}',
        '{"apiToken": " 00aPlainToken_-x "}',
    ],
)
def test_the_token_is_read_from_a_plain_or_json_secret(secretsmanager, secret_string):
    secretsmanager.create_secret(Name=SECRET_NAME, SecretString=secret_string)

    assert okta_api_token(SECRET_NAME) == "00aPlainToken_-x"


def test_a_binary_secret_holding_the_token_is_read(secretsmanager):
    secretsmanager.create_secret(Name=SECRET_NAME, SecretBinary=b"00aBinaryToken")

    assert okta_api_token(SECRET_NAME) == "00aBinaryToken"


def test_the_token_is_cached_until_a_refresh_is_forced(secretsmanager):
    secretsmanager.create_secret(Name=SECRET_NAME, SecretString="00aOldToken")
    assert okta_api_token(SECRET_NAME) == "00aOldToken"

    secretsmanager.put_secret_value(SecretId=SECRET_NAME, SecretString="00aNewToken")

    assert okta_api_token(SECRET_NAME) == "00aOldToken"
    assert okta_api_token(SECRET_NAME, refresh=True) == "00aNewToken"
    assert okta_api_token(SECRET_NAME) == "00aNewToken"


def test_a_missing_secret_is_unavailable_and_the_log_names_the_setting(secretsmanager):
    with all_log_output() as logs, pytest.raises(SecretUnavailableError) as caught:
        okta_api_token(SECRET_NAME)

    assert "OKTA_API_TOKEN_SECRET" in str(caught.value)
    assert "OKTA_API_TOKEN_SECRET" in logs.getvalue()


@pytest.mark.parametrize(
    "secret_string",
    [
        '{"token": "00aWrongKeyToken"}',
        '{"apiToken": 12345}',
        '{"apiToken": ""}',
        '["00aListToken"]',
        '{"apiToken": "00aBroken',
        "two words",
        "00aToken\r\nX-Injected: 1",
        "   ",
    ],
)
def test_a_secret_without_a_usable_token_is_unavailable_and_not_logged(secretsmanager, secret_string):
    secretsmanager.create_secret(Name=SECRET_NAME, SecretString=secret_string)

    with all_log_output() as logs, pytest.raises(SecretUnavailableError) as caught:
        okta_api_token(SECRET_NAME)

    assert "no usable API token" in str(caught.value)
    assert "OKTA_API_TOKEN_SECRET" in logs.getvalue()
    for fragment in ("00aWrongKeyToken", "00aListToken", "00aBroken", "X-Injected", "two words"):
        assert fragment not in logs.getvalue()
        assert fragment not in str(caught.value)

"""Okta credentials (an SSWS API token, or a service app's private JWK), read from AWS Secrets Manager through
Powertools parameters and cached per container."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from functools import lru_cache

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from botocore.config import Config

from okta_m2m.errors import SecretUnavailableError

# How long a warm container reuses the token before asking Secrets Manager again.
SECRET_MAX_AGE_SECONDS = 300

# botocore at DEBUG logs whole API responses, the SecretString included. Whatever level the root
# logger gets (AWS_LAMBDA_LOG_LEVEL, a test's caplog), botocore stays at INFO so the token never reaches a log.
logging.getLogger("botocore").setLevel(logging.INFO)

logger = Logger(child=True)

# RFC 7235 token68, the shape of an SSWS token; it also keeps line breaks and quotes out of the header.
_TOKEN68 = re.compile(r"[A-Za-z0-9._~+/-]+=*")


@lru_cache(maxsize=1)
def secrets_provider() -> SecretsProvider:
    """Build the Secrets Manager provider once per container, with timeouts that fit a Lambda invocation."""
    # botocore's defaults (60 s timeouts, several retries) would outlive the function; the endpoint still
    # follows the standard AWS_ENDPOINT_URL_SECRETS_MANAGER variable, which local runs and tests use.
    config = Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 2})
    return SecretsProvider(boto_config=config)


def _token_from(value: str | bytes) -> str:
    text = value.decode("utf-8", errors="strict") if isinstance(value, bytes) else value
    text = text.strip()
    if text.startswith("{"):
        document = json.loads(text)
        token = document.get("apiToken") if isinstance(document, dict) else None
        if not isinstance(token, str):
            raise ValueError("JSON secret without a string apiToken")
        text = token.strip()
    if not _TOKEN68.fullmatch(text):
        raise ValueError("secret is not a usable API token")
    return text


_PRIVATE_JWK_TYPES = {"RSA": ("n", "e", "d"), "EC": ("crv", "x", "y", "d")}


def _private_jwk_from(value: str | bytes) -> dict[str, str]:
    text = value.decode("utf-8", errors="strict") if isinstance(value, bytes) else value
    jwk = json.loads(text)
    if not isinstance(jwk, dict) or jwk.get("kty") not in _PRIVATE_JWK_TYPES:
        raise ValueError("not an RSA or EC JWK")
    if not all(isinstance(jwk.get(member), str) and jwk[member] for member in ("kid", *_PRIVATE_JWK_TYPES[jwk["kty"]])):
        raise ValueError("JWK without kid or private key members")
    return jwk


def _secret[T](secret_id: str, refresh: bool, parse: Callable[[str | bytes], T], holds: str) -> T:
    try:
        value = secrets_provider().get(secret_id, max_age=SECRET_MAX_AGE_SECONDS, force_fetch=refresh)
    except Exception as exc:
        # Powertools wraps every SDK failure in GetParameterError; its text names the secret, never its value.
        logger.error("secret unreadable", setting="OKTA_API_TOKEN_SECRET", error_type=type(exc).__name__)
        raise SecretUnavailableError("setting OKTA_API_TOKEN_SECRET: the secret cannot be read") from None
    try:
        return parse(value)  # type: ignore[arg-type]
    except (ValueError, UnicodeDecodeError):
        # No exception text here: a JSON error message can quote part of the secret.
        logger.error(f"secret holds no usable {holds}", setting="OKTA_API_TOKEN_SECRET")
        raise SecretUnavailableError(f"setting OKTA_API_TOKEN_SECRET: the secret holds no usable {holds}") from None


def okta_api_token(secret_id: str, *, refresh: bool = False) -> str:
    """Return the API token held by the secret (the token, or JSON {"apiToken": ...}); refresh skips the cache."""
    return _secret(secret_id, refresh, _token_from, "API token")


def okta_private_jwk(secret_id: str, *, refresh: bool = False) -> dict[str, str]:
    """Return the service app's private key held by the secret, as a JWK (RSA or EC, with its kid)."""
    return _secret(secret_id, refresh, _private_jwk_from, "private JWK")

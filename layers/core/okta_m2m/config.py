"""Settings from the environment: the only module that reads os.environ."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from okta_m2m.errors import ConfigError

MAX_LEEWAY_SECONDS = 60


# NamedTuples, not dataclasses: importing dataclasses pulls in inspect, ~10 ms of the authorizer's cold start.
class AuthorizerSettings(NamedTuple):
    """What the authorizer needs to validate tokens and build policies."""

    issuer: str
    audience: str
    hello_scope: str
    register_scope: str
    allowed_client_ids: frozenset[str]
    leeway_seconds: int
    jwks_uri: str
    jwks_uri_configured: bool


class RegisterSettings(NamedTuple):
    """What the register function needs to create Okta service apps."""

    issuer: str
    register_scope: str
    okta_org_url: str
    api_token_secret: str


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"setting {name} is missing")
    return value


def _local_http_hosts() -> frozenset[str]:
    # Honoured only inside `sam local` containers (SAM CLI sets AWS_SAM_LOCAL there, Lambda never does),
    # so a deployed function can never be talked into plain http towards a non-loopback host.
    if os.environ.get("AWS_SAM_LOCAL") != "true":
        return frozenset()
    raw = os.environ.get("SAM_LOCAL_HTTP_ISSUER_HOSTS", "")
    return frozenset(h.strip().lower() for h in raw.split(",") if h.strip())


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secure_url(name: str, value: str) -> str:
    """Return value, unchanged, if it is https, or plain http to a loopback (or allowed local) host."""
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"setting {name} is not a plain URL")
    if parts.scheme == "http" and (_is_loopback(host) or host in _local_http_hosts()):
        return value
    if parts.scheme != "https":
        raise ConfigError(f"setting {name} must be an https URL")
    return value


def _leeway() -> int:
    raw = os.environ.get("CLOCK_LEEWAY_SECONDS", "30").strip() or "30"
    try:
        leeway = int(raw)
    except ValueError:
        raise ConfigError("setting CLOCK_LEEWAY_SECONDS is not a whole number") from None
    if not 0 <= leeway <= MAX_LEEWAY_SECONDS:
        raise ConfigError(f"setting CLOCK_LEEWAY_SECONDS must be between 0 and {MAX_LEEWAY_SECONDS}")
    return leeway


_LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})


@lru_cache(maxsize=1)
def log_settings() -> tuple[str, str]:
    """The service name and log level, from the variables Powertools reads (its defaults where unset)."""
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "").strip() or "service_undefined"
    level = (os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "INFO").strip().upper()
    return service, level if level in _LOG_LEVELS else "INFO"


@lru_cache(maxsize=1)
def authorizer_settings() -> AuthorizerSettings:
    """Read and check the authorizer's settings once per container."""
    # Kept exactly as configured: the iss claim must equal it character for character.
    issuer = secure_url("ISSUER", _required("ISSUER"))
    jwks_uri = os.environ.get("JWKS_URI", "").strip()
    allowed = os.environ.get("ALLOWED_CLIENT_IDS", "")
    return AuthorizerSettings(
        issuer=issuer,
        audience=_required("AUDIENCE"),
        hello_scope=_required("HELLO_SCOPE"),
        # Optional here: without it no token opens POST /register (the register function itself requires it).
        register_scope=os.environ.get("REGISTER_SCOPE", "").strip(),
        allowed_client_ids=frozenset(c.strip() for c in allowed.split(",") if c.strip()),
        leeway_seconds=_leeway(),
        jwks_uri=secure_url("JWKS_URI", jwks_uri) if jwks_uri else f"{issuer.rstrip('/')}/v1/keys",
        jwks_uri_configured=bool(jwks_uri),
    )


@lru_cache(maxsize=1)
def register_settings() -> RegisterSettings:
    """Read and check the register function's settings once per container."""
    return RegisterSettings(
        issuer=secure_url("ISSUER", _required("ISSUER")),
        register_scope=_required("REGISTER_SCOPE"),
        okta_org_url=secure_url("OKTA_ORG_URL", _required("OKTA_ORG_URL")).rstrip("/"),
        api_token_secret=_required("OKTA_API_TOKEN_SECRET"),
    )


@lru_cache(maxsize=1)
def hello_scope() -> str:
    """The scope GET /hello requires (the hello function checks it again behind the authorizer)."""
    return _required("HELLO_SCOPE")

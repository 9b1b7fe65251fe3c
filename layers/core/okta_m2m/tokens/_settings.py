"""The authorizer's settings (and the route table and log settings every function reads) from the environment.

With okta_m2m.tokens._issuers (the trusted issuers) and okta_m2m.clients._settings (the register function's
settings), the only modules that read os.environ."""

# No `from __future__ import annotations` here: see okta_m2m/tokens/__init__.py (NamedTuples, cold start).

import os
from functools import lru_cache
from typing import NamedTuple

from okta_m2m.errors import ConfigError
from okta_m2m.tokens._issuers import IssuerSettings, issuer_settings, required, secure_url
from okta_m2m.tokens._routes import RouteTable, parse_route_table

MAX_LEEWAY_SECONDS = 60
# The authorizer sets these context keys itself; CONTEXT_CLAIMS may not stand in for them.
RESERVED_CONTEXT = frozenset({"clientId", "scopes", "sub", "jti"})


# NamedTuples, not dataclasses: importing dataclasses pulls in inspect, ~10 ms of the authorizer's cold start.
class AuthorizerSettings(NamedTuple):
    """What the authorizer needs to validate tokens and build policies."""

    issuers: tuple[IssuerSettings, ...]
    routes: RouteTable
    allowed_client_ids: frozenset[str]
    leeway_seconds: int
    context_claims: tuple[str, ...]
    shared_api_key: str | None = None  # the one key every Allow names (PerClientApiKeys=false); None: each client's


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


def _context_claims() -> tuple[str, ...]:
    names = tuple(dict.fromkeys(os.environ.get("CONTEXT_CLAIMS", "").split()))
    reserved = sorted(RESERVED_CONTEXT.intersection(names))
    if reserved:
        raise ConfigError(f"setting CONTEXT_CLAIMS names {', '.join(reserved)}, which the authorizer sets itself")
    return names


# API Gateway's bounds on an API key's value.
MIN_KEY_CHARS, MAX_KEY_CHARS = 20, 128


def _shared_api_key() -> str | None:
    value = os.environ.get("SHARED_API_KEY", "").strip()
    if value and not MIN_KEY_CHARS <= len(value) <= MAX_KEY_CHARS:
        raise ConfigError(f"setting SHARED_API_KEY must be {MIN_KEY_CHARS} to {MAX_KEY_CHARS} characters")
    return value or None


@lru_cache(maxsize=1)
def route_table() -> RouteTable:
    """ROUTE_SCOPES, read and checked once per container (the authorizer and every proxy function use it)."""
    return parse_route_table(required("ROUTE_SCOPES"))


@lru_cache(maxsize=1)
def authorizer_settings() -> AuthorizerSettings:
    """Read and check the authorizer's settings once per container."""
    allowed = os.environ.get("ALLOWED_CLIENT_IDS", "")
    return AuthorizerSettings(
        issuers=issuer_settings(),
        routes=route_table(),
        allowed_client_ids=frozenset(c.strip() for c in allowed.split(",") if c.strip()),
        leeway_seconds=_leeway(),
        context_claims=_context_claims(),
        shared_api_key=_shared_api_key(),
    )


MAX_PROOF_WINDOW_SECONDS = 300
_TRUE, _FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no", ""})


class DpopSettings(NamedTuple):
    """What the DPoP routes' checks need: where clients call the API, how old a proof may be, the replay store."""

    base_urls: tuple[str, ...]  # public base URLs of the API besides its stage's execute-api URL, as configured
    proof_window_seconds: int
    replay_table: str
    region: str
    dynamodb_endpoint: str
    replay_fail_open: bool
    credentials: tuple[str, str, str] = ("", "", "")  # access key, secret key, session token (for repr: see below)

    def __repr__(self) -> str:
        return f"DpopSettings({self.base_urls!r}, {self.proof_window_seconds}, {self.replay_table!r}, <credentials>)"


def _whole_seconds(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip() or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"setting {name} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"setting {name} must be between {low} and {high}")
    return value


def _flag(name: str) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"setting {name} must be true or false")


def _base_urls() -> tuple[str, ...]:
    urls = []
    for raw in os.environ.get("API_BASE_URLS", "").split():
        url = secure_url("API_BASE_URLS", raw.rstrip("/"))
        if "?" in url or "#" in url:
            raise ConfigError("setting API_BASE_URLS holds a URL with a query or fragment")
        urls.append(url)
    return tuple(dict.fromkeys(urls))


def _dynamodb_endpoint(region: str) -> str:
    configured = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB", "").strip()
    if configured:
        return secure_url("AWS_ENDPOINT_URL_DYNAMODB", configured)
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://dynamodb.{region}.{suffix}"


@lru_cache(maxsize=1)
def dpop_settings() -> DpopSettings:
    """Read and check the DPoP settings once per container, on the first DPoP request (a bearer-only API never
    needs them). The credentials are the function role's, from the variables Lambda sets."""
    region = (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "").strip()
    if not region:
        raise ConfigError("setting AWS_REGION is missing")
    return DpopSettings(
        base_urls=_base_urls(),
        proof_window_seconds=_whole_seconds("DPOP_PROOF_WINDOW_SECONDS", 60, 1, MAX_PROOF_WINDOW_SECONDS),
        replay_table=required("DPOP_REPLAY_TABLE"),
        region=region,
        dynamodb_endpoint=_dynamodb_endpoint(region),
        replay_fail_open=_flag("DPOP_REPLAY_FAIL_OPEN"),
        credentials=(
            required("AWS_ACCESS_KEY_ID"),
            required("AWS_SECRET_ACCESS_KEY"),
            os.environ.get("AWS_SESSION_TOKEN", "").strip(),
        ),
    )

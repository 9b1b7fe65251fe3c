"""Settings from the environment: with okta_m2m.issuers (the trusted issuers), the only module that reads
os.environ."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import NamedTuple

from okta_m2m.errors import ConfigError
from okta_m2m.fetch import split_url
from okta_m2m.issuers import IssuerSettings, issuer_settings, required, secure_url
from okta_m2m.routes import RouteTable, parse_route_table

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


class RegisterSettings(NamedTuple):
    """What the register function needs to create Okta service apps and enrol them in an access policy."""

    issuer: str
    okta_org_url: str
    api_token_secret: str  # the SSWS API token (ssws), or the service app's private JWK (oauth)
    auth_mode: str  # "oauth" (OAuth 2.0 for Okta) or "ssws"
    client_id: str  # the register function's own service app (oauth)
    dpop: bool
    authorization_server_id: str  # from the issuer's path, /oauth2/{id}
    access_policy_id: str  # the policy new clients join; empty: no enrolment
    locks_table: str  # DynamoDB table of leases: the access policy's, and each client's for its secrets
    clients_table: str  # DynamoDB table of registered clients (okta_m2m.registry)
    usage_plan_id: str  # the API's usage plan each client's API key joins; empty: no per-client keys


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
    )


AUTH_MODES = ("oauth", "ssws")


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false"):
        raise ConfigError(f"setting {name} must be true or false")
    return raw == "true"


@lru_cache(maxsize=1)
def register_settings() -> RegisterSettings:
    """Read and check the register function's settings once per container."""
    issuer = secure_url("ISSUER", required("ISSUER"))
    mode = os.environ.get("OKTA_AUTH_MODE", "").strip().lower() or "oauth"
    if mode not in AUTH_MODES:
        raise ConfigError("setting OKTA_AUTH_MODE must be oauth or ssws")
    policy = os.environ.get("OKTA_ACCESS_POLICY_ID", "").strip()
    # Okta's custom authorization servers issue as {org}/oauth2/{authServerId}: the policy belongs to that server.
    url = split_url(issuer)
    path = url.path.rstrip("/").split("/") if url else []
    server = path[2] if len(path) == 3 and path[1] == "oauth2" and path[2] else ""
    if policy and not server:
        raise ConfigError("setting ISSUER is not an Okta custom authorization server (/oauth2/{id}) to enrol in")
    return RegisterSettings(
        issuer=issuer,
        okta_org_url=secure_url("OKTA_ORG_URL", required("OKTA_ORG_URL")).rstrip("/"),
        api_token_secret=required("OKTA_API_TOKEN_SECRET"),
        auth_mode=mode,
        client_id=required("OKTA_CLIENT_ID") if mode == "oauth" else "",
        dpop=_flag("OKTA_DPOP", True),
        authorization_server_id=server,
        access_policy_id=policy,
        locks_table=required("LOCKS_TABLE"),
        clients_table=required("CLIENTS_TABLE"),
        usage_plan_id=os.environ.get("USAGE_PLAN_ID", "").strip(),
    )

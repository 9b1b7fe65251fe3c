"""Settings from the environment: the only module that reads os.environ."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from okta_m2m.errors import ConfigError
from okta_m2m.fetch import split_url

if TYPE_CHECKING:
    from okta_m2m.routes import RouteTable

MAX_LEEWAY_SECONDS = 60
# The authorizer sets these context keys itself; CONTEXT_CLAIMS may not stand in for them.
RESERVED_CONTEXT = frozenset({"clientId", "scopes", "sub", "jti"})


# NamedTuples, not dataclasses: importing dataclasses pulls in inspect, ~10 ms of the authorizer's cold start.
class IssuerSettings(NamedTuple):
    """One trusted authorization server: its tokens' iss, the audiences they may name, where its keys are."""

    issuer: str
    audiences: frozenset[str]
    jwks_uri: str
    jwks_uri_configured: bool


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
    import ipaddress  # plain http only: a deployed function, all https, never loads it

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secure_url(name: str, value: str) -> str:
    """Return value, unchanged, if it is https, or plain http to a loopback (or allowed local) host."""
    if not value.lower().startswith(("https://", "http://")):
        raise ConfigError(f"setting {name} must be an https URL")
    url = split_url(value)
    if url is None:
        raise ConfigError(f"setting {name} is not a plain URL")
    if url.scheme == "http" and not (_is_loopback(url.host) or url.host in _local_http_hosts()):
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


def _okta_keys_uri(issuer: str) -> str:
    return f"{issuer.rstrip('/')}/v1/keys"


def table_lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """The entries of a one-entry-a-line setting (ROUTE_SCOPES, ISSUERS): (line number, its fields), blank lines
    and lines starting with `#` left out."""
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if fields and not fields[0].startswith("#"):
            yield number, fields


def issuer_settings() -> tuple[IssuerSettings, ...]:
    """ISSUERS, one `ISSUER AUDIENCE [AUDIENCE ...]` a line; without it, ISSUER and AUDIENCE (and JWKS_URI). Read
    afresh on each call: authorizer_settings() keeps them for the container."""
    jwks_uri = os.environ.get("JWKS_URI", "").strip()
    listed = os.environ.get("ISSUERS", "")
    if not listed.strip():
        # Kept exactly as configured: the iss claim must equal it character for character.
        issuer = secure_url("ISSUER", _required("ISSUER"))
        return (
            IssuerSettings(
                issuer=issuer,
                audiences=frozenset({_required("AUDIENCE")}),
                jwks_uri=secure_url("JWKS_URI", jwks_uri) if jwks_uri else _okta_keys_uri(issuer),
                jwks_uri_configured=bool(jwks_uri),
            ),
        )
    if jwks_uri:
        raise ConfigError("setting JWKS_URI applies to ISSUER alone, not to ISSUERS")
    issuers: dict[str, IssuerSettings] = {}
    for number, fields in table_lines(listed):
        where = f"setting ISSUERS line {number}"
        if len(fields) < 2:
            raise ConfigError(f"{where}: expected ISSUER AUDIENCE [AUDIENCE ...]")
        issuer = secure_url(f"ISSUERS line {number}", fields[0])
        if issuer in issuers:
            raise ConfigError(f"{where}: the issuer is already listed")
        issuers[issuer] = IssuerSettings(issuer, frozenset(fields[1:]), _okta_keys_uri(issuer), False)
    if not issuers:
        raise ConfigError("setting ISSUERS lists no issuer")
    return tuple(issuers.values())


def _context_claims() -> tuple[str, ...]:
    names = tuple(dict.fromkeys(os.environ.get("CONTEXT_CLAIMS", "").split()))
    reserved = sorted(RESERVED_CONTEXT.intersection(names))
    if reserved:
        raise ConfigError(f"setting CONTEXT_CLAIMS names {', '.join(reserved)}, which the authorizer sets itself")
    return names


@lru_cache(maxsize=1)
def route_table() -> RouteTable:
    """ROUTE_SCOPES, read and checked once per container (the authorizer and every proxy function use it)."""
    from okta_m2m.routes import parse_route_table  # not before the authorizer's key prefetch has started

    return parse_route_table(_required("ROUTE_SCOPES"))


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
    issuer = secure_url("ISSUER", _required("ISSUER"))
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
        okta_org_url=secure_url("OKTA_ORG_URL", _required("OKTA_ORG_URL")).rstrip("/"),
        api_token_secret=_required("OKTA_API_TOKEN_SECRET"),
        auth_mode=mode,
        client_id=_required("OKTA_CLIENT_ID") if mode == "oauth" else "",
        dpop=_flag("OKTA_DPOP", True),
        authorization_server_id=server,
        access_policy_id=policy,
        locks_table=_required("LOCKS_TABLE"),
        clients_table=_required("CLIENTS_TABLE"),
        usage_plan_id=os.environ.get("USAGE_PLAN_ID", "").strip(),
    )

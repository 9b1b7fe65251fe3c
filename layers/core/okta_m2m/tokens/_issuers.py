"""The authorization servers the API trusts, from the environment, and the URLs the functions may fetch from.

The authorizer reads these first in Lambda's INIT to start fetching signing keys, so everything this module imports
is imported before that request can leave (make bench, cold start): the standard library's os only, and not typing
(a fifth of that wait), hence a plain class for IssuerSettings. okta_m2m.tokens._settings reads the authorizer's
other settings.
"""

from __future__ import annotations

import os

from okta_m2m.errors import ConfigError
from okta_m2m.tokens._fetch import split_url

TYPE_CHECKING = False  # typing's flag, without importing typing (type checkers read it as True)
if TYPE_CHECKING:
    from collections.abc import Iterator


class IssuerSettings:
    """One trusted authorization server: its tokens' iss, the audiences they may name, where its keys are."""

    __slots__ = ("audiences", "issuer", "jwks_uri", "jwks_uri_configured")

    def __init__(self, issuer: str, audiences: frozenset[str], jwks_uri: str, jwks_uri_configured: bool) -> None:
        self.issuer = issuer
        self.audiences = audiences
        self.jwks_uri = jwks_uri
        self.jwks_uri_configured = jwks_uri_configured

    def __repr__(self) -> str:
        return f"IssuerSettings({self.issuer!r}, {sorted(self.audiences)!r}, {self.jwks_uri!r})"


def required(name: str) -> str:
    """The setting `name`, stripped; ConfigError if it is missing or blank."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"setting {name} is missing")
    return value


def table_lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """The entries of a one-entry-a-line setting (ROUTE_SCOPES, ISSUERS): (line number, its fields), blank lines
    and lines starting with `#` left out."""
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if fields and not fields[0].startswith("#"):
            yield number, fields


def _local_http_hosts() -> frozenset[str]:
    # Honoured only inside `sam local` containers (SAM CLI sets AWS_SAM_LOCAL there, Lambda never does),
    # so a deployed function can never be talked into plain http towards a non-loopback host.
    if os.environ.get("AWS_SAM_LOCAL") != "true":
        return frozenset()
    raw = os.environ.get("SAM_LOCAL_HTTP_ISSUER_HOSTS", "")
    return frozenset(h.strip().lower() for h in raw.split(",") if h.strip())


def _is_loopback(host: str) -> bool:
    # The names a local stack uses (make dev, make bench) need no ipaddress, a millisecond of a cold start to import.
    if host in ("localhost", "127.0.0.1", "::1"):
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


def _okta_keys_uri(issuer: str) -> str:
    return f"{issuer.rstrip('/')}/v1/keys"


def issuer_settings() -> tuple[IssuerSettings, ...]:
    """ISSUERS, one `ISSUER AUDIENCE [AUDIENCE ...]` a line; without it, ISSUER and AUDIENCE (and JWKS_URI). Read
    afresh on each call: okta_m2m.tokens.authorizer_settings() keeps them for the container."""
    jwks_uri = os.environ.get("JWKS_URI", "").strip()
    listed = os.environ.get("ISSUERS", "")
    if not listed.strip():
        # Kept exactly as configured: the iss claim must equal it character for character.
        issuer = secure_url("ISSUER", required("ISSUER"))
        return (
            IssuerSettings(
                issuer=issuer,
                audiences=frozenset({required("AUDIENCE")}),
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

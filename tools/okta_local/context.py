"""What every request handler shares: settings, state, the request and the answer types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from okta_local.dpop import Nonces
from okta_local.faults import Faults, KeysLog
from okta_local.keys import KeyRing
from okta_local.ratelimit import RateLimiter
from okta_local.store import Store

AUTH_SERVER_ID = "default"
AUDIENCE = "api://default"
HELLO_SCOPE = "hello"
REGISTER_SCOPE = "register"
SCOPES = (HELLO_SCOPE, REGISTER_SCOPE)  # the custom scopes every start has; `serve --scopes` adds more
# The default custom authorization server's default scope: what a token request without `scope` asks for.
# Whether the client gets it is up to the access policies, as for any other scope.
DEFAULT_SCOPES = (HELLO_SCOPE,)
DEFAULT_TOKEN_TTL = 3600
DEFAULT_APPS_RATE_LIMIT = 100

# The Okta API scopes this server knows, for the org authorization server (POST /oauth2/v1/token).
APPS_READ = "okta.apps.read"
APPS_MANAGE = "okta.apps.manage"
AUTH_SERVERS_READ = "okta.authorizationServers.read"
AUTH_SERVERS_MANAGE = "okta.authorizationServers.manage"
OKTA_SCOPES = (APPS_READ, APPS_MANAGE, AUTH_SERVERS_READ, AUTH_SERVERS_MANAGE)
# How an app authenticates at a token endpoint (settings of POST /api/v1/apps).
PRIVATE_KEY_JWT = "private_key_jwt"
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
ORG_TOKEN_TTL = 3600  # Okta: the lifetime of an org authorization server access token is fixed at one hour


def iso(epoch: float) -> str:
    """Return a timestamp the way Okta's API shows it: 2024-05-01T12:00:00.000Z."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Request:
    """One HTTP request as the handlers see it: header names are lower case, each with all its values."""

    method: str
    path: str
    query: str
    headers: dict[str, list[str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """Return the header's value (the first, if repeated), or None."""
        values = self.headers.get(name.lower())
        return values[0] if values else None

    def header_count(self, name: str) -> int:
        """Return how often the header was sent."""
        return len(self.headers.get(name.lower(), []))


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, JSON body (None for no body) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Context:
    """Shared by all request threads; base_url is set once the port is bound."""

    store: Store
    keyring: KeyRing
    faults: Faults
    limiter: RateLimiter
    apps_rate_limit: int = DEFAULT_APPS_RATE_LIMIT
    token_ttl: int = DEFAULT_TOKEN_TTL
    base_url: str = ""
    keys_log: KeysLog = field(default_factory=KeysLog)
    nonces: Nonces = field(default_factory=Nonces)
    policies_limiter: RateLimiter = field(default_factory=RateLimiter)
    scopes: tuple[str, ...] = SCOPES  # the default custom authorization server's scopes

    def with_scopes(self, extra: tuple[str, ...]) -> None:
        """Add scopes to the authorization server (those of an API's route table, say), each once."""
        self.scopes = tuple(dict.fromkeys((*SCOPES, *extra)))

    @property
    def issuer(self) -> str:
        """Return the issuer of Okta's default custom authorization server."""
        return f"{self.base_url}/oauth2/{AUTH_SERVER_ID}"

    @property
    def org_issuer(self) -> str:
        """Return the issuer (and access token audience) of the org authorization server: the org URL."""
        return self.base_url

    @property
    def org_token_url(self) -> str:
        """Return the org authorization server's token endpoint, the required `aud` of client assertions."""
        return f"{self.base_url}/oauth2/v1/token"

    def url(self, path: str) -> str:
        """Return the absolute URL of a path on this server (a DPoP proof's `htu`)."""
        return f"{self.base_url}{path}"

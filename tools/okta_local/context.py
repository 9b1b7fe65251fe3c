"""What every request handler shares: settings, state, and the answer type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from okta_local.faults import Faults, KeysLog
from okta_local.keys import KeyRing
from okta_local.ratelimit import RateLimiter
from okta_local.store import Store

AUTH_SERVER_ID = "default"
AUDIENCE = "api://default"
HELLO_SCOPE = "hello"
REGISTER_SCOPE = "register"
SCOPES = (HELLO_SCOPE, REGISTER_SCOPE)
# Okta grants a client what the authorization server's access policy allows; here a new service app may
# request the hello scope only, and the seeded admin client is the one allowed to register.
DEFAULT_SCOPES = (HELLO_SCOPE,)
NEW_APP_SCOPES = (HELLO_SCOPE,)
DEFAULT_TOKEN_TTL = 3600
DEFAULT_APPS_RATE_LIMIT = 100


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

    @property
    def issuer(self) -> str:
        """Return the issuer of Okta's default custom authorization server."""
        return f"{self.base_url}/oauth2/{AUTH_SERVER_ID}"

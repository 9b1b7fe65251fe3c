"""The TOKEN authorizer's decision: bearer token in, IAM policy out, with a bounded cache of verified tokens."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from okta_m2m.errors import TokenError
from okta_m2m.tokens._access_token import AccessToken, Trust, validate_access_token
from okta_m2m.tokens._jwks import KeyCache
from okta_m2m.tokens._log_format import CallSiteLog, child_logger
from okta_m2m.tokens._policy import api_prefix, policy_response, route_resources, statements
from okta_m2m.tokens._routes import Route
from okta_m2m.tokens._settings import MAX_KEY_CHARS, MIN_KEY_CHARS, AuthorizerSettings

# The per-client API key the Allow names (usageIdentifierKey); okta_m2m.clients creates it, and
# template.yaml derives the admin client's key the same way: !Sub "oktam2mclient${AdminClientId}".
# (With PerClientApiKeys=false the Allow names the one shared key of SHARED_API_KEY instead.)
KEY_PREFIX = "oktam2mclient"


def usage_key(client_id: str) -> str | None:
    """The API key value of a client, or None for a client id too short or long to make one (no key: 403)."""
    value = KEY_PREFIX + client_id
    return value if MIN_KEY_CHARS <= len(value) <= MAX_KEY_CHARS else None


logger = child_logger(__name__)
_log_decision = CallSiteLog(logger, decision_metric=True)  # once per verified token: the hot path's one log line

BEARER = "Bearer "
MAX_CONTEXT_VALUE = 256  # characters of a claim copied into the context (CONTEXT_CLAIMS)
_CONTEXT_VALUE = str | int | float  # what API Gateway takes in a context (bool is an int); built once, not per claim


def _fits(value: str | int | float) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return False  # NaN and Infinity are no JSON
    return len(value if isinstance(value, str) else repr(value)) <= MAX_CONTEXT_VALUE


class _Verified:
    """A verified token, the routes it may call, its authorizer context, its policies by API stage, and the key set
    (its issuer's, at a version) that verified it."""

    __slots__ = ("context", "key_version", "keys", "policies", "routes", "token")

    def __init__(
        self, token: AccessToken, routes: tuple[Route, ...], context_claims: tuple[str, ...], keys: KeyCache
    ) -> None:
        self.token = token
        self.routes = routes
        self.keys = keys
        self.key_version = keys.version
        self.context: dict[str, Any] = {}
        claims = token.claims
        for name in context_claims:  # first, so that none can stand in for the four below
            value = claims.get(name)
            # API Gateway takes strings, numbers and booleans only; a long value is not an identifier to route on.
            if isinstance(value, _CONTEXT_VALUE) and _fits(value):
                self.context[name] = value
        scopes = " ".join(token.scopes)
        self.context |= {"clientId": token.client_id, "scopes": scopes, "sub": token.sub, "jti": token.jti}
        self.policies: dict[str, dict[str, Any]] = {}


class TokenAuthorizer:
    """Turns `Authorization: Bearer <jwt>` into an Allow policy for every route the token's scopes open."""

    def __init__(
        self,
        settings: AuthorizerSettings,
        keys: Mapping[str, KeyCache],
        *,
        cache_size: int = 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.cache_size = cache_size
        self.clock = clock
        # Each issuer's tokens are checked against its own audiences and its own keys only.
        self._trust = {issuer.issuer: Trust(issuer.audiences, keys[issuer.issuer].get) for issuer in settings.issuers}
        # Oldest first. An OrderedDict drops its oldest entry in O(1); a dict's next(iter()) first skips the slot of
        # every entry evicted since the dict last resized (up to a few hundred at 1,024 tokens).
        self._verified: OrderedDict[str, _Verified] = OrderedDict()
        self._routes_by_scopes: dict[tuple[str, ...], tuple[tuple[Route, ...], tuple[str, ...]]] = {}
        self._statements: dict[tuple[tuple[Route, ...], str], tuple[dict[str, Any], ...]] = {}
        self._prefixes: dict[str, str] = {}

    def authorize(self, authorization: object, method_arn: object) -> dict[str, Any]:
        """The policy for this token; TokenError if it is missing or invalid, KeySetUnavailableError if no keys."""
        if not isinstance(authorization, str) or not authorization.startswith(BEARER):
            raise TokenError("missing bearer token")
        raw = authorization[len(BEARER) :]
        now = self.clock()
        entry = self._verified.get(raw)
        if entry is not None:
            # A token verified under an older key set may be signed by a key that was withdrawn since.
            entry.keys.refresh_if_stale()
            if entry.keys.version != entry.key_version or now >= entry.token.expires_at:
                entry = None
        if entry is None:
            entry = self._verify(raw, now)
        # The same token comes back for each route it calls: its decision was logged when it was verified.
        if not isinstance(method_arn, str):
            raise ValueError("event has no methodArn")
        # A policy covers the whole API stage, whichever path was called: one per token and stage.
        prefix = self._prefixes.get(method_arn)
        if prefix is None:
            if len(self._prefixes) >= self.cache_size:
                self._prefixes.clear()
            prefix = self._prefixes[method_arn] = api_prefix(method_arn)
        policy = entry.policies.get(prefix)
        if policy is None:
            statement = self._statement(entry.routes, prefix)
            key = (self.settings.shared_api_key or usage_key(entry.token.client_id)) if entry.routes else None
            policy = entry.policies[prefix] = policy_response(entry.token.sub, statement, entry.context, key)
        return policy

    def _statement(self, routes: tuple[Route, ...], prefix: str) -> tuple[dict[str, Any], ...]:
        # Every token with the same routes on the same API stage gets the same statements: build them once.
        key = (routes, prefix)
        statement = self._statements.get(key)
        if statement is None:
            if len(self._statements) >= self.cache_size:
                self._statements.clear()
            found = route_resources(self.settings.routes, routes)
            if found.shadowed:
                logger.warning(
                    "routes partly denied by the policy",
                    routes=[str(route) for route in found.shadowed],
                    reason="a Deny for a route the token may not call also covers them",
                )
            statement = self._statements[key] = statements(prefix, found.allow, found.deny)
        return statement

    def _verify(self, raw: str, now: float) -> _Verified:
        s = self.settings
        token = validate_access_token(raw, trust=self._trust, leeway=s.leeway_seconds, now=now)
        routes, names = self._routes(token.scopes)
        if s.allowed_client_ids and token.client_id not in s.allowed_client_ids:
            reason, routes, names = "client not allowed", (), ()
        else:
            reason = "scopes" if routes else "no scope opens a route"
        # After the check: this very call may have fetched a new key set.
        entry = _Verified(token, routes, s.context_claims, self.keys[token.issuer])
        decision = "allow" if routes else "deny"
        _log_decision(
            decision,
            {
                "decision": decision,
                "reason": reason,
                "client_id": token.client_id,
                "kid": token.kid,
                "scopes": entry.context["scopes"],
                "routes": names,
            },
        )
        if len(self._verified) >= self.cache_size:
            self._verified.popitem(last=False)  # the oldest: O(1), even under a flood of tokens
        self._verified[raw] = entry
        return entry

    def _routes(self, scopes: tuple[str, ...]) -> tuple[tuple[Route, ...], tuple[str, ...]]:
        # Clients ask for the same few scope sets over and over: the routes, and their names for the log line.
        found = self._routes_by_scopes.get(scopes)
        if found is None:
            if len(self._routes_by_scopes) >= self.cache_size:
                self._routes_by_scopes.clear()
            routes = self.settings.routes.opened_by(scopes)
            found = self._routes_by_scopes[scopes] = (routes, tuple(str(route) for route in routes))
        return found

"""The TOKEN authorizer's decision: bearer token in, IAM policy out, with a bounded cache of verified tokens."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from okta_m2m.access_token import AccessToken, validate_access_token
from okta_m2m.config import AuthorizerSettings
from okta_m2m.errors import TokenError
from okta_m2m.jwks import KeyCache
from okta_m2m.log_format import CallSiteLog, child_logger
from okta_m2m.policy import allowed_routes, api_prefix, policy_response, route_grants

logger = child_logger(__name__)
_log_decision = CallSiteLog(logger)  # once per verified token: the hot path's one log line

BEARER = "Bearer "


class _Verified:
    """A verified token, the routes it may call, its authorizer context, and its policies by methodArn."""

    __slots__ = ("context", "policies", "routes", "token")

    def __init__(self, token: AccessToken, routes: tuple[str, ...]) -> None:
        self.token = token
        self.routes = routes
        scopes = " ".join(token.scopes)
        self.context = {"clientId": token.client_id, "scopes": scopes, "sub": token.sub, "jti": token.jti}
        self.policies: dict[str, dict[str, Any]] = {}


class TokenAuthorizer:
    """Turns `Authorization: Bearer <jwt>` into an Allow policy for every route the token's scopes open."""

    def __init__(
        self,
        settings: AuthorizerSettings,
        keys: KeyCache,
        *,
        cache_size: int = 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.cache_size = cache_size
        self.clock = clock
        self.grants = route_grants(settings.hello_scope, settings.register_scope)
        self._verified: dict[str, _Verified] = {}
        self._key_version = keys.version
        self._routes_by_scopes: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._statements: dict[tuple[tuple[str, ...], str], tuple[str, tuple[str, ...]]] = {}

    def authorize(self, authorization: object, method_arn: object) -> dict[str, Any]:
        """The policy for this token; TokenError if it is missing or invalid, KeySetUnavailableError if no keys."""
        if not isinstance(authorization, str) or not authorization.startswith(BEARER):
            raise TokenError("missing bearer token")
        raw = authorization[len(BEARER) :]
        now = self.clock()
        self.keys.refresh_if_stale()
        self._forget_if_keys_changed()
        entry = self._verified.get(raw)
        if entry is None or now >= entry.token.expires_at:
            entry = self._verify(raw, now)
        # The same token comes back for each route it calls: its decision was logged when it was verified.
        if not isinstance(method_arn, str):
            raise ValueError("event has no methodArn")
        policy = entry.policies.get(method_arn)
        if policy is None:
            effect, resources = self._statement(entry.routes, method_arn)
            policy = entry.policies[method_arn] = policy_response(entry.token.sub, effect, resources, entry.context)
        return policy

    def _statement(self, routes: tuple[str, ...], method_arn: str) -> tuple[str, tuple[str, ...]]:
        # Every token with the same routes on the same API gets the same statement: build it once.
        key = (routes, method_arn)
        statement = self._statements.get(key)
        if statement is None:
            if len(self._statements) >= self.cache_size:
                self._statements.clear()
            prefix = api_prefix(method_arn)
            resources = tuple(f"{prefix}/{route}" for route in routes) or (f"{prefix}/*/*",)
            statement = self._statements[key] = ("Allow" if routes else "Deny", resources)
        return statement

    def _verify(self, raw: str, now: float) -> _Verified:
        s = self.settings
        token = validate_access_token(
            raw, issuer=s.issuer, audience=s.audience, leeway=s.leeway_seconds, key_for=self.keys.get, now=now
        )
        routes = self._routes(token.scopes)
        if s.allowed_client_ids and token.client_id not in s.allowed_client_ids:
            reason, routes = "client not allowed", ()
        else:
            reason = "scopes" if routes else "no scope opens a route"
        entry = _Verified(token, routes)
        decision = "allow" if routes else "deny"
        _log_decision(
            decision,
            {
                "decision": decision,
                "reason": reason,
                "client_id": token.client_id,
                "kid": token.kid,
                "scopes": entry.context["scopes"],
                "routes": list(routes),
            },
        )
        self._forget_if_keys_changed()  # this very call may have fetched a new key set
        if len(self._verified) >= self.cache_size:
            del self._verified[next(iter(self._verified))]  # the oldest: O(1), even under a flood of tokens
        self._verified[raw] = entry
        return entry

    def _routes(self, scopes: tuple[str, ...]) -> tuple[str, ...]:
        # Clients ask for the same few scope sets over and over.
        routes = self._routes_by_scopes.get(scopes)
        if routes is None:
            if len(self._routes_by_scopes) >= self.cache_size:
                self._routes_by_scopes.clear()
            routes = self._routes_by_scopes[scopes] = allowed_routes(scopes, self.grants)
        return routes

    def _forget_if_keys_changed(self) -> None:
        # A token verified under the old key set may be signed by a key that was withdrawn.
        if self._key_version != self.keys.version:
            self._verified.clear()
            self._key_version = self.keys.version

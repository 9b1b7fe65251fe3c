"""The TOKEN authorizer's decision: bearer token in, IAM policy out, with a bounded cache of verified tokens."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

from okta_m2m.access_token import AccessToken, validate_access_token
from okta_m2m.config import AuthorizerSettings
from okta_m2m.errors import TokenError
from okta_m2m.jwks import KeyCache
from okta_m2m.policy import allowed_routes, api_prefix, policy_response, route_grants

logger = Logger(child=True)

BEARER = "Bearer "


class _Verified:
    """A verified token, the key-set version it was checked under, and its policies by API prefix."""

    __slots__ = ("policies", "token", "version")

    def __init__(self, token: AccessToken, version: int) -> None:
        self.token = token
        self.version = version
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

    def authorize(self, authorization: object, method_arn: object) -> dict[str, Any]:
        """The policy for this token; TokenError if it is missing or invalid, KeySetUnavailableError if no keys."""
        if not isinstance(authorization, str) or not authorization.startswith(BEARER):
            raise TokenError("missing bearer token")
        if not isinstance(method_arn, str):
            raise ValueError("event has no methodArn")
        raw = authorization[len(BEARER) :]
        now = self.clock()
        self.keys.refresh_if_stale()
        entry = self._verified.get(raw)
        if entry is None or entry.version != self.keys.version or now >= entry.token.expires_at:
            entry = self._verify(raw, now)
            cached = False
        else:
            cached = True
        prefix = api_prefix(method_arn)
        policy = entry.policies.get(prefix)
        if policy is None:
            policy = entry.policies[prefix] = self._policy(entry.token, prefix)
        if cached:  # the decision for this token was logged at INFO when it was verified
            logger.debug("decision (cached)", client_id=entry.token.client_id, kid=entry.token.kid)
        return policy

    def _verify(self, raw: str, now: float) -> _Verified:
        s = self.settings
        token = validate_access_token(
            raw, issuer=s.issuer, audience=s.audience, leeway=s.leeway_seconds, key_for=self.keys.get, now=now
        )
        entry = _Verified(token, self.keys.version)
        if len(self._verified) >= self.cache_size:
            self._evict(now)
        self._verified[raw] = entry
        return entry

    def _evict(self, now: float) -> None:
        stale = [k for k, v in self._verified.items() if now >= v.token.expires_at or v.version != self.keys.version]
        for k in stale:
            del self._verified[k]
        while len(self._verified) >= self.cache_size:
            del self._verified[next(iter(self._verified))]  # the oldest entry

    def _policy(self, token: AccessToken, prefix: str) -> dict[str, Any]:
        context = {"clientId": token.client_id, "scopes": " ".join(token.scopes), "sub": token.sub, "jti": token.jti}
        allowed_ids = self.settings.allowed_client_ids
        routes = allowed_routes(token.scopes, self.grants)
        if allowed_ids and token.client_id not in allowed_ids:
            reason, routes = "client not allowed", ()
        else:
            reason = "scopes" if routes else "no scope opens a route"
        effect = "Allow" if routes else "Deny"
        logger.info(
            effect.lower(),
            decision=effect.lower(),
            reason=reason,
            client_id=token.client_id,
            kid=token.kid,
            scopes=context["scopes"],
            routes=list(routes),
        )
        resources = [f"{prefix}/{route}" for route in routes] or [f"{prefix}/*/*"]
        return policy_response(token.sub, effect, resources, context)

"""The authorizer's decision, with a bounded cache of verified tokens: a bearer token in (TOKEN event), or a DPoP-bound
token with its proof (REQUEST event of a DPoP route), IAM policy out."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from okta_m2m.errors import TokenError
from okta_m2m.tokens._access_token import AccessToken, Trust, validate_access_token
from okta_m2m.tokens._jwks import KeyCache
from okta_m2m.tokens._log_format import CallSiteLog, EncodedFields, child_logger
from okta_m2m.tokens._policy import api_prefix, policy_response, route_resources, statements
from okta_m2m.tokens._routes import Route
from okta_m2m.tokens._settings import (
    MAX_KEY_CHARS,
    MIN_KEY_CHARS,
    AuthorizerSettings,
    DpopSettings,
    dpop_settings,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from okta_m2m.tokens._replay import ProofReplay

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
DPOP_SCHEME = "dpop"  # auth-schemes are case-insensitive (RFC 9110 section 11.1)
MAX_CONTEXT_VALUE = 256  # characters of a claim copied into the context (CONTEXT_CLAIMS)
_CONTEXT_VALUE = str | int | float  # what API Gateway takes in a context (bool is an int); built once, not per claim


def _fits(value: str | int | float) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return False  # NaN and Infinity are no JSON
    return len(value if isinstance(value, str) else repr(value)) <= MAX_CONTEXT_VALUE


class _Verified:
    """A verified token, the routes it may call, its authorizer context, its policies by API stage, and the key set
    (its issuer's, at a version) that verified it."""

    __slots__ = ("ath", "context", "key_version", "keys", "policies", "routes", "token")

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
        self.ath: str | None = None  # a DPoP-bound token's hash, as its proofs' ath must be (computed once)


def _header_value(event: Mapping[str, Any], name: str) -> str:
    """The one value of a header (name in lower case) of a REQUEST event, whatever its case; TokenError if there is
    none or more than one (several fields, or one field of comma-separated values: a JWS holds no comma)."""
    multi = event.get("multiValueHeaders")
    fields = multi if isinstance(multi, dict) else event.get("headers")
    values: list[object] = []
    for key, value in (fields if isinstance(fields, dict) else {}).items():
        if isinstance(key, str) and key.lower() == name:
            values.extend(value if isinstance(value, list) else [value])
    if len(values) != 1 or not isinstance(values[0], str) or "," in values[0]:
        raise TokenError(f"not exactly one {name} header" if values else f"no {name} header")
    return values[0]


def _execute_api_url(method_arn: str) -> tuple[str, str, str]:
    """(the stage's execute-api base URL, the verb, the path called) from a methodArn; TokenError if it is none."""
    parts = method_arn.split(":", 5)
    api_id, _, rest = (parts[5] if len(parts) == 6 else "").partition("/")
    stage, _, rest = rest.partition("/")
    verb, _, path = rest.partition("/")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "execute-api" or not (api_id and stage and verb):
        raise TokenError("event has no methodArn")  # API Gateway always sends one: not a request of ours
    suffix = "amazonaws.com.cn" if parts[1] == "aws-cn" else "amazonaws.com"
    return f"https://{api_id}.execute-api.{parts[3]}.{suffix}/{stage}", verb, "/" + path


class TokenAuthorizer:
    """Turns `Authorization: Bearer <jwt>` into an Allow policy for every route the token's scopes open, and a
    DPoP-bound token with its proof (`authorize_request`) likewise."""

    def __init__(
        self,
        settings: AuthorizerSettings,
        keys: Mapping[str, KeyCache],
        *,
        cache_size: int = 1024,
        clock: Callable[[], float] = time.time,
        dpop: DpopSettings | None = None,
        replay: ProofReplay | None = None,
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
        self._bound: OrderedDict[str, _Verified] = OrderedDict()  # DPoP-bound tokens: never in the bearer cache
        self._dpop = dpop  # read on the first DPoP request, as is the replay store made
        self._replay = replay
        self._request_urls: dict[str, tuple[str, frozenset[str]]] = {}
        self._routes_by_scopes: dict[tuple[tuple[str, ...], bool], tuple[tuple[Route, ...], tuple[str, ...]]] = {}
        self._statements: dict[tuple[tuple[Route, ...], str], tuple[dict[str, Any], ...]] = {}
        self._prefixes: dict[str, str] = {}
        self._fields: dict[tuple[str, str, tuple[str, ...], bool], EncodedFields] = {}

    def authorize(self, authorization: object, method_arn: object) -> dict[str, Any]:
        """The policy for this token; TokenError if it is missing or invalid, KeySetUnavailableError if no keys."""
        if not isinstance(authorization, str) or not authorization.startswith(BEARER):
            raise TokenError("missing bearer token")
        raw = authorization[len(BEARER) :]
        return self._policy(self._entry(raw, self.clock(), self._verified, dpop=False), method_arn)

    def authorize_request(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The policy for a DPoP route's REQUEST event: `Authorization: DPoP <token>` bound to the key of the one
        `DPoP` proof, made for this method and URL, fresh and used once (RFC 9449 sections 4.3 and 7). TokenError
        if anything is missing or invalid; KeySetUnavailableError or ReplayStoreUnavailableError if it cannot be
        told; ConfigError if the DPoP settings are wrong."""
        from okta_m2m.tokens._dpop import access_token_hash, verify_proof  # the first DPoP request loads them

        scheme, _, raw = _header_value(event, "authorization").partition(" ")
        if scheme.lower() != DPOP_SCHEME:
            raise TokenError("bearer token on a DPoP route" if scheme.lower() == "bearer" else "not the DPoP scheme")
        proof = _header_value(event, "dpop")
        now = self.clock()
        entry = self._entry(raw.lstrip(" "), now, self._bound, dpop=True)
        method_arn = event.get("methodArn")
        if not entry.routes:
            return self._policy(entry, method_arn)  # denied whatever the proof: no store write for it
        settings = self._dpop_settings()
        verb, urls = self._urls(str(method_arn), settings)
        if entry.ath is None:
            entry.ath = access_token_hash(raw.lstrip(" "))
        window, leeway = settings.proof_window_seconds, self.settings.leeway_seconds
        checked = verify_proof(
            proof,
            method=verb,
            urls=urls,
            ath=entry.ath,
            jkt=str(entry.token.jkt),
            now=now,
            window=window,
            leeway=leeway,
        )
        self._replay_check(settings).use(checked, checked.iat + window + leeway)
        return self._policy(entry, method_arn)

    def _dpop_settings(self) -> DpopSettings:
        if self._dpop is None:
            self._dpop = dpop_settings()
        return self._dpop

    def _replay_check(self, settings: DpopSettings) -> ProofReplay:
        if self._replay is None:
            from okta_m2m.tokens._replay import ProofReplay

            self._replay = ProofReplay.from_settings(settings)
        return self._replay

    def _urls(self, method_arn: str, settings: DpopSettings) -> tuple[str, frozenset[str]]:
        """The verb of a request and the URLs (normalised) its proof's htu may name: the path called under the
        stage's execute-api URL and under each configured base URL (never the Host header a client chose)."""
        found = self._request_urls.get(method_arn)
        if found is None:
            from okta_m2m.tokens._dpop import request_url

            stage_url, verb, path = _execute_api_url(method_arn)
            urls = {request_url(base, path) for base in (stage_url, *settings.base_urls)}
            if len(self._request_urls) >= self.cache_size:
                self._request_urls.clear()
            found = self._request_urls[method_arn] = (verb, frozenset(u for u in urls if u is not None))
        return found

    def _entry(self, raw: str, now: float, cache: OrderedDict[str, _Verified], *, dpop: bool) -> _Verified:
        """The verified token from the cache, or verified now (and cached)."""
        entry = cache.get(raw)
        if entry is not None:
            # A token verified under an older key set may be signed by a key that was withdrawn since.
            entry.keys.refresh_if_stale()
            if entry.keys.version != entry.key_version or now >= entry.token.expires_at:
                entry = None
        if entry is None:
            entry = self._verify(raw, now, cache, dpop)
        return entry

    def _policy(self, entry: _Verified, method_arn: object) -> dict[str, Any]:
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

    def _verify(self, raw: str, now: float, cache: OrderedDict[str, _Verified], dpop: bool) -> _Verified:
        s = self.settings
        token = validate_access_token(raw, trust=self._trust, leeway=s.leeway_seconds, now=now, dpop=dpop)
        routes, names = self._routes(token.scopes, dpop)
        if s.allowed_client_ids and token.client_id not in s.allowed_client_ids:
            reason, routes, names = "client not allowed", (), ()
        else:
            reason = "scopes" if routes else "no scope opens a route"
        # After the check: this very call may have fetched a new key set.
        entry = _Verified(token, routes, s.context_claims, self.keys[token.issuer])
        _log_decision("allow" if routes else "deny", self._decision_fields(token, routes, names, reason, dpop))
        if len(cache) >= self.cache_size:
            cache.popitem(last=False)  # the oldest: O(1), even under a flood of tokens
        cache[raw] = entry
        return entry

    def _decision_fields(
        self, token: AccessToken, routes: tuple[Route, ...], names: tuple[str, ...], reason: str, dpop: bool
    ) -> EncodedFields:
        # The decision line's fields, encoded once per client, key and scope set: the same client presents new tokens
        # with the same fields over and over. The reason follows from the client id, the scopes and the binding.
        key = (token.client_id, token.kid, token.scopes, dpop)
        found = self._fields.get(key)
        if found is None:
            if len(self._fields) >= self.cache_size:
                self._fields.clear()
            decision = "allow" if routes else "deny"
            fields: dict[str, object] = {"decision": decision, "reason": reason, "client_id": token.client_id}
            fields |= {"kid": token.kid, "scopes": " ".join(token.scopes), "routes": names}
            if dpop:
                fields["binding"] = "dpop"  # each request's proof is checked after this line, and refusals logged
            found = self._fields[key] = EncodedFields(fields)
        return found

    def _routes(self, scopes: tuple[str, ...], dpop: bool) -> tuple[tuple[Route, ...], tuple[str, ...]]:
        # Clients ask for the same few scope sets over and over: the routes, and their names for the log line. A
        # bearer token opens bearer routes only, a DPoP-bound token DPoP routes only (their authorizers differ).
        found = self._routes_by_scopes.get((scopes, dpop))
        if found is None:
            if len(self._routes_by_scopes) >= self.cache_size:
                self._routes_by_scopes.clear()
            routes = tuple(route for route in self.settings.routes.opened_by(scopes) if route.dpop == dpop)
            found = self._routes_by_scopes[scopes, dpop] = (routes, tuple(str(route) for route in routes))
        return found

"""The issuer's signing keys, fetched over HTTPS and cached for the life of the container."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from okta_m2m.errors import ConfigError, KeySetUnavailableError, TokenError
from okta_m2m.tokens._fetch import TIMEOUT_SECONDS, HttpError, fetch_json
from okta_m2m.tokens._issuers import secure_url
from okta_m2m.tokens._jws import KeyRejectedError, rsa_key_from_jwk
from okta_m2m.tokens._log_format import child_logger

logger = child_logger(__name__)

_METADATA_PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")


def parse_key_set(document: Any) -> dict[str, RSAPublicKey]:
    """Keep the JWKS entries that are usable RS256 verification keys with a unique kid."""
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise KeySetUnavailableError("key set has no keys array")
    keys: dict[str, RSAPublicKey] = {}
    duplicated: set[str] = set()
    for jwk in entries:
        kid = jwk.get("kid") if isinstance(jwk, dict) else None
        if not isinstance(kid, str) or not kid:
            logger.warning("signing key skipped", reason="no kid")
            continue
        try:
            key = rsa_key_from_jwk(jwk)
        except KeyRejectedError as exc:
            logger.warning("signing key skipped", kid=kid, reason=str(exc))
            continue
        if kid in keys:
            duplicated.add(kid)
        keys[kid] = key
    for kid in duplicated:  # an ambiguous kid could pick the wrong key: trust neither
        logger.warning("signing key skipped", kid=kid, reason="duplicate kid")
        del keys[kid]
    if not keys:
        raise KeySetUnavailableError("key set has no usable RS256 signing key")
    return keys


def _material(keys: dict[str, RSAPublicKey]) -> dict[str, object]:
    return {kid: key.public_numbers() for kid, key in keys.items()}


class KeyCache:
    """Signing keys by kid, fetched once per container and again only when needed.

    An unknown kid triggers one fetch at once (a rotation is picked up on the first token signed with the new key);
    further unknown kids fetch at most once per `miss_cooldown`, so random kids cannot hammer the issuer. Keys older
    than `max_age` are refreshed on the next call. A failed fetch never discards keys already held.
    """

    def __init__(
        self,
        issuer: str,
        jwks_uri: str,
        *,
        discover: bool = True,
        timeout: float = TIMEOUT_SECONDS,
        max_age: float = 3600.0,
        miss_cooldown: float = 60.0,
        failure_backoff: float = 5.0,
        fetch: Callable[[str, float], Any] = fetch_json,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.jwks_uri = jwks_uri
        self.discover = discover
        self.timeout = timeout
        self.max_age = max_age
        self.miss_cooldown = miss_cooldown
        self.failure_backoff = failure_backoff
        self.fetch = fetch
        self.clock = clock
        self.version = 0  # changes whenever the keys change (a kid added, removed or given other key material)
        self._keys: dict[str, RSAPublicKey] = {}
        self._fetched_at = float("-inf")
        self._last_miss_fetch = float("-inf")
        self._retry_after = float("-inf")
        self._lock = threading.Lock()

    def get(self, kid: str) -> RSAPublicKey:
        """The key for kid; raise TokenError for an unknown kid, KeySetUnavailableError when no keys can be had."""
        now = self.clock()
        fetched = not self._keys or now - self._fetched_at >= self.max_age
        if fetched:
            self._refresh(now)
            if not self._keys:
                raise KeySetUnavailableError("no signing keys")
        key = self._keys.get(kid)
        if key is None and not fetched and now - self._last_miss_fetch >= self.miss_cooldown:
            # Only a fetch that worked starts the cooldown: after a failed one (an outage during a rotation) the
            # next unknown kid tries again once the failure back-off has passed, not a minute later.
            if self._refresh(now):
                self._last_miss_fetch = now
            key = self._keys.get(kid)
        if key is None:
            raise TokenError("unknown kid")
        return key

    def refresh_if_stale(self) -> None:
        """Refetch keys held for longer than max_age, if any are held (cheap when they are fresh)."""
        now = self.clock()
        if self._keys and now - self._fetched_at >= self.max_age:
            self._refresh(now)

    def _refresh(self, now: float) -> bool:
        """Fetch the key set; False if that was not tried (within the failure back-off) or failed."""
        if now < self._retry_after:
            return False
        with self._lock:
            try:
                keys = parse_key_set(self._fetch_key_set())
            except (HttpError, KeySetUnavailableError, ConfigError) as exc:
                self._retry_after = now + self.failure_backoff
                logger.warning(
                    "signing keys fetch failed", jwks_uri=self.jwks_uri, reason=str(exc), keeping=len(self._keys)
                )
                return False
            self._fetched_at = now
            if _material(keys) != _material(self._keys):
                self.version += 1
            self._keys = keys
            logger.info("signing keys loaded", jwks_uri=self.jwks_uri, kids=sorted(keys))
            return True

    def _fetch_key_set(self) -> Any:
        try:
            return self.fetch(self.jwks_uri, self.timeout)
        except HttpError as exc:
            if exc.status != 404 or not self.discover:
                raise
        # Not an Okta-shaped issuer: find jwks_uri in the authorization server metadata (RFC 8414).
        self.jwks_uri = self._discover_jwks_uri()
        self.discover = False
        return self.fetch(self.jwks_uri, self.timeout)

    def _discover_jwks_uri(self) -> str:
        for path in _METADATA_PATHS:
            try:
                metadata = self.fetch(self.issuer.rstrip("/") + path, self.timeout)
            except HttpError:
                continue
            if not isinstance(metadata, dict) or metadata.get("issuer") != self.issuer:
                raise KeySetUnavailableError("metadata issuer does not match")
            jwks_uri = metadata.get("jwks_uri")
            if not isinstance(jwks_uri, str):
                raise KeySetUnavailableError("metadata has no jwks_uri")
            return secure_url("jwks_uri", jwks_uri)
        raise KeySetUnavailableError("no key set and no metadata")

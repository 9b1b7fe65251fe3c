"""RSA signing keys: generation, rotation with a grace period, and the published JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from okta_local.store import Store

KEY_BITS = 2048
DEFAULT_GRACE_SECONDS = 24 * 3600


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, str]:
    """Return the public JWK with an RFC 7638 thumbprint as kid, as Okta's /v1/keys lists it."""
    numbers = public_key.public_numbers()
    members = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    thumbprint = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    kid = base64.urlsafe_b64encode(thumbprint).rstrip(b"=").decode()
    return {"kty": "RSA", "alg": "RS256", "kid": kid, "use": "sig", "e": members["e"], "n": members["n"]}


def new_client_jwk_pair() -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (private JWK, public JWK) of a new RSA key for private_key_jwt, kid = RFC 7638 thumbprint."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    public = public_jwk(private_key.public_key())
    private = {k: v for k, v in RSAAlgorithm.to_jwk(private_key, as_dict=True).items() if k != "key_ops"}
    private.update(kid=public["kid"], alg="RS256", use="sig")
    return private, public


def rotate_keys(store: Store, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> str:
    """Add a new signing key, keep the old one published for grace_seconds, and return the new kid."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    kid = public_jwk(private_key.public_key())["kid"]
    now = time.time()
    store.add_signing_key(kid, pem, now, retire_current_at=now + max(grace_seconds, 0))
    return kid


class KeyRing:
    """Reads keys from SQLite on every use, so a rotation by another process shows up at once."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._parsed: dict[str, rsa.RSAPrivateKey] = {}  # parsing a PEM costs milliseconds; rows cost microseconds

    def _private_key(self, kid: str, pem: str) -> rsa.RSAPrivateKey:
        with self._lock:
            key = self._parsed.get(kid)
            if key is None:
                loaded = serialization.load_pem_private_key(pem.encode(), password=None)
                if not isinstance(loaded, rsa.RSAPrivateKey):
                    raise TypeError("stored signing key is not RSA")
                key = self._parsed[kid] = loaded
            return key

    def signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        """Return the current kid and private key, creating the first key if there is none."""
        for row in self._store.list_keys():
            if row.retire_at is None:
                return row.kid, self._private_key(row.kid, row.private_pem)
        rotate_keys(self._store, grace_seconds=0)
        return self.signing_key()

    def verification_key(self, kid: object) -> rsa.RSAPublicKey | None:
        """Return the published public key with this kid (signing key or in its grace period), or None."""
        now = time.time()
        for row in self._store.list_keys():
            if row.kid == kid and (row.retire_at is None or row.retire_at > now):
                return self._private_key(row.kid, row.private_pem).public_key()
        return None

    def jwks(self) -> dict[str, Any]:
        """Return the JWKS: the signing key first, then old keys still in their grace period."""
        now = time.time()
        rows = [r for r in self._store.list_keys() if r.retire_at is None or r.retire_at > now]
        rows.sort(key=lambda r: (r.retire_at is not None, -r.created))
        return {"keys": [public_jwk(self._private_key(r.kid, r.private_pem).public_key()) for r in rows]}

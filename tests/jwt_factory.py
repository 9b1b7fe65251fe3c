"""Mint real tokens for tests: Okta-shaped access tokens signed by pyjwt, and hand-made ones for hostile cases."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256

ISSUER_PATH = "/oauth2/default"
AUDIENCE = "api://default"
CLIENT_ID = "0oaclient0000000001"


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_uint(value: int) -> str:
    """A JWK integer member."""
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    """A throwaway RSA key with a kid."""

    kid: str
    private: rsa.RSAPrivateKey

    def jwk(self, **extra: Any) -> dict[str, Any]:
        """The public JWK as Okta publishes it."""
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "alg": "RS256",
            "kid": self.kid,
            "use": "sig",
            "e": b64url_uint(numbers.e),
            "n": b64url_uint(numbers.n),
            **extra,
        }


@cache
def signing_key(kid: str, bits: int = 2048) -> SigningKey:
    """One key per (kid, bits) for the whole run: RSA generation is slow."""
    return SigningKey(kid, rsa.generate_private_key(public_exponent=65537, key_size=bits))


def access_claims(issuer: str, scopes: tuple[str, ...] = ("hello",), **overrides: Any) -> dict[str, Any]:
    """Claims of an Okta client-credentials access token; overrides replace or (value None) remove claims."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "ver": 1,
        "jti": f"AT.{uuid.uuid4().hex}",
        "iss": issuer,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "cid": CLIENT_ID,
        "scp": list(scopes),
        "sub": CLIENT_ID,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def mint(key: SigningKey, claims: dict[str, Any], **headers: Any) -> str:
    """Sign with pyjwt (an implementation independent of ours), kid from the key unless given."""
    return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": key.kid, **headers})


def sign_raw(header: dict[str, Any] | bytes, payload: dict[str, Any] | bytes, key: SigningKey) -> str:
    """A compact RS256 JWS over exactly these header and payload bytes, for tokens pyjwt would refuse to make."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    p = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64url(h)}.{b64url(p)}"
    signature = key.private.sign(signing_input.encode(), padding.PKCS1v15(), SHA256())
    return f"{signing_input}.{b64url(signature)}"

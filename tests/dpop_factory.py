"""Mint DPoP proofs for tests with pyjwt (an implementation independent of ours), and the helpers around them."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

# RFC 9449 figure 2 (section 4.1): a proof for POST https://server.example.com/token, and (figure 9, section 6.1) the
# thumbprint of its key, as the RFC publishes them.
RFC9449_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJo"
    "RjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJ"
    "qdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0Ijo"
    "xNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
)
RFC9449_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ath(token: str) -> str:
    """The ath of an access token."""
    return b64url(hashlib.sha256(token.encode()).digest())


def _uint(value: int, size: int | None = None) -> str:
    return b64url(value.to_bytes(size or (value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class ClientKey:
    """A client's DPoP key pair and the algorithm it signs with."""

    private: Any
    alg: str

    def jwk(self, **extra: Any) -> dict[str, Any]:
        """The public JWK a proof header carries."""
        numbers = self.private.public_key().public_numbers()
        if isinstance(self.private, ec.EllipticCurvePrivateKey):
            size = (self.private.curve.key_size + 7) // 8
            crv = {256: "P-256", 384: "P-384", 521: "P-521"}[self.private.curve.key_size]
            return {"kty": "EC", "crv": crv, "x": _uint(numbers.x, size), "y": _uint(numbers.y, size), **extra}
        return {"kty": "RSA", "e": _uint(numbers.e), "n": _uint(numbers.n), **extra}

    def private_jwk(self) -> dict[str, Any]:
        """The JWK with its private members (which a proof must never carry)."""
        numbers = self.private.private_numbers()
        if isinstance(self.private, ec.EllipticCurvePrivateKey):
            return {**self.jwk(), "d": _uint(numbers.private_value, 32)}
        return {**self.jwk(), "d": _uint(numbers.d), "p": _uint(numbers.p), "q": _uint(numbers.q)}

    @property
    def jkt(self) -> str:
        """RFC 7638 thumbprint, computed here as the RFC says (required members, sorted, no whitespace)."""
        jwk = self.jwk()
        members = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
        text = "{" + ",".join(f'"{m}":"{jwk[m]}"' for m in members) + "}"
        return b64url(hashlib.sha256(text.encode()).digest())

    def proof(
        self,
        method: str,
        url: str,
        token: str | None = None,
        *,
        headers: dict[str, Any] | None = None,
        signer: Any = None,
        alg: str | None = None,
        **claims: Any,
    ) -> str:
        """A proof for method and url (with the token's ath if one is given); claims override (None removes)."""
        body: dict[str, Any] = {"jti": str(uuid.uuid4()), "htm": method, "htu": url, "iat": int(time.time())}
        if token is not None:
            body["ath"] = ath(token)
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        head = {"typ": "dpop+jwt", "jwk": self.jwk(), **(headers or {})}
        head = {k: v for k, v in head.items() if v is not None}
        return jwt.encode(body, signer or self.private, algorithm=alg or self.alg, headers=head)


@cache
def ec_key(name: str = "client", curve: str = "P-256") -> ClientKey:
    """One EC key per name for the whole run."""
    curves = {"P-256": (ec.SECP256R1(), "ES256"), "P-384": (ec.SECP384R1(), "ES384")}
    found, alg = curves[curve]
    return ClientKey(ec.generate_private_key(found), alg)


@cache
def rsa_key(name: str = "client", bits: int = 2048) -> ClientKey:
    """One RSA key per (name, bits) for the whole run."""
    return ClientKey(rsa.generate_private_key(public_exponent=65537, key_size=bits), "RS256")


def sign_raw(key: ClientKey, header: dict[str, Any], payload: bytes) -> str:
    """A compact JWS over exactly these header and payload bytes (for JSON pyjwt would not write)."""
    head = b64url(json.dumps(header, separators=(",", ":")).encode())
    signing_input = f"{head}.{b64url(payload)}"
    algorithm = jwt.get_algorithm_by_name(key.alg)
    return f"{signing_input}.{b64url(algorithm.sign(signing_input.encode(), key.private))}"

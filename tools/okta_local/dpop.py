"""DPoP (RFC 9449): proof checks, JWK thumbprints, and the server's rotating nonces.

Pure checks with no server state except the nonces; the callers (orgauth, apiauth) record each proof's
jti so that a proof is accepted once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
PROOF_MAX_AGE = 300  # seconds a proof's iat may lie in the past
PROOF_MAX_FUTURE = 60  # seconds it may lie in the future (clock skew)
NONCE_ROTATE_SECONDS = 60  # a new nonce is handed out this often
NONCE_TTL_SECONDS = 300  # a nonce is accepted this long after it was made
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}
MIN_RSA_BITS = 2048


class ProofError(ValueError):
    """A DPoP proof, or a key in one, is not acceptable; the message is the error_description."""


@dataclass(frozen=True)
class Proof:
    """A checked proof: the thumbprint of its key, its id and time, and the nonce it carries."""

    jkt: str
    jti: str
    iat: int
    nonce: str | None

    @property
    def remember_until(self) -> float:
        """Return until when its jti must be remembered: past that its iat is too old anyway."""
        return float(self.iat + PROOF_MAX_AGE + PROOF_MAX_FUTURE)


def b64url(raw: bytes) -> str:
    """Return unpadded base64url."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def access_token_hash(token: str) -> str:
    """Return the `ath` of an access token: base64url(SHA-256(token))."""
    return b64url(hashlib.sha256(token.encode("ascii", "replace")).digest())


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """Return the RFC 7638 SHA-256 thumbprint of an RSA or EC public JWK (the `jkt` of `cnf`)."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None or not all(isinstance(jwk.get(m), str) for m in members):
        raise ProofError("The JWK is not an RSA or EC public key.")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def public_key(jwk: object, alg: str) -> Any:
    """Return the verification key of a public JWK for alg; ProofError if it is private, weak or of the wrong kind."""
    if not isinstance(jwk, dict):
        raise ProofError("The JWK is missing or not a JSON object.")
    if _PRIVATE_MEMBERS & set(jwk):
        raise ProofError("The JWK must be a public key.")
    if alg not in ALGORITHMS:
        raise ProofError(f"The signing algorithm must be one of {', '.join(ALGORITHMS)}.")
    try:
        key = jwt.PyJWK(jwk, algorithm=alg).key
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError):
        raise ProofError("The JWK does not fit the signing algorithm.") from None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise ProofError(f"RSA keys must have at least {MIN_RSA_BITS} bits.")
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ProofError("The JWK must be a public key.")
    return key


def default_algorithm(jwk: dict[str, Any]) -> str:
    """Return the algorithm a registered JWK signs with: its `alg`, else RS256 for RSA or ES* by curve."""
    if isinstance(jwk.get("alg"), str):
        return str(jwk["alg"])
    if jwk.get("kty") == "EC":
        return {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}.get(str(jwk.get("crv")), "ES256")
    return "RS256"


def normalize_url(url: str) -> str:
    """Return url without query and fragment, scheme and host in lower case, default port and escapes removed."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    netloc = host if parts.port in (None, default) else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), netloc, unquote(parts.path) or "/", "", ""))


def verify_proof(
    proof: str | None, count: int, method: str, url: str, access_token: str | None = None, now: float | None = None
) -> Proof:
    """Check one DPoP proof for this request (and, at a resource, for this access token); ProofError if bad."""
    if not proof or count == 0:
        raise ProofError("The DPoP proof JWT header is missing.")
    if count > 1:
        raise ProofError("Only one DPoP proof JWT header may be sent.")
    try:
        header = jwt.get_unverified_header(proof)
    except jwt.InvalidTokenError:
        raise ProofError("The DPoP proof JWT is malformed.") from None
    if header.get("typ") != "dpop+jwt":
        raise ProofError("The 'typ' header of the DPoP proof JWT must be 'dpop+jwt'.")
    alg = str(header.get("alg"))
    key = public_key(header.get("jwk"), alg)
    try:
        claims = jwt.decode(
            proof,
            key,
            algorithms=[alg],
            options={"verify_aud": False, "verify_iat": False, "require": ["jti", "htm", "htu", "iat"]},
        )
    except jwt.MissingRequiredClaimError as exc:
        raise ProofError(f"The DPoP proof JWT is missing the '{exc.claim}' claim.") from None
    except jwt.InvalidTokenError:
        raise ProofError("The DPoP proof JWT signature or claims are invalid.") from None
    now = time.time() if now is None else now
    iat, jti = claims["iat"], claims["jti"]
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        raise ProofError("The 'iat' claim in the DPoP proof JWT is invalid.")
    if not now - PROOF_MAX_AGE <= iat <= now + PROOF_MAX_FUTURE:
        raise ProofError("The DPoP proof JWT was issued too long ago or in the future ('iat').")
    if not isinstance(jti, str) or not 0 < len(jti) <= 256:
        raise ProofError("The 'jti' claim in the DPoP proof JWT is invalid.")
    if claims["htm"] != method:
        raise ProofError("'htm' claim in the DPoP proof JWT is invalid.")
    if not isinstance(claims["htu"], str) or normalize_url(claims["htu"]) != normalize_url(url):
        raise ProofError("'htu' claim in the DPoP proof JWT is invalid.")
    if access_token is not None and claims.get("ath") != access_token_hash(access_token):
        raise ProofError("'ath' claim in the DPoP proof JWT is invalid.")
    nonce = claims.get("nonce")
    return Proof(jwk_thumbprint(header["jwk"]), jti, int(iat), nonce if isinstance(nonce, str) else None)


class Nonces:
    """The token endpoint's DPoP nonces: a new one every NONCE_ROTATE_SECONDS, each valid NONCE_TTL_SECONDS.

    One-shot nonces serve the dpop_nonce=always fault: each is accepted once, by the request that follows
    the demand.
    """

    def __init__(self, rotate_seconds: float = NONCE_ROTATE_SECONDS, ttl_seconds: float = NONCE_TTL_SECONDS) -> None:
        self._lock = threading.Lock()
        self._rotate, self._ttl = rotate_seconds, ttl_seconds
        self._issued: deque[tuple[str, float]] = deque()
        self._one_shot: deque[str] = deque(maxlen=1000)

    def _prune(self, now: float) -> None:
        while self._issued and now - self._issued[0][1] >= self._ttl:
            self._issued.popleft()

    def current(self, now: float | None = None) -> str:
        """Return the nonce to hand out now."""
        now = time.time() if now is None else now
        with self._lock:
            self._prune(now)
            if not self._issued or now - self._issued[-1][1] >= self._rotate:
                self._issued.append((secrets.token_urlsafe(24), now))
            return self._issued[-1][0]

    def is_valid(self, nonce: str | None, now: float | None = None) -> bool:
        """Return whether a proof's nonce is one of ours and not expired."""
        now = time.time() if now is None else now
        with self._lock:
            self._prune(now)
            return nonce is not None and any(secrets.compare_digest(nonce, n) for n, _ in self._issued)

    def demand_fresh(self, now: float | None = None) -> str:
        """Return a new nonce that is also one-shot: accepted once while the fault lasts, then as any other."""
        nonce = secrets.token_urlsafe(24)
        now = time.time() if now is None else now
        with self._lock:
            self._one_shot.append(nonce)
            self._issued.append((nonce, now))
        return nonce

    def take_fresh(self, nonce: str | None) -> bool:
        """Accept and forget a one-shot nonce; False if it is not one."""
        with self._lock:
            if nonce is None or nonce not in self._one_shot:
                return False
            self._one_shot.remove(nonce)
            return True

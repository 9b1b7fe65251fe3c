"""The bad tokens every verifier in `make bench` must refuse, beside one valid token it must allow (the control).

Refused means no Allow: API Gateway's 401 (the handler raised "Unauthorized") or a Deny policy (403; Powertools'
verifier answers so). Anything else, an Allow or another error (API Gateway's 500), is a failure of that verifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

CONTROL = "valid (control)"
REFUSED = frozenset({"Unauthorized", "Deny"})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(obj: dict[str, Any]) -> str:
    return _b64url(json.dumps(obj, separators=(",", ":")).encode())


def bad_tokens(private: rsa.RSAPrivateKey, kid: str, issuer: str, audience: str, scopes: list[str]) -> dict[str, str]:
    """The control (a valid token for issuer and audience, signed by private under kid) and the bad tokens, by
    name: tampered, expired, wrong audience, wrong issuer, unknown kid, alg none, HS256 keyed with the public key."""
    now = int(time.time())
    claims = {"ver": 1, "jti": "AT.bad", "iss": issuer, "aud": audience, "iat": now, "exp": now + 3600}
    claims |= {"cid": "0oabench", "sub": "0oabench", "scp": scopes}

    def signed(changes: dict[str, Any], key: rsa.RSAPrivateKey = private, key_id: str = kid) -> str:
        return jwt.encode(claims | changes, key, "RS256", {"kid": key_id})

    control = signed({})
    header, _, signature = control.split(".")
    hs256_header = _segment({"alg": "HS256", "typ": "JWT", "kid": kid})
    hs256_input = f"{hs256_header}.{_segment(claims)}"
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs256_signature = _b64url(hmac.digest(public_pem, hs256_input.encode(), hashlib.sha256))
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        CONTROL: control,
        # The valid token's signature over a payload that grants one more scope.
        "tampered": f"{header}.{_segment(claims | {'scp': [*scopes, 'register']})}.{signature}",
        "expired": signed({"iat": now - 7200, "exp": now - 3600}),
        "wrong audience": signed({"aud": audience + ".other"}),
        "wrong issuer": signed({"iss": issuer.rstrip("/") + "other"}),
        # Signed by a key the issuer does not publish, under a kid its key set does not hold.
        "unknown kid": signed({}, other_key, "bench-unknown-kid"),
        "alg none": f"{_segment({'alg': 'none', 'kid': kid})}.{_segment(claims)}.",
        # The key confusion attack (RFC 8725 section 2.1): the RSA public key, as PEM, used as an HMAC secret.
        "HS256 with the public key": f"{hs256_input}.{hs256_signature}",
    }


def answer(decide: Callable[[str], dict[str, Any]], token: str) -> str:
    """A Python authorizer's answer to a token: Allow, Deny, Unauthorized (API Gateway's 401), or `error: ...`."""
    try:
        response = decide(token)
    except Exception as exc:  # noqa: BLE001  (any other error is an answer too: API Gateway's 500)
        return "Unauthorized" if str(exc) == "Unauthorized" else f"error: {type(exc).__name__}"
    return str(response["policyDocument"]["Statement"][0]["Effect"])


def failures(answers: dict[str, str]) -> list[str]:
    """What went wrong in a verifier's answers: the control not allowed, a bad token not refused."""
    wrong = [] if answers.get(CONTROL) == "Allow" else [f"{CONTROL}: {answers.get(CONTROL)}"]
    return wrong + [f"{name}: {got}" for name, got in answers.items() if name != CONTROL and got not in REFUSED]

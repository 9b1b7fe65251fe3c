"""Okta access tokens: signature, then claims (RFC 8725, RFC 9068 where Okta follows it)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from okta_m2m.errors import TokenError
from okta_m2m.jws import json_object, parse_compact, verify_signature

# Okta access tokens live 5 minutes to 24 hours; a longer-lived token was not issued under Okta's rules.
MAX_LIFETIME_SECONDS = 24 * 3600


class AccessToken(NamedTuple):
    """The verified facts the API acts on."""

    sub: str
    client_id: str
    scopes: tuple[str, ...]
    jti: str
    expires_at: float
    kid: str


def _numeric_date(value: object, name: str) -> float:
    # A NumericDate is a JSON number, never a string or a boolean (bool is an int in Python) (RFC 7519 section 2).
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenError(f"{name} is not a NumericDate")
    try:
        date = float(value)  # a JSON integer too large for a float raises OverflowError
    except OverflowError:
        raise TokenError(f"{name} is out of range") from None
    if not math.isfinite(date):
        raise TokenError(f"{name} is out of range")
    return date


def _string(claims: dict[str, object], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise TokenError(f"{name} missing")
    return value


def validate_access_token(
    token: str,
    *,
    issuer: str,
    audience: str,
    leeway: float,
    key_for: Callable[[str], RSAPublicKey],
    now: float,
) -> AccessToken:
    """Verify an Okta access token and return its facts; raise TokenError for anything not fully valid."""
    jws = parse_compact(token)
    kid = jws.header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("missing kid")
    verify_signature(jws, key_for(kid))
    claims = json_object(jws.payload)

    if claims.get("iss") != issuer:
        raise TokenError("wrong issuer")
    aud = claims.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud and all(isinstance(a, str) for a in aud))):
        raise TokenError("wrong audience")
    # Whole seconds, as PyJWT and most verifiers compare: a fractional exp never buys part of a second more.
    exp = math.floor(_numeric_date(claims.get("exp"), "exp"))
    if now >= exp + leeway:
        raise TokenError("expired")
    iat = _numeric_date(claims.get("iat"), "iat")
    if iat > now + leeway:
        raise TokenError("issued in the future")
    if exp - iat > MAX_LIFETIME_SECONDS:
        raise TokenError("lifetime longer than Okta issues")
    if "nbf" in claims and _numeric_date(claims["nbf"], "nbf") > now + leeway:
        raise TokenError("not yet valid")

    # A sender-constrained token (DPoP or mTLS, RFC 9449 / RFC 8705) is valid only with its proof of possession,
    # which a TOKEN authorizer never sees: accepting it would make it a bearer token again.
    if "cnf" in claims:
        raise TokenError("token is bound to a key (cnf)")
    # An ID token or any other JWT from the same issuer has no cid/scp: it is not an access token.
    client_id = _string(claims, "cid")
    scopes = claims.get("scp")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise TokenError("scp is not a list of scopes")
    jti = claims.get("jti", "")
    if not isinstance(jti, str):
        raise TokenError("jti is not a string")
    return AccessToken(
        sub=_string(claims, "sub"),
        client_id=client_id,
        scopes=tuple(scopes),
        jti=jti,
        expires_at=exp + leeway,
        kid=kid,
    )

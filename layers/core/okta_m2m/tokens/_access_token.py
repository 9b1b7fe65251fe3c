"""Okta access tokens: signature, then claims (RFC 8725, RFC 9068 where Okta follows it)."""

# No `from __future__ import annotations` here: see okta_m2m/tokens/__init__.py (NamedTuples, cold start).

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from okta_m2m.errors import TokenError
from okta_m2m.tokens._jws import json_object, parse_compact, verify_signature

# Okta access tokens live 5 minutes to 24 hours; a longer-lived token was not issued under Okta's rules.
MAX_LIFETIME_SECONDS = 24 * 3600
_NUMBER = int | float  # built once: `int | float` in a call builds a new union each time
_EXACT = 2**53  # integers of smaller magnitude are exactly floats too


class AccessToken(NamedTuple):
    """The verified facts the API acts on."""

    sub: str
    client_id: str
    scopes: tuple[str, ...]
    jti: str
    expires_at: float
    kid: str
    issuer: str
    claims: Mapping[str, Any]  # every claim, as verified (the authorizer copies CONTEXT_CLAIMS from here)
    jkt: str | None = None  # the thumbprint of the key a DPoP-bound token is bound to (cnf.jkt); None for bearer


class Trust(NamedTuple):
    """What one issuer's tokens are checked against: its audiences and its own signing keys."""

    audiences: frozenset[str]
    key_for: Callable[[str], RSAPublicKey]


def numeric_date(value: object, name: str) -> float:
    # A NumericDate is a JSON number, never a string or a boolean (bool is an int in Python) (RFC 7519 section 2).
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
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
    trust: Mapping[str, Trust],
    leeway: float,
    now: float,
    dpop: bool = False,
) -> AccessToken:
    """Verify an Okta access token from one of the trusted issuers (by `iss`) and return its facts; raise
    TokenError for anything not fully valid. A bearer token (`dpop` False) must not be bound to a key; a DPoP one
    must be bound to one by its thumbprint (cnf.jkt, RFC 9449 section 6.1)."""
    jws = parse_compact(token)
    kid = jws.header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenError("missing kid")
    claims = json_object(jws.payload)
    # The claimed issuer only picks whose keys to check the signature with: an issuer not listed costs no fetch,
    # and a token signed by one issuer's key but naming another fails on the other's keys.
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or (trusted := trust.get(issuer)) is None:
        raise TokenError("wrong issuer")
    verify_signature(jws, trusted.key_for(kid))

    aud = claims.get("aud")
    audiences = trusted.audiences
    if isinstance(aud, str):
        if aud not in audiences:
            raise TokenError("wrong audience")
    elif not (isinstance(aud, list) and all(isinstance(a, str) for a in aud) and not audiences.isdisjoint(aud)):
        raise TokenError("wrong audience")
    # Whole seconds, as PyJWT and most verifiers compare: a fractional exp never buys part of a second more. Okta's
    # dates are JSON integers: those a float holds exactly are taken as they are, anything else is checked in full.
    exp = claims.get("exp")
    if type(exp) is not int or not -_EXACT < exp < _EXACT:
        exp = math.floor(numeric_date(exp, "exp"))
    if now >= exp + leeway:
        raise TokenError("expired")
    iat = claims.get("iat")
    if type(iat) is not int or not -_EXACT < iat < _EXACT:
        iat = numeric_date(iat, "iat")
    if iat > now + leeway:
        raise TokenError("issued in the future")
    if exp - iat > MAX_LIFETIME_SECONDS:
        raise TokenError("lifetime longer than Okta issues")
    if "nbf" in claims and numeric_date(claims["nbf"], "nbf") > now + leeway:
        raise TokenError("not yet valid")

    # A sender-constrained token (DPoP or mTLS, RFC 9449 / RFC 8705) is valid only with its proof of possession,
    # which a TOKEN authorizer never sees: accepting it would make it a bearer token again (a downgrade).
    jkt = None
    if dpop:
        cnf = claims.get("cnf")
        jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
        if not isinstance(jkt, str) or not jkt:
            raise TokenError("token is not DPoP-bound (no cnf.jkt)")
    elif "cnf" in claims:
        raise TokenError("token is bound to a key (cnf)")
    # An ID token or any other JWT from the same issuer has no cid/scp: it is not an access token.
    client_id = _string(claims, "cid")
    scopes = claims.get("scp")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise TokenError("scp is not a list of scopes")
    jti = claims.get("jti", "")
    if not isinstance(jti, str):
        raise TokenError("jti is not a string")
    # In field order, without keywords: they nearly double what building the tuple costs, once per token.
    return AccessToken(_string(claims, "sub"), client_id, tuple(scopes), jti, exp + leeway, kid, issuer, claims, jkt)

"""RS256 compact JWS: strict parsing, key import from JWK and signature checks. Nothing else is accepted."""

# No `from __future__ import annotations` here: see okta_m2m/tokens/__init__.py (NamedTuples, cold start).

import json
import re
from binascii import a2b_base64
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers
from cryptography.hazmat.primitives.hashes import SHA256

from okta_m2m.errors import TokenError

ALGORITHM = "RS256"
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
MAX_TOKEN_LENGTH = 8192
_B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
# Headers that point at keys, change processing or announce a nested token: refused outright (RFC 8725 3.10 and
# 2.8, RFC 7797, RFC 7519 5.2).
_REFUSED_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit", "b64", "zip", "enc", "cty"})
_B64_VALUE = {c: i for i, c in enumerate(_B64URL_ALPHABET)}  # each character's 6 bits, by byte value
_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_", b"+/")
_ACCEPTED_TYP = frozenset({"jwt", "at+jwt", "application/at+jwt"})
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_PKCS1 = PKCS1v15()
_SHA256 = SHA256()
# An issuer signs with a handful of keys, so its tokens share a handful of header segments: each accepted one is
# parsed and checked once. Read-only views, so no caller can change what the next token gets.
_HEADERS: dict[bytes, Mapping[str, Any]] = {}
_MAX_CACHED_HEADERS = 64
_last_header: tuple[bytes, Mapping[str, Any]] = (b"", MappingProxyType({}))  # the last one accepted (b"": none yet)


class CompactJws(NamedTuple):
    """A parsed compact JWS whose signature has not been checked yet."""

    header: Mapping[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes


class KeyRejectedError(ValueError):
    """A JWK that must not be used to check RS256 signatures."""


def b64url_decode(segment: str) -> bytes:
    """Decode unpadded, canonical base64url; anything else raises TokenError."""
    if not _B64URL.fullmatch(segment):
        raise TokenError("not base64url")
    return _decode_checked(segment.encode("ascii"))


def _decode_checked(segment: bytes) -> bytes:
    # The caller has checked the alphabet. Unused low bits of the last character must be zero, or several
    # strings would decode to the same bytes.
    tail = len(segment) % 4
    if tail == 1 or (tail and _B64_VALUE[segment[-1]] & (0b1111 if tail == 2 else 0b11)):
        raise TokenError("non-canonical base64url")
    return a2b_base64(segment.translate(_TO_STANDARD_ALPHABET) + b"==")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise TokenError("duplicate JSON member")
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)
# What decode() runs between its two whitespace skips (set by JSONDecoder.__init__; typeshed does not declare it).
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


def _decode(text: str) -> Any:
    # A token's JSON has no whitespace around the object: then decode() is one scan of it, without two regex
    # matches. Anything else (whitespace, extra data, or no object) takes decode() itself.
    if text[:1] == "{" and text[-1:] == "}":
        obj, end = _SCAN(text, 0)
        if end == len(text):
            return obj
    return _DECODER.decode(text)


def json_object(raw: bytes) -> dict[str, Any]:
    """Parse a UTF-8 JSON object that has no duplicate member names (RFC 7515 section 5.2)."""
    try:
        obj = _decode(raw.decode("utf-8"))
    # The scanner raises StopIteration for a value it cannot start (decode() turns that into a ValueError).
    except (UnicodeDecodeError, ValueError, RecursionError, StopIteration):
        raise TokenError("not a JSON object") from None
    if not isinstance(obj, dict):
        raise TokenError("not a JSON object")
    return obj


def split_compact(token: str) -> tuple[bytes, bytes, bytes]:
    """The three base64url segments of a compact JWS (header, payload, signature), not decoded yet; TokenError for
    anything else."""
    # Three base64url segments, no padding, nothing else (RFC 7515 section 7.1; RFC 8725 section 3.11): less its
    # base64url characters, the token is two dots, and its header and signature are not empty. An empty payload is
    # a valid JWS; it is refused later, as it is no JSON claims set.
    raw = token.encode("ascii") if len(token) <= MAX_TOKEN_LENGTH and token.isascii() else b""
    if raw.translate(None, _B64URL_ALPHABET) != b"..":
        raise TokenError("malformed token")
    header_b64, payload_b64, signature_b64 = raw.split(b".")
    if not (header_b64 and signature_b64):
        raise TokenError("malformed token")
    return header_b64, payload_b64, signature_b64


def decode_segment(segment: bytes) -> bytes:
    """Decode one segment split_compact returned (its alphabet is checked): canonical base64url only."""
    return _decode_checked(segment)


def parse_compact(token: str) -> CompactJws:
    """Split and decode a compact RS256 JWS, refusing every header this verifier does not implement."""
    global _last_header
    header_b64, payload_b64, signature_b64 = split_compact(token)
    last_b64, header = _last_header
    if header_b64 != last_b64:  # a compare of a few dozen bytes: cheaper than hashing them for _HEADERS
        cached = _HEADERS.get(header_b64)
        header = _checked_header(header_b64) if cached is None else cached
        _last_header = (header_b64, header)
    signing_input = header_b64 + b"." + payload_b64
    return CompactJws(header, _decode_checked(payload_b64), signing_input, _decode_checked(signature_b64))


def _checked_header(header_b64: bytes) -> Mapping[str, Any]:
    header = json_object(_decode_checked(header_b64))
    if header.get("alg") != ALGORITHM:
        raise TokenError("algorithm not allowed")
    if not _REFUSED_HEADERS.isdisjoint(header):
        raise TokenError("header parameter not allowed")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYP):
        raise TokenError("typ not allowed")
    if len(_HEADERS) >= _MAX_CACHED_HEADERS:
        _HEADERS.clear()  # a flood of distinct headers costs a parse each, as without the cache
    view = _HEADERS[header_b64] = MappingProxyType(header)
    return view


def _b64url_uint(value: object, name: str) -> int:
    if not isinstance(value, str) or not value:
        raise KeyRejectedError(f"{name} missing")
    try:
        raw = b64url_decode(value)
    except TokenError:
        raise KeyRejectedError(f"{name} is not base64url") from None
    if raw[0] == 0 and len(raw) > 1:
        raise KeyRejectedError(f"{name} has leading zero bytes")
    return int.from_bytes(raw, "big")


def _powers_of_65537(p: int) -> frozenset[int]:
    # Each power once, by multiplying until they come round to 1: half the cold-start cost of pow() for every k < p.
    powers, power = {1}, 65537 % p
    while power not in powers:
        powers.add(power)
        power = power * 65537 % p
    return frozenset(powers)


def _roca_residues() -> tuple[tuple[int, frozenset[int]], ...]:
    # Infineon's flawed generator (ROCA, CVE-2017-15361) made moduli that are powers of 65537 modulo each small prime.
    primes = (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103)
    return tuple((p, _powers_of_65537(p)) for p in primes)


_ROCA = _roca_residues()


def has_roca_fingerprint(n: int) -> bool:
    """True if n has the structure of an RSA modulus from the ROCA-vulnerable generator."""
    return all(n % p in residues for p, residues in _ROCA)


def check_signing_jwk(jwk: dict[str, Any], kty: str, alg: str) -> None:
    """Raise KeyRejectedError unless the JWK is a public key of type kty that may verify alg signatures."""
    if jwk.get("kty") != kty:
        raise KeyRejectedError(f"not an {kty} key")
    if jwk.get("use", "sig") != "sig":
        raise KeyRejectedError("key not meant for signatures")
    key_ops = jwk.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise KeyRejectedError("key_ops does not allow verify")
    if jwk.get("alg", alg) != alg:
        raise KeyRejectedError("key meant for another algorithm")
    if not _PRIVATE_MEMBERS.isdisjoint(jwk):
        raise KeyRejectedError("private key material published")


def rsa_key_from_jwk(jwk: dict[str, Any]) -> RSAPublicKey:
    """Import a public RSA JWK meant for RS256 signatures, or raise KeyRejectedError."""
    check_signing_jwk(jwk, "RSA", ALGORITHM)
    n = _b64url_uint(jwk.get("n"), "n")
    e = _b64url_uint(jwk.get("e"), "e")
    if not MIN_RSA_BITS <= n.bit_length() <= MAX_RSA_BITS:
        raise KeyRejectedError("RSA modulus size not allowed")
    if e < 3 or e % 2 == 0 or e >= n:
        raise KeyRejectedError("RSA exponent not allowed")
    if has_roca_fingerprint(n):
        raise KeyRejectedError("RSA modulus has the ROCA fingerprint")
    try:
        return RSAPublicNumbers(e, n).public_key()
    except ValueError:
        raise KeyRejectedError("invalid RSA key") from None


def verify_with_jwk(token: str, jwk: dict[str, Any]) -> CompactJws:
    """Check a compact JWS against one JWK (kid, algorithm, key and signature); raise TokenError otherwise."""
    jws = parse_compact(token)
    if "kid" in jwk and jws.header.get("kid") != jwk["kid"]:
        raise TokenError("kid does not match the key")
    try:
        key = rsa_key_from_jwk(jwk)
    except KeyRejectedError as exc:
        raise TokenError(f"key rejected: {exc}") from None
    verify_signature(jws, key)
    return jws


def verify_signature(jws: CompactJws, key: RSAPublicKey) -> None:
    """Check an RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature; raise TokenError if it does not hold."""
    if len(jws.signature) != (key.key_size + 7) // 8:
        raise TokenError("bad signature")
    try:
        key.verify(jws.signature, jws.signing_input, _PKCS1, _SHA256)
    except InvalidSignature:
        raise TokenError("bad signature") from None

"""DPoP proofs at a protected resource (RFC 9449 sections 4.3 and 7): a compact JWS signed with the key the access
token is bound to, checked against the request it came with. Whether its jti was seen before is the replay store's
question (okta_m2m.tokens._replay), asked after every check here has passed.

Imported on the first DPoP request only: a bearer-only container never loads it (make bench, cold start).
"""

# No `from __future__ import annotations` here: see okta_m2m/tokens/__init__.py (NamedTuples, cold start).

import json
from binascii import b2a_base64
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ec import (
    ECDSA,
    SECP256R1,
    EllipticCurvePublicKey,
    EllipticCurvePublicNumbers,
)
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256

from okta_m2m.errors import TokenError
from okta_m2m.tokens._access_token import numeric_date
from okta_m2m.tokens._digest import sha256
from okta_m2m.tokens._jws import (
    KeyRejectedError,
    b64url_decode,
    check_signing_jwk,
    decode_segment,
    json_object,
    rsa_key_from_jwk,
    split_compact,
)

# The proof algorithms accepted (the `algs` of the WWW-Authenticate challenge): asymmetric only, never `none` or a
# MAC (RFC 9449 section 11.7). ES256 is what Okta's and most clients' DPoP libraries sign with; RS256 what RSA keys do.
ALGORITHMS = ("ES256", "RS256")
PROOF_TYP = "dpop+jwt"
MAX_JTI_LENGTH = 256  # a jti is a random id: 256 characters hold any sane one, and bound what the store keeps
P256_COORDINATE_BYTES = 32
# Headers that point at other keys, change processing or nest content: a proof carries its key in `jwk`, nothing
# else (RFC 8725 3.10, RFC 7515 4.1.11, RFC 7797).
_REFUSED_HEADERS = frozenset({"jku", "x5u", "x5c", "crit", "b64", "zip", "enc", "cty"})
# RFC 7638 section 3.2: the required members of each key type, in lexicographic order.
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


def _ecdsa_verifier() -> ECDSA:
    """ECDSA with SHA-256, made without ECDSA.__init__: that imports cryptography's OpenSSL backend module (its
    cipher classes, the decrepit ones too: about 3.5 ms of a cold DPoP request) only to ask whether deterministic
    signing is supported, which verifying never needs. The two attributes set here are all __init__ sets and all
    that verify reads; tests/unit/tokens/test_dpop.py holds verification to them and the cold path to not loading
    the backend (tests/unit/test_layer_packages.py)."""
    verifier = ECDSA.__new__(ECDSA)
    verifier._algorithm = SHA256()
    verifier._deterministic_signing = False
    return verifier


_ECDSA_SHA256 = _ecdsa_verifier()
_PKCS1 = PKCS1v15()
_SHA256 = SHA256()
# A client signs its proofs with one key, so its proofs share one header segment (typ, alg, jwk): each accepted one
# is parsed, its key imported and its thumbprint computed once. Bounded: a flood of keys costs a parse each.
_KEYS: "dict[bytes, ProofKey]" = {}
_MAX_CACHED_KEYS = 1024
_SCHEMES = {"http": "80", "https": "443"}
_HEX = "0123456789ABCDEFabcdef"
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# What a path may hold unescaped (RFC 3986 section 3.3: pchar and "/"); anything else is percent-encoded first.
_PATH_CHARS = _UNRESERVED | frozenset("!$&'()*+,;=:@/%")


class ProofKey(NamedTuple):
    """The key a proof header carries: its algorithm, the imported key and its RFC 7638 thumbprint."""

    alg: str
    key: EllipticCurvePublicKey | RSAPublicKey
    jkt: str


class Proof(NamedTuple):
    """A proof whose every check has passed, but for its one use (the replay store's)."""

    jti: str
    iat: float
    jkt: str


def b64url(raw: bytes) -> str:
    """Unpadded base64url."""
    return b2a_base64(raw, newline=False).rstrip(b"=").translate(_TO_URLSAFE).decode("ascii")


_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


def access_token_hash(token: str) -> str:
    """The `ath` of an access token: base64url(SHA-256(its ASCII text)) (RFC 9449 section 4.2)."""
    return b64url(sha256(token.encode("ascii")))


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of an EC or RSA public JWK whose members have been checked."""
    members = _THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url(sha256(canonical.encode("ascii")))


def _coordinate(value: object, name: str) -> int:
    if not isinstance(value, str):
        raise KeyRejectedError(f"{name} missing")
    try:
        raw = b64url_decode(value)
    except TokenError:
        raise KeyRejectedError(f"{name} is not base64url") from None
    # RFC 7518 section 6.2.1.2: the full coordinate, zero-padded to the curve's size.
    if len(raw) != P256_COORDINATE_BYTES:
        raise KeyRejectedError(f"{name} is not {P256_COORDINATE_BYTES} bytes")
    return int.from_bytes(raw, "big")


def ec_key_from_jwk(jwk: dict[str, Any]) -> EllipticCurvePublicKey:
    """Import a public P-256 JWK meant for ES256 signatures, or raise KeyRejectedError."""
    check_signing_jwk(jwk, "EC", "ES256")
    if jwk.get("crv") != "P-256":
        raise KeyRejectedError("not a P-256 key")
    x, y = _coordinate(jwk.get("x"), "x"), _coordinate(jwk.get("y"), "y")
    try:
        return EllipticCurvePublicNumbers(x, y, SECP256R1()).public_key()  # checks the point is on the curve
    except ValueError:
        raise KeyRejectedError("not a point on P-256") from None


def _thumbprint_members_are_strings(jwk: Mapping[str, Any]) -> bool:
    return all(isinstance(jwk.get(m), str) for m in _THUMBPRINT_MEMBERS[jwk["kty"]])


def proof_key(header_b64: bytes) -> ProofKey:
    """The algorithm, key and thumbprint of a proof's header segment (checked, then kept for the next proof)."""
    found = _KEYS.get(header_b64)
    if found is not None:
        return found
    header = json_object(decode_segment(header_b64))
    if header.get("typ") != PROOF_TYP:
        raise TokenError("proof typ is not dpop+jwt")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise TokenError("proof algorithm not allowed")
    if not _REFUSED_HEADERS.isdisjoint(header):
        raise TokenError("proof header parameter not allowed")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise TokenError("proof has no jwk")
    try:
        key = ec_key_from_jwk(jwk) if alg == "ES256" else rsa_key_from_jwk(jwk)
    except KeyRejectedError as exc:
        raise TokenError(f"proof key rejected: {exc}") from None
    if not _thumbprint_members_are_strings(jwk):  # the import checked them; kept as the thumbprint's own premise
        raise TokenError("proof key rejected")
    if len(_KEYS) >= _MAX_CACHED_KEYS:
        _KEYS.clear()
    found = _KEYS[header_b64] = ProofKey(alg, key, jwk_thumbprint(jwk))
    return found


def verify_signature(proof_key: ProofKey, signing_input: bytes, signature: bytes) -> None:
    """Check an ES256 (raw r || s, RFC 7518 section 3.4) or RS256 signature; TokenError if it does not hold."""
    key = proof_key.key
    try:
        if isinstance(key, EllipticCurvePublicKey):
            if len(signature) != 2 * P256_COORDINATE_BYTES:
                raise TokenError("bad proof signature")
            r = int.from_bytes(signature[:P256_COORDINATE_BYTES], "big")
            s = int.from_bytes(signature[P256_COORDINATE_BYTES:], "big")
            key.verify(encode_dss_signature(r, s), signing_input, _ECDSA_SHA256)
        else:
            if len(signature) != (key.key_size + 7) // 8:
                raise TokenError("bad proof signature")
            key.verify(signature, signing_input, _PKCS1, _SHA256)
    except InvalidSignature:
        raise TokenError("bad proof signature") from None


def _percent_normalised(text: str) -> str | None:
    """Percent-encoding normalised (RFC 3986 section 6.2.2.2): escapes of unreserved characters decoded, the others'
    hex digits upper case; None if a `%` starts no escape."""
    if "%" not in text:
        return text
    parts = text.split("%")
    out = [parts[0]]
    for part in parts[1:]:
        if len(part) < 2 or part[0] not in _HEX or part[1] not in _HEX:
            return None
        char = chr(int(part[:2], 16))
        out.append((char if char in _UNRESERVED else "%" + part[:2].upper()) + part[2:])
    return "".join(out)


def _without_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, for an absolute path."""
    if "/." not in path:
        return path
    out: list[str] = []
    segments = path.split("/")[1:]
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == ".":
            if last:
                out.append("")
        elif segment == "..":
            if out:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/" + "/".join(out)


def normalized_url(url: str) -> str | None:
    """An http(s) URL without its query and fragment, normalised for comparison as RFC 9449 section 4.3 asks (RFC
    3986 sections 6.2.2 and 6.2.3): scheme and host in lower case, the scheme's default port left out, escapes
    normalised, dot segments removed, an empty path as `/`. None for anything that is not such a URL (user info,
    spaces or other characters a URI cannot hold)."""
    if not url.isascii() or any(c <= " " or c in '"<>\\^`{|}' for c in url):
        return None
    url = url.partition("#")[0].partition("?")[0]
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    default_port = _SCHEMES.get(scheme)
    if not sep or default_port is None:
        return None
    slash = rest.find("/")
    authority, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    if "@" in authority or not authority:
        return None
    if authority.startswith("["):
        host, bracket, after = authority.partition("]")
        host += bracket
        port = after.removeprefix(":") if after.startswith(":") else ("" if not after else None)
        if not bracket:
            return None
    else:
        host, _, port = authority.partition(":")
    if port is None or not host or (port and not port.isdigit()):
        return None
    clean_host, clean_path = _percent_normalised(host.lower()), _percent_normalised(path)
    if clean_host is None or clean_path is None:
        return None
    port = str(int(port)) if port else default_port
    netloc = clean_host if port == default_port else f"{clean_host}:{port}"
    return f"{scheme}://{netloc}{_without_dot_segments(clean_path)}"


def request_url(base: str, path: str) -> str | None:
    """The normalised URL of a request for `path` (as API Gateway reports it, after the stage) under an API base
    URL; characters a path cannot hold unescaped are percent-encoded first."""
    if not _PATH_CHARS.issuperset(path):
        path = "".join(c if c in _PATH_CHARS else "".join(f"%{b:02X}" for b in c.encode()) for c in path)
    return normalized_url(base.rstrip("/") + "/" + path.lstrip("/"))


def verify_proof(
    proof: str,
    *,
    method: str,
    urls: Collection[str],
    ath: str,
    jkt: str,
    now: float,
    window: float,
    leeway: float,
) -> Proof:
    """Check a DPoP proof sent with an access token bound to `jkt` (whose `ath` is given) for a request of `method`
    to one of `urls` (normalised): key, signature, claims and time, all but its one use. TokenError otherwise."""
    header_b64, payload_b64, signature_b64 = split_compact(proof)
    key = proof_key(header_b64)
    # The key first: a proof signed by any other key than the token's is refused without a signature check.
    if key.jkt != jkt:
        raise TokenError("proof key is not the key the token is bound to")
    verify_signature(key, header_b64 + b"." + payload_b64, decode_segment(signature_b64))
    claims = json_object(decode_segment(payload_b64))
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise TokenError("proof jti missing or too long")
    if claims.get("htm") != method:
        raise TokenError("proof htm is not the request's method")
    htu = claims.get("htu")
    if not isinstance(htu, str) or normalized_url(htu) not in urls:
        raise TokenError("proof htu is not the request's URL")
    if claims.get("ath") != ath:
        raise TokenError("proof ath is not the access token's hash")
    iat = numeric_date(claims.get("iat"), "proof iat")
    if iat > now + leeway:
        raise TokenError("proof issued in the future")
    if iat < now - window - leeway:
        raise TokenError("proof too old")
    return Proof(jti, iat, key.jkt)

"""Differential fuzzing of DPoP proofs: our proof check never accepts a proof that a reference refuses.

The reference is PyJWT (signature, algorithm, required claims) plus RFC 9449 section 4.3's other checks written out
plainly here, with urllib's URL parsing for htu: typ, an allow-listed asymmetric alg, a public jwk of that type whose
RFC 7638 thumbprint is the token's cnf.jkt, htm, htu without query and fragment, ath, jti, iat in the window. Each
example starts from a valid proof and applies generated edits (header, jwk, claims, signing key, JSON, the text);
where only we refuse, the refusal must be a rule named in STRICTER. Profiles: tests/hypothesis_profiles.py.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import jwt
from hypothesis import event, given, note
from hypothesis import strategies as st

from okta_m2m.errors import TokenError
from okta_m2m.tokens._dpop import normalized_url, verify_proof
from tests.dpop_factory import ath, b64url, ec_key, rsa_key
from tests.hypothesis_profiles import load_profile
from tests.unit.tokens.test_differential import FlipChar, FlipSextet, Json

load_profile()

URL = "https://abc123.execute-api.us-east-1.amazonaws.com/v1/orders/7"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJjbmYiOnt9fQ.c2ln"
WINDOW, LEEWAY = 60, 30
EC, RSA = ec_key("diff-dpop"), rsa_key("diff-dpop")
OTHER_EC, OTHER_RSA = ec_key("diff-dpop-other"), rsa_key("diff-dpop-other")
SMALL_RSA = rsa_key("diff-dpop-small", 1024)
KEYS = {"ec": EC, "rsa": RSA, "other ec": OTHER_EC, "other rsa": OTHER_RSA, "small rsa": SMALL_RSA}
REFERENCE_ALGS = {"ES256": "EC", "RS256": "RSA"}
PRIVATE = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

# Where we refuse a proof the reference accepts, on purpose (our TokenError reasons).
STRICTER = {
    "duplicate JSON member": "RFC 7515 4, RFC 7519 4: reject duplicates or keep the last (as PyJWT does)",
    "malformed token": "RFC 7515 7.1: base64url without padding, three segments; PyJWT tolerates padding",
    "not a JSON object": "RFC 8259 8.1: UTF-8 only; PyJWT also reads BOMs and UTF-16/32",
    "proof key rejected: key not meant for signatures": "RFC 7517 4.2: a `use` other than sig",
    "proof key rejected: key_ops does not allow verify": "RFC 7517 4.3: key_ops without verify",
    "proof key rejected: key meant for another algorithm": "RFC 7517 4.4: the key's own alg differs from the header's",
    "proof header parameter not allowed": "RFC 8725 3.10, RFC 7797: no key-pointing, crit, b64, zip, enc or cty",
    "proof key rejected: RSA modulus has the ROCA fingerprint": "CVE-2017-15361 (never drawn here)",
}


def reference_thumbprint(jwk: dict[str, Any]) -> str:
    members = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n")
    return b64url(
        hashlib.sha256(
            json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True).encode()
        ).digest()
    )


def reference_url(url: str) -> tuple[str, str, int, str] | None:
    """scheme, host, port, path of an http(s) URL (urllib), query and fragment dropped, for comparison."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower(), 0)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or parts.username is not None:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port, parts.path or "/"


def reference(proof: str, jkt: str, now: float) -> str | None:
    """The reference's verdict: None to accept, else why it refuses."""
    try:
        header = jwt.get_unverified_header(proof)
        alg, jwk = header.get("alg"), header.get("jwk")
        if header.get("typ") != "dpop+jwt" or alg not in REFERENCE_ALGS or not isinstance(jwk, dict):
            return "header"
        if PRIVATE & set(jwk) or jwk.get("kty") != REFERENCE_ALGS[alg]:
            return "jwk"
        key = jwt.PyJWK(jwk, algorithm=alg).key
        if REFERENCE_ALGS[alg] == "RSA" and key.key_size < 2048:  # RFC 7518 3.3
            return "small key"
        if reference_thumbprint(jwk) != jkt:
            return "jkt"
        claims = jwt.decode(
            proof, key, algorithms=[alg], options={"require": ["jti", "htm", "htu", "iat"], "verify_iat": False}
        )
    except Exception as exc:
        return f"pyjwt: {type(exc).__name__}"
    jti, iat, htu = claims["jti"], claims["iat"], claims["htu"]
    if not isinstance(jti, str) or not 0 < len(jti) <= 256:
        return "jti"
    if claims["htm"] != "GET":
        return "htm"
    if not isinstance(htu, str) or reference_url(htu) != reference_url(URL):
        return "htu"
    if claims.get("ath") != ath(TOKEN):
        return "ath"
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not now - WINDOW - LEEWAY <= iat <= now + LEEWAY:
        return "iat"
    return None


def ours(proof: str, jkt: str, now: float) -> TokenError | None:
    try:
        verify_proof(
            proof,
            method="GET",
            urls={normalized_url(URL)},
            ath=ath(TOKEN),
            jkt=jkt,
            now=now,
            window=WINDOW,
            leeway=LEEWAY,
        )
    except TokenError as exc:
        return exc
    return None


# --- recipes ----------------------------------------------------------------------------------------------------

REMOVE = object()
HTUS = [
    URL,
    URL + "?x=1#f",
    URL.upper().replace("/V1/ORDERS/7", "/v1/orders/7"),
    URL.replace(".com/", ".com:443/"),
    URL.replace(".com/", ".com:8443/"),
    URL.replace("https", "http"),
    URL.replace("/7", "/8"),
    URL + "/",
    "https://other.example/v1/orders/7",
    "https://u@abc123.execute-api.us-east-1.amazonaws.com/v1/orders/7",
    "abc123.execute-api.us-east-1.amazonaws.com/v1/orders/7",
    7,
    REMOVE,
]
OFFSETS = [0, -30, -85, -95, -200, 25, 35, 3600, -(10**6)]  # kept 5 s or more from the window's edges


BASE: dict[str, Any] = {
    "bound": "ec", "signer": None, "typ": "dpop+jwt", "alg": None, "jwk": {}, "header": {}, "htm": "GET",
    "htu": URL, "ath": "ok", "jti": "uuid", "iat": 0, "iat form": "int", "json": Json(), "text": None,
}  # fmt: skip
# Each field's other values; a recipe changes up to three fields of BASE, so single faults dominate.
EDITS: dict[str, st.SearchStrategy[Any]] = {
    "signer": st.sampled_from(["ec", "rsa", "other ec", "other rsa", "small rsa"]),
    "typ": st.sampled_from(["DPoP+jwt", "jwt", "at+jwt", REMOVE]),
    "alg": st.sampled_from(["ES256", "RS256", "ES384", "PS256", "HS256", "none"]),
    "jwk": st.sampled_from(
        [{"d": "AAAA"}, {"use": "enc"}, {"use": "sig"}, {"alg": "ES384"}, {"alg": "ES256"}, {"key_ops": ["sign"]}]
        + [{"key_ops": ["verify"]}, {"kid": "k"}, {"kty": "oct"}, {"crv": "P-384"}, {"x": REMOVE}, {"x": 5}]
        + [{"e": "AQAB", "n": "AQAB"}]
    ),
    "header": st.sampled_from([{"kid": "a"}, {"jku": "https://x"}, {"crit": ["htm"]}, {"x5c": []}, {"cty": "x"}]),
    "htm": st.sampled_from(["POST", "get", "GET ", REMOVE]),
    "htu": st.sampled_from(HTUS[1:]),
    "ath": st.sampled_from(["other", "", REMOVE]),
    "jti": st.sampled_from(["", "j" * 256, "j" * 257, 5, REMOVE]),
    "iat": st.sampled_from(OFFSETS[1:]),
    "iat form": st.sampled_from(["float", "str", "bool"]),
    "json": st.sampled_from(
        [Json("compact"), Json("spaced"), Json("bom"), Json("utf-16"), Json(duplicate=("htm", "GET", True, False))]
    ),
    "text": st.builds(FlipChar, st.integers(0, 2), st.integers(0, 500), st.integers(0, 6))
    | st.builds(FlipSextet, st.integers(0, 2), st.integers(0, 500), st.integers(0, 5))
    | st.sampled_from(["pad", "truncate"]),
}


@st.composite
def recipes(draw: st.DrawFn) -> dict[str, Any]:
    recipe = {**BASE, "bound": draw(st.sampled_from(["ec", "rsa"]))}
    for field in draw(st.lists(st.sampled_from(sorted(EDITS)), max_size=3, unique=True)):
        recipe[field] = draw(EDITS[field])
    return recipe


def build(recipe: dict[str, Any], now: int) -> tuple[str, str]:
    """(the proof the recipe makes, the jkt of the key the token is bound to)."""
    bound = KEYS[recipe["bound"]]
    signer = KEYS[recipe["signer"] or recipe["bound"]]
    alg = recipe["alg"] or signer.alg
    jwk = {**bound.jwk(), **recipe["jwk"]}
    header = {"typ": recipe["typ"], "alg": alg, "jwk": {k: v for k, v in jwk.items() if v is not REMOVE}}
    header |= recipe["header"]
    iat = now + recipe["iat"]
    claims = {
        "jti": str(uuid.uuid4()) if recipe["jti"] == "uuid" else recipe["jti"],
        "htm": recipe["htm"],
        "htu": recipe["htu"],
        "iat": {"int": iat, "float": iat + 0.5, "str": str(iat), "bool": True}[recipe["iat form"]],
        "ath": {"ok": ath(TOKEN), "other": ath("other")}.get(recipe["ath"], recipe["ath"]),
    }
    head = b64url(recipe["json"].encode({k: v for k, v in header.items() if v is not REMOVE}))
    body = b64url(recipe["json"].encode({k: v for k, v in claims.items() if v is not REMOVE}))
    signing_input = f"{head}.{body}".encode()
    if alg == "none":
        signature = b""
    elif alg == "HS256":
        signature = jwt.get_algorithm_by_name("HS256").sign(signing_input, b"a shared secret of 32 bytes here")
    elif (
        alg in ("ES256", "ES384") and signer.alg.startswith("ES") or alg in ("RS256", "PS256") and signer.alg == "RS256"
    ):
        signature = jwt.get_algorithm_by_name(alg).sign(signing_input, signer.private)
    else:
        signature = b"\x01" * 64
    proof = f"{head}.{body}.{b64url(signature)}"
    text = recipe["text"]
    if text == "pad":
        proof += "=="
    elif text == "truncate":
        proof = proof[:-3]
    elif text is not None:
        proof = text.apply(proof)
    return proof, bound.jkt


@given(recipes())
def test_we_never_accept_a_proof_the_reference_refuses(recipe):
    now = int(time.time())
    proof, jkt = build(recipe, now)
    note(f"proof: {proof}")
    theirs = reference(proof, jkt, now)
    mine = ours(proof, jkt, now)
    note(f"ours: {mine and mine.reason!r}; reference: {theirs!r}")
    if mine is None:
        assert theirs is None, f"we accept a proof the reference refuses ({theirs})"
        event("both accept")
    elif theirs is not None:
        event(f"both refuse ({mine.reason})")
    else:
        assert mine.reason in STRICTER, f"we refuse a proof the reference accepts, for no rule: {mine.reason!r}"
        event(f"stricter: {mine.reason}")


def test_the_recipes_reach_both_verdicts():
    # Not a property: a guard that the generator still makes valid proofs (else the property above says little).
    now = int(time.time())
    base = BASE
    for bound in ("ec", "rsa"):
        proof, jkt = build({**base, "bound": bound}, now)
        assert ours(proof, jkt, now) is None and reference(proof, jkt, now) is None
    proof, jkt = build({**base, "signer": "other ec"}, now)
    assert ours(proof, jkt, now) is not None and reference(proof, jkt, now) is not None

"""Differential fuzzing: our RS256 verifier never accepts a token that a strictly configured PyJWT refuses.

Each example starts from a valid Okta-shaped access token, applies generated edits (claims, header, JSON
serialization, signing key, size, the token's text) and asks both verifiers, with the same key set, issuer, audience
and leeway. Where only we refuse, the refusal must be a deliberate rule named in STRICTER; where only PyJWT refuses,
or where our code raises anything but TokenError, the test fails. Profiles: tests/hypothesis_profiles.py.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
import warnings
from dataclasses import dataclass, replace
from typing import Any, Protocol

import jwt
import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st
from jwt.warnings import InsecureKeyLengthWarning

from okta_m2m.errors import TokenError
from okta_m2m.tokens._access_token import Trust, validate_access_token
from okta_m2m.tokens._jwks import parse_key_set
from okta_m2m.tokens._jws import MAX_TOKEN_LENGTH, MIN_RSA_BITS
from tests.hypothesis_profiles import load_profile
from tests.jwt_factory import AUDIENCE, CLIENT_ID, access_claims, b64url, mint, sign_raw, signing_key

load_profile()

ISSUER = "https://example.okta.com/oauth2/default"
# Generated once per run (jwt_factory caches them): RSA key generation is the slow part.
KEY = signing_key("diff-main")
TWIN = signing_key("diff-twin")  # another 2048-bit key, made to sign under KEY's kid
BIG = signing_key("diff-big", 4096)
SMALL = signing_key("diff-small", 1024)  # published, but parse_key_set drops it
STRANGER = signing_key("diff-stranger")  # never published
SIGNERS = {
    "main": (KEY, KEY.kid),
    "twin": (TWIN, KEY.kid),
    "big": (BIG, BIG.kid),
    "small": (SMALL, SMALL.kid),
    "stranger": (STRANGER, STRANGER.kid),
}

JWKS = {"keys": [KEY.jwk(), BIG.jwk(), SMALL.jwk()]}
OUR_KEYS = parse_key_set(JWKS)
PYJWT_KEYS = jwt.PyJWKSet.from_dict(JWKS)
UNDERSIZED_KIDS = frozenset(key.kid for key in (KEY, BIG, SMALL) if key.private.key_size < MIN_RSA_BITS)
PYJWT_OPTIONS: Any = {"require": ["exp", "iat", "iss", "aud", "sub"], "strict_aud": False}
# The same leeway is given to both. Generated times keep > 5 s away from every boundary these leeways make, so
# PyJWT's own clock (read a few ms after ours) cannot flip a verdict. So the last second before a non-integer exp is
# not explored: there PyJWT, which truncates exp with int(), already refuses while we still accept. The seed fixes
# the recipes, but iat/exp (so the signature) follow the clock: counts per verdict can move a little between runs.
LEEWAYS = (0, 30, 120)
OFFSETS = (-(10**9), -172800, -86400, -7200, -3600, -600, -90, -60, -10, 10, 60, 90, 600, 3600, 86400, 90000, 10**9)

# Where we refuse a token PyJWT accepts, on purpose. Keys are our TokenError reasons; three reasons that also cover
# tokens PyJWT refuses are narrowed to the part that differs (see stricter_rule): "unknown kid" only for a published
# key too small to enter our key set, "malformed token" only for padding or length, "not a JSON object" only for
# JSON that is not strict UTF-8. Any other one-sided refusal is unexplained and fails the test.
STRICTER = {
    "duplicate JSON member": "RFC 7515 4, RFC 7519 4: reject duplicates or keep the last (as PyJWT does)",
    "base64url padding": "RFC 7515 2 and 7.1: base64url without '=' padding; PyJWT tolerates padding",
    "token longer than MAX_TOKEN_LENGTH": "a bound on work per request: Okta access tokens are far below 8 KiB",
    "JSON text not strict UTF-8": "RFC 8725 3.7, RFC 8259 8.1: UTF-8 only; PyJWT also reads BOM, UTF-16/32, surrogates",
    "key under 2048 bits": "RFC 7518 3.3: RS256 keys MUST be 2048 bits or more; parse_key_set drops smaller ones",
    "header parameter not allowed": "RFC 8725 3.10, 3.6, RFC 7797: no key-pointing, crit, b64, zip, enc or cty headers",
    "typ not allowed": "RFC 8725 3.11, RFC 9068 2.1: JWT or at+jwt only, so no other kind of JWT passes",
    "exp is not a NumericDate": "RFC 7519 2: a JSON number; PyJWT int() also takes '123', ' 1_2 ' and booleans",
    "iat is not a NumericDate": "RFC 7519 2: a JSON number; PyJWT int() also takes '123', ' 1_2 ' and booleans",
    "nbf is not a NumericDate": "RFC 7519 2: a JSON number; PyJWT int() also takes '123', ' 1_2 ' and booleans",
    "exp is out of range": "a NumericDate must fit a finite double (RFC 7493 2.2); PyJWT accepts 10**400",
    "iat is out of range": "a NumericDate must fit a finite double (RFC 7493 2.2); PyJWT accepts -10**400",
    "nbf is out of range": "a NumericDate must fit a finite double (RFC 7493 2.2); PyJWT accepts -10**400",
    "lifetime longer than Okta issues": "Okta access tokens live at most 24 h (exp - iat); PyJWT has no such limit",
    "token is bound to a key (cnf)": "RFC 9449 / RFC 8705: a TOKEN authorizer never sees the proof of possession",
    "cid missing": "an Okta access token has cid (a non-empty string); ID tokens and other JWTs do not",
    "scp is not a list of scopes": "an Okta access token's scp is a JSON array of strings",
    "sub missing": "sub must be a non-empty string; PyJWT's require only rejects a missing or null sub",
}


# --- the two verdicts ---------------------------------------------------------------------------------------------


def ours(token: str, leeway: float, now: float) -> TokenError | None:
    """Our verdict: None to accept, the TokenError to refuse; any other exception is a crash and propagates."""

    def key_for(kid: str) -> Any:
        try:
            return OUR_KEYS[kid]
        except KeyError:
            raise TokenError("unknown kid") from None

    try:
        trust = {ISSUER: Trust(frozenset({AUDIENCE}), key_for)}
        validate_access_token(token, trust=trust, leeway=leeway, now=now)
    except TokenError as exc:
        return exc
    return None


def pyjwt(token: str, leeway: float) -> Exception | None:
    """PyJWT's verdict, with the key the header's kid names in the same JWKS; any error of any kind is a refusal."""
    try:
        key = PYJWT_KEYS[jwt.get_unverified_header(token)["kid"]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # the 1024-bit key, on purpose
            jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=leeway,
                options=PYJWT_OPTIONS,
            )
    except Exception as exc:
        return exc
    return None


def _decoded_segments(token: str) -> list[bytes]:
    """Header and payload bytes of a token PyJWT has accepted (so valid base64url, maybe padded)."""
    return [base64.urlsafe_b64decode(s.rstrip("=") + "=" * (-len(s.rstrip("=")) % 4)) for s in token.split(".")[:2]]


def _strict_utf8(raw: bytes) -> bool:
    """True if PyJWT's json.loads(bytes) also reads these bytes as UTF-8 (no BOM, no UTF-16/32, no surrogates)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return json.detect_encoding(raw) == "utf-8"


def stricter_rule(token: str, reason: str) -> str:
    """The rule behind a refusal PyJWT does not share: the reason itself, or its narrowed part (see STRICTER)."""
    if reason == "unknown kid" and jwt.get_unverified_header(token).get("kid") in UNDERSIZED_KIDS:
        return "key under 2048 bits"
    if reason == "malformed token" and len(token) > MAX_TOKEN_LENGTH:
        return "token longer than MAX_TOKEN_LENGTH"
    if reason == "malformed token" and "=" in token:
        return "base64url padding"
    if reason == "not a JSON object" and not all(_strict_utf8(raw) for raw in _decoded_segments(token)):
        return "JSON text not strict UTF-8"
    return reason


def judge(token: str, mine: TokenError | None, theirs: Exception | None) -> str:
    """Compare the verdicts: fail if we accept what PyJWT refuses or refuse for no named rule; return a label."""
    if mine is None:
        assert theirs is None, f"we accept a token PyJWT refuses ({type(theirs).__name__}: {theirs})"
        return "both accept"
    if theirs is not None:
        return f"both refuse ({mine.reason})"
    rule = stricter_rule(token, mine.reason)
    assert rule in STRICTER, f"we refuse a token PyJWT accepts, for no rule in STRICTER: {mine.reason!r}"
    return f"stricter: {rule}"


def differential(token: str, leeway: float) -> str:
    """Both verdicts on one token, judged, and recorded for --hypothesis-show-statistics."""
    note(f"token ({len(token)} chars): {token}")
    theirs = pyjwt(token, leeway)
    mine = ours(token, leeway, now=time.time())
    note(f"ours: {mine and mine.reason!r}; PyJWT: {theirs!r}")
    label = judge(token, mine, theirs)
    event(label)
    return label


# --- recipes: how a token is made from a valid one ---------------------------------------------------------------


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


REMOVE = _Marker("REMOVE")  # an edit that deletes the member
KEEP = _Marker("KEEP")  # no replacement document


@dataclass(frozen=True)
class Rel:
    """A NumericDate `seconds` from the minting clock, written as int, float, str, padded str, 1_000 str or [int]."""

    seconds: int
    form: str = "int"

    def at(self, now: int) -> Any:
        t = now + self.seconds
        return {
            "int": t,
            "float": t + 0.5,
            "str": str(t),
            "padded str": f" {t} ",
            "1_000 str": f"{t:_}",
            "list": [t],
        }[self.form]


def _resolve(value: Any, now: int) -> Any:
    if isinstance(value, Rel):
        return value.at(now)
    if isinstance(value, list):
        return [_resolve(v, now) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, now) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Json:
    """How a document becomes a segment's bytes: a style, and maybe one duplicated member (first or last)."""

    style: str = "plain"
    duplicate: tuple[str, Any, bool, bool] | None = None  # (name, value, put first, name written as \u escapes)

    def encode(self, doc: Any) -> bytes:
        if self.style == "surrogate" and isinstance(doc, dict):
            doc = {**doc, "x": "\udcff"}  # a lone surrogate, written raw below
        text = json.dumps(
            doc,
            separators=(",", ":") if self.style == "compact" else None,
            indent=1 if self.style == "spaced" else None,
            ensure_ascii=self.style not in ("unicode", "surrogate"),
        )
        if self.duplicate and isinstance(doc, dict) and doc:
            name, value, first, escaped = self.duplicate
            key = '"' + "".join(f"\\u{ord(c):04x}" for c in name) + '"' if escaped else json.dumps(name)
            member = f"{key}:{json.dumps(value)}"
            text = f"{{{member},{text[1:]}" if first else f"{text[:-1]},{member}}}"
        if self.style == "spaced":
            text = f"\n\t {text} \r\n"
        return {
            "bom": lambda t: b"\xef\xbb\xbf" + t.encode(),
            "utf-16": lambda t: t.encode("utf-16-le"),
            "utf-16 bom": lambda t: t.encode("utf-16"),
            "utf-32": lambda t: t.encode("utf-32"),
            "surrogate": lambda t: t.encode("utf-8", "surrogatepass"),
        }.get(self.style, str.encode)(text)


class Mutation(Protocol):
    def apply(self, token: str) -> str: ...


def _pick(token: str, segment: int) -> tuple[list[str], int]:
    parts = token.split(".")
    return parts, segment % len(parts)


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass(frozen=True)
class FlipChar:
    """Flip bit 0-6 of one character of a segment's text (it may leave the alphabet, or become a '.')."""

    segment: int
    position: int
    bit: int

    def apply(self, token: str) -> str:
        parts, i = _pick(token, self.segment)
        if seg := parts[i]:
            p = self.position % len(seg)
            parts[i] = seg[:p] + chr(ord(seg[p]) ^ (1 << self.bit)) + seg[p + 1 :]
        return ".".join(parts)


@dataclass(frozen=True)
class FlipSextet:
    """Flip bit 0-5 of the 6-bit value of one base64url character (it stays in the alphabet)."""

    segment: int
    position: int
    bit: int

    def apply(self, token: str) -> str:
        parts, i = _pick(token, self.segment)
        seg = parts[i]
        if seg and seg[p := self.position % len(seg)] in _ALPHABET:
            parts[i] = seg[:p] + _ALPHABET[_ALPHABET.index(seg[p]) ^ (1 << self.bit)] + seg[p + 1 :]
        return ".".join(parts)


def _lenient_b64decode(segment: str) -> bytes | None:
    s = segment.rstrip("=").replace("+", "-").replace("/", "_")
    if len(s) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    except (binascii.Error, ValueError):
        return None


@dataclass(frozen=True)
class FlipByte:
    """Flip bit 0-7 of one decoded byte of a segment and re-encode it as canonical base64url."""

    segment: int
    position: int
    bit: int

    def apply(self, token: str) -> str:
        parts, i = _pick(token, self.segment)
        if raw := _lenient_b64decode(parts[i]):
            p = self.position % len(raw)
            parts[i] = b64url(raw[:p] + bytes([raw[p] ^ (1 << self.bit)]) + raw[p + 1 :])
        return ".".join(parts)


@dataclass(frozen=True)
class Reshape:
    """Swap two segments, duplicate one (inserted before segment j) or drop one."""

    op: str
    i: int
    j: int

    def apply(self, token: str) -> str:
        parts, i = _pick(token, self.i)
        j = self.j % len(parts)
        if self.op == "swap":
            parts[i], parts[j] = parts[j], parts[i]
        elif self.op == "duplicate":
            parts.insert(j, parts[i])
        else:
            del parts[i]
        return ".".join(parts)


@dataclass(frozen=True)
class Reencode:
    """Rewrite one segment with its correct '=' padding, 1-3 extra '=', or the standard alphabet (+/)."""

    segment: int
    how: str

    def apply(self, token: str) -> str:
        parts, i = _pick(token, self.segment)
        seg = parts[i]
        if self.how == "standard":
            parts[i] = seg.replace("-", "+").replace("_", "/")
        elif self.how == "padded":
            parts[i] = seg + "=" * (-len(seg) % 4)
        else:
            parts[i] = seg + "=" * int(self.how)
        return ".".join(parts)


@dataclass(frozen=True)
class Splice:
    """Delete `delete` characters at `position` (mod length) and insert `text` there: truncation, junk, whitespace."""

    position: int
    delete: int
    text: str

    def apply(self, token: str) -> str:
        p = self.position % (len(token) + 1)
        return token[:p] + self.text + token[p + self.delete :]


@dataclass(frozen=True)
class Recipe:
    """A token: a valid access token with these edits, serialized so, signed by `signer`, then mutated as text."""

    signer: str = "main"
    leeway: int = 0
    claim_edits: tuple[tuple[str, Any], ...] = ()
    header_edits: tuple[tuple[str, Any], ...] = ()
    payload_doc: Any = KEEP  # replaces the whole claims set (any JSON value)
    header_doc: Any = KEEP
    payload_json: Json = Json()
    header_json: Json = Json()
    length: int | None = None  # pad the token to MAX_TOKEN_LENGTH + length characters
    text: tuple[Mutation, ...] = ()

    def token(self) -> str:
        now = int(time.time())
        key, kid = SIGNERS[self.signer]
        header = _edited({"alg": "RS256", "kid": kid}, self.header_edits, now)
        claims = _edited(access_claims(ISSUER, jti="AT.differential", iat=now, exp=now + 3600), self.claim_edits, now)
        header = header if self.header_doc is KEEP else _resolve(self.header_doc, now)
        claims = claims if self.payload_doc is KEEP else _resolve(self.payload_doc, now)
        header_bytes = self.header_json.encode(header)
        payload_bytes = self.payload_json.encode(claims)
        if self.length is not None and isinstance(claims, dict):
            header_bytes, payload_bytes = self._sized(header_bytes, claims, key.private.key_size)
        token = sign_raw(header_bytes, payload_bytes, key)
        for mutation in self.text:
            token = mutation.apply(token)
        return token

    def _sized(self, header_bytes: bytes, claims: dict[str, Any], bits: int) -> tuple[bytes, bytes]:
        """Header and payload bytes padded (a "pad" claim, header whitespace) to the target token length."""
        target = MAX_TOKEN_LENGTH + (self.length or 0)
        signature_chars = len(b64url(bytes(bits // 8)))
        # An unpadded base64url segment is never 1 (mod 4) characters long: grow the header until it fits.
        for spaces in range(4):
            hb = header_bytes + b" " * spaces
            payload_chars = target - len(b64url(hb)) - signature_chars - 2
            if payload_chars % 4 != 1:
                break
        empty = self.payload_json.encode({**claims, "pad": ""})
        per_char = len(self.payload_json.encode({**claims, "pad": "x"})) - len(empty)
        fill = max(0, (payload_chars * 3 // 4 - len(empty)) // per_char)
        return hb, self.payload_json.encode({**claims, "pad": "x" * fill})


def _edited(doc: dict[str, Any], edits: tuple[tuple[str, Any], ...], now: int) -> dict[str, Any]:
    doc = dict(doc)
    for name, value in edits:
        if value is REMOVE:
            doc.pop(name, None)
        else:
            doc[name] = _resolve(value, now)
    return doc


# --- strategies ---------------------------------------------------------------------------------------------------


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value, NaN and Infinity included (Python's json reads and writes them)."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
        max_leaves=6,
    )


def numeric_dates() -> st.SearchStrategy[Any]:
    """Times near the clock in every JSON shape, and odd values: huge, negative, non-finite, booleans, strings."""
    near = st.builds(
        Rel, st.sampled_from(OFFSETS), st.sampled_from(["int", "float", "str", "padded str", "1_000 str", "list"])
    )
    odd = st.sampled_from(
        [0, -1, 2**63, 10**20, 10**400, -(10**400), 1e308, -1e308, float("inf"), float("-inf"), float("nan")]
    )
    return near | odd | st.booleans() | st.sampled_from(["", "soon", "1e10", None, {}])


IDENTIFIERS = st.sampled_from([CLIENT_ID, "0oaother", "", " ", 1, True, [CLIENT_ID], {}, None])
CLAIM_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "iss": st.sampled_from([ISSUER, ISSUER + "/", ISSUER.upper(), "https://evil.example/oauth2/default", "", [ISSUER]]),
    "aud": st.sampled_from(
        [AUDIENCE, [AUDIENCE], ["api://other", AUDIENCE], [AUDIENCE, AUDIENCE], ["api://other"], [AUDIENCE, 1]]
        + [[], "", AUDIENCE + " ", AUDIENCE.upper(), [[AUDIENCE]], {AUDIENCE: True}]
    ),
    "exp": numeric_dates(),
    "iat": numeric_dates(),
    "nbf": numeric_dates(),
    "sub": IDENTIFIERS,
    "cid": IDENTIFIERS,
    "scp": st.sampled_from([["hello"], [], "hello", ["hello", 1], [["hello"]], {"hello": True}, None])
    | st.lists(st.text(max_size=6), max_size=3),
    "jti": st.sampled_from(["AT.x", "", 5, None, ["AT.x"]]),
    "ver": st.sampled_from([1, 2, "1", None]),
    "cnf": st.sampled_from([{}, {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}, {"x5t#S256": "bwcK"}, None]),
    "uid": st.text(max_size=8),
}
HEADER_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "alg": st.sampled_from(["RS256", "none", "None", "NONE", "HS256", "RS384", "RS512", "PS256", "ES256"])
    | st.sampled_from(["rs256", "Rs256", "RS256 ", "", None, 256, ["RS256"]]),
    "kid": st.sampled_from([KEY.kid, BIG.kid, SMALL.kid, STRANGER.kid, TWIN.kid, KEY.kid.upper(), KEY.kid + " "])
    | st.sampled_from(["", "../../dev/null", 1, None, [KEY.kid]]),
    "typ": st.sampled_from(["JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt", "application/jwt", "JOSE"])
    | st.sampled_from(["id_token+jwt", "", None, 1]),
    "cty": st.sampled_from(["JWT", "json"]),
    "crit": st.sampled_from([["b64"], ["exp"], [], "b64", ["b64", "b64"]]),
    "b64": st.booleans(),
    "jku": st.just("https://evil.example/keys"),
    "x5u": st.just("https://evil.example/cert"),
    "jwk": st.sampled_from([STRANGER.jwk(), KEY.jwk()]),
    "x5c": st.just(["MIIB"]),
    "x5t": st.just("dGh1bWI"),
    "zip": st.just("DEF"),
    "enc": st.just("A256GCM"),
    "nonce": st.text(max_size=8),
}


@st.composite
def edits(draw: st.DrawFn, values: dict[str, st.SearchStrategy[Any]]) -> tuple[str, Any]:
    """One member removed, or set to a value chosen for it, or to any JSON value."""
    name = draw(st.sampled_from(sorted(values)))
    return name, draw(st.just(REMOVE) | values[name] | values[name] | json_values())


@st.composite
def serializations(draw: st.DrawFn, names: list[str]) -> Json:
    """A JSON style (incl. BOM, UTF-16/32, raw surrogates) and maybe a duplicated member, first or last."""
    style = draw(st.sampled_from(["plain", "compact", "unicode", "spaced", "bom", "utf-16", "utf-16 bom", "utf-32"]))
    style = draw(st.sampled_from([style, "plain", "surrogate"]))
    duplicate = draw(
        st.none() | st.tuples(st.sampled_from(names), json_values() | st.just(ISSUER), st.booleans(), st.booleans())
    )
    return Json(style, duplicate)


def text_mutations() -> st.SearchStrategy[Mutation]:
    """Bit flips (text, sextet, decoded byte), segment reshapes, re-encodings and splices."""
    segment, position = st.integers(0, 11), st.integers(0, 10**4)  # segment mod 2, 3 or 4: each equally likely
    return st.one_of(
        st.builds(FlipChar, segment, position, st.integers(0, 6)),
        st.builds(FlipSextet, segment, position, st.integers(0, 5)),
        st.builds(FlipByte, segment, position, st.integers(0, 7)),
        st.builds(Reshape, st.sampled_from(["swap", "duplicate", "drop"]), segment, segment),
        st.builds(Reencode, segment, st.sampled_from(["padded", "standard", "1", "2", "3"])),
        st.builds(
            Splice,
            position,
            st.sampled_from([0, 1, 2, 4, 10**5]),
            st.sampled_from(["", " ", ".", "=", "==", "+", "/", "\n", "\x00", "é", "A", "AAAA", ".."]),
        ),
    )


@st.composite
def recipes(
    draw: st.DrawFn,
    *,
    claims: bool = False,
    header: bool = False,
    documents: bool = False,
    text: bool = False,
    size: bool = False,
) -> Recipe:
    """Recipes with the chosen kinds of change: at least one change if only one kind is chosen."""
    least = 1 if [claims, header, documents, text, size].count(True) == 1 else 0
    recipe = Recipe(leeway=draw(st.sampled_from(LEEWAYS)))
    if claims:
        recipe = replace(recipe, claim_edits=tuple(draw(st.lists(edits(CLAIM_VALUES), min_size=least, max_size=4))))
    if header:
        signer = draw(st.sampled_from(["main", "main", "twin", "big", "small", "stranger"]))
        header_edits = tuple(draw(st.lists(edits(HEADER_VALUES), min_size=least, max_size=3)))
        recipe = replace(recipe, signer=signer, header_edits=header_edits)
    if documents:
        recipe = replace(
            recipe,
            payload_json=draw(serializations(["iss", "aud", "exp", "sub", "cid", "scp", "cnf", "zzz"])),
            header_json=draw(serializations(["alg", "kid", "typ", "crit", "zzz"])),
            payload_doc=draw(st.just(KEEP) | st.just(KEEP) | st.just(KEEP) | json_values()),
            header_doc=draw(st.just(KEEP) | st.just(KEEP) | st.just(KEEP) | json_values()),
        )
    if size:
        recipe = replace(recipe, length=draw(st.integers(-3, 3) | st.sampled_from([-700, -1, 0, 1, 700])))
    if text:
        recipe = replace(recipe, text=tuple(draw(st.lists(text_mutations(), min_size=least, max_size=3))))
    return recipe


# --- properties ---------------------------------------------------------------------------------------------------


@given(recipes(claims=True))
def test_claim_edits(recipe: Recipe):
    differential(recipe.token(), recipe.leeway)


@given(recipes(header=True))
def test_header_edits_and_signing_keys(recipe: Recipe):
    differential(recipe.token(), recipe.leeway)


@given(recipes(documents=True))
def test_json_serialization_duplicates_and_arbitrary_documents(recipe: Recipe):
    differential(recipe.token(), recipe.leeway)


@given(recipes(text=True))
def test_bit_flips_reshapes_and_reencodings(recipe: Recipe):
    differential(recipe.token(), recipe.leeway)


@given(recipes(size=True, claims=True, text=True))
def test_sizes_around_the_token_length_limit(recipe: Recipe):
    token = recipe.token()
    over = len(token) - MAX_TOKEN_LENGTH
    event("length: over the limit" if over > 0 else "length: exactly the limit" if over == 0 else "length: under it")
    differential(token, recipe.leeway)


@given(recipes(claims=True, header=True, documents=True, text=True, size=True))
def test_everything_at_once(recipe: Recipe):
    differential(recipe.token(), recipe.leeway)


# --- the harness itself -------------------------------------------------------------------------------------------


def _verdicts(recipe: Recipe) -> tuple[str, TokenError | None, Exception | None]:
    token = recipe.token()
    return token, ours(token, recipe.leeway, time.time()), pyjwt(token, recipe.leeway)


def test_untouched_token_is_accepted_by_both():
    token, mine, theirs = _verdicts(Recipe())
    assert (mine, theirs) == (None, None)
    assert judge(token, mine, theirs) == "both accept"


def test_stranger_token_is_refused_by_both_and_a_lax_verifier_would_be_caught():
    token, mine, theirs = _verdicts(Recipe(signer="stranger"))
    assert mine is not None and mine.reason == "unknown kid" and isinstance(theirs, KeyError)
    assert judge(token, mine, theirs) == "both refuse (unknown kid)"
    with pytest.raises(AssertionError, match="we accept a token PyJWT refuses"):
        judge(token, None, theirs)


def test_refusal_for_no_named_rule_is_caught():
    token, _, theirs = _verdicts(Recipe())
    with pytest.raises(AssertionError, match="for no rule in STRICTER: 'bad signature'"):
        judge(token, TokenError("bad signature"), theirs)
    with pytest.raises(AssertionError, match="for no rule in STRICTER: 'malformed token'"):
        judge(token, TokenError("malformed token"), theirs)  # within the limit and unpadded: not explained


def test_undersized_key_is_published_to_pyjwt_but_not_in_our_key_set():
    assert UNDERSIZED_KIDS == {SMALL.kid} and SMALL.kid not in OUR_KEYS and PYJWT_KEYS[SMALL.kid]
    assert set(OUR_KEYS) == {KEY.kid, BIG.kid}
    token, mine, theirs = _verdicts(Recipe(signer="small"))
    assert judge(token, mine, theirs) == "stricter: key under 2048 bits"
    token, mine, theirs = _verdicts(Recipe(signer="main", header_edits=(("kid", SMALL.kid),)))
    assert judge(token, mine, theirs) == "both refuse (unknown kid)"  # not signed by it: PyJWT refuses too


STRICTER_WITNESSES = {
    "duplicate JSON member": Recipe(payload_json=Json(duplicate=("iss", ISSUER, False, True))),
    "base64url padding": Recipe(signer="big", text=(Reencode(2, "padded"),)),
    "token longer than MAX_TOKEN_LENGTH": Recipe(length=1),
    "JSON text not strict UTF-8": Recipe(header_json=Json("utf-16")),
    "key under 2048 bits": Recipe(signer="small"),
    "header parameter not allowed": Recipe(header_edits=(("x5u", "https://evil.example/cert"),)),
    "typ not allowed": Recipe(header_edits=(("typ", "JOSE"),)),
    "exp is not a NumericDate": Recipe(claim_edits=(("exp", Rel(600, "1_000 str")),)),
    "iat is not a NumericDate": Recipe(claim_edits=(("iat", True),)),
    "nbf is not a NumericDate": Recipe(claim_edits=(("nbf", Rel(-60, "padded str")),)),
    "exp is out of range": Recipe(claim_edits=(("exp", 10**400),)),
    "iat is out of range": Recipe(claim_edits=(("iat", -(10**400)),)),
    "nbf is out of range": Recipe(claim_edits=(("nbf", -(10**400)),)),
    "lifetime longer than Okta issues": Recipe(claim_edits=(("exp", Rel(90000)),)),
    "token is bound to a key (cnf)": Recipe(claim_edits=(("cnf", {}),)),
    "cid missing": Recipe(claim_edits=(("cid", REMOVE),)),
    "scp is not a list of scopes": Recipe(claim_edits=(("scp", "hello"),)),
    "sub missing": Recipe(claim_edits=(("sub", ""),)),
}


def test_every_stricter_rule_has_a_witness():
    assert set(STRICTER_WITNESSES) == set(STRICTER)


@pytest.mark.parametrize("rule", sorted(STRICTER))
def test_every_stricter_rule_is_a_real_divergence(rule: str):
    token, mine, theirs = _verdicts(STRICTER_WITNESSES[rule])
    assert theirs is None, theirs
    assert judge(token, mine, theirs) == f"stricter: {rule}"


def test_a_fractional_exp_is_compared_in_whole_seconds_as_pyjwt_does():
    # Found by this harness's author beside the fuzzing (its times keep clear of sub-second boundaries): we used to
    # accept for up to a second after floor(exp), where PyJWT's int(exp) already refuses.
    whole = math.floor(time.time())
    token = mint(KEY, access_claims(ISSUER, iat=whole - 60, exp=whole + 0.9))
    mine = ours(token, 0, now=whole + 0.5)
    assert mine is not None and mine.reason == "expired"
    assert ours(token, 0, now=whole - 0.5) is None  # still valid in the second before

"""Strict compact JWS parsing and JWK import."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from okta_m2m.errors import TokenError
from okta_m2m.tokens import _jws as jws
from okta_m2m.tokens._jws import (
    KeyRejectedError,
    b64url_decode,
    has_roca_fingerprint,
    json_object,
    parse_compact,
    rsa_key_from_jwk,
)
from tests.hypothesis_profiles import load_profile
from tests.jwt_factory import access_claims, mint, signing_key

load_profile()

KEY = signing_key("unit")
# The compact serialization as a regular expression: three base64url segments, no padding, the payload may be empty.
COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+")


@pytest.mark.parametrize("segment", ["A", "AB=", "A+B/", "QQ==", "QR"])
def test_base64url_must_be_unpadded_canonical(segment):
    with pytest.raises(TokenError):
        b64url_decode(segment)


def test_base64url_decodes_canonical_text():
    assert b64url_decode("QQ") == b"A"
    assert b64url_decode("_-8") == b"\xff\xef"


def test_parse_compact_returns_the_signed_parts():
    token = mint(KEY, access_claims("https://issuer.example"))
    jws = parse_compact(token)
    assert jws.header == {"alg": "RS256", "kid": "unit", "typ": "JWT"}
    assert jws.signing_input == token.rsplit(".", 1)[0].encode()
    assert len(jws.signature) == 256


def test_published_public_key_is_imported():
    assert rsa_key_from_jwk(KEY.jwk()).key_size == 2048
    assert rsa_key_from_jwk({k: v for k, v in KEY.jwk().items() if k not in ("use", "alg")}).key_size == 2048


@pytest.mark.parametrize(
    "change",
    [{"n": "AAEC" + KEY.jwk()["n"]}, {"e": "Ag"}, {"e": "AQ"}, {"n": ""}, {"kty": "oct"}, {"key_ops": "verify"}],
    ids=["leading-zero", "even-exponent", "exponent-one", "empty-n", "oct", "key-ops-not-list"],
)
def test_bad_public_key_is_rejected(change):
    with pytest.raises(KeyRejectedError):
        rsa_key_from_jwk(KEY.jwk(**change))


def test_ordinary_modulus_has_no_roca_fingerprint():
    assert not has_roca_fingerprint(KEY.private.public_key().public_numbers().n)


def test_a_modulus_that_is_a_power_of_65537_has_the_roca_fingerprint_and_the_residues_are_every_power():
    assert has_roca_fingerprint(65537**129)  # 2,065 bits, a power of 65537 modulo every prime
    for p, residues in jws._ROCA:
        assert residues == {pow(65537, k, p) for k in range(p)}


def test_checked_headers_are_cached_read_only_and_bounded():
    token = mint(KEY, access_claims("https://issuer.example"))
    first, again = parse_compact(token), parse_compact(mint(KEY, access_claims("https://issuer.example")))
    assert first.header is again.header  # one parse for every token with this header
    assert jws._HEADERS[token.encode().split(b".")[0]] is first.header
    with pytest.raises(TypeError):
        first.header["alg"] = "none"  # type: ignore[index]
    for i in range(2 * jws._MAX_CACHED_HEADERS):
        parse_compact(mint(KEY, access_claims("https://issuer.example"), kid=f"k{i}"))
    assert len(jws._HEADERS) <= jws._MAX_CACHED_HEADERS


def test_tokens_of_two_keys_in_turn_each_get_their_own_header():
    tokens = [mint(KEY, access_claims("https://issuer.example"), kid=kid) for kid in ("a", "b", "a", "b", "a")]
    assert [parse_compact(token).header["kid"] for token in tokens] == ["a", "b", "a", "b", "a"]


def test_a_refused_header_is_refused_every_time():
    token = mint(KEY, access_claims("https://issuer.example"), jku="https://evil.example/keys")
    for _ in range(2):
        with pytest.raises(TokenError, match="header parameter not allowed"):
            parse_compact(token)
    assert token.encode().split(b".")[0] not in jws._HEADERS


@pytest.mark.parametrize(
    "text",
    [
        "",
        "..",
        ".e30.c2ln",  # no header
        "e30.e30.",  # no signature
        "e30.e30",
        "e30.e30.c2ln.c2ln",
        "e30=.e30.c2ln",
        "e30.e3+.c2ln",
        "e30.e3/.c2ln",
        "e30.e30.c2ln\n",
        " e30.e30.c2ln",
        "e30.e30.c2l\u00e9",
        "e30.e30.c2l\u0661",  # a digit, but not an ASCII one
        "e30.e30.c2l\x00",
    ],
)
def test_anything_but_three_base64url_segments_is_malformed(text):
    with pytest.raises(TokenError, match="malformed token"):
        parse_compact(text)


def test_a_token_over_the_size_limit_is_malformed():
    with pytest.raises(TokenError, match="malformed token"):
        parse_compact("e30." + "A" * jws.MAX_TOKEN_LENGTH + ".c2ln")


@given(st.text(alphabet=st.sampled_from("Aa0_-.=+/ \n\u00e9\u0661"), max_size=12))
def test_the_compact_form_is_exactly_three_base64url_segments(text):
    try:
        parse_compact(text)
    except TokenError as exc:
        assert (str(exc) == "malformed token") == (COMPACT.fullmatch(text) is None)
    else:
        assert COMPACT.fullmatch(text)


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        (b'{"a":1,"b":[true,null,"x"]}', {"a": 1, "b": [True, None, "x"]}),
        (b"{}", {}),
        (b' \t\r\n{"a":1} \n', {"a": 1}),  # whitespace around the object is JSON too
        (b'{"a":1}\n', {"a": 1}),
        (b'{"a" : {"b" : 2}}', {"a": {"b": 2}}),
    ],
)
def test_a_json_object_is_parsed(raw, parsed):
    assert json_object(raw) == parsed


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"a":1}{"b":2}', "not a JSON object"),  # extra data
        (b'{"a":1} x', "not a JSON object"),
        (b'{"a":}', "not a JSON object"),  # a value the scanner cannot start
        (b'{"a":[1,}', "not a JSON object"),
        (b'{"a":1', "not a JSON object"),
        (b"{", "not a JSON object"),
        (b"}", "not a JSON object"),
        (b"", "not a JSON object"),
        (b"[]", "not a JSON object"),
        (b'"{}"', "not a JSON object"),
        (b'{"a":"\xff"}', "not a JSON object"),  # not UTF-8
        (b"[" * 100_000 + b"]" * 100_000, "not a JSON object"),  # too deep
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "not a JSON object"),
        (b'{"a":1,"a":1}', "duplicate JSON member"),
        (b' {"a":{"b":1,"b":2}} ', "duplicate JSON member"),
    ],
)
def test_anything_but_one_json_object_without_duplicates_is_refused(raw, reason):
    with pytest.raises(TokenError) as refused:
        json_object(raw)
    assert refused.value.reason == reason

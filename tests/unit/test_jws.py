"""Strict compact JWS parsing and JWK import."""

import pytest

from okta_m2m import jws
from okta_m2m.errors import TokenError
from okta_m2m.jws import KeyRejectedError, b64url_decode, has_roca_fingerprint, parse_compact, rsa_key_from_jwk
from tests.jwt_factory import access_claims, mint, signing_key

KEY = signing_key("unit")


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


def test_checked_headers_are_cached_read_only_and_bounded():
    token = mint(KEY, access_claims("https://issuer.example"))
    first, again = parse_compact(token), parse_compact(mint(KEY, access_claims("https://issuer.example")))
    assert first.header is again.header  # one parse for every token with this header
    with pytest.raises(TypeError):
        first.header["alg"] = "none"  # type: ignore[index]
    for i in range(2 * jws._MAX_CACHED_HEADERS):
        parse_compact(mint(KEY, access_claims("https://issuer.example"), kid=f"k{i}"))
    assert len(jws._HEADERS) <= jws._MAX_CACHED_HEADERS


def test_a_refused_header_is_refused_every_time():
    token = mint(KEY, access_claims("https://issuer.example"), jku="https://evil.example/keys")
    for _ in range(2):
        with pytest.raises(TokenError, match="header parameter not allowed"):
            parse_compact(token)
    assert token.split(".")[0] not in jws._HEADERS

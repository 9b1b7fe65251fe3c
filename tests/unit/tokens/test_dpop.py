"""DPoP proofs at the resource (okta_m2m.tokens._dpop): RFC 9449's own example, then every check of section 4.3 on
proofs minted with pyjwt, each refusal with its reason."""

from __future__ import annotations

import json
import time
from typing import NamedTuple

import pytest

from okta_m2m.errors import TokenError
from okta_m2m.tokens._dpop import (
    ALGORITHMS,
    access_token_hash,
    jwk_thumbprint,
    normalized_url,
    proof_key,
    request_url,
    verify_proof,
    verify_signature,
)
from okta_m2m.tokens._jws import decode_segment, split_compact
from tests.dpop_factory import RFC9449_JKT, RFC9449_PROOF, ath, b64url, ec_key, rsa_key, sign_raw

URL = "https://abc123.execute-api.us-east-1.amazonaws.com/v1/hello/dpop"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIwb2EifQ.c2lnbmF0dXJl"  # the proof binds its hash only
KEY = ec_key()
WINDOW, LEEWAY = 60, 30


class Ago(NamedTuple):
    """A time this many seconds before the test runs (not before it was collected)."""

    seconds: int


def check(proof: str, *, key=KEY, method="GET", urls=(URL,), token=TOKEN, now=None):
    return verify_proof(
        proof,
        method=method,
        urls=frozenset(normalized_url(u) for u in urls),
        ath=ath(token),
        jkt=key.jkt,
        now=time.time() if now is None else now,
        window=WINDOW,
        leeway=LEEWAY,
    )


def refused(proof: str, reason: str, **kwargs) -> None:
    with pytest.raises(TokenError) as raised:
        check(proof, **kwargs)
    assert raised.value.reason == reason


# --- RFC 9449's example ---------------------------------------------------------------------------------------------


def test_the_rfc_example_proof_verifies_and_its_key_has_the_published_thumbprint():
    header_b64, payload_b64, signature_b64 = split_compact(RFC9449_PROOF)
    key = proof_key(header_b64)
    assert (key.alg, key.jkt) == ("ES256", RFC9449_JKT)
    verify_signature(key, header_b64 + b"." + payload_b64, decode_segment(signature_b64))
    claims = json.loads(decode_segment(payload_b64))
    assert claims == {
        "jti": "-BwC3ESc6acc2lTc",
        "htm": "POST",
        "htu": "https://server.example.com/token",
        "iat": 1562262616,
    }


def test_the_rfc_example_with_one_signature_bit_flipped_is_refused():
    head, payload, signature = RFC9449_PROOF.split(".")
    raw = bytearray(decode_segment(signature.encode()))
    raw[-1] ^= 1
    key = proof_key(head.encode())
    with pytest.raises(TokenError, match="bad proof signature"):
        verify_signature(key, f"{head}.{payload}".encode(), bytes(raw))


def test_our_thumbprint_is_rfc_7638s_for_ec_and_rsa_keys():
    for key in (KEY, rsa_key()):
        assert jwk_thumbprint(key.jwk()) == key.jkt
    # Members other than the required ones never enter the thumbprint (RFC 7638 section 3.2).
    assert jwk_thumbprint({**KEY.jwk(), "alg": "ES256", "use": "sig", "kid": "k"}) == KEY.jkt


def test_ath_is_the_base64url_sha256_of_the_token():
    assert access_token_hash(TOKEN) == ath(TOKEN)
    assert len(access_token_hash(TOKEN)) == 43


# --- accepted -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [ec_key(), rsa_key(), rsa_key("big", 4096)], ids=["ES256", "RS256", "RS256-4096"])
def test_a_proof_for_this_request_and_token_is_accepted(key):
    proof = check(key.proof("GET", URL, TOKEN), key=key)
    assert proof.jkt == key.jkt
    assert proof.jti


@pytest.mark.parametrize(
    "htu",
    [
        URL,
        URL + "?a=1",  # query and fragment are ignored (RFC 9449 section 4.3, step 9)
        URL + "#top",
        "HTTPS://ABC123.Execute-API.us-east-1.amazonaws.com/v1/hello/dpop",  # scheme and host: case-insensitive
        "https://abc123.execute-api.us-east-1.amazonaws.com:443/v1/hello/dpop",  # the default port
        "https://abc123.execute-api.us-east-1.amazonaws.com/v1/hello/%64pop",  # an escaped unreserved character
        "https://abc123.execute-api.us-east-1.amazonaws.com/v1/./hello/x/../dpop",  # dot segments
    ],
)
def test_htu_is_compared_as_rfc_3986_normalises_it(htu):
    assert check(KEY.proof("GET", htu, TOKEN))


def test_a_proof_with_extra_claims_and_a_nonce_is_accepted():
    # Nonces are not asked for here, so one the client carries from elsewhere changes nothing.
    assert check(KEY.proof("GET", URL, TOKEN, nonce="n-1", extra={"a": 1}))


def test_a_proof_at_the_edges_of_its_window_is_accepted():
    now = time.time()
    assert check(KEY.proof("GET", URL, TOKEN, iat=int(now) - WINDOW - LEEWAY + 1), now=now)
    assert check(KEY.proof("GET", URL, TOKEN, iat=int(now) + LEEWAY), now=now)


# --- refused --------------------------------------------------------------------------------------------------------


def test_a_proof_signed_by_another_key_than_the_token_is_bound_to_is_refused():
    other = ec_key("other")
    refused(other.proof("GET", URL, TOKEN), "proof key is not the key the token is bound to")


def test_a_proof_whose_header_names_our_key_but_is_signed_by_another_is_refused():
    refused(KEY.proof("GET", URL, TOKEN, signer=ec_key("other").private), "bad proof signature")


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"headers": {"typ": None}}, "proof typ is not dpop+jwt"),
        ({"headers": {"typ": "JWT"}}, "proof typ is not dpop+jwt"),
        ({"headers": {"typ": "DPOP+JWT"}}, "proof typ is not dpop+jwt"),
        ({"headers": {"jwk": None}}, "proof has no jwk"),
        ({"headers": {"jwk": "a key"}}, "proof has no jwk"),
        ({"headers": {"jku": "https://keys.example"}}, "proof header parameter not allowed"),
        ({"headers": {"x5c": ["MIIB"]}}, "proof header parameter not allowed"),
        ({"headers": {"crit": ["exp"]}}, "proof header parameter not allowed"),
        ({"headers": {"b64": False}}, "proof header parameter not allowed"),
    ],
)
def test_a_header_that_breaks_rfc_9449_is_refused(kwargs, reason):
    refused(KEY.proof("GET", URL, TOKEN, **kwargs), reason)


@pytest.mark.parametrize(
    ("key", "alg"),
    [
        (ec_key("p384", "P-384"), "ES384"),  # asymmetric, but not on the allow-list
        (rsa_key(), "RS384"),
        (rsa_key(), "PS256"),
    ],
)
def test_an_algorithm_off_the_list_is_refused(key, alg):
    refused(key.proof("GET", URL, TOKEN, alg=alg), "proof algorithm not allowed", key=key)


def test_none_and_mac_algorithms_are_refused():
    payload = json.dumps({"jti": "j", "htm": "GET", "htu": URL, "iat": int(time.time()), "ath": ath(TOKEN)}).encode()
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": KEY.jwk()}
    unsigned = f"{b64url(json.dumps(header).encode())}.{b64url(payload)}."
    refused(unsigned, "malformed token")  # no signature segment at all
    refused(unsigned + "AA", "proof algorithm not allowed")
    header["alg"] = "HS256"
    refused(f"{b64url(json.dumps(header).encode())}.{b64url(payload)}.AAAA", "proof algorithm not allowed")
    assert "none" not in ALGORITHMS and not any(a.startswith("HS") for a in ALGORITHMS)


@pytest.mark.parametrize(
    ("jwk_change", "reason"),
    [
        ({"d": "AAAA"}, "proof key rejected: private key material published"),
        ({"crv": "P-384"}, "proof key rejected: not a P-256 key"),
        ({"kty": "RSA"}, "proof key rejected: not an EC key"),
        ({"x": b64url(b"\x01" * 31)}, "proof key rejected: x is not 32 bytes"),
        ({"y": b64url(b"\x01" * 33)}, "proof key rejected: y is not 32 bytes"),
        ({"x": 12}, "proof key rejected: x missing"),
        ({"x": "a+b/"}, "proof key rejected: x is not base64url"),
        ({"y": b64url(b"\x00" * 31 + b"\x01")}, "proof key rejected: not a point on P-256"),
        ({"use": "enc"}, "proof key rejected: key not meant for signatures"),
        ({"alg": "ES384"}, "proof key rejected: key meant for another algorithm"),
        ({"key_ops": ["sign"]}, "proof key rejected: key_ops does not allow verify"),
    ],
)
def test_a_jwk_that_is_not_a_public_p256_signing_key_is_refused(jwk_change, reason):
    jwk = {**KEY.jwk(), **jwk_change}
    refused(KEY.proof("GET", URL, TOKEN, headers={"jwk": jwk}), reason)


def test_a_private_jwk_is_refused_for_either_key_type():
    refused(
        KEY.proof("GET", URL, TOKEN, headers={"jwk": KEY.private_jwk()}),
        "proof key rejected: private key material published",
    )
    key = rsa_key()
    refused(
        key.proof("GET", URL, TOKEN, headers={"jwk": key.private_jwk()}),
        "proof key rejected: private key material published",
        key=key,
    )


def test_a_small_rsa_key_is_refused():
    key = rsa_key("small", 1024)
    refused(key.proof("GET", URL, TOKEN), "proof key rejected: RSA modulus size not allowed", key=key)


@pytest.mark.parametrize(
    ("claims", "kwargs", "reason"),
    [
        ({"htm": "POST"}, {}, "proof htm is not the request's method"),
        ({"htm": "get"}, {}, "proof htm is not the request's method"),  # methods are case-sensitive
        ({"htm": None}, {}, "proof htm is not the request's method"),
        ({"htu": URL.replace("/v1/", "/v2/")}, {}, "proof htu is not the request's URL"),
        ({"htu": URL.replace("https", "http")}, {}, "proof htu is not the request's URL"),
        ({"htu": URL.replace(".com/", ".com:8443/")}, {}, "proof htu is not the request's URL"),
        ({"htu": "https://evil.example/v1/hello/dpop"}, {}, "proof htu is not the request's URL"),
        ({"htu": URL + "/"}, {}, "proof htu is not the request's URL"),
        (
            {"htu": "https://user@abc123.execute-api.us-east-1.amazonaws.com/v1/hello/dpop"},
            {},
            "proof htu is not the request's URL",
        ),
        ({"htu": None}, {}, "proof htu is not the request's URL"),
        ({"htu": ["https://x"]}, {}, "proof htu is not the request's URL"),
        ({"ath": None}, {}, "proof ath is not the access token's hash"),
        ({"ath": ath("another token")}, {}, "proof ath is not the access token's hash"),
        ({"jti": None}, {}, "proof jti missing or too long"),
        ({"jti": ""}, {}, "proof jti missing or too long"),
        ({"jti": 7}, {}, "proof jti missing or too long"),
        ({"jti": "j" * 257}, {}, "proof jti missing or too long"),
        ({"iat": None}, {}, "proof iat is not a NumericDate"),
        ({"iat": "1700000000"}, {}, "proof iat is not a NumericDate"),
        ({"iat": True}, {}, "proof iat is not a NumericDate"),
        ({"iat": Ago(WINDOW + LEEWAY + 5)}, {}, "proof too old"),
        ({"iat": Ago(-LEEWAY - 5)}, {}, "proof issued in the future"),
    ],
)
def test_a_claim_that_does_not_fit_the_request_is_refused(claims, kwargs, reason):
    claims = {k: int(time.time()) - v.seconds if isinstance(v, Ago) else v for k, v in claims.items()}
    refused(KEY.proof("GET", URL, TOKEN, **claims), reason, **kwargs)


def test_a_proof_made_for_another_token_is_refused():
    refused(KEY.proof("GET", URL, "another.access.token"), "proof ath is not the access token's hash")


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda p: p + ".", "malformed token"),
        (lambda p: p + "=", "malformed token"),
        (lambda p: " " + p, "malformed token"),
        (lambda p: p.replace(".", "..", 1), "malformed token"),
        (lambda p: p + "," + p, "malformed token"),
        (lambda p: "x" * 9000, "malformed token"),
        (lambda p: p.rsplit(".", 1)[0] + ".", "malformed token"),
    ],
)
def test_a_proof_that_is_not_one_compact_jws_is_refused(mangle, reason):
    refused(mangle(KEY.proof("GET", URL, TOKEN)), reason)


def test_duplicate_json_members_are_refused_in_the_payload_and_the_header():
    now = int(time.time())
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": KEY.jwk()}
    payload = f'{{"jti":"a","jti":"b","htm":"GET","htu":"{URL}","iat":{now},"ath":"{ath(TOKEN)}"}}'
    refused(sign_raw(KEY, header, payload.encode()), "duplicate JSON member")
    head = b64url(b'{"typ":"dpop+jwt","typ":"dpop+jwt","alg":"ES256","jwk":' + json.dumps(KEY.jwk()).encode() + b"}")
    body = b64url(json.dumps({"jti": "a", "htm": "GET", "htu": URL, "iat": now, "ath": ath(TOKEN)}).encode())
    refused(f"{head}.{body}.AAAA", "duplicate JSON member")


def test_an_es256_signature_in_der_rather_than_raw_r_s_is_refused():
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.hashes import SHA256

    proof = KEY.proof("GET", URL, TOKEN)
    signing_input = proof.rsplit(".", 1)[0]
    der = KEY.private.sign(signing_input.encode(), ec.ECDSA(SHA256()))
    refused(f"{signing_input}.{b64url(der)}", "bad proof signature")


def test_the_es256_verifier_made_without_ecdsa_init_is_what_init_would_make_and_verifies():
    # _dpop._ecdsa_verifier sets cryptography's private attributes itself (to keep the OpenSSL backend module off
    # the cold path): a cryptography that set others, or read others to verify, must fail here.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.hashes import SHA256

    from okta_m2m.tokens._dpop import _ECDSA_SHA256

    made = ec.ECDSA(SHA256())
    assert type(_ECDSA_SHA256) is ec.ECDSA
    assert vars(_ECDSA_SHA256).keys() == vars(made).keys()
    assert isinstance(_ECDSA_SHA256.algorithm, SHA256) and not _ECDSA_SHA256.deterministic_signing
    signature = KEY.private.sign(b"signing input", made)
    KEY.private.public_key().verify(signature, b"signing input", _ECDSA_SHA256)
    with pytest.raises(InvalidSignature):
        KEY.private.public_key().verify(signature, b"signing inpuT", _ECDSA_SHA256)


# --- URLs -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://Example.COM", "https://example.com/"),
        ("HTTP://example.com:80/a", "http://example.com/a"),
        ("https://example.com:0443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/a%2fb", "https://example.com/a%2Fb"),  # reserved: kept escaped, hex upper case
        ("https://example.com/%7Euser", "https://example.com/~user"),  # unreserved: decoded
        ("https://example.com/a/b/../../c/./d", "https://example.com/c/d"),
        ("https://example.com/a/..", "https://example.com/"),
        ("https://[::1]:8443/x", "https://[::1]:8443/x"),
        ("https://[::1]:443/x", "https://[::1]/x"),
        ("https://example.com/a?b#c", "https://example.com/a"),
    ],
)
def test_normalized_url(url, normal):
    assert normalized_url(url) == normal


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "example.com/a",
        "https://",
        "https://user:pw@example.com/",
        "https://example.com:port/",
        "https://example.com/a b",
        "https://example.com/%zz",
        "https://example.com/caf\u00e9",
        "https://[::1/x",
    ],
)
def test_what_is_no_http_url_normalises_to_none(url):
    assert normalized_url(url) is None


def test_a_request_url_joins_a_base_and_the_path_api_gateway_reports():
    assert request_url("https://api.example.com/orders/", "/v1/x") == "https://api.example.com/orders/v1/x"
    assert request_url("http://127.0.0.1:3000", "/") == "http://127.0.0.1:3000/"
    # A path API Gateway hands over decoded is escaped as the client had to send it.
    assert request_url("https://a.example", "/files/a b/\u00e9") == "https://a.example/files/a%20b/%C3%A9"

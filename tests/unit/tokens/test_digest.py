"""SHA-256 and HMAC-SHA256 from cryptography (okta_m2m.tokens._digest) give what hashlib and the standard hmac give."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from okta_m2m.tokens._digest import hmac_sha256, sha256


@given(st.binary(max_size=300))
def test_sha256_is_hashlibs(data):
    assert sha256(data) == hashlib.sha256(data).digest()


@given(st.binary(max_size=100), st.binary(max_size=300))
def test_hmac_sha256_is_the_standard_hmacs_whatever_the_key_length(key, data):
    assert hmac_sha256(key, data) == hmac.digest(key, data, "sha256")


def test_the_published_vectors():
    # FIPS 180-2's "abc", and RFC 4231's test case 2.
    assert sha256(b"abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert mac.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"

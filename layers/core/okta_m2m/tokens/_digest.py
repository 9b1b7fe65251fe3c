"""SHA-256 and HMAC-SHA256 for the DPoP path (ath, thumbprints, replay keys, SigV4), from cryptography's OpenSSL.

Not hashlib's or the standard hmac's: those load the system's libcrypto, a second OpenSSL beside the one cryptography
bundles and the token side has loaded already (about 2.5 ms of a DPoP route's cold start, make bench). A call costs
about a microsecond more than hashlib's; tests/unit/test_layer_packages.py keeps hashlib off that cold path.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.hashes import SHA256, Hash
from cryptography.hazmat.primitives.hmac import HMAC

_SHA256 = SHA256()


def sha256(data: bytes) -> bytes:
    """The SHA-256 digest of data."""
    digest = Hash(_SHA256)
    digest.update(data)
    return digest.finalize()


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """The HMAC-SHA256 of data under key."""
    mac = HMAC(key, _SHA256)
    mac.update(data)
    return mac.finalize()

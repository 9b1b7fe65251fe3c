"""Generate ids and secrets shaped like Okta's, and store secrets only as salted hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

# The secrets are 240-bit random values, so the KDF is defence in depth for a leaked database, not the
# barrier itself; a modest work factor keeps the token endpoint fast.
_ITERATIONS = 20_000
_ALGORITHM = "pbkdf2_sha256"
_BASE62 = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """Return an Okta-style 20-character id: a type prefix (0oa app, 00p policy, 0pr rule, oag grant), then base62."""
    return prefix + "".join(secrets.choice(_BASE62) for _ in range(20 - len(prefix)))


def new_app_id() -> str:
    """Return an Okta-style app id (also the OAuth client_id), e.g. 0oa1b2c3d4e5f6g7h8i9."""
    return new_id("0oa")


def new_client_secret() -> str:
    """Return a 40-character URL-safe client secret, as long as Okta's."""
    return secrets.token_urlsafe(30)


def new_api_token() -> str:
    """Return an SSWS API token shaped like Okta's (42 characters starting with 00)."""
    return "00" + secrets.token_urlsafe(30)


def hash_secret(secret: str) -> str:
    """Return a salted PBKDF2 hash of secret in the form algorithm$iterations$salt$digest."""
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt), _ITERATIONS).hex()
    return f"{_ALGORITHM}${_ITERATIONS}${salt}${digest}"


def verify_secret(secret: str, stored: str) -> bool:
    """Return whether secret matches the stored hash, comparing in constant time."""
    try:
        algorithm, iterations, salt, digest = stored.split("$")
        if algorithm != _ALGORITHM:
            return False
        actual = hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt), int(iterations)).hex()
    except ValueError:
        return False
    return hmac.compare_digest(actual, digest)

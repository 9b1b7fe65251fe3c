"""AWS Signature Version 4 for the authorizer's one AWS call, the replay store's DynamoDB PutItem.

Hand-written so that the authorizer never imports boto3 and botocore: about 260 ms of import on Lambda's cold path,
more than the authorizer's whole cold start (make bench). It signs what that call needs and nothing more: a request
with no query string, a path of unreserved characters, headers given by the caller. tests/unit/tokens/test_sigv4.py
holds it to botocore's signer (Hypothesis) and to AWS's published example; the integration tests to moto's server
with signature checks on.
"""

# No `from __future__ import annotations` here: see okta_m2m/tokens/__init__.py (NamedTuples, cold start).

import time
from collections.abc import Sequence
from typing import NamedTuple

from okta_m2m.tokens._digest import hmac_sha256, sha256

ALGORITHM = "AWS4-HMAC-SHA256"
_PATH_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/")


class Credentials(NamedTuple):
    """An access key, its secret and, for temporary credentials (a Lambda function's role), the session token."""

    access_key: str
    secret_key: str
    session_token: str = ""

    def __repr__(self) -> str:
        return f"Credentials({self.access_key!r}, <secret>)"  # never the secret or the session token


def amz_date(now: float) -> str:
    """The X-Amz-Date of a moment: basic ISO 8601, UTC."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


class Signer:
    """Signs requests to one AWS service in one region with one set of credentials."""

    def __init__(self, service: str, region: str, credentials: Credentials) -> None:
        self.service = service
        self.region = region
        self.credentials = credentials
        self._keys: dict[str, bytes] = {}  # the signing key of each day (it changes at midnight UTC)

    def _signing_key(self, day: str) -> bytes:
        key = self._keys.get(day)
        if key is None:
            key = ("AWS4" + self.credentials.secret_key).encode("utf-8")
            for part in (day, self.region, self.service, "aws4_request"):
                key = hmac_sha256(key, part.encode("utf-8"))
            self._keys = {day: key}
        return key

    def sign(
        self, method: str, host: str, path: str, headers: Sequence[tuple[str, str]], body: bytes, now: float
    ) -> list[tuple[str, str]]:
        """The request's headers, signed: the given ones, X-Amz-Date, X-Amz-Security-Token (with temporary
        credentials) and Authorization. Every given header and Host are signed; Host itself is left to the sender."""
        if not path.startswith("/") or not _PATH_CHARS.issuperset(path):
            raise ValueError("only paths of unreserved characters are signed here")
        when = amz_date(now)
        day = when[:8]
        extra = [("X-Amz-Date", when)]
        if self.credentials.session_token:
            extra.append(("X-Amz-Security-Token", self.credentials.session_token))
        canonical: dict[str, str] = {"host": host}
        for name, value in [*headers, *extra]:
            lower = name.lower()
            value = " ".join(value.split())  # trimmed, inner runs of spaces as one (SigV4's canonical headers)
            canonical[lower] = f"{canonical[lower]},{value}" if lower in canonical else value
        names = sorted(canonical)
        signed_headers = ";".join(names)
        request = "\n".join(
            (
                method,
                path,
                "",  # no query string
                "".join(f"{name}:{canonical[name]}\n" for name in names),
                signed_headers,
                sha256(body).hex(),
            )
        )
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        to_sign = f"{ALGORITHM}\n{when}\n{scope}\n{sha256(request.encode('utf-8')).hex()}"
        signature = hmac_sha256(self._signing_key(day), to_sign.encode("utf-8")).hex()
        authorization = (
            f"{ALGORITHM} Credential={self.credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )
        return [*headers, *extra, ("Authorization", authorization)]

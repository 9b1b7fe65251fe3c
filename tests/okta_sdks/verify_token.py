"""Verify an access token with Okta's okta-jwt-verifier (AccessTokenVerifier, async), as a resource server does.

Runs in .venv-okta-sdks (`make okta-sdks-venv`), never in .venv; tests/integration/test_okta_sdks.py runs

    SDK_CHECK_ACCESS_TOKEN=... .venv-okta-sdks/bin/python tests/okta_sdks/verify_token.py --issuer ISSUER

AccessTokenVerifier(issuer=ISSUER, audience=AUDIENCE).verify(token) checks RS256, iss, aud and exp and the
signature against the keys at ISSUER/v1/keys. As a control, the same token with its signature changed must be
refused. The verifier accepts only https issuers (okta_jwt_verifier/config_validator.py, validate_issuer, with
no switch to turn it off), so against okta_local it needs okta_local behind TLS; for a private CA the caller sets
SSL_CERT_FILE (aiohttp's default SSL context reads it).

Prints one JSON object on stdout: the SDK versions, whether the token verified (or the verifier's exception
type and message), the tampered control's outcome, and the token's non-secret claims. Never the token itself.
Exit status 0 when the token verified and the tampered one did not, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from importlib.metadata import version
from typing import Any

from okta_jwt_verifier import AccessTokenVerifier, JWTUtils

TOKEN_ENV = "SDK_CHECK_ACCESS_TOKEN"
CLAIMS = ("iss", "aud", "cid", "sub", "scp", "ver")


def tampered(token: str) -> str:
    """Return the token with the last character of its signature changed."""
    head, _, signature = token.rpartition(".")
    return f"{head}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}"


async def verify(verifier: AccessTokenVerifier, token: str) -> dict[str, Any]:
    """Return {"verified": True} or the verifier's refusal."""
    try:
        await verifier.verify(token)
    except Exception as error:  # reported: the caller asserts on it
        return {"verified": False, "error_type": type(error).__name__, "error": str(error)}
    return {"verified": True}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    token = os.environ[TOKEN_ENV]
    _, claims, _, _ = JWTUtils.parse_token(token)
    report: dict[str, Any] = {
        "versions": {name: version(name) for name in ("okta", "okta-jwt-verifier")},
        "issuer": args.issuer,
        "audience": args.audience,
        "claims": {name: claims[name] for name in CLAIMS if name in claims},
    }
    try:
        verifier = AccessTokenVerifier(issuer=args.issuer, audience=args.audience)
    except Exception as error:  # e.g. the refusal of an http issuer
        report |= {"verified": False, "stage": "config", "error_type": type(error).__name__, "error": str(error)}
        return report
    report |= await verify(verifier, token)
    report["tampered"] = await verify(verifier, tampered(token))
    return report


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", default="api://default")
    args = parser.parse_args(argv)
    if not os.environ.get(TOKEN_ENV):
        parser.error(f"the access token is read from {TOKEN_ENV}")
    report = asyncio.run(run(args))
    print(json.dumps(report, sort_keys=True))
    return 0 if report["verified"] and not report["tampered"]["verified"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

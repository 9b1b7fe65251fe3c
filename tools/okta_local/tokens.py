"""The token endpoint: client credentials grant with client_secret_basic or client_secret_post."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from urllib.parse import parse_qs, unquote_plus

import jwt

from okta_local.context import AUDIENCE, DEFAULT_SCOPES, SCOPES, Answer, Context
from okta_local.credentials import verify_secret
from okta_local.errors import OAuthError

_FORM = "application/x-www-form-urlencoded"
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 section 3.3
_BAD_CLIENT = "Client authentication failed. Either the client or the client credentials are invalid."


def _invalid_request(description: str) -> OAuthError:
    return OAuthError(400, "invalid_request", description)


def _invalid_client() -> OAuthError:
    return OAuthError(401, "invalid_client", _BAD_CLIENT)


def _form(content_type: str | None, body: bytes) -> dict[str, str]:
    if (content_type or "").split(";")[0].strip().lower() != _FORM:
        raise _invalid_request(f"The request must be sent as {_FORM}.")
    try:
        text = body.decode("utf-8")
        parsed = parse_qs(text, keep_blank_values=True, strict_parsing=bool(body), errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise _invalid_request("The request body is not a valid form.") from None
    repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
    if repeated:
        raise _invalid_request(f"Parameters must not be repeated: {', '.join(repeated)}.")
    return {name: values[0] for name, values in parsed.items()}


def _basic_credentials(authorization: str) -> tuple[str, str]:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise _invalid_client()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _invalid_client() from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise _invalid_client()
    # RFC 6749 section 2.3.1: both parts are form-urlencoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)


def _client_credentials(authorization: str | None, form: dict[str, str]) -> tuple[str, str]:
    if authorization:
        if "client_secret" in form or "client_assertion" in form:
            raise _invalid_request(
                "Cannot supply multiple client credentials. Use one of the following: credentials in the "
                "Authorization header or credentials in the post body."
            )
        client_id, secret = _basic_credentials(authorization)
        if form.get("client_id", client_id) != client_id:
            raise _invalid_request("The client_id in the body does not match the Authorization header.")
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret", "")


def _granted_scopes(requested: str | None, allowed: tuple[str, ...]) -> list[str]:
    if requested is None or not requested.strip():
        granted = [s for s in DEFAULT_SCOPES if s in allowed]
        if not granted:
            raise OAuthError(400, "invalid_scope", "The client may not have the default scopes; 'scope' is required.")
        return granted
    scopes = list(dict.fromkeys(requested.split()))
    if not all(_SCOPE_TOKEN.match(s) for s in scopes):
        raise OAuthError(400, "invalid_scope", "The 'scope' parameter is malformed.")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise OAuthError(
            400, "invalid_scope", "One or more scopes are not configured for the authorization server resource."
        )
    denied = [s for s in scopes if s not in allowed]
    if denied:
        raise OAuthError(400, "invalid_scope", f"The client is not allowed to request: {' '.join(denied)}.")
    return scopes


def issue_token(ctx: Context, authorization: str | None, content_type: str | None, body: bytes) -> Answer:
    """Authenticate the client, check grant type and scopes, and answer with a signed access token."""
    fault = ctx.faults.spec
    if fault.token == "fail":  # noqa: S105 (a fault name)
        raise OAuthError(500, "server_error", "Injected fault: the token endpoint is failing.")
    if fault.token == "slow":  # noqa: S105 (a fault name)
        ctx.faults.wait(fault.delay_seconds, interruptible=False)
    form = _form(content_type, body)
    if not form.get("grant_type"):
        raise _invalid_request("The 'grant_type' parameter is required.")
    client_id, secret = _client_credentials(authorization, form)
    if not client_id or not secret:
        raise _invalid_client()
    app = ctx.store.get_app(client_id)
    if app is None or app.status != "ACTIVE" or not verify_secret(secret, app.secret_hash):
        raise _invalid_client()
    if form["grant_type"] != "client_credentials":
        raise OAuthError(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server. "
            "Configured grant types: [client_credentials].",
        )
    scopes = _granted_scopes(form.get("scope"), app.scopes)
    kid, key = ctx.keyring.signing_key()
    now = int(time.time())
    claims = {
        "ver": 1,
        "jti": "AT." + secrets.token_urlsafe(32),
        "iss": ctx.issuer,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ctx.token_ttl,
        "cid": client_id,
        "scp": scopes,
        "sub": client_id,
    }
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": None})
    return Answer(
        200,
        {"token_type": "Bearer", "expires_in": ctx.token_ttl, "access_token": token, "scope": " ".join(scopes)},
        {"Cache-Control": "no-store", "Pragma": "no-cache"},
    )

"""The custom authorization server's token endpoint: client credentials with client_secret_basic or _post.

Any ACTIVE client secret of an ACTIVE app authenticates it (client_secrets), so a secret can be rotated
with no downtime; an INACTIVE or deleted secret is invalid_client.

DPoP (RFC 9449), as Okta does it: an app with dpop_bound_access_tokens must send a `DPoP` proof for
POST {issuer}/v1/token (any app may). A proof without a valid nonce gets 400 use_dpop_nonce with a
`DPoP-Nonce` header; with one, the token is bound to the proof's key: token_type DPoP, cnf.jkt.
check_token_request_proof serves both token endpoints (this one and the org authorization server's).

Which scopes a client gets is decided by the access policies (policies.evaluate), as on Okta. The token
faults (fail, slow, hang, 429) apply here and at the org authorization server's token endpoint.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from urllib.parse import parse_qs, unquote_plus

import jwt

from okta_local.authservers import default_scope_names, scope_names
from okta_local.client_secrets import secret_matches
from okta_local.context import AUDIENCE, Answer, Context, Request
from okta_local.dpop import Proof, ProofError, verify_proof
from okta_local.errors import OAuthError, OktaApiError
from okta_local.faults import MAX_DELAY_SECONDS
from okta_local.policies import SCOPE_NOT_CONFIGURED, evaluate

_FORM = "application/x-www-form-urlencoded"
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")  # RFC 6749 section 3.3


def is_scope_token(text: str) -> bool:
    """True if text is one scope token (RFC 6749 section 3.3)."""
    return bool(_SCOPE_TOKEN.match(text))


_BAD_CLIENT = "Client authentication failed. Either the client or the client credentials are invalid."
TOKEN_RATE_LIMIT = 600  # what X-Rate-Limit-Limit says when the token: 429 fault answers
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
USE_NONCE = "Authorization server requires nonce in DPoP proof."


def token_faults(ctx: Context) -> None:
    """Apply the token fault (both token endpoints): fail = 500, 429 = Okta's rate limit, slow, hang."""
    fault = ctx.faults.spec
    if fault.token == "fail":  # noqa: S105 (a fault name)
        raise OAuthError(500, "server_error", "Injected fault: the token endpoint is failing.")
    if fault.token == 429:
        reset = int(time.time()) + 60
        headers = {"X-Rate-Limit-Limit": str(TOKEN_RATE_LIMIT), "X-Rate-Limit-Remaining": "0"}
        headers["X-Rate-Limit-Reset"] = str(reset)
        raise OktaApiError(429, "E0000047", "API call exceeded rate limit due to too many requests.", headers=headers)
    if fault.token == "slow":  # noqa: S105 (a fault name)
        ctx.faults.wait(fault.delay_seconds, interruptible=False)
    if fault.token == "hang":  # noqa: S105 (a fault name)
        # Hold the request until the fault is cleared (or the server stops), far past any sane client timeout.
        ctx.faults.wait(MAX_DELAY_SECONDS, interruptible=True)


def _invalid_request(description: str) -> OAuthError:
    return OAuthError(400, "invalid_request", description)


def _invalid_client() -> OAuthError:
    return OAuthError(401, "invalid_client", _BAD_CLIENT)


def form(content_type: str | None, body: bytes, query: str = "") -> dict[str, str]:
    """Return the token request's parameters: the form body, plus any sent in the query string (Okta takes both)."""
    if (content_type or "").split(";")[0].strip().lower() != _FORM:
        raise _invalid_request(f"The request must be sent as {_FORM}.")
    parsed: dict[str, list[str]] = {}
    try:
        for raw in (body.decode("utf-8"), query):
            for name, values in parse_qs(
                raw, keep_blank_values=True, strict_parsing=bool(raw), errors="strict"
            ).items():
                parsed.setdefault(name, []).extend(values)
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


def _client_credentials(authorization: str | None, params: dict[str, str]) -> tuple[str, str]:
    if authorization:
        if "client_secret" in params or "client_assertion" in params:
            raise _invalid_request(
                "Cannot supply multiple client credentials. Use one of the following: credentials in the "
                "Authorization header or credentials in the post body."
            )
        client_id, secret = _basic_credentials(authorization)
        if params.get("client_id", client_id) != client_id:
            raise _invalid_request("The client_id in the body does not match the Authorization header.")
        return client_id, secret
    return params.get("client_id", ""), params.get("client_secret", "")


def requested_scopes(requested: str | None, known: tuple[str, ...], defaults: tuple[str, ...]) -> list[str]:
    """Return the requested scopes (the defaults if none), or invalid_scope if malformed or unknown here."""
    if requested is None or not requested.strip():
        if not defaults:
            raise OAuthError(
                400,
                "invalid_scope",
                "The authorization server resource does not have any configured default scopes, "
                "'scope' must be provided.",
            )
        return list(defaults)
    scopes = list(dict.fromkeys(requested.split()))
    if not all(_SCOPE_TOKEN.match(s) for s in scopes):
        raise OAuthError(400, "invalid_scope", "The 'scope' parameter is malformed.")
    if any(s not in known for s in scopes):
        raise OAuthError(400, "invalid_scope", SCOPE_NOT_CONFIGURED)
    return scopes


def unsupported_grant_type() -> OAuthError:
    """Return the error for any grant but client_credentials."""
    return OAuthError(
        400,
        "unsupported_grant_type",
        "The authorization grant type is not supported by the authorization server. "
        "Configured grant types: [client_credentials].",
    )


def _dpop_error(description: str) -> OAuthError:
    return OAuthError(400, "invalid_dpop_proof", description)


def check_token_request_proof(ctx: Context, req: Request, token_url: str) -> Proof:
    """Check a token request's DPoP proof (htm POST, htu the token URL), then its nonce (use_dpop_nonce with a fresh
    one if needed), then use up its jti."""
    now = time.time()
    try:
        proof = verify_proof(req.header("DPoP"), req.header_count("DPoP"), "POST", token_url, now=now)
    except ProofError as exc:
        raise _dpop_error(str(exc)) from None
    if ctx.faults.spec.dpop_nonce == "always":
        if not ctx.nonces.take_fresh(proof.nonce):
            raise OAuthError(400, "use_dpop_nonce", USE_NONCE, {"DPoP-Nonce": ctx.nonces.demand_fresh()})
    elif not ctx.nonces.is_valid(proof.nonce, now):
        raise OAuthError(400, "use_dpop_nonce", USE_NONCE, {"DPoP-Nonce": ctx.nonces.current(now)})
    if not ctx.store.use_jti("dpop", proof.jti, proof.remember_until, now):
        raise _dpop_error("The DPoP proof JWT has already been used.")
    return proof


def issue_token(ctx: Context, req: Request) -> Answer:
    """Authenticate the client, check grant type (and DPoP proof), evaluate the access policies, answer with a
    signed token, bound to the proof's key if there was one."""
    token_faults(ctx)
    authorization = req.header("Authorization")
    params = form(req.header("Content-Type"), req.body)
    if not params.get("grant_type"):
        raise _invalid_request("The 'grant_type' parameter is required.")
    client_id, secret = _client_credentials(authorization, params)
    if not client_id or not secret:
        raise _invalid_client()
    app = ctx.store.get_app(client_id)
    if app is None or app.status != "ACTIVE" or not secret_matches(ctx.store, app.id, secret):
        raise _invalid_client()
    if params["grant_type"] != "client_credentials":
        raise unsupported_grant_type()
    proof = None
    if app.dpop_bound or req.header_count("DPoP"):
        proof = check_token_request_proof(ctx, req, f"{ctx.issuer}/v1/token")
    scopes = requested_scopes(params.get("scope"), scope_names(ctx.store), default_scope_names(ctx.store))
    rule = evaluate(ctx.store, client_id, scopes)
    minutes = rule.get("actions", {}).get("token", {}).get("accessTokenLifetimeMinutes", 60)
    ttl = min(ctx.token_ttl, int(minutes) * 60)  # the rule's lifetime, capped by the server's --token-ttl
    kid, key = ctx.keyring.signing_key()
    now = int(time.time())
    claims = {
        "ver": 1,
        "jti": "AT." + secrets.token_urlsafe(32),
        "iss": ctx.issuer,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + ttl,
        "cid": client_id,
        "scp": scopes,
        "sub": client_id,
    }
    headers = dict(NO_STORE)
    if proof is not None:
        claims["cnf"] = {"jkt": proof.jkt}
        headers["DPoP-Nonce"] = ctx.nonces.current()
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": None})
    token_type = "DPoP" if proof is not None else "Bearer"
    body = {"token_type": token_type, "expires_in": ttl, "access_token": token, "scope": " ".join(scopes)}
    return Answer(200, body, headers)

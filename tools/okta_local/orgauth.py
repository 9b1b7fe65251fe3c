"""The org authorization server ({org}/oauth2/v1): Okta-scoped access tokens for service apps.

POST /oauth2/v1/token takes client_credentials with private_key_jwt only (a client assertion signed with
one of the app's registered keys: iss = sub = client_id, aud = this URL, exp at most an hour ahead, a jti
used once) and grants the requested okta.* scopes the app holds grants for. DPoP (RFC 9449): an app with
dpop_bound_access_tokens must send a DPoP proof; any app may. The first proof without a valid nonce gets
400 use_dpop_nonce with a DPoP-Nonce header; a token bound to the proof's key has token_type DPoP and
cnf.jkt. Order of checks as Okta's SDKs expect: the client assertion's jti is used up before the nonce
check, so a retry after use_dpop_nonce needs a fresh assertion too.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt

from okta_local.app_keys import active_keys
from okta_local.apps import PRIVATE_KEY_JWT
from okta_local.context import OKTA_SCOPES, ORG_TOKEN_TTL, Answer, Context, Request
from okta_local.dpop import ALGORITHMS, ProofError, default_algorithm, public_key
from okta_local.errors import OAuthError
from okta_local.grants import OKTA_SCOPE
from okta_local.store import App
from okta_local.tokens import (
    NO_STORE,
    check_token_request_proof,
    form,
    requested_scopes,
    token_faults,
    unsupported_grant_type,
)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_SECONDS = 3600  # Okta: exp at most one hour in the future
CLOCK_SKEW = 60
_ORG_PRIVATE_KEY_ONLY = (
    "Client Credentials requests to the Org Authorization Server must use the private_key_jwt "
    "token_endpoint_auth_method."
)


def org_discovery(ctx: Context) -> dict[str, Any]:
    """Return the org authorization server's metadata (RFC 8414), limited to what this server implements."""
    return {
        "issuer": ctx.org_issuer,
        "token_endpoint": ctx.org_token_url,
        "jwks_uri": f"{ctx.base_url}/oauth2/v1/keys",
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": ["token"],
        "token_endpoint_auth_methods_supported": [PRIVATE_KEY_JWT],
        "token_endpoint_auth_signing_alg_values_supported": list(ALGORITHMS),
        "dpop_signing_alg_values_supported": list(ALGORITHMS),
        "scopes_supported": list(OKTA_SCOPES),
        "claims_supported": ["ver", "jti", "iss", "aud", "iat", "exp", "cid", "scp", "sub", "cnf"],
        "subject_types_supported": ["public"],
    }


def _invalid_client(description: str) -> OAuthError:
    return OAuthError(401, "invalid_client", description)


def _assertion_key(app: App, header: dict[str, Any]) -> Any:
    """Return the registered key the assertion names by kid (or the only key, if it names none)."""
    kid = header.get("kid")
    keys = active_keys(app)
    jwk: dict[str, Any] | None
    if kid is None and len(keys) == 1:
        jwk = keys[0]
    else:
        jwk = next((k for k in keys if k.get("kid") == kid), None)
    if jwk is None:
        raise _invalid_client("The client_assertion kid does not match a public key registered for the client.")
    alg = str(header.get("alg"))
    if alg not in ALGORITHMS or ("alg" in jwk and default_algorithm(jwk) != alg):
        raise _invalid_client("The client_assertion alg is not supported for the client's key.")
    try:
        return public_key(jwk, alg)
    except ProofError:
        raise _invalid_client("The client_assertion alg is not supported for the client's key.") from None


def authenticate_client(ctx: Context, req: Request, params: dict[str, str]) -> App:
    """Check the private_key_jwt client assertion and use up its jti; return the authenticated app."""
    if req.header("Authorization") or "client_secret" in params:
        raise _invalid_client(_ORG_PRIVATE_KEY_ONLY)
    assertion = params.get("client_assertion", "")
    if params.get("client_assertion_type") != JWT_BEARER or not assertion:
        raise _invalid_client(_ORG_PRIVATE_KEY_ONLY)
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise _invalid_client("The client_assertion is not a well-formed JWT.") from None
    client_id = unverified.get("iss")
    if not isinstance(client_id, str) or unverified.get("sub") != client_id:
        raise _invalid_client("The client_assertion iss and sub claims must both be the client_id.")
    if params.get("client_id", client_id) != client_id:
        raise _invalid_client("The client_id does not match the client_assertion.")
    app = ctx.store.get_app(client_id)
    if app is None or app.status != "ACTIVE":
        raise _invalid_client("Client authentication failed. Either the client or the client credentials are invalid.")
    if app.auth_method != PRIVATE_KEY_JWT:
        raise _invalid_client(_ORG_PRIVATE_KEY_ONLY)
    claims = _verified_claims(ctx, assertion, _assertion_key(app, header), str(header.get("alg")))
    _use_once(ctx, client_id, claims)
    return app


def _verified_claims(ctx: Context, assertion: str, key: Any, alg: str) -> dict[str, Any]:
    """Return the assertion's claims once its signature, aud, exp and the required claims check out."""
    try:
        return dict(
            jwt.decode(
                assertion,
                key,
                algorithms=[alg],
                audience=ctx.org_token_url,
                leeway=CLOCK_SKEW,
                options={"require": ["iss", "sub", "aud", "exp", "jti"], "verify_iat": False},
            )
        )
    except jwt.ExpiredSignatureError:
        raise _invalid_client("The client_assertion token is expired.") from None
    except jwt.InvalidAudienceError:
        raise _invalid_client(
            f"The audience claim for client_assertion must be the endpoint invoked: {ctx.org_token_url}."
        ) from None
    except jwt.MissingRequiredClaimError as exc:
        raise _invalid_client(f"The client_assertion is missing the '{exc.claim}' claim.") from None
    except jwt.InvalidSignatureError:
        raise _invalid_client("The client_assertion signature is invalid.") from None
    except jwt.InvalidTokenError:
        raise _invalid_client("The client_assertion claims are invalid.") from None


def _use_once(ctx: Context, client_id: str, claims: dict[str, Any]) -> None:
    """Check that exp is at most an hour ahead (of now and of iat), then use up the jti."""
    now = time.time()
    exp, iat, jti = claims["exp"], claims.get("iat", now), claims["jti"]
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not isinstance(jti, str) or not jti:
        raise _invalid_client("The client_assertion claims are invalid.")
    if exp > now + MAX_ASSERTION_SECONDS + CLOCK_SKEW or exp - iat > MAX_ASSERTION_SECONDS + CLOCK_SKEW:
        raise _invalid_client("The client_assertion token has an expiration too far in the future.")
    if iat > now + CLOCK_SKEW:
        raise _invalid_client("The client_assertion token was issued in the future.")
    if not ctx.store.use_jti("assertion", f"{client_id}:{jti}", float(exp), now):
        raise _invalid_client("The client_assertion token has already been used.")


def _granted(ctx: Context, app: App, requested: str | None) -> list[str]:
    granted = {g.scope_id for g in ctx.store.list_grants(app.id)}
    # Scopes shaped like Okta's are "configured"; whether the app may have them is up to its grants.
    known = tuple(s for s in (requested or "").split() if OKTA_SCOPE.match(s))
    scopes = requested_scopes(requested, known, ())
    missing = [s for s in scopes if s not in granted]
    if missing:
        raise OAuthError(
            400, "invalid_scope", f"The following scopes are not granted to the client: {' '.join(missing)}."
        )
    return scopes


def issue_org_token(ctx: Context, req: Request) -> Answer:
    """Answer POST /oauth2/v1/token: an org access token with okta.* scopes, DPoP-bound where asked for."""
    token_faults(ctx)
    params = form(req.header("Content-Type"), req.body, req.query)
    if not params.get("grant_type"):
        raise OAuthError(400, "invalid_request", "The 'grant_type' parameter is required.")
    app = authenticate_client(ctx, req, params)
    if params["grant_type"] != "client_credentials":
        raise unsupported_grant_type()
    proof = None
    if app.dpop_bound or req.header_count("DPoP"):
        proof = check_token_request_proof(ctx, req, ctx.org_token_url)
    scopes = _granted(ctx, app, params.get("scope"))
    kid, key = ctx.keyring.signing_key()
    now = int(time.time())
    claims: dict[str, Any] = {
        "ver": 1,
        "jti": "AT." + secrets.token_urlsafe(32),
        "iss": ctx.org_issuer,
        "aud": ctx.org_issuer,
        "iat": now,
        "exp": now + ORG_TOKEN_TTL,
        "cid": app.id,
        "scp": scopes,
        "sub": app.id,
    }
    headers = dict(NO_STORE)
    if proof is not None:
        claims["cnf"] = {"jkt": proof.jkt}
        headers["DPoP-Nonce"] = ctx.nonces.current()
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid, "typ": None})
    body = {
        "token_type": "DPoP" if proof is not None else "Bearer",
        "expires_in": ORG_TOKEN_TTL,
        "access_token": token,
        "scope": " ".join(scopes),
    }
    return Answer(200, body, headers)

"""Who may call the management API: an SSWS API token (every right) or an org access token with Okta scopes.

Org access tokens come from POST /oauth2/v1/token (orgauth). `Authorization: Bearer <token>` works for
tokens without a key binding; a DPoP-bound token (cnf.jkt) must come as `Authorization: DPoP <token>`
with a DPoP proof for this request (htm, htu, ath, the bound key, a fresh iat and an unused jti).
A token stops working when its app is deactivated or deleted, and it carries only the scopes the app
is still granted. Failures are Okta's E0000011 (401) and E0000006 (403) with a WWW-Authenticate challenge.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from okta_local.context import Context, Request
from okta_local.credentials import verify_secret
from okta_local.dpop import ALGORITHMS, ProofError, verify_proof
from okta_local.errors import forbidden, invalid_token


@dataclass(frozen=True)
class Principal:
    """The caller: the SSWS API token (scopes None: every right) or a client with its org-token scopes."""

    scheme: str  # "SSWS", "Bearer" or "DPoP"
    client_id: str | None = None
    scopes: frozenset[str] | None = None


def _challenge(ctx: Context, scheme: str, error: str | None, description: str, path: str, scope: str = "") -> str:
    """Return a WWW-Authenticate value shaped like Okta's resource server challenge."""
    parts = [f'authorization_uri="{ctx.base_url}/oauth2/v1/authorize"', f'realm="{ctx.base_url}"']
    if scheme == "DPoP":
        parts.insert(0, f'algs="{" ".join(ALGORITHMS)}"')
    if scope:
        parts.append(f'scope="{scope}"')
    if error:
        parts += [f'error="{error}"', f'error_description="{description}"']
    parts.append(f'resource="{path}"')
    return f"{scheme} {', '.join(parts)}"


def authenticate_ssws(ctx: Context, authorization: str | None) -> None:
    """Accept only `SSWS <token>` with a known API token (Okta's E0000011 otherwise). Okta's Python SDK 3.x sends
    `SSWS<token>`, with no space, and Okta accepts it: so does this server."""
    value = authorization or ""
    token = value[len("SSWS") :].strip() if value.startswith("SSWS") else ""
    if not token:
        raise invalid_token()
    if not any(verify_secret(token, stored) for stored in ctx.store.api_token_hashes()):
        raise invalid_token()


def _org_claims(ctx: Context, token: str, scheme: str, path: str) -> dict[str, Any]:
    """Return the claims of a valid org access token whose app is still active, or raise E0000011."""

    def refuse(description: str) -> Exception:
        return invalid_token(_challenge(ctx, scheme, "invalid_token", description, path))

    try:
        key = ctx.keyring.verification_key(jwt.get_unverified_header(token).get("kid"))
        if key is None:
            raise refuse("The access token is not signed by a key of this authorization server.")
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=ctx.org_issuer,
            issuer=ctx.org_issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti", "cid", "scp"]},
        )
    except jwt.ExpiredSignatureError:
        raise refuse("The access token has expired.") from None
    except jwt.InvalidTokenError:
        raise refuse("The access token is invalid.") from None
    scp = claims["scp"]
    if not isinstance(scp, list) or not all(isinstance(s, str) for s in scp):
        raise refuse("The access token is invalid.")
    app = ctx.store.get_app(str(claims["cid"]))
    if app is None or app.status != "ACTIVE":
        raise refuse("The client of the access token is no longer active.")
    return claims


def authenticate(ctx: Context, req: Request) -> Principal:
    """Return who is calling, from the Authorization (and DPoP) headers; raise E0000011 if nobody valid."""
    authorization = req.header("Authorization") or ""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if authorization.startswith("SSWS"):
        authenticate_ssws(ctx, authorization)
        return Principal("SSWS")
    kind = {"bearer": "Bearer", "dpop": "DPoP"}.get(scheme.lower())
    if kind is None or not token:
        raise invalid_token(_challenge(ctx, "Bearer", None, "", req.path))
    claims = _org_claims(ctx, token, kind, req.path)
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if kind == "Bearer" and jkt:
        raise invalid_token(
            _challenge(ctx, "DPoP", "invalid_token", "The access token is DPoP-bound: use the DPoP scheme.", req.path)
        )
    if kind == "DPoP":
        if not jkt:
            raise invalid_token(
                _challenge(ctx, "Bearer", "invalid_token", "The access token is not DPoP-bound.", req.path)
            )
        _check_resource_proof(ctx, req, token, str(jkt))
    granted = {g.scope_id for g in ctx.store.list_grants(str(claims["cid"]))}
    return Principal(kind, str(claims["cid"]), frozenset(s for s in claims["scp"] if s in granted))


def _check_resource_proof(ctx: Context, req: Request, token: str, jkt: str) -> None:
    def refuse(description: str) -> Exception:
        return invalid_token(_challenge(ctx, "DPoP", "invalid_dpop_proof", description, req.path))

    now = time.time()
    try:
        proof = verify_proof(
            req.header("DPoP"), req.header_count("DPoP"), req.method, ctx.url(req.path), access_token=token, now=now
        )
    except ProofError as exc:
        raise refuse(str(exc)) from None
    if proof.jkt != jkt:
        raise refuse("The DPoP proof is not signed with the key the access token is bound to.")
    if not ctx.store.use_jti("dpop", proof.jti, proof.remember_until, now):
        raise refuse("The DPoP proof JWT has already been used.")


def require_scope(ctx: Context, req: Request, principal: Principal, any_of: tuple[str, ...]) -> None:
    """Raise Okta's E0000006 (403, insufficient_scope) unless the caller has one of the scopes."""
    if principal.scopes is None or principal.scopes & set(any_of):
        return
    challenge = _challenge(
        ctx,
        principal.scheme,
        "insufficient_scope",
        "The access token provided does not contain the required scopes.",
        req.path,
        scope=" ".join(any_of),
    )
    raise forbidden(challenge)


def authorize(ctx: Context, req: Request, read_scopes: tuple[str, ...], write_scopes: tuple[str, ...]) -> Principal:
    """Authenticate and check the scope: reads (GET, HEAD) need one of read_scopes, anything else write_scopes."""
    principal = authenticate(ctx, req)
    require_scope(ctx, req, principal, read_scopes if req.method in ("GET", "HEAD") else write_scopes)
    return principal

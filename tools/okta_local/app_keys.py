"""A private_key_jwt app's public keys (/api/v1/apps/{appId}/credentials/jwks), as Okta manages them: key rotation
without downtime for the register function's service app.

  GET                 .../credentials/jwks                       the keys (id, status, kid, kty, alg, use, e, n, ...)
  POST                .../credentials/jwks                       add a public signing key (201); ACTIVE unless asked
  GET|DELETE          .../credentials/jwks/{keyId}               DELETE (204) only an INACTIVE key
  POST                .../credentials/jwks/{keyId}/lifecycle/activate|deactivate   (200, the key)

An app's keys are the `settings.oauthClient.jwks.keys` of the app too. Only ACTIVE keys verify client assertions.
Refusals are Okta's 400 E0000001: a private key, a weak or malformed one, a kid already used, more than 50 keys,
deactivating the app's only ACTIVE key, deleting an ACTIVE key.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from okta_local.context import PRIVATE_KEY_JWT, Answer, Context, iso
from okta_local.credentials import new_id
from okta_local.dpop import ProofError, default_algorithm, public_key
from okta_local.errors import OktaApiError, json_body, method_not_allowed, not_found
from okta_local.store import App

MAX_KEYS = 50
STATUSES = ("ACTIVE", "INACTIVE")
_STORED = ("id", "status", "created", "lastUpdated")  # what okta_local adds to a key as it stores it
_PUBLIC = ("kid", "kty", "alg", "use", "e", "n", "crv", "x", "y")


def key_record(jwk: dict[str, Any], status: str = "ACTIVE", now: float | None = None) -> dict[str, Any]:
    """Return a public key as stored with an app: its public members, an id, a status and timestamps."""
    when = time.time() if now is None else now
    public = {k: jwk[k] for k in _PUBLIC if k in jwk}
    public.setdefault("use", "sig")
    public.setdefault("alg", default_algorithm(public))
    return {**public, "id": new_id("pks"), "status": status, "created": when, "lastUpdated": when}


def _stored(jwk: dict[str, Any]) -> dict[str, Any]:
    """A key of an older state directory (no id, status or timestamps) gets stable ones."""
    if "id" in jwk:
        return jwk
    digest = hashlib.sha256(str(jwk.get("kid", "")).encode()).hexdigest()[:17]
    return {**jwk, "id": "pks" + digest, "status": "ACTIVE", "created": 0.0, "lastUpdated": 0.0}


def app_keys(app: App) -> list[dict[str, Any]]:
    """Return the app's stored keys (every status)."""
    return [_stored(k) for k in app.jwks]


def active_keys(app: App) -> list[dict[str, Any]]:
    """Return the keys that may verify the app's client assertions."""
    return [k for k in app_keys(app) if k.get("status", "ACTIVE") == "ACTIVE"]


def key_json(ctx: Context, app: App, key: dict[str, Any]) -> dict[str, Any]:
    """Return a key the way Okta shows an OAuth2ClientJsonSigningKeyResponse."""
    href = f"{ctx.base_url}/api/v1/apps/{app.id}/credentials/jwks/{key['id']}"
    post = {"hints": {"allow": ["POST"]}}
    if key["status"] == "ACTIVE":
        links: dict[str, Any] = {"deactivate": {"href": f"{href}/lifecycle/deactivate", **post}}
    else:
        links = {
            "activate": {"href": f"{href}/lifecycle/activate", **post},
            "delete": {"href": href, "hints": {"allow": ["DELETE"]}},
        }
    body = {k: key[k] for k in _PUBLIC if k in key}
    created = float(key.get("created") or 0) or app.created
    updated = float(key.get("lastUpdated") or 0) or app.last_updated
    return {"id": key["id"], "status": key["status"], **body, "created": iso(created), "lastUpdated": iso(updated)} | {
        "_links": links
    }


def validate_new_key(app: App, body: dict[str, Any]) -> dict[str, Any]:
    """Return the stored form of a public key to add to the app, or raise E0000001."""
    causes = []
    status = body.get("status", "ACTIVE")
    if status not in STATUSES:
        causes.append("status: must be ACTIVE or INACTIVE")
    if body.get("use", "sig") != "sig":
        causes.append("use: only signing keys (sig) are supported")
    kid = body.get("kid")
    if not isinstance(kid, str) or not kid.strip():
        causes.append("kid: every key needs its own kid")
    elif any(k.get("kid") == kid for k in app.jwks):
        causes.append(f"kid: the app already has a key with kid {kid}")
    if len(app.jwks) >= MAX_KEYS:
        causes.append(f"jwks: at most {MAX_KEYS} keys")
    if not causes:
        try:
            public_key({k: v for k, v in body.items() if k != "status"}, default_algorithm(body))
        except ProofError as exc:
            causes.append(str(exc))
    if causes:
        raise OktaApiError(400, "E0000001", "Api validation failed: JsonWebKey", causes)
    return key_record(body, str(status))


def handle_jwks(ctx: Context, method: str, app: App, rest: list[str], body: bytes) -> Answer:
    """Route an app's /credentials/jwks requests."""
    if app.auth_method != PRIVATE_KEY_JWT:
        raise not_found("/".join(["credentials", "jwks", *rest]), "Resource")  # a client-secret app has no JWKS
    keys = app_keys(app)
    if not rest:
        if method == "GET":
            return Answer(200, [key_json(ctx, app, k) for k in keys])
        if method != "POST":
            raise method_not_allowed()
        record = validate_new_key(app, json_body(body))
        ctx.store.set_app_jwks(app.id, [*keys, record], time.time())
        return Answer(201, key_json(ctx, app, record))
    key = next((k for k in keys if k["id"] == rest[0]), None)
    if key is None:
        raise not_found(rest[0], "OAuth2ClientJsonWebKey")
    if len(rest) == 1:
        if method == "GET":
            return Answer(200, key_json(ctx, app, key))
        if method != "DELETE":
            raise method_not_allowed()
        if key["status"] == "ACTIVE":
            raise OktaApiError(400, "E0000001", "Api validation failed: JsonWebKey", ["Cannot delete an active key."])
        ctx.store.set_app_jwks(app.id, [k for k in keys if k["id"] != key["id"]], time.time())
        return Answer(204)
    if len(rest) != 3 or rest[1] != "lifecycle" or rest[2] not in ("activate", "deactivate"):
        raise not_found("/".join(rest), "Resource")
    if method != "POST":
        raise method_not_allowed()
    status = "ACTIVE" if rest[2] == "activate" else "INACTIVE"
    if status == "INACTIVE" and key["status"] == "ACTIVE" and len([k for k in keys if k["status"] == "ACTIVE"]) == 1:
        raise OktaApiError(
            400,
            "E0000001",
            "Api validation failed: JsonWebKey",
            ["Cannot deactivate the only active key of a client that uses private_key_jwt."],
        )
    now = time.time()
    changed = {**key, "status": status, "lastUpdated": now}
    ctx.store.set_app_jwks(app.id, [changed if k["id"] == key["id"] else k for k in keys], now)
    return Answer(200, key_json(ctx, app, changed))

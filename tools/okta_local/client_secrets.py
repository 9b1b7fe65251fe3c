"""An app's OAuth 2.0 client secrets (/api/v1/apps/{appId}/credentials/secrets): rotation without downtime.

As Okta documents it (Application client secret management): GET lists the secrets, POST adds one (201;
generated, or the caller's own client_secret, ACTIVE unless the body asks INACTIVE), GET /{secretId} reads
one, POST /{secretId}/lifecycle/activate|deactivate (200) changes its status, DELETE /{secretId} (204)
removes an INACTIVE one. An app has at most two secrets, and its only ACTIVE secret can be neither
deactivated nor deleted. The plaintext is in the POST answer only; everywhere else client_secret is masked.
The custom authorization server's token endpoint accepts any ACTIVE secret of an ACTIVE app.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from typing import Any

from okta_local.context import SECRET_METHODS, Answer, Context, iso
from okta_local.credentials import hash_secret, new_client_secret, new_id, verify_secret
from okta_local.errors import OktaApiError, json_body, method_not_allowed, not_found
from okta_local.store import SECRET_ID_PREFIX, App, ClientSecret, Store

MAX_SECRETS = 2
MIN_LENGTH, MAX_LENGTH = 14, 100
MASKED = "******"  # what list, get and lifecycle answers show instead of the secret (only its hash is stored)
STATUSES = ("ACTIVE", "INACTIVE")
RESOURCE = "OAuth2ClientSecretMediated"  # the name Okta's errors give the resource
_PRINTABLE = re.compile(r"^[\x20-\x7e]+$")


def refused(cause: str, what: str = RESOURCE) -> OktaApiError:
    """Return Okta's E0000001 the way the secrets API words it: the field or resource, then one cause."""
    return OktaApiError(400, "E0000001", f"Api validation failed: {what}", [cause])


def secret_matches(store: Store, app_id: str, secret: str) -> bool:
    """Return whether secret is one of the app's ACTIVE client secrets."""
    return any(s.status == "ACTIVE" and verify_secret(secret, s.secret_hash) for s in store.list_client_secrets(app_id))


def fingerprint(item: ClientSecret) -> str:
    """Return secret_hash as the API shows it: 22 characters derived from the salted hash, not from the secret."""
    return base64.urlsafe_b64encode(hashlib.sha256(item.secret_hash.encode()).digest()[:16]).rstrip(b"=").decode()


def secret_json(ctx: Context, item: ClientSecret, plaintext: str | None = None) -> dict[str, Any]:
    """Return an OAuth2ClientSecret; the plaintext only in the answer that made it."""
    href = f"{ctx.base_url}/api/v1/apps/{item.app_id}/credentials/secrets/{item.id}"
    post = {"hints": {"allow": ["POST"]}}
    if item.status == "ACTIVE":
        links: dict[str, Any] = {"deactivate": {"href": f"{href}/lifecycle/deactivate", **post}}
    else:
        links = {
            "activate": {"href": f"{href}/lifecycle/activate", **post},
            "delete": {"href": href, "hints": {"allow": ["DELETE"]}},
        }
    return {
        "id": item.id,
        "status": item.status,
        "client_secret": MASKED if plaintext is None else plaintext,
        "secret_hash": fingerprint(item),
        "created": iso(item.created),
        "lastUpdated": iso(item.last_updated),
        "_links": links,
    }


def _own_secret_problem(secret: object) -> str | None:
    """Return what is wrong with a client_secret the caller brings (Okta's wording), or None."""
    if not isinstance(secret, str):
        return "'client_secret' must be a string."
    if len(secret) > MAX_LENGTH:
        return f"'client_secret' cannot be more than '{MAX_LENGTH}' characters long."
    if len(secret) < MIN_LENGTH:
        return f"'client_secret' must be at least '{MIN_LENGTH}' characters long."
    if not _PRINTABLE.match(secret):
        return "''client_secret'' must only contain printable ASCII: [x20-x7E]+"
    return None


def _new_secret_request(body: bytes) -> tuple[str, str]:
    """Return (secret, status) of a POST body: no body, {} or no client_secret means a generated secret."""
    data = json_body(body) if body.strip() else {}
    status = data.get("status", "ACTIVE")
    if status not in STATUSES:
        raise refused("status: must be ACTIVE or INACTIVE", "status")
    secret = data.get("client_secret")
    if secret is None:
        return new_client_secret(), str(status)
    problem = _own_secret_problem(secret)
    if problem:
        raise refused(f"client_secret: {problem}", "client_secret")
    return str(secret), str(status)


def _post(ctx: Context, app: App, body: bytes) -> Answer:
    if app.auth_method not in SECRET_METHODS:
        raise refused(f"'client_secret' cannot be used when 'token_endpoint_auth_method' is '{app.auth_method}'.")
    secret, status = _new_secret_request(body)
    now = time.time()
    item = ClientSecret(new_id(SECRET_ID_PREFIX), app.id, hash_secret(secret), status, now, now)
    if not ctx.store.add_client_secret(item, MAX_SECRETS):
        raise refused("You have reached the maximum number of client secrets per client.")
    return Answer(201, secret_json(ctx, item, secret))


def _existing(ctx: Context, app: App, secret_id: str) -> ClientSecret:
    item = next((s for s in ctx.store.list_client_secrets(app.id) if s.id == secret_id), None)
    if item is None:
        raise not_found(secret_id, RESOURCE)
    return item


def _lifecycle(ctx: Context, app: App, secret_id: str, action: str) -> Answer:
    status = "ACTIVE" if action == "activate" else "INACTIVE"
    item, done = ctx.store.set_client_secret_status(app.id, secret_id, status, time.time())
    if item is None:
        raise not_found(secret_id, RESOURCE)
    if not done:
        raise refused("You can't deactivate the only active client secret.")
    return Answer(200, secret_json(ctx, item))


def _delete(ctx: Context, app: App, secret_id: str) -> Answer:
    item, done = ctx.store.delete_client_secret(app.id, secret_id)
    if item is None:
        raise not_found(secret_id, RESOURCE)
    if not done:
        raise refused("You can't delete an active client secret. Deactivate the secret before deleting it.")
    return Answer(204)


def handle_secrets(ctx: Context, method: str, app: App, rest: list[str], body: bytes) -> Answer:
    """Route .../credentials/secrets[/{secretId}[/lifecycle/activate|deactivate]] of an existing app."""
    if not rest:
        if method == "GET":
            return Answer(200, [secret_json(ctx, s) for s in ctx.store.list_client_secrets(app.id)])
        if method == "POST":
            return _post(ctx, app, body)
        raise method_not_allowed()
    if len(rest) == 1:
        if method == "GET":
            return Answer(200, secret_json(ctx, _existing(ctx, app, rest[0])))
        if method == "DELETE":
            return _delete(ctx, app, rest[0])
        raise method_not_allowed()
    if len(rest) == 3 and rest[1] == "lifecycle" and rest[2] in ("activate", "deactivate"):
        if method != "POST":
            raise method_not_allowed()
        return _lifecycle(ctx, app, rest[0], rest[2])
    raise not_found("/".join(rest), "Resource")

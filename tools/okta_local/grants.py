"""App grants (/api/v1/apps/{appId}/grants): which Okta API scopes a service app may ask the org server for."""

from __future__ import annotations

import re
import time
from typing import Any

from okta_local.context import Answer, Context, iso
from okta_local.credentials import new_id
from okta_local.errors import json_body, method_not_allowed, not_found, validation_failed
from okta_local.store import App, Grant

OKTA_SCOPE = re.compile(r"^okta\.[A-Za-z]+(\.[A-Za-z]+)*$")


def grant_json(ctx: Context, grant: Grant, expand: bool = False) -> dict[str, Any]:
    """Return a grant the way Okta shows an OAuth2ScopeConsentGrant."""
    app_href = f"{ctx.base_url}/api/v1/apps/{grant.app_id}"
    body: dict[str, Any] = {
        "id": grant.id,
        "status": "ACTIVE",
        "created": iso(grant.created),
        "lastUpdated": iso(grant.created),
        "issuer": grant.issuer,
        "clientId": grant.app_id,
        "scopeId": grant.scope_id,
        "source": "ADMIN",
        "_links": {
            "app": {"href": app_href},
            "self": {"href": f"{app_href}/grants/{grant.id}", "hints": {"allow": ["GET", "DELETE"]}},
            "client": {"href": f"{ctx.base_url}/oauth2/v1/clients/{grant.app_id}"},
        },
    }
    if expand:
        body["_embedded"] = {"scope": {"id": grant.scope_id}}
    return body


def add_grant(ctx: Context, app_id: str, scope_id: str) -> Grant | None:
    """Grant an Okta scope to an app; None if it already has it."""
    return ctx.store.add_grant(Grant(new_id("oag"), app_id, scope_id, ctx.org_issuer, time.time()))


def _post(ctx: Context, app: App, body: bytes) -> Answer:
    data = json_body(body)
    scope_id, issuer = data.get("scopeId"), data.get("issuer")
    causes = []
    if not isinstance(scope_id, str) or not OKTA_SCOPE.match(scope_id):
        causes.append("scopeId: must name an Okta API scope such as okta.apps.read")
    if issuer != ctx.org_issuer:
        causes.append(f"issuer: must be the org URL {ctx.org_issuer}")
    if causes:
        raise validation_failed(*causes)
    grant = add_grant(ctx, app.id, str(scope_id))
    if grant is None:
        raise validation_failed(f"scopeId: the app already has a grant for {scope_id}")
    return Answer(201, grant_json(ctx, grant))


def handle_grants(ctx: Context, method: str, app: App, rest: list[str], body: bytes, expand: bool) -> Answer:
    """Route /grants (GET list, POST) and /grants/{grantId} (GET, DELETE) of an existing app."""
    if not rest:
        if method == "GET":
            return Answer(200, [grant_json(ctx, g, expand) for g in ctx.store.list_grants(app.id)])
        if method == "POST":
            return _post(ctx, app, body)
        raise method_not_allowed()
    if len(rest) != 1:
        raise not_found("/".join(rest), "Resource")
    if method not in ("GET", "DELETE"):
        raise method_not_allowed()
    grant = next((g for g in ctx.store.list_grants(app.id) if g.id == rest[0]), None)
    if grant is None:
        raise not_found(rest[0], "OAuth2ScopeConsentGrant")
    if method == "GET":
        return Answer(200, grant_json(ctx, grant, expand))
    if not ctx.store.delete_grant(app.id, grant.id):
        raise not_found(rest[0], "OAuth2ScopeConsentGrant")
    return Answer(204)

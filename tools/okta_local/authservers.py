"""The custom authorization server `default` as an API object, and its scopes (Okta's OAuth2Scope).

  GET                   /api/v1/authorizationServers                   [the default server]
  GET                   /api/v1/authorizationServers/default
  GET/POST              /api/v1/authorizationServers/default/scopes    POST answers 201
  GET/PUT/DELETE        .../scopes/{scopeId}                           PUT replaces the scope; DELETE answers 204

An empty org has the server and no scope of its own: the token endpoint knows exactly the scopes stored here (a
request for any other is invalid_scope, "not configured"), a token request without `scope` gets the scopes marked
`default`, and a policy rule may name only these scopes (or `*`). Reads need okta.authorizationServers.read or
.manage, writes .manage.
"""

from __future__ import annotations

import re
import time
from typing import Any

from okta_local.context import AUDIENCE, AUTH_SERVER_ID, Answer, Context, iso
from okta_local.credentials import new_id
from okta_local.errors import OktaApiError, json_body, method_not_allowed, not_found, validation_failed
from okta_local.store import Document, Store

PREFIX = "/api/v1/authorizationServers"
SCOPE = "scope"  # the store's kind
CONSENT = ("IMPLICIT", "REQUIRED", "FLEXIBLE")
PUBLISH = ("ALL_CLIENTS", "NO_CLIENTS")
MAX_SCOPE_NAME = 1024
# RFC 6749 section 3.3 scope-token; Okta reserves the okta. prefix for its own API scopes.
_SCOPE_NAME = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")


def server_json(ctx: Context) -> dict[str, Any]:
    """Return the default custom authorization server the way Okta shows an AuthorizationServer."""
    href = f"{ctx.base_url}{PREFIX}/{AUTH_SERVER_ID}"
    kid, _ = ctx.keyring.signing_key()
    created = iso(float(ctx.store.get_meta("created") or time.time()))
    return {
        "id": AUTH_SERVER_ID,
        "name": "default",
        "description": "Default Authorization Server for your Applications",
        "audiences": [AUDIENCE],
        "issuer": ctx.issuer,
        "issuerMode": "ORG_URL",
        "status": "ACTIVE",
        "created": created,
        "lastUpdated": created,
        "credentials": {"signing": {"kid": kid, "rotationMode": "AUTO", "use": "sig"}},
        "_links": {
            "self": {"href": href, "hints": {"allow": ["GET"]}},
            "scopes": {"href": f"{href}/scopes", "hints": {"allow": ["GET", "POST"]}},
            "policies": {"href": f"{href}/policies", "hints": {"allow": ["GET", "POST"]}},
            "metadata": [{"href": f"{ctx.issuer}/.well-known/oauth-authorization-server", "hints": {"allow": ["GET"]}}],
        },
    }


def scopes(store: Store) -> list[dict[str, Any]]:
    """Return the server's scopes (their documents), in creation order."""
    return [item.doc for item in store.list_objects(SCOPE, AUTH_SERVER_ID)]


def scope_names(store: Store) -> tuple[str, ...]:
    """Return the names of the server's scopes."""
    return tuple(str(doc["name"]) for doc in scopes(store))


def default_scope_names(store: Store) -> tuple[str, ...]:
    """Return the names of the scopes a token request without `scope` gets."""
    return tuple(str(doc["name"]) for doc in scopes(store) if doc.get("default") is True)


def scope_json(ctx: Context, item: Document) -> dict[str, Any]:
    """Return a scope the way Okta shows an OAuth2Scope."""
    href = f"{ctx.base_url}{PREFIX}/{AUTH_SERVER_ID}/scopes/{item.id}"
    return {"id": item.id, **item.doc, "_links": {"self": {"href": href, "hints": {"allow": ["GET", "PUT", "DELETE"]}}}}


def _scope_doc(store: Store, body: dict[str, Any], replacing: str | None = None) -> dict[str, Any]:
    causes = []
    name = body.get("name")
    if not isinstance(name, str) or not name:
        causes.append("name: The field cannot be left blank")
    elif len(name) > MAX_SCOPE_NAME or not _SCOPE_NAME.match(name):
        causes.append("name: must be one scope token (no spaces, quotes or backslashes)")
    elif name.startswith("okta."):
        causes.append("name: the okta. prefix is reserved for Okta's own API scopes")
    elif any(i.doc.get("name") == name and i.id != replacing for i in store.list_objects(SCOPE, AUTH_SERVER_ID)):
        causes.append(f"name: a scope named {name} already exists on this authorization server")
    doc: dict[str, Any] = {"name": name}
    for field, default in (("description", None), ("displayName", None)):
        value = body.get(field, default)
        if value is not None and not isinstance(value, str):
            causes.append(f"{field}: must be a string")
        elif value is not None:
            doc[field] = value
    for field, allowed, default in (("consent", CONSENT, "IMPLICIT"), ("metadataPublish", PUBLISH, "NO_CLIENTS")):
        value = body.get(field, default)
        if value not in allowed:
            causes.append(f"{field}: must be one of {', '.join(allowed)}")
        doc[field] = value
    for field in ("default", "optional"):
        value = body.get(field, False)
        if not isinstance(value, bool):
            causes.append(f"{field}: must be true or false")
        doc[field] = value is True
    if body.get("system", False) is not False:
        causes.append("system: only Okta creates system scopes")
    doc["system"] = False
    if causes:
        raise validation_failed(*causes)
    return doc


def create_scope(ctx: Context, body: dict[str, Any]) -> Document:
    """Validate and store a new scope of the default server."""
    now = time.time()
    item = Document(new_id("scp"), _scope_doc(ctx.store, body), now, now, AUTH_SERVER_ID)
    ctx.store.insert_object(SCOPE, item)
    return item


def _scope(ctx: Context, scope_id: str) -> Document:
    item = ctx.store.get_object(SCOPE, scope_id)
    if item is None or item.parent != AUTH_SERVER_ID:
        raise not_found(scope_id, "OAuth2Scope")
    return item


def handle_scopes(ctx: Context, method: str, rest: list[str], body: bytes) -> Answer:
    """Route .../scopes (GET list, POST) and .../scopes/{scopeId} (GET, PUT, DELETE) of the default server."""
    if not rest:
        if method == "GET":
            return Answer(200, [scope_json(ctx, i) for i in ctx.store.list_objects(SCOPE, AUTH_SERVER_ID)])
        if method == "POST":
            return Answer(201, scope_json(ctx, create_scope(ctx, json_body(body))))
        raise method_not_allowed()
    if len(rest) != 1:
        raise not_found("/".join(rest), "Resource")
    item = _scope(ctx, rest[0])
    if method == "GET":
        return Answer(200, scope_json(ctx, item))
    if method == "PUT":
        doc = _scope_doc(ctx.store, json_body(body), replacing=item.id)
        replaced = ctx.store.replace_object(SCOPE, item.id, doc, time.time())
        if replaced is None:
            raise not_found(item.id, "OAuth2Scope")
        return Answer(200, scope_json(ctx, replaced))
    if method == "DELETE":
        if not ctx.store.delete_object(SCOPE, item.id):
            raise not_found(item.id, "OAuth2Scope")
        return Answer(204)
    raise method_not_allowed()


def handle_server(ctx: Context, method: str, parts: list[str]) -> Answer:
    """Answer GET /api/v1/authorizationServers and GET /api/v1/authorizationServers/{id} (only `default` exists)."""
    if method not in ("GET", "HEAD"):
        raise OktaApiError(405, "E0000022", "The endpoint does not support the provided HTTP method")
    if not parts:
        return Answer(200, [server_json(ctx)])
    if parts[0] != AUTH_SERVER_ID:
        raise not_found(parts[0], "AuthorizationServer")
    return Answer(200, server_json(ctx))

"""Access policies and rules of the default custom authorization server, and their evaluation at /v1/token.
The same handler routes the server object itself and its scopes (authservers).

API (Okta's paths and shapes; reads need okta.authorizationServers.read or .manage, writes .manage):
  GET/POST              /api/v1/authorizationServers/default/policies
  GET/PUT/DELETE        .../policies/{policyId}              PUT replaces the whole policy (no merge)
  POST                  .../policies/{policyId}/lifecycle/activate|deactivate
  GET/POST              .../policies/{policyId}/rules
  GET/PUT/DELETE        .../policies/{policyId}/rules/{ruleId}
  POST                  .../rules/{ruleId}/lifecycle/activate|deactivate

Evaluation of a client_credentials request, as Okta documents it: ACTIVE policies in priority order whose
conditions.clients.include names the client (or ALL_CLIENTS); within each, ACTIVE rules in priority
order; the first rule whose grantTypes include client_credentials and whose scopes include every
requested scope (or "*") decides, and a rule that does not match passes evaluation on to the next rule
and policy. Rules that name users or groups other than EVERYONE never match (client credentials have no
user). No policy and rule that grant the client every requested scope: access_denied, "Policy evaluation failed"
(as Okta answers; invalid_scope "not configured" is only for a scope the server does not have).
"""

from __future__ import annotations

import time
from typing import Any

from okta_local import apiauth
from okta_local.authservers import handle_scopes, handle_server, scope_names
from okta_local.context import (
    AUTH_SERVER_ID,
    AUTH_SERVERS_MANAGE,
    AUTH_SERVERS_READ,
    Answer,
    Context,
    Request,
    iso,
)
from okta_local.credentials import new_id
from okta_local.errors import (
    OAuthError,
    OktaApiError,
    json_body,
    method_not_allowed,
    not_found,
    rate_limited,
    validation_failed,
)
from okta_local.store import Document, Store

PREFIX = "/api/v1/authorizationServers"
POLICY_TYPE = "OAUTH_AUTHORIZATION_POLICY"
RULE_TYPE = "RESOURCE_ACCESS"
ALL_CLIENTS = "ALL_CLIENTS"
ANY_SCOPE = "*"
EVERYONE = "EVERYONE"
CLIENT_CREDENTIALS = "client_credentials"
GRANT_TYPES = (
    "authorization_code",
    CLIENT_CREDENTIALS,
    "implicit",
    "password",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:ietf:params:oauth:grant-type:saml2-bearer",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "interaction_code",
)
STATUSES = ("ACTIVE", "INACTIVE")
MAX_NAME = 255
MAX_ITEMS = 1000
MIN_TOKEN_MINUTES, MAX_TOKEN_MINUTES = 5, 1440  # Okta: an access token lives five minutes to one day
NO_POLICY = "Policy evaluation failed for this request, please check the policy configurations."
SCOPE_NOT_CONFIGURED = "One or more scopes are not configured for the authorization server resource."


# --- JSON shapes ---------------------------------------------------------------------------------------


def _hint(href: str, *methods: str) -> dict[str, Any]:
    return {"href": href, "hints": {"allow": list(methods)}}


def policy_href(ctx: Context, policy_id: str) -> str:
    """Return the API URL of a policy."""
    return f"{ctx.base_url}{PREFIX}/{AUTH_SERVER_ID}/policies/{policy_id}"


def _document_json(item: Document, kind: str, href: str, **links: dict[str, Any]) -> dict[str, Any]:
    """A policy or a rule as Okta shows it: type and id first, its document, timestamps, and its _links."""
    lifecycle = "deactivate" if item.doc.get("status") == "ACTIVE" else "activate"
    return {
        "type": item.doc.get("type", kind),
        "id": item.id,
        # An empty description is left out, as Okta does (its contract: a description is non-empty).
        **{k: v for k, v in item.doc.items() if k != "type" and not (k == "description" and v == "")},
        "created": iso(item.created),
        "lastUpdated": iso(item.last_updated),
        "_links": {
            "self": _hint(href, "GET", "PUT", "DELETE"),
            lifecycle: _hint(f"{href}/lifecycle/{lifecycle}", "POST"),
            **links,
        },
    }


def policy_json(ctx: Context, item: Document) -> dict[str, Any]:
    """Return a policy the way Okta shows an AuthorizationServerPolicy."""
    href = policy_href(ctx, item.id)
    return _document_json(item, POLICY_TYPE, href, rules=_hint(f"{href}/rules", "GET"))


def rule_json(ctx: Context, item: Document) -> dict[str, Any]:
    """Return a rule the way Okta shows an AuthorizationServerPolicyRule."""
    return _document_json(item, RULE_TYPE, f"{policy_href(ctx, str(item.parent))}/rules/{item.id}")


# --- validation ----------------------------------------------------------------------------------------


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class _Fields:
    """Collects every cause of an E0000001 while reading a request body."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.causes: list[str] = []

    def fixed(self, name: str, value: str) -> str:
        if self.body.get(name, value) != value:
            self.causes.append(f"{name}: must be {value}")
        return value

    def name(self) -> str:
        value = self.body.get("name")
        if not isinstance(value, str) or not value.strip():
            self.causes.append("name: The field cannot be left blank")
            return ""
        if len(value) > MAX_NAME:
            self.causes.append(f"name: The field is too long (at most {MAX_NAME} characters)")
        return value.strip()

    def status(self) -> str:
        value = self.body.get("status", "ACTIVE")
        if value not in STATUSES:
            self.causes.append("status: must be ACTIVE or INACTIVE")
            return "ACTIVE"
        return str(value)

    def system(self) -> bool:
        if self.body.get("system", False) is not False:
            self.causes.append("system: only Okta creates system policies and rules")
        return False

    def priority(self, default: int | None) -> int:
        value = self.body.get("priority", default)
        if value is None:
            self.causes.append("priority: The field cannot be left blank")
            return 1
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ITEMS:
            self.causes.append(f"priority: must be a whole number from 1 to {MAX_ITEMS}")
            return 1
        return value

    def strings(
        self, value: object, where: str, allowed: tuple[str, ...] | None = None, empty: bool = False
    ) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.causes.append(f"{where}: must be a list of names")
            return []
        if not value and not empty:
            self.causes.append(f"{where}: The field cannot be left blank")
        if len(value) > MAX_ITEMS:
            self.causes.append(f"{where}: at most {MAX_ITEMS} entries")
        unknown = [v for v in value if allowed is not None and v not in allowed]
        if unknown:
            self.causes.append(f"{where}: not known to this authorization server: {', '.join(unknown)}")
        return list(dict.fromkeys(value))

    def minutes(self, token: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
        value = token.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.causes.append(f"actions.token.{name}: must be a whole number from {low} to {high}")
            return default
        return value


def _policy_doc(body: dict[str, Any], default_priority: int | None) -> dict[str, Any]:
    fields = _Fields(body)
    description = body.get("description", "")
    if not isinstance(description, str):
        fields.causes.append("description: must be a string")
    clients = _object(_object(body.get("conditions")).get("clients"))
    doc = {
        "type": fields.fixed("type", POLICY_TYPE),
        "status": fields.status(),
        "name": fields.name(),
        "description": description if isinstance(description, str) else "",
        "priority": fields.priority(default_priority),
        "system": fields.system(),
        "conditions": {"clients": {"include": fields.strings(clients.get("include"), "conditions.clients.include")}},
    }
    if fields.causes:
        raise validation_failed(*fields.causes)
    return doc


def _people(fields: _Fields, value: object) -> dict[str, Any]:
    people = _object(value)
    result = {}
    for kind, default in (("users", []), ("groups", [EVERYONE])):
        section = _object(people.get(kind)) if kind in people else {"include": default, "exclude": []}
        result[kind] = {
            part: fields.strings(section.get(part, []), f"conditions.people.{kind}.{part}", empty=True)
            for part in ("include", "exclude")
        }
    return result


def _rule_doc(body: dict[str, Any], default_priority: int | None, scopes: tuple[str, ...]) -> dict[str, Any]:
    fields = _Fields(body)
    conditions = _object(body.get("conditions"))
    token = _object(_object(body.get("actions")).get("token"))
    hook = token.get("inlineHook")
    if hook is not None and not isinstance(_object(hook).get("id"), str):
        fields.causes.append("actions.token.inlineHook: must be an object with an id")
    doc = {
        "type": fields.fixed("type", RULE_TYPE),
        "status": fields.status(),
        "name": fields.name(),
        "priority": fields.priority(default_priority),
        "system": fields.system(),
        "conditions": {
            "people": _people(fields, conditions.get("people")),
            "grantTypes": {
                "include": fields.strings(
                    _object(conditions.get("grantTypes")).get("include"), "conditions.grantTypes.include", GRANT_TYPES
                )
            },
            "scopes": {
                "include": fields.strings(
                    _object(conditions.get("scopes")).get("include"), "conditions.scopes.include", (*scopes, ANY_SCOPE)
                )
            },
        },
        "actions": {
            "token": {
                "accessTokenLifetimeMinutes": fields.minutes(
                    token, "accessTokenLifetimeMinutes", 60, MIN_TOKEN_MINUTES, MAX_TOKEN_MINUTES
                ),
                "refreshTokenLifetimeMinutes": fields.minutes(token, "refreshTokenLifetimeMinutes", 0, 0, 5_256_000),
                "refreshTokenWindowMinutes": fields.minutes(token, "refreshTokenWindowMinutes", 10_080, 0, 5_256_000),
                **({"inlineHook": hook} if hook is not None else {}),
            }
        },
    }
    if fields.causes:
        raise validation_failed(*fields.causes)
    return doc


# --- creating (also used by bootstrap) -----------------------------------------------------------------


def _next_priority(items: list[Document]) -> int:
    return min(max((int(i.doc.get("priority", 0)) for i in items), default=0) + 1, MAX_ITEMS)


def create_policy(ctx: Context, body: dict[str, Any]) -> Document:
    """Validate and store a new policy (priority defaults to after the last one)."""
    doc = _policy_doc(body, _next_priority(ctx.store.list_documents("policies")))
    now = time.time()
    item = Document(new_id("00p"), doc, now, now)
    ctx.store.insert_document("policies", item)
    return item


def create_rule(ctx: Context, policy_id: str, body: dict[str, Any]) -> Document:
    """Validate and store a new rule of an existing policy."""
    doc = _rule_doc(body, _next_priority(ctx.store.list_documents("rules", policy_id)), scope_names(ctx.store))
    now = time.time()
    item = Document(new_id("0pr"), doc, now, now, policy_id)
    if not ctx.store.insert_document("rules", item):
        raise not_found(policy_id, "AuthorizationServerPolicy")
    return item


def client_credentials_rule(name: str, scopes: list[str]) -> dict[str, Any]:
    """Return the body of a rule that lets the policy's clients get tokens for these scopes."""
    return {
        "type": RULE_TYPE,
        "name": name,
        "conditions": {"grantTypes": {"include": [CLIENT_CREDENTIALS]}, "scopes": {"include": scopes}},
    }


# --- evaluation at the token endpoint ------------------------------------------------------------------


def _ordered_active(items: list[Document]) -> list[Document]:
    active = [i for i in items if i.doc.get("status") == "ACTIVE"]
    return sorted(active, key=lambda i: (int(i.doc.get("priority", MAX_ITEMS)), i.created))


def _rule_allows(rule: dict[str, Any], scopes: list[str]) -> bool:
    conditions = _object(rule.get("conditions"))
    people = _object(conditions.get("people"))
    users = _object(people.get("users")).get("include") or []
    groups = _object(people.get("groups")).get("include") or []
    if users or any(g != EVERYONE for g in groups):
        return False
    allowed = _object(conditions.get("scopes")).get("include") or []
    grants = _object(conditions.get("grantTypes")).get("include") or []
    return CLIENT_CREDENTIALS in grants and (ANY_SCOPE in allowed or all(s in allowed for s in scopes))


def evaluate(store: Store, client_id: str, scopes: list[str]) -> dict[str, Any]:
    """Return the first matching rule's document for a client_credentials request, or raise the OAuth error."""
    for policy in _ordered_active(store.list_documents("policies")):
        include = _object(_object(policy.doc.get("conditions")).get("clients")).get("include") or []
        if client_id not in include and ALL_CLIENTS not in include:
            continue
        for rule in _ordered_active(store.list_documents("rules", policy.id)):
            if _rule_allows(rule.doc, scopes):
                return rule.doc
    # Whether the client is in no policy, or in one whose rules do not grant these scopes, Okta says the same.
    raise OAuthError(400, "access_denied", NO_POLICY)


# --- the API -------------------------------------------------------------------------------------------


def _policy(ctx: Context, policy_id: str) -> Document:
    item = ctx.store.get_document("policies", policy_id)
    if item is None:
        raise not_found(policy_id, "AuthorizationServerPolicy")
    return item


def _lifecycle(ctx: Context, method: str, table: str, item_id: str, action: str, parent: str | None) -> Answer:
    if method != "POST":
        raise method_not_allowed()
    status = "ACTIVE" if action == "activate" else "INACTIVE"
    if not ctx.store.set_document_status(table, item_id, status, time.time(), parent):
        raise not_found(item_id, "AuthorizationServerPolicyRule" if table == "rules" else "AuthorizationServerPolicy")
    return Answer(204)


def _rules(ctx: Context, method: str, policy_id: str, rest: list[str], body: bytes) -> Answer:
    _policy(ctx, policy_id)
    if not rest:
        if method == "GET":
            items = sorted(ctx.store.list_documents("rules", policy_id), key=lambda i: int(i.doc.get("priority", 0)))
            return Answer(200, [rule_json(ctx, i) for i in items])
        if method == "POST":
            return Answer(201, rule_json(ctx, create_rule(ctx, policy_id, json_body(body))))
        raise method_not_allowed()
    rule_id = rest[0]
    if len(rest) == 3 and rest[1] == "lifecycle" and rest[2] in ("activate", "deactivate"):
        return _lifecycle(ctx, method, "rules", rule_id, rest[2], policy_id)
    if len(rest) != 1:
        raise not_found("/".join(rest), "Resource")
    if method == "GET":
        item = ctx.store.get_document("rules", rule_id, policy_id)
    elif method == "PUT":
        doc = _rule_doc(json_body(body), None, scope_names(ctx.store))
        item = ctx.store.replace_document("rules", rule_id, doc, time.time(), policy_id)
    elif method == "DELETE":
        if not ctx.store.delete_document("rules", rule_id, policy_id):
            raise not_found(rule_id, "AuthorizationServerPolicyRule")
        return Answer(204)
    else:
        raise method_not_allowed()
    if item is None:
        raise not_found(rule_id, "AuthorizationServerPolicyRule")
    return Answer(200, rule_json(ctx, item))


def _route(ctx: Context, method: str, parts: list[str], body: bytes) -> Answer:
    if len(parts) < 2:
        return handle_server(ctx, method, parts)
    if parts[0] != AUTH_SERVER_ID:
        raise not_found(parts[0], "AuthorizationServer")
    if parts[1] == "scopes":
        return handle_scopes(ctx, method, parts[2:], body)
    if parts[1] != "policies":
        raise not_found("/".join(parts), "Resource")
    rest = parts[2:]
    if not rest:
        if method == "GET":
            items = sorted(ctx.store.list_documents("policies"), key=lambda i: int(i.doc.get("priority", 0)))
            return Answer(200, [policy_json(ctx, i) for i in items])
        if method == "POST":
            return Answer(201, policy_json(ctx, create_policy(ctx, json_body(body))))
        raise method_not_allowed()
    policy_id = rest[0]
    if len(rest) >= 2 and rest[1] == "rules":
        return _rules(ctx, method, policy_id, rest[2:], body)
    if len(rest) == 3 and rest[1] == "lifecycle" and rest[2] in ("activate", "deactivate"):
        return _lifecycle(ctx, method, "policies", policy_id, rest[2], None)
    if len(rest) != 1:
        raise not_found("/".join(rest), "Resource")
    if method == "GET":
        return Answer(200, policy_json(ctx, _policy(ctx, policy_id)))
    if method == "PUT":
        replaced = ctx.store.replace_document("policies", policy_id, _policy_doc(json_body(body), None), time.time())
        if replaced is None:
            raise not_found(policy_id, "AuthorizationServerPolicy")
        return Answer(200, policy_json(ctx, replaced))
    if method == "DELETE":
        if not ctx.store.delete_document("policies", policy_id):
            raise not_found(policy_id, "AuthorizationServerPolicy")
        return Answer(204)
    raise method_not_allowed()


def handle_policies(ctx: Context, req: Request) -> Answer:
    """Rate-limit, authenticate and route one /api/v1/authorizationServers* request; headers on every answer."""
    decision = ctx.policies_limiter.check(ctx.apps_rate_limit)
    try:
        if not decision.allowed:
            raise rate_limited()
        apiauth.authorize(ctx, req, (AUTH_SERVERS_READ, AUTH_SERVERS_MANAGE), (AUTH_SERVERS_MANAGE,))
        parts = [p for p in req.path[len(PREFIX) :].split("/") if p]
        answer = _route(ctx, req.method, parts, req.body)
    except OktaApiError as exc:
        return Answer(exc.status, exc.body(), {**exc.headers, **decision.headers()})
    return Answer(answer.status, answer.body, {**answer.headers, **decision.headers()})

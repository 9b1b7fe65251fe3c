"""Admin roles: custom roles, resource sets and role assignments to client apps (Okta's Roles API, as far as a
least-privilege service app needs it).

  GET/POST      /api/v1/iam/roles                         POST answers 200 (IamRole); GET {"roles": [...]}
  GET           /api/v1/iam/roles/{roleIdOrLabel}
  GET           /api/v1/iam/roles/{roleIdOrLabel}/permissions                  {"permissions": [...]}
  POST/DELETE   /api/v1/iam/roles/{roleIdOrLabel}/permissions/{permissionType}  204
  GET/POST      /api/v1/iam/resource-sets                 POST answers 200; GET {"resource-sets": [...]}
  GET           /api/v1/iam/resource-sets/{resourceSetIdOrLabel}
  GET/PATCH     /api/v1/iam/resource-sets/{id}/resources  PATCH {"additions": [...]} answers the resource set
  DELETE        /api/v1/iam/resource-sets/{id}/resources/{resourceId}  204
  GET           /api/v1/iam/resource-sets/{id}/bindings   the custom roles assigned with this resource set
  GET/POST      /oauth2/v1/clients/{clientId}/roles       a standard role ({"type": "APP_ADMIN"}) or a custom one
                                                          ({"type": "CUSTOM", "role": ..., "resource-set": ...})
  GET/DELETE    /oauth2/v1/clients/{clientId}/roles/{roleAssignmentId}

Reads need okta.roles.read or .manage, writes .manage. An org started with custom roles off (`--no-custom-roles`:
orgs without the feature) answers every /api/v1/iam call and every CUSTOM assignment with 403 E0000015.
Unlike Okta, the roles are recorded, not enforced: a service app's token acts by its grants alone.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote

from okta_local import apiauth
from okta_local.context import ROLES_MANAGE, ROLES_READ, Answer, Context, Request, iso
from okta_local.credentials import new_id
from okta_local.errors import OktaApiError, json_body, method_not_allowed, not_found, validation_failed
from okta_local.store import Document

IAM_PREFIX = "/api/v1/iam"
CLIENTS_PREFIX = "/oauth2/v1/clients"
ROLE, RESOURCE_SET, ASSIGNMENT = "iam_role", "resource_set", "client_role"
# Standard roles a client app may hold (Okta's StandardRoleAssignmentSchema), with the label Okta shows.
STANDARD_ROLES = {
    "SUPER_ADMIN": "Super Administrator",
    "ORG_ADMIN": "Organizational Administrator",
    "APP_ADMIN": "Application Administrator",
    "API_ACCESS_MANAGEMENT_ADMIN": "API Access Management Administrator",
    "USER_ADMIN": "Group Administrator",
    "GROUP_MEMBERSHIP_ADMIN": "Group Membership Administrator",
    "HELP_DESK_ADMIN": "Help Desk Administrator",
    "READ_ONLY_ADMIN": "Read-only Administrator",
    "REPORT_ADMIN": "Report Administrator",
}
# Okta's custom-role permissions this server knows (a subset of Okta's permissions catalogue).
PERMISSIONS = (
    "okta.apps.read",
    "okta.apps.manage",
    "okta.apps.assignment.manage",
    "okta.authzServers.read",
    "okta.authzServers.manage",
    "okta.groups.read",
    "okta.users.read",
)
ORN_PREFIX = "orn:okta:"
MAX_LABEL = 255


def _feature_off() -> OktaApiError:
    return OktaApiError(403, "E0000015", "You do not have permission to access the feature you are requesting")


def _hint(href: str, *methods: str) -> dict[str, Any]:
    return {"href": href, "hints": {"allow": list(methods)}}


def _find(ctx: Context, kind: str, id_or_label: str, what: str) -> Document:
    item = ctx.store.get_object(kind, id_or_label)
    if item is None:
        item = next((i for i in ctx.store.list_objects(kind) if i.doc.get("label") == id_or_label), None)
    if item is None:
        raise not_found(id_or_label, what)
    return item


def _label(body: dict[str, Any], kind: str, ctx: Context, causes: list[str]) -> str:
    label = body.get("label")
    if not isinstance(label, str) or not label.strip():
        causes.append("label: The field cannot be left blank")
        return ""
    if len(label) > MAX_LABEL:
        causes.append(f"label: The field is too long (at most {MAX_LABEL} characters)")
    if any(i.doc.get("label") == label for i in ctx.store.list_objects(kind)):
        causes.append(f"label: {label} is already in use")
    return label


# --- custom roles ------------------------------------------------------------------------------------------


def _role_json(ctx: Context, item: Document) -> dict[str, Any]:
    href = f"{ctx.base_url}{IAM_PREFIX}/roles/{item.id}"
    return {
        "id": item.id,
        "label": item.doc["label"],
        "description": item.doc["description"],
        "created": iso(item.created),
        "lastUpdated": iso(item.last_updated),
        "_links": {"self": {"href": href}, "permissions": {"href": f"{href}/permissions"}},
    }


def _permission_json(ctx: Context, item: Document, permission: str) -> dict[str, Any]:
    href = f"{ctx.base_url}{IAM_PREFIX}/roles/{item.id}"
    return {
        "label": permission,
        "created": iso(item.created),
        "lastUpdated": iso(item.last_updated),
        "_links": {"self": {"href": f"{href}/permissions/{permission}"}, "role": {"href": href}},
    }


def _permissions(value: object, causes: list[str]) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
        causes.append("permissions: a non-empty list of permission names")
        return []
    unknown = [p for p in value if p not in PERMISSIONS]
    if unknown:
        causes.append(f"permissions: unknown permissions: {', '.join(unknown)}")
    return list(dict.fromkeys(value))


def _created(ctx: Context, kind: str, id_prefix: str, doc: dict[str, Any], causes: list[str]) -> Document:
    """A new object of this kind from a validated request body (E0000001 with every cause if it was not)."""
    if causes:
        raise validation_failed(*causes)
    now = time.time()
    item = Document(new_id(id_prefix), doc, now, now)
    ctx.store.insert_object(kind, item)
    return item


def _roles(ctx: Context, method: str, rest: list[str], body: bytes) -> Answer:
    if not rest:
        if method == "GET":
            return Answer(200, {"roles": [_role_json(ctx, i) for i in ctx.store.list_objects(ROLE)], "_links": {}})
        if method != "POST":
            raise method_not_allowed()
        data, causes = json_body(body), list[str]()
        label = _label(data, ROLE, ctx, causes)
        description = data.get("description")
        if not isinstance(description, str) or not description.strip():
            causes.append("description: The field cannot be left blank")
        permissions = _permissions(data.get("permissions"), causes)
        doc = {"label": label, "description": description, "permissions": permissions}
        return Answer(200, _role_json(ctx, _created(ctx, ROLE, "cr0", doc, causes)))
    item = _find(ctx, ROLE, unquote(rest[0]), "CustomRole")
    if len(rest) == 1:
        if method != "GET":
            raise method_not_allowed()
        return Answer(200, _role_json(ctx, item))
    if rest[1] != "permissions" or len(rest) > 3:
        raise not_found("/".join(rest), "Resource")
    held = list(item.doc["permissions"])
    if len(rest) == 2:
        if method != "GET":
            raise method_not_allowed()
        return Answer(200, {"permissions": [_permission_json(ctx, item, p) for p in held]})
    permission = rest[2]
    if method == "GET":
        if permission not in held:
            raise not_found(permission, "Permission")
        return Answer(200, _permission_json(ctx, item, permission))
    if method == "POST":
        refusals: list[str] = []
        _permissions([permission], refusals)
        if refusals:
            raise validation_failed(*refusals)
        held = list(dict.fromkeys([*held, permission]))
    elif method == "DELETE":
        if permission not in held:
            raise not_found(permission, "Permission")
        held.remove(permission)
    else:
        raise method_not_allowed()
    ctx.store.replace_object(ROLE, item.id, {**item.doc, "permissions": held}, time.time())
    return Answer(204)


# --- resource sets -----------------------------------------------------------------------------------------


def _resource_ok(ctx: Context, value: object) -> bool:
    """An ORN, or a REST URL of this org's apps or authorization servers."""
    if not isinstance(value, str) or not value:
        return False
    if value.startswith(ORN_PREFIX):
        return True
    prefixes = (f"{ctx.base_url}/api/v1/apps", f"{ctx.base_url}/api/v1/authorizationServers")
    return any(value == p or value.startswith(p + "/") or value.startswith(p + "?") for p in prefixes)


def _resources(ctx: Context, value: object, causes: list[str], empty: bool = False) -> list[dict[str, Any]]:
    if not isinstance(value, list) or (not value and not empty):
        causes.append("resources: a non-empty list of ORNs or REST URLs")
        return []
    bad = [str(v) for v in value if not _resource_ok(ctx, v)]
    if bad:
        causes.append(f"resources: not an ORN or a REST URL of this org's apps or authorization servers: {bad[0]}")
    now = time.time()
    return [{"id": new_id("ire"), "resource": str(v), "created": now} for v in dict.fromkeys(value)]


def _set_json(ctx: Context, item: Document) -> dict[str, Any]:
    href = f"{ctx.base_url}{IAM_PREFIX}/resource-sets/{item.id}"
    return {
        "id": item.id,
        "label": item.doc["label"],
        "description": item.doc["description"],
        "created": iso(item.created),
        "lastUpdated": iso(item.last_updated),
        "_links": {
            "self": {"href": href},
            "resources": {"href": f"{href}/resources"},
            "bindings": {"href": f"{href}/bindings"},
        },
    }


def _resource_json(ctx: Context, item: Document, resource: dict[str, Any]) -> dict[str, Any]:
    value = str(resource["resource"])
    body: dict[str, Any] = {
        "id": resource["id"],
        "created": iso(float(resource["created"])),
        "lastUpdated": iso(float(resource["created"])),
        "_links": {
            "resource": {"href": f"{ctx.base_url}{IAM_PREFIX}/resource-sets/{item.id}/resources/{resource['id']}"},
        },
    }
    if value.startswith(ORN_PREFIX):
        body["orn"] = value
    else:
        body["_links"]["self"] = {"href": value}
    return body


def _resource_sets(ctx: Context, method: str, rest: list[str], body: bytes) -> Answer:
    if not rest:
        if method == "GET":
            items = ctx.store.list_objects(RESOURCE_SET)
            return Answer(200, {"resource-sets": [_set_json(ctx, i) for i in items], "_links": {}})
        if method != "POST":
            raise method_not_allowed()
        data, causes = json_body(body), list[str]()
        label = _label(data, RESOURCE_SET, ctx, causes)
        description = data.get("description")
        if not isinstance(description, str):
            causes.append("description: must be a string")
        resources = _resources(ctx, data.get("resources"), causes)
        doc = {"label": label, "description": description, "resources": resources}
        return Answer(200, _set_json(ctx, _created(ctx, RESOURCE_SET, "iam", doc, causes)))
    item = _find(ctx, RESOURCE_SET, unquote(rest[0]), "ResourceSet")
    if len(rest) == 1:
        if method != "GET":
            raise method_not_allowed()
        return Answer(200, _set_json(ctx, item))
    if rest[1] == "bindings" and len(rest) == 2:
        if method != "GET":
            raise method_not_allowed()
        roles = {a.doc["role"] for a in ctx.store.list_objects(ASSIGNMENT) if a.doc.get("resource-set") == item.id}
        href = f"{ctx.base_url}{IAM_PREFIX}/resource-sets/{item.id}"
        bound = [{"id": r, "_links": {"self": {"href": f"{href}/bindings/{r}"}}} for r in sorted(roles)]
        return Answer(200, {"roles": bound, "_links": {"self": {"href": f"{href}/bindings"}}})
    if rest[1] != "resources" or len(rest) > 3:
        raise not_found("/".join(rest), "Resource")
    resources = list(item.doc["resources"])
    if len(rest) == 2:
        if method == "GET":
            return Answer(200, {"resources": [_resource_json(ctx, item, r) for r in resources], "_links": {}})
        if method != "PATCH":
            raise method_not_allowed()
        problems: list[str] = []
        added = _resources(ctx, json_body(body).get("additions"), problems)
        if problems:
            raise validation_failed(*problems)
        held = {str(r["resource"]) for r in resources}
        resources += [r for r in added if r["resource"] not in held]
        updated = ctx.store.replace_object(RESOURCE_SET, item.id, {**item.doc, "resources": resources}, time.time())
        return Answer(200, _set_json(ctx, updated or item))
    if method != "DELETE":
        raise method_not_allowed()
    kept = [r for r in resources if r["id"] != rest[2]]
    if len(kept) == len(resources):
        raise not_found(rest[2], "ResourceSetResource")
    ctx.store.replace_object(RESOURCE_SET, item.id, {**item.doc, "resources": kept}, time.time())
    return Answer(204)


def handle_iam(ctx: Context, req: Request) -> Answer:
    """Authenticate and route one /api/v1/iam request."""
    apiauth.authorize(ctx, req, (ROLES_READ, ROLES_MANAGE), (ROLES_MANAGE,))
    if not ctx.custom_roles:
        raise _feature_off()
    parts = [p for p in req.path[len(IAM_PREFIX) :].split("/") if p]
    if parts and parts[0] == "roles":
        return _roles(ctx, req.method, parts[1:], req.body)
    if parts and parts[0] == "resource-sets":
        return _resource_sets(ctx, req.method, parts[1:], req.body)
    raise not_found(req.path, "Resource")


# --- role assignments to client apps -----------------------------------------------------------------------


def _assignment_json(ctx: Context, item: Document) -> dict[str, Any]:
    client = str(item.parent)
    doc = item.doc
    body: dict[str, Any] = {
        "id": item.id,
        "label": doc["label"],
        "type": doc["type"],
        "status": "ACTIVE",
        "assignmentType": "CLIENT",
        "created": iso(item.created),
        "lastUpdated": iso(item.last_updated),
        "_links": {"assignee": {"href": f"{ctx.base_url}{CLIENTS_PREFIX}/{client}"}},
    }
    if doc["type"] == "CUSTOM":
        body["role"], body["resource-set"] = doc["role"], doc["resource-set"]
        body["_links"]["role"] = {"href": f"{ctx.base_url}{IAM_PREFIX}/roles/{doc['role']}"}
        body["_links"]["resource-set"] = {"href": f"{ctx.base_url}{IAM_PREFIX}/resource-sets/{doc['resource-set']}"}
    return body


def _new_assignment(ctx: Context, client_id: str, data: dict[str, Any]) -> Document:
    kind = data.get("type")
    held = ctx.store.list_objects(ASSIGNMENT, client_id)
    if kind == "CUSTOM":
        if not ctx.custom_roles:
            raise _feature_off()
        role = _find(ctx, ROLE, str(data.get("role", "")), "CustomRole") if data.get("role") else None
        resource_set = data.get("resource-set")
        found = _find(ctx, RESOURCE_SET, str(resource_set), "ResourceSet") if resource_set else None
        if role is None or found is None:
            raise validation_failed("a CUSTOM role assignment needs role and resource-set")
        doc = {"type": "CUSTOM", "role": role.id, "resource-set": found.id, "label": role.doc["label"]}
        duplicate = any(h.doc.get("role") == role.id and h.doc.get("resource-set") == found.id for h in held)
    elif kind in STANDARD_ROLES:
        doc = {"type": kind, "label": STANDARD_ROLES[str(kind)]}
        duplicate = any(h.doc.get("type") == kind for h in held)
    else:
        raise validation_failed(f"type: must be CUSTOM or one of {', '.join(STANDARD_ROLES)}")
    if duplicate:
        raise OktaApiError(409, "E0000090", "Duplicate role assignment exception.")
    now = time.time()
    item = Document(new_id("irb"), doc, now, now, client_id)
    ctx.store.insert_object(ASSIGNMENT, item)
    return item


def handle_client_roles(ctx: Context, req: Request) -> Answer:
    """Authenticate and route /oauth2/v1/clients/{clientId}/roles[/{roleAssignmentId}]."""
    apiauth.authorize(ctx, req, (ROLES_READ, ROLES_MANAGE), (ROLES_MANAGE,))
    parts = [p for p in req.path[len(CLIENTS_PREFIX) :].split("/") if p]
    if len(parts) < 2 or parts[1] != "roles" or len(parts) > 3:
        raise not_found(req.path, "Resource")
    client_id = parts[0]
    if ctx.store.get_app(client_id) is None:
        raise not_found(client_id, "AppInstance")
    if len(parts) == 2:
        if req.method == "GET":
            return Answer(200, [_assignment_json(ctx, i) for i in ctx.store.list_objects(ASSIGNMENT, client_id)])
        if req.method == "POST":
            return Answer(200, _assignment_json(ctx, _new_assignment(ctx, client_id, json_body(req.body))))
        raise method_not_allowed()
    item = ctx.store.get_object(ASSIGNMENT, parts[2])
    if item is None or item.parent != client_id:
        raise not_found(parts[2], "RoleAssignment")
    if req.method == "GET":
        return Answer(200, _assignment_json(ctx, item))
    if req.method == "DELETE":
        ctx.store.delete_object(ASSIGNMENT, item.id)
        return Answer(204)
    raise method_not_allowed()

"""IAM policies for API Gateway TOKEN authorizers, from the scopes of a verified token."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Each scope opens these routes ("VERB/path" as API Gateway writes them in a methodArn; "GET/" is the root).
HELLO_ROUTES = ("GET/hello", "GET/")
REGISTER_ROUTES = ("POST/register",)


def route_grants(hello_scope: str, register_scope: str) -> dict[str, tuple[str, ...]]:
    """Routes opened by each scope; an empty scope name opens nothing."""
    grants: dict[str, tuple[str, ...]] = {}
    for scope, routes in ((hello_scope, HELLO_ROUTES), (register_scope, REGISTER_ROUTES)):
        if scope:
            grants[scope] = grants.get(scope, ()) + routes
    return grants


def allowed_routes(scopes: tuple[str, ...], grants: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Every route that one of the scopes opens, in a stable order."""
    return tuple(dict.fromkeys(route for scope in scopes for route in grants.get(scope, ())))


def api_prefix(method_arn: str) -> str:
    """`arn:aws:execute-api:REGION:ACCOUNT:API_ID/STAGE` from a methodArn; ValueError if it is not one."""
    parts = method_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "execute-api":
        raise ValueError("not an execute-api ARN")
    api_id, sep, rest = parts[5].partition("/")
    stage = rest.partition("/")[0]
    if not (api_id and sep and stage):
        raise ValueError("execute-api ARN without API id and stage")
    return f"{':'.join(parts[:5])}:{api_id}/{stage}"


def policy_response(
    principal_id: str, effect: str, resources: Sequence[str], context: dict[str, str] | None = None
) -> dict[str, Any]:
    """The authorizer's answer: one statement of `effect` on `resources`, plus a flat string context."""
    response: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": list(resources)}],
        },
    }
    if context:
        response["context"] = context
    return response

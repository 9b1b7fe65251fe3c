"""Scope checks on the authorizer's context; light to import, so every proxy function can use them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from okta_m2m.errors import ForbiddenError, UnknownRouteError
from okta_m2m.tokens._routes import RouteTable
from okta_m2m.tokens._settings import route_table


def require_route_scope(granted_scopes: str | None, method: str, resource: str, table: RouteTable) -> None:
    """Raise ForbiddenError unless a granted scope opens the table's route for this method and template path.

    `resource` is the template path API Gateway reports (`/orders/{id}`), not the path called: the route the
    request reached. A route missing from the table is UnknownRouteError: it opens to no one.
    """
    route = table.route_for(method, resource)
    if route is None:
        raise UnknownRouteError(f"{method} {resource} is not in the route table")
    if route.scopes.isdisjoint((granted_scopes or "").split()):
        raise ForbiddenError(f"no scope granted opens {route}", route.scopes)


def check_route_scope(app: Any, next_middleware: Callable[[Any], Any]) -> Any:
    """Powertools middleware (`app.use(middlewares=[check_route_scope])`): the route's own scope check, from
    ROUTE_SCOPES, behind the authorizer's policy (defence in depth, and the only check under `sam local`, which
    ignores Deny statements)."""
    event = app.current_event
    caller = event.request_context.authorizer.raw_event or {}
    require_route_scope(caller.get("scopes"), event.http_method, event.resource, route_table())
    return next_middleware(app)

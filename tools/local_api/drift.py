"""Drift between a template's `Api` events and its route table (ROUTE_SCOPES), each problem naming the route.

Every `Api` event needs its line in the table (or no token could call it, and the function would refuse it), and
every line needs its event (or the table opens a route the template does not have). A line's binding must match
its event's authorizer: a DPoP line a REQUEST authorizer that sees the Authorization and DPoP headers and is never
cached (a cached Allow would let a proof be used again), a bearer line any other (the TOKEN authorizer). `make test`
runs this on template.yaml; the local API logs it at start.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from samcli.lib.providers.sam_function_provider import SamFunctionProvider

SETTING = "ROUTE_SCOPES"


IMPLICIT_API = "ServerlessRestApi"  # the API SAM makes for Api events that name none
DPOP_HEADERS = frozenset({"authorization", "dpop"})


class Authorizer(NamedTuple):
    """An Api event's authorizer: its name and what its definition in the API's Auth says."""

    name: str
    request: bool  # FunctionPayloadType REQUEST
    headers: frozenset[str]  # Identity.Headers, lower case
    ttl: int | None  # Identity.ReauthorizeEvery (None: API Gateway's default, 300)


def _logical_id(value: Any) -> str:
    return str((value.get("Ref") if isinstance(value, dict) else value) or "")


def _api_auth(stacks: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Each AWS::Serverless::Api's Auth, by logical id."""
    return {
        logical_id: (resource.get("Properties") or {}).get("Auth") or {}
        for stack in stacks
        for logical_id, resource in stack.resources.items()
        if resource.get("Type") == "AWS::Serverless::Api"
    }


def _authorizer(props: dict[str, Any], auth: dict[str, dict[str, Any]]) -> Authorizer | None:
    """The authorizer an Api event's properties give it: its own Auth.Authorizer, else its API's default."""
    api = auth.get(_logical_id(props.get("RestApiId")) or IMPLICIT_API, {})
    name = str((props.get("Auth") or {}).get("Authorizer") or api.get("DefaultAuthorizer") or "NONE")
    if name == "NONE":
        return None
    spec = (api.get("Authorizers") or {}).get(name) or {}
    identity = spec.get("Identity") or {}
    ttl = identity.get("ReauthorizeEvery")
    return Authorizer(
        name,
        str(spec.get("FunctionPayloadType", "TOKEN")).upper() == "REQUEST",
        frozenset(str(h).lower() for h in identity.get("Headers") or ()),
        None if ttl is None else int(ttl),
    )


def api_events(functions: Iterable[Any]) -> list[tuple[str, str, str]]:
    """(METHOD, path, where) of every `Api` event of the functions; `where` names the function and the event."""
    return [(method, path, where) for method, path, where, _ in _api_events(functions)]


def _api_events(functions: Iterable[Any]) -> list[tuple[str, str, str, dict[str, Any]]]:
    found = []
    for function in functions:
        for name, event in (function.events or {}).items():
            props = event.get("Properties") or {}
            if event.get("Type") == "Api":
                method = str(props.get("Method", "")).upper()
                found.append((method, str(props.get("Path", "")), f"{function.name}.{name}", props))
    return found


def binding_problems(route: Any, where: str, authorizer: Authorizer | None) -> list[str]:
    """Why a route's table line and its event's authorizer disagree (none if they agree)."""
    line = f"{SETTING} line {route.line}: {route.line_text} ({where})"
    name = authorizer.name if authorizer else "NONE"
    if not route.dpop:
        if authorizer is not None and authorizer.request:
            return [f"{line} is a bearer route, but its authorizer {name} is a REQUEST authorizer: mark the line DPoP"]
        return []
    if authorizer is None or not authorizer.request:
        return [f"{line} is a DPoP route, but its authorizer {name} is not a REQUEST authorizer"]
    problems = []
    if not DPOP_HEADERS <= authorizer.headers:
        problems.append(f"{line}: its authorizer {name} must take the Authorization and DPoP headers as identity")
    if authorizer.ttl != 0:
        problems.append(f"{line}: its authorizer {name} must have ReauthorizeEvery 0 (a cached Allow reuses a proof)")
    return problems


def route_drift(stacks: Iterable[Any]) -> list[str]:
    """Every difference between the template's `Api` events and the ROUTE_SCOPES its functions see (the table is
    read by the okta_m2m layer package, which must be importable)."""
    from okta_m2m.errors import ConfigError
    from okta_m2m.tokens import parse_route_table, path_shape

    stacks = list(stacks)
    functions = list(SamFunctionProvider(stacks).get_all())
    events = _api_events(functions)
    auth = _api_auth(stacks)
    tables: dict[str, list[str]] = {}
    problems = []
    for function in functions:
        text = ((function.environment or {}).get("Variables") or {}).get(SETTING)
        if text is not None:
            tables.setdefault(str(text), []).append(function.name)
        elif any(event.get("Type") == "Api" for event in (function.events or {}).values()):
            problems.append(f"{function.name} serves Api events but has no {SETTING} to check their scopes with")
    if len(tables) > 1:
        problems.append(f"functions see different {SETTING}: " + "; ".join(", ".join(n) for n in tables.values()))
    for text, names in tables.items():
        try:
            table = parse_route_table(text)
        except ConfigError as exc:
            problems.append(f"{', '.join(names)}: {exc}")
            continue
        declared = set()
        routes = {(r.method, r.shape): r for r in table.routes}
        for method, path, where, props in events:
            try:
                key = (method, path_shape(path))
            except ValueError as exc:
                problems.append(f"{method} {path} ({where}): the path {exc}")
                continue
            declared.add(key)
            if key not in routes:
                problems.append(f"{method} {path} ({where}) has no line in {SETTING}")
            else:
                problems += binding_problems(routes[key], where, _authorizer(props, auth))
        for route in table.routes:
            if (route.method, route.shape) not in declared:
                problems.append(f"{SETTING} line {route.line}: {route} is not an Api event of the template")
    return problems

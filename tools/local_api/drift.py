"""Drift between a template's `Api` events and its route table (ROUTE_SCOPES), each problem naming the route.

Every `Api` event needs its line in the table (or no token could call it, and the function would refuse it), and
every line needs its event (or the table opens a route the template does not have). `make test` runs this on
template.yaml; the local API logs it at start.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from samcli.lib.providers.sam_function_provider import SamFunctionProvider

SETTING = "ROUTE_SCOPES"


def api_events(functions: Iterable[Any]) -> list[tuple[str, str, str]]:
    """(METHOD, path, where) of every `Api` event of the functions; `where` names the function and the event."""
    found = []
    for function in functions:
        for name, event in (function.events or {}).items():
            props = event.get("Properties") or {}
            if event.get("Type") == "Api":
                method = str(props.get("Method", "")).upper()
                found.append((method, str(props.get("Path", "")), f"{function.name}.{name}"))
    return found


def route_drift(stacks: Iterable[Any]) -> list[str]:
    """Every difference between the template's `Api` events and the ROUTE_SCOPES its functions see (the table is
    read by the okta_m2m layer package, which must be importable)."""
    from okta_m2m.errors import ConfigError
    from okta_m2m.tokens import parse_route_table, path_shape

    functions = list(SamFunctionProvider(list(stacks)).get_all())
    events = api_events(functions)
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
        for method, path, where in events:
            try:
                key = (method, path_shape(path))
            except ValueError as exc:
                problems.append(f"{method} {path} ({where}): the path {exc}")
                continue
            declared.add(key)
            if key not in {(r.method, r.shape) for r in table.routes}:
                problems.append(f"{method} {path} ({where}) has no line in {SETTING}")
        for route in table.routes:
            if (route.method, route.shape) not in declared:
                problems.append(f"{SETTING} line {route.line}: {route} is not an Api event of the template")
    return problems

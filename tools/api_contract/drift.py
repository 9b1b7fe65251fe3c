"""What differs between openapi.yaml and the document its sources give, each difference naming its route."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 160 else text[:157] + "..."


def _operations(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for path, item in (document.get("paths") or {}).items():
        for method, operation in (item or {}).items():
            if method in METHODS:
                found[f"{method.upper()} {path}"] = operation or {}
    return found


def _operation_drift(route: str, committed: Mapping[str, Any], built: Mapping[str, Any]) -> list[str]:
    problems = []
    for key in sorted(set(committed) | set(built)):
        if key == "responses":
            ours, theirs = committed.get(key) or {}, built.get(key) or {}
            for status in sorted(set(ours) | set(theirs)):
                if status not in ours:
                    problems.append(f"{route}: openapi.yaml lacks the {status} answer ({_short(theirs[status])})")
                elif status not in theirs:
                    problems.append(f"{route}: openapi.yaml declares a {status} answer its sources do not give")
                elif ours[status] != theirs[status]:
                    a, b = ours[status] or {}, theirs[status] or {}
                    for part in sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)):
                        problems.append(
                            f"{route}: the {status} answer differs in {part}: openapi.yaml has {_short(a.get(part))}, "
                            f"its sources give {_short(b.get(part))}"
                        )
        elif committed.get(key) != built.get(key):
            problems.append(
                f"{route}: {key} differs: openapi.yaml has {_short(committed.get(key))}, "
                f"its sources give {_short(built.get(key))}"
            )
    return problems


def document_drift(committed: Mapping[str, Any], built: Mapping[str, Any]) -> list[str]:
    """Every difference between the committed document and the built one: by route, then the rest by section."""
    problems = []
    ours, theirs = _operations(committed), _operations(built)
    for route in sorted(set(ours) | set(theirs)):
        if route not in ours:
            problems.append(f"{route}: an Api event of the template, missing from openapi.yaml")
        elif route not in theirs:
            problems.append(f"{route}: in openapi.yaml, but not an Api event of the template")
        else:
            problems += _operation_drift(route, ours[route], theirs[route])
    for key in sorted((set(committed) | set(built)) - {"paths", "components"}):
        if committed.get(key) != built.get(key):
            problems.append(f"{key} differs from its sources")
    components: tuple[Mapping[str, Any], Mapping[str, Any]] = (
        committed.get("components") or {},
        built.get("components") or {},
    )
    for section in sorted(set(components[0]) | set(components[1])):
        a, b = components[0].get(section) or {}, components[1].get(section) or {}
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name):
                problems.append(f"components.{section}.{name} differs from its sources: {_short(b.get(name))}")
    return problems

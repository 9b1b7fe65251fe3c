"""The route table (ROUTE_SCOPES): which scopes open which route of the API, read once per container.

One route a line, `[BINDING] METHOD PATH SCOPE [SCOPE ...]`, PATH written as in the template's `Api` events. BINDING
is how callers hold their token: `Bearer` (the default, so a line without it is a bearer route, as lines always
were) or `DPoP` (a sender-constrained token, with a proof of its key on every request: RFC 9449). No method is
called either, so the first field tells them apart. Light to import (no cryptography, no Powertools), so that the
authorizer and every proxy function can use it.
"""

# No `from __future__ import annotations` here: see okta_m2m/tokens/__init__.py (NamedTuples, cold start).

import re
from collections.abc import Iterable
from typing import NamedTuple

from okta_m2m.errors import ConfigError
from okta_m2m.tokens._issuers import table_lines

# The verbs API Gateway puts in a methodArn; ANY stands for those a resource has no method of its own for.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
ANY = "ANY"
# The bindings a line may start with, by their upper-case spelling; a line without one is BEARER.
BEARER, DPOP = "Bearer", "DPoP"
BINDINGS = {"BEARER": BEARER, "DPOP": DPOP}
# A literal path part holds no IAM wildcard (* or ?), no brace and no slash; {name} is one part; {name+} (greedy)
# is one or more parts and only ever the last.
_LITERAL = re.compile(r"[A-Za-z0-9._~:@!$&'()+,;=-]+")
_PARAM = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_GREEDY = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\+\}")
PARAM, GREEDY = "{}", "{+}"  # path parts of a route's shape, whatever the parameter is called


class Route(NamedTuple):
    """One line of the table: a route, the scopes that open it, and what it looks like to IAM."""

    method: str  # one of METHODS, or ANY
    path: str  # as written in the template: /orders/{id}
    scopes: frozenset[str]
    line: int
    shape: tuple[str, ...]  # path parts, parameters as PARAM or GREEDY: ("orders", "{}")
    verbs: tuple[str, ...]  # the verbs that reach this route (ANY: those with no route of their own on the path)
    resource_path: str  # the path as an execute-api resource: each parameter is `*`; the root stays `/`
    binding: str = BEARER  # BEARER or DPOP: which authorizer the template gives the route

    @property
    def dpop(self) -> bool:
        """Whether callers of this route hold DPoP-bound tokens and prove their key on every request."""
        return self.binding == DPOP

    @property
    def allow_resource(self) -> str:
        """`VERB/path` after the stage in an execute-api ARN; ANY is `*` for the verb."""
        return ("*" if self.method == ANY else self.method) + self.resource_path

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def line_text(self) -> str:
        """The route as its table line says it, binding first where it is not the default (for messages)."""
        return f"{self.binding} {self}" if self.dpop else str(self)


class RouteTable:
    """The routes of the API, in the order the table lists them."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = tuple(routes)
        self._by_key = {(r.method, r.shape): r for r in self.routes}
        self._taken: dict[tuple[tuple[str, ...], str], tuple[tuple[str, ...], ...]] = {}
        # What `preferred` compares, by kind of path part; the same kinds for a verb give the same routes.
        self._by_kinds: dict[tuple[tuple[int, ...], str], tuple[tuple[str, ...], ...]] = {}
        self._verb_routes: dict[str, list[tuple[tuple[int, ...], tuple[str, ...]]]] = {}

    def taken_from(self, shape: tuple[str, ...], verb: str) -> tuple[tuple[str, ...], ...]:
        """The template paths of routes for `verb` that API Gateway prefers to `shape` for a request both match."""
        key = (shape, verb)
        found = self._taken.get(key)
        if found is None:
            # Only the kinds of the parts count (preferred), and a table has few patterns of kinds: a policy for 50
            # routes asks for hundreds of (shape, verb) pairs, but scans the table once per pattern and verb.
            kinds = _kinds(shape)
            found = self._by_kinds.get((kinds, verb))
            if found is None:
                found = self._by_kinds[kinds, verb] = tuple(
                    other for other_kinds, other in self._of_verb(verb) if _preferred_kinds(other_kinds, kinds)
                )
            self._taken[key] = found
        return found

    def _of_verb(self, verb: str) -> list[tuple[tuple[int, ...], tuple[str, ...]]]:
        # The kinds and template path of each route a request with this verb may reach, in table order.
        found = self._verb_routes.get(verb)
        if found is None:
            found = self._verb_routes[verb] = [(_kinds(r.shape), r.shape) for r in self.routes if verb in r.verbs]
        return found

    def opened_by(self, scopes: Iterable[str]) -> tuple[Route, ...]:
        """Every route one of the scopes opens, in table order."""
        granted = frozenset(scopes)
        return tuple(route for route in self.routes if route.scopes & granted)

    def route_for(self, method: str, path: str) -> Route | None:
        """The route a request reached: the method's own route on that template path, else the path's ANY route."""
        try:
            shape = path_shape(path)
        except ValueError:
            return None
        return self._by_key.get((method.upper(), shape)) or self._by_key.get((ANY, shape))


_RANK = {PARAM: 1, GREEDY: 2}  # how API Gateway ranks path parts: a literal part (0), then a parameter, then greedy


def _kinds(shape: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(_RANK.get(part, 0) for part in shape)


def _preferred_kinds(kinds: tuple[int, ...], other: tuple[int, ...]) -> bool:
    """Whether API Gateway sends a request matching two template paths, of these kinds of parts, to the first rather
    than to the other: at the first part where they differ in kind, the more specific kind (the lower rank) wins."""
    common = min(len(kinds), len(other))
    return kinds[:common] < other[:common]


def path_shape(path: str) -> tuple[str, ...]:
    """The parts of a template path, parameters generalised; ValueError if it is not one."""
    if path == "/":
        return ()
    if not path.startswith("/"):
        raise ValueError("does not start with /")
    parts = path[1:].split("/")
    shape = []
    for i, part in enumerate(parts):
        if _PARAM.fullmatch(part):
            shape.append(PARAM)
        elif _GREEDY.fullmatch(part):
            if i != len(parts) - 1:
                raise ValueError("a greedy {name+} part must be the last")
            shape.append(GREEDY)
        elif _LITERAL.fullmatch(part):
            shape.append(part)
        else:
            raise ValueError(f"{part!r} is not a path part" if part else "has an empty part")
    return tuple(shape)


def parse_route_table(text: str, name: str = "ROUTE_SCOPES") -> RouteTable:
    """Read the table; a ConfigError names the line of the first mistake."""
    lines: list[tuple[int, str, str, tuple[str, ...], tuple[str, ...], str]] = []
    seen: dict[tuple[str, tuple[str, ...]], int] = {}
    for number, fields in table_lines(text):
        where = f"setting {name} line {number}"
        binding = BINDINGS.get(fields[0].upper(), "")
        if binding:
            fields = fields[1:]
        if len(fields) < 2:
            raise ConfigError(f"{where}: expected [Bearer|DPoP] METHOD PATH SCOPE [SCOPE ...]")
        method, path, scopes = fields[0].upper(), fields[1], tuple(fields[2:])
        if method not in METHODS and method != ANY:
            raise ConfigError(f"{where}: unknown method {fields[0]!r}")
        if not scopes:
            raise ConfigError(f"{where}: no scope")
        try:
            shape = path_shape(path)
        except ValueError as exc:
            raise ConfigError(f"{where}: path {path!r} {exc}") from None
        first = seen.setdefault((method, shape), number)
        if first != number:
            raise ConfigError(f"{where}: {method} {path} is already listed on line {first}")
        lines.append((number, method, path, shape, scopes, binding or BEARER))
    if not lines:
        raise ConfigError(f"setting {name} lists no route")
    own_verbs: dict[tuple[str, ...], set[str]] = {}
    for _, method, _, shape, _, _ in lines:
        if method != ANY:
            own_verbs.setdefault(shape, set()).add(method)
    return RouteTable(
        Route(
            method=method,
            path=path,
            scopes=frozenset(scopes),
            line=number,
            shape=shape,
            verbs=(method,) if method != ANY else tuple(v for v in METHODS if v not in own_verbs.get(shape, ())),
            resource_path="/" + "/".join("*" if part in (PARAM, GREEDY) else part for part in shape),
            binding=binding,
        )
        for number, method, path, shape, scopes, binding in lines
    )

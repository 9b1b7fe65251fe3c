"""IAM policies for API Gateway TOKEN authorizers, from the routes a verified token's scopes open."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from okta_m2m.routes import GREEDY, PARAM, Route, RouteTable

# Edge classes of the small automata below; a str edge is that one character.
_ANY_CHAR, _NOT_SLASH = 0, 1


class _Nfa:
    """A nondeterministic automaton over characters, just enough for IAM wildcards and template paths."""

    __slots__ = ("edges", "empty")

    def __init__(self) -> None:
        self.edges: list[list[tuple[str | int, int]]] = [[]]
        self.empty: list[list[int]] = [[]]  # moves that read nothing

    def state(self) -> int:
        self.edges.append([])
        self.empty.append([])
        return len(self.edges) - 1

    def chars(self, state: int, text: str) -> int:
        for char in text:
            nxt = self.state()
            self.edges[state].append((char, nxt))
            state = nxt
        return state


def _closure(nfa: _Nfa, states: set[int]) -> frozenset[int]:
    todo = list(states)
    while todo:
        for nxt in nfa.empty[todo.pop()]:
            if nxt not in states:
                states.add(nxt)
                todo.append(nxt)
    return frozenset(states)


def _reads(edge: str | int, char: str) -> bool:
    return edge == char or edge == _ANY_CHAR or (edge == _NOT_SLASH and char != "/")


def _glob_nfa(resource: str) -> tuple[_Nfa, int]:
    """What an execute-api resource matches: IAM's `*` is any run of characters, `/` included."""
    nfa, state = _Nfa(), 0
    for char in resource:
        if char == "*":
            nfa.edges[state].append((_ANY_CHAR, state))
            nxt = nfa.state()
            nfa.empty[state].append(nxt)
            state = nxt
        else:
            state = nfa.chars(state, char)
    return nfa, state


def _path_nfa(verb: str, shape: tuple[str, ...]) -> tuple[_Nfa, int]:
    """`VERB/path` of the requests a template path matches: a parameter is one non-empty path part, a greedy one
    one or more."""
    nfa = _Nfa()
    state = nfa.chars(0, verb + "/")
    for i, part in enumerate(shape):
        if i:
            state = nfa.chars(state, "/")
        if part in (PARAM, GREEDY):
            inside = nfa.state()
            nfa.edges[state].append((_NOT_SLASH, inside))
            nfa.edges[inside].append((_NOT_SLASH, inside))
            if part == GREEDY:
                after_slash = nfa.state()
                nfa.edges[inside].append(("/", after_slash))
                nfa.edges[after_slash].append((_NOT_SLASH, inside))
            state = inside
        else:
            state = nfa.chars(state, part)
    return nfa, state


def _some_string(wanted: list[tuple[_Nfa, int]], unwanted: list[tuple[_Nfa, int]], alphabet: str) -> bool:
    """Whether some string is accepted by every `wanted` automaton and by no `unwanted` one (a search of their
    product, each automaton tracked by the set of states it may be in)."""
    machines = wanted + unwanted
    start = tuple(_closure(nfa, {0}) for nfa, _ in machines)
    seen, todo = {start}, [start]
    while todo:
        current = todo.pop()
        done = all(end in states for (_, end), states in zip(wanted, current, strict=False))
        if done and not any(end in states for (_, end), states in zip(unwanted, current[len(wanted) :], strict=True)):
            return True
        for char in alphabet:
            nxt = tuple(
                _closure(nfa, {t for s in states for edge, t in nfa.edges[s] if _reads(edge, char)})
                for (nfa, _), states in zip(machines, current, strict=True)
            )
            if all(nxt[: len(wanted)]) and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


_KIND = {PARAM: 1, GREEDY: 2}  # how API Gateway ranks path parts: a literal part (0) before a parameter, then greedy


def _preferred(shape: tuple[str, ...], other: tuple[str, ...]) -> bool:
    """Whether API Gateway sends a request matching both template paths to `shape` rather than to `other`."""
    for a, b in zip(shape, other, strict=False):
        ka, kb = _KIND.get(a, 0), _KIND.get(b, 0)
        if ka != kb:
            return ka < kb
    return False


def _may_match(resource: str, target: str) -> bool:
    """Cheap refusal: two `VERB/path` wildcard texts whose literal text differs at the start or at the end."""
    ours, theirs = resource.split("*", 1)[0], target.split("*", 1)[0]
    if not (ours.startswith(theirs) or theirs.startswith(ours)):
        return False
    ours, theirs = resource.rsplit("*", 1)[-1], target.rsplit("*", 1)[-1]
    return ours.endswith(theirs) or theirs.endswith(ours)


def _verbs(resource: str, route: Route) -> tuple[str, ...]:
    verb = resource.partition("/")[0]
    return route.verbs if verb == "*" else tuple(v for v in route.verbs if v == verb)


def _escapes(resource: str, route: Route, verb: str, routes: tuple[Route, ...], covered: tuple[str, ...]) -> bool:
    """Whether `resource` matches a request for `verb` that API Gateway could hand to `route` (its template
    matches, no more specific route of the table takes it) and that none of the `covered` resources matches."""
    if not _may_match(resource, verb + route.resource_path):
        return False
    taken = [r.shape for r in routes if verb in r.verbs and _preferred(r.shape, route.shape)]
    texts = resource + verb + "/\x00" + "".join(route.shape) + "".join("".join(t) for t in taken) + "".join(covered)
    unwanted = [_path_nfa(verb, t) for t in taken] + [_glob_nfa(c) for c in covered]
    return _some_string([_glob_nfa(resource), _path_nfa(verb, route.shape)], unwanted, "".join(set(texts)))


@lru_cache(maxsize=8192)
def _reaches(resource: str, route: Route, routes: tuple[Route, ...]) -> bool:
    return any(_escapes(resource, route, verb, routes, ()) for verb in _verbs(resource, route))


def may_reach(resource: str, route: Route, table: RouteTable) -> bool:
    """Whether an Allow on `resource` (`VERB/path` after the stage) matches some request API Gateway could hand to
    `route`: one its template matches, for one of its verbs, that no more specific route of the table takes."""
    return _reaches(resource, route, table.routes)


def _deny_candidates(allow: str, route: Route, verb: str) -> tuple[str, ...]:
    """Resources that may deny what `allow` opens of `route`: the route's own first, then narrower ones made from
    `allow` (deeper than it, or behind a verb wildcard that crossed a slash)."""
    own = verb + route.resource_path
    rest = allow.partition("/")[2]
    if allow.startswith("*"):
        return (own, f"{verb}/*/{rest}", f"{verb}/{rest}/*", f"{verb}/*/{rest}/*")
    return (own, f"{allow}/*")


def _deny_for(allow: str, route: Route, verb: str, table: RouteTable, opened: frozenset[Route]) -> tuple[str, ...]:
    """The Deny that closes what `allow` opens of `route` for `verb`, shadowing no opened route if one does."""
    candidates = _deny_candidates(allow, route, verb)
    for candidate in candidates:
        covers = not _escapes(allow, route, verb, table.routes, (candidate,))
        if covers and not any(may_reach(candidate, other, table) for other in opened):
            return (candidate,)
    return (candidates[0],)  # the route's own resource always covers it; the shadowed routes are reported


class RouteResources(NamedTuple):
    """What a token's policy names, as `VERB/path` after the stage."""

    allow: tuple[str, ...]
    deny: tuple[str, ...]
    # Opened routes that a Deny also covers in part, where no IAM wildcard can tell them apart (`*` cannot say
    # "one path part"). Fail closed: those requests get 403, and the authorizer logs the routes.
    shadowed: tuple[Route, ...]


def route_resources(table: RouteTable, allowed: Sequence[Route]) -> RouteResources:
    """The resources to Allow for these routes, and those to Deny explicitly.

    IAM's `*` matches any text, `/` included, so an Allow can match requests for other routes of the table
    (`GET/orders/*` matches `GET/orders/1/audit`); each request of a route the token may not call that an Allow
    matches is denied explicitly, and a Deny always wins.
    """
    allow = tuple(dict.fromkeys(route.allow_resource for route in allowed))
    opened = frozenset(allowed)
    deny: dict[str, None] = {}
    for route in table.routes:
        if route in opened:
            continue
        for resource in allow:
            for verb in _verbs(resource, route):
                if _escapes(resource, route, verb, table.routes, ()):
                    deny.update(dict.fromkeys(_deny_for(resource, route, verb, table, opened)))
    shadowed = tuple(route for route in allowed if any(may_reach(d, route, table) for d in deny))
    return RouteResources(allow, tuple(deny), shadowed)


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


def statements(prefix: str, allow: Sequence[str], deny: Sequence[str]) -> tuple[dict[str, Any], ...]:
    """Allow on `allow`, Deny on `deny`, as execute-api resources under prefix; Deny on everything if no Allow."""
    if not allow:
        return ({"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [f"{prefix}/*/*"]},)
    found = [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [f"{prefix}/{r}" for r in allow]}]
    if deny:
        found.append({"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [f"{prefix}/{r}" for r in deny]})
    return tuple(found)


def policy_response(
    principal_id: str, statement: Sequence[dict[str, Any]], context: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The authorizer's answer: the statements, plus a flat context (strings, numbers and booleans)."""
    response: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {"Version": "2012-10-17", "Statement": list(statement)},
    }
    if context:
        response["context"] = context
    return response

"""IAM policies for API Gateway TOKEN authorizers, from the routes a verified token's scopes open."""

# No `from __future__ import annotations` here: see okta_m2m/tokens/__init__.py (NamedTuples, cold start).

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from okta_m2m.tokens._routes import GREEDY, PARAM, Route, RouteTable

# IAM matches a resource such as GET/orders/* against `VERB/path` character by character, `*` matching any text.
# Our resources are whole path parts and `*`s between slashes, so the same match can be made part by part: a `*`
# stands for one or more parts, `/` included between them (one empty part, for the root). The automata below read
# parts (the verb first), which keeps their searches short.
_ANY, _NOT_EMPTY = 0, 1  # edge classes; a str edge is that one part


class _Nfa:
    """A nondeterministic automaton over path parts (no empty moves), with its steps memoised."""

    __slots__ = ("edges", "end", "steps")

    def __init__(self) -> None:
        self.edges: list[list[tuple[str | int, int]]] = [[]]
        self.end = 0
        self.steps: dict[tuple[frozenset[int], str], frozenset[int]] = {}

    def add(self, state: int, edge: str | int, target: int | None = None) -> int:
        if target is None:
            self.edges.append([])
            target = len(self.edges) - 1
        self.edges[state].append((edge, target))
        return target

    def step(self, states: frozenset[int], part: str) -> frozenset[int]:
        key = (states, part)
        found = self.steps.get(key)
        if found is None:
            found = self.steps[key] = frozenset(
                t
                for s in states
                for edge, t in self.edges[s]
                if edge == part or edge == _ANY or (edge == _NOT_EMPTY and part)
            )
        return found


@lru_cache(maxsize=4096)
def _glob_nfa(resource: str) -> _Nfa:
    """What an execute-api resource (`VERB/path`, `*` for whole parts) matches, part by part."""
    nfa, state = _Nfa(), 0
    for part in resource.split("/"):
        if part == "*":
            state = nfa.add(state, _ANY)
            nfa.add(state, _ANY, state)
        else:
            state = nfa.add(state, part)
    nfa.end = state
    return nfa


@lru_cache(maxsize=4096)
def _path_nfa(verbs: tuple[str, ...], shape: tuple[str, ...]) -> _Nfa:
    """`VERB/path` of the requests a template path matches: a parameter is one non-empty part, a greedy one or
    more; the root is one empty part."""
    nfa = _Nfa()
    state = nfa.add(0, verbs[0])
    for verb in verbs[1:]:
        nfa.add(0, verb, state)
    for part in shape or ("",):
        if part in (PARAM, GREEDY):
            state = nfa.add(state, _NOT_EMPTY)
            if part == GREEDY:
                nfa.add(state, _NOT_EMPTY, state)
        else:
            state = nfa.add(state, part)
    nfa.end = state
    return nfa


_FRESH = "\x00"  # stands for every part that no automaton of a search names


def _compatible(a: str | int, b: str | int) -> bool:
    """Whether some one part is read by both edges."""
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, str) or isinstance(b, str):
        part, other = (a, b) if isinstance(a, str) else (b, a)
        return other == _ANY or part != ""
    return True


def _intersect(a: _Nfa, b: _Nfa) -> bool:
    """Whether some part sequence is accepted by both (their product, edge pair by edge pair: no alphabet)."""
    seen, todo = {(0, 0)}, [(0, 0)]
    while todo:
        sa, sb = todo.pop()
        if sa == a.end and sb == b.end:
            return True
        for ea, ta in a.edges[sa]:
            for eb, tb in b.edges[sb]:
                if (ta, tb) not in seen and _compatible(ea, eb):
                    seen.add((ta, tb))
                    todo.append((ta, tb))
    return False


def _some_request(wanted: list[_Nfa], unwanted: list[_Nfa], alphabet: frozenset[str]) -> bool:
    """Whether some part sequence is accepted by every `wanted` automaton and by no `unwanted` one (a search of
    their product, each automaton tracked by the set of states it may be in)."""
    machines = wanted + unwanted
    count = len(wanted)
    start = tuple(frozenset({0}) for _ in machines)
    seen, todo = {start}, [start]
    while todo:
        current = todo.pop()
        if all(m.end in states for m, states in zip(wanted, current, strict=False)) and not any(
            m.end in states for m, states in zip(unwanted, current[count:], strict=True)
        ):
            return True
        for part in alphabet:
            nxt = tuple(m.step(states, part) for m, states in zip(machines, current, strict=True))
            if all(nxt[:count]) and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def _may_match(resource: str, target: str) -> bool:
    """Cheap refusal: two `VERB/path` wildcard texts whose literal text differs at the start or at the end."""
    ours, theirs = resource.split("*", 1)[0], target.split("*", 1)[0]
    if not (ours.startswith(theirs) or theirs.startswith(ours)):
        return False
    ours, theirs = resource.rsplit("*", 1)[-1], target.rsplit("*", 1)[-1]
    return ours.endswith(theirs) or theirs.endswith(ours)


def _verb_groups(resource: str, route: Route, table: RouteTable) -> list[tuple[tuple[str, ...], tuple]]:
    """The route's verbs that `resource` may match, grouped by the more specific routes that take their requests."""
    verb = resource.partition("/")[0]
    groups: dict[tuple, list[str]] = {}
    for v in route.verbs if verb == "*" else [v for v in route.verbs if v == verb]:
        if _may_match(resource, v + route.resource_path):
            groups.setdefault(table.taken_from(route.shape, v), []).append(v)
    return [(tuple(verbs), taken) for taken, verbs in groups.items()]


@lru_cache(maxsize=8192)
def _escapes(
    resource: str, route: Route, verbs: tuple[str, ...], taken: tuple[tuple[str, ...], ...], covered: tuple[str, ...]
) -> bool:
    """Whether `resource` matches a request for one of `verbs` that API Gateway could hand to `route` (its template
    matches, none of the more specific `taken` paths does) and that none of the `covered` resources matches."""
    allow, requests = _glob_nfa(resource), _path_nfa(verbs, route.shape)
    if not _intersect(allow, requests):
        return False  # the common case, and cheap: no search over parts needed
    if not taken and not covered:
        return True
    # Only the exclusions that can meet the requests matter; dropping the others keeps the search small.
    unwanted = [
        m
        for m in [*(_path_nfa(verbs, t) for t in taken), *(_glob_nfa(c) for c in covered)]
        if _intersect(requests, m) and _intersect(allow, m)
    ]
    if not unwanted:
        return True
    parts = {_FRESH, ""}
    for m in (allow, requests, *unwanted):
        parts.update(edge for edges in m.edges for edge, _ in edges if isinstance(edge, str))
    alphabet = frozenset(parts)
    return _some_request([allow, requests], unwanted, alphabet)


def _reaches(resource: str, route: Route, table: RouteTable, covered: tuple[str, ...] = ()) -> bool:
    return any(
        _escapes(resource, route, verbs, taken, covered) for verbs, taken in _verb_groups(resource, route, table)
    )


def may_reach(resource: str, route: Route, table: RouteTable) -> bool:
    """Whether an Allow on `resource` (`VERB/path` after the stage) matches some request API Gateway could hand to
    `route`: one its template matches, for one of its verbs, that no more specific route of the table takes."""
    return _reaches(resource, route, table)


def _deny_candidates(allow: str, route: Route, verb: str) -> tuple[str, ...]:
    """Resources that may deny what `allow` opens of `route`: the route's own first, then narrower ones made from
    `allow` (deeper than it, or behind a verb wildcard that crossed a slash)."""
    own = verb + route.resource_path
    rest = allow.partition("/")[2]
    if allow.startswith("*"):
        return (own, f"{verb}/*/{rest}", f"{verb}/{rest}/*", f"{verb}/*/{rest}/*")
    return (own, f"{allow}/*")


def _deny_for(
    allow: str, route: Route, verb: str, table: RouteTable, opened: frozenset[Route], reaches: "_Reaches"
) -> tuple[str, ...]:
    """The Deny that closes what `allow` opens of `route` for `verb`, shadowing no opened route if one does."""
    own, *narrower = _deny_candidates(allow, route, verb)
    # The route's own resource matches every request of the route: it always covers, if it shadows nothing.
    if not any(reaches(own, other) for other in opened):
        return (own,)
    for candidate in narrower:
        covers = not _reaches(allow, route._replace(verbs=(verb,)), table, (candidate,))
        if covers and not any(reaches(candidate, other) for other in opened):
            return (candidate,)
    return (own,)  # the shadowed routes are reported


class _Reaches:
    """may_reach on one table, memoised for one policy: each Deny is checked against every opened route when it is
    chosen, and again for what it shadows."""

    __slots__ = ("found", "table")

    def __init__(self, table: RouteTable) -> None:
        self.table = table
        self.found: dict[tuple[str, int], bool] = {}

    def __call__(self, resource: str, route: Route) -> bool:
        key = (resource, route.line)  # a table's routes are on lines of their own
        found = self.found.get(key)
        if found is None:
            found = self.found[key] = may_reach(resource, route, self.table)
        return found


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
    reaches = _Reaches(table)
    deny: dict[str, None] = {}
    for route in table.routes:
        if route in opened:
            continue
        for resource in allow:
            for verbs, taken in _verb_groups(resource, route, table):
                if _escapes(resource, route, verbs, taken, ()):
                    for verb in verbs:
                        deny.update(dict.fromkeys(_deny_for(resource, route, verb, table, opened, reaches)))
    shadowed = tuple(route for route in allowed if any(reaches(d, route) for d in deny))
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
    principal_id: str,
    statement: Sequence[dict[str, Any]],
    context: dict[str, Any] | None = None,
    usage_identifier_key: str | None = None,
) -> dict[str, Any]:
    """The authorizer's answer: the statements, a flat context (strings, numbers and booleans), and the API key
    of the caller's usage plan (the API's key source is the authorizer)."""
    response: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {"Version": "2012-10-17", "Statement": list(statement)},
    }
    if context:
        response["context"] = context
    if usage_identifier_key:
        response["usageIdentifierKey"] = usage_identifier_key
    return response

"""IAM policy building for the TOKEN authorizer: exact resources for common shapes, and a property that no policy
ever opens a route the token's scopes do not, evaluated as IAM does (wildcards, Deny wins)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from okta_m2m.tokens._policy import api_prefix, may_reach, policy_response, route_resources, statements
from okta_m2m.tokens._routes import GREEDY, METHODS, PARAM, Route, RouteTable, parse_route_table
from tests.hypothesis_profiles import load_profile

load_profile()

PREFIX = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1"


def test_api_prefix_keeps_region_account_api_and_stage():
    arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1/POST/register"
    assert api_prefix(arn) == "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1"


def test_api_prefix_handles_other_partitions_and_the_root_route():
    arn = "arn:aws-cn:execute-api:cn-north-1:123456789012:abc/prod/GET/"
    assert api_prefix(arn) == "arn:aws-cn:execute-api:cn-north-1:123456789012:abc/prod"


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "arn:aws:lambda:us-east-1:1:function:x",
        "arn:aws:execute-api:us-east-1:1:abc",
        "arn:aws:execute-api:r:1:/v1/GET",
    ],
)
def test_api_prefix_refuses_what_is_not_a_method_arn(arn):
    with pytest.raises(ValueError):
        api_prefix(arn)


def resources(table: str, scopes: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    parsed = parse_route_table(table)
    found = route_resources(parsed, parsed.opened_by(scopes))
    assert found.shadowed == ()
    return found.allow, found.deny


def test_the_template_routes_need_no_deny():
    table = "GET / hello\nGET /hello hello\nPOST /register register"
    assert resources(table, ("hello",)) == (("GET/", "GET/hello"), ())
    assert resources(table, ("register",)) == (("POST/register",), ())
    assert resources(table, ("openid",)) == ((), ())


def test_a_parameter_route_denies_the_deeper_route_its_wildcard_would_open():
    table = "GET /orders/{id} read\nGET /orders/{id}/audit audit"
    assert resources(table, ("read",)) == (("GET/orders/*",), ("GET/orders/*/audit",))
    # The other way round, GET/orders/*/audit matches no request for GET /orders/{id}: nothing to deny.
    assert resources(table, ("audit",)) == (("GET/orders/*/audit",), ())
    assert resources(table, ("read", "audit")) == (("GET/orders/*", "GET/orders/*/audit"), ())


def test_any_is_every_verb_and_denies_the_methods_of_its_path_the_token_may_not_call():
    table = "ANY /orders admin\nGET /orders read\nDELETE /orders/{id} admin"
    assert resources(table, ("admin",)) == (("*/orders", "DELETE/orders/*"), ("GET/orders",))
    # The ANY route's own Deny names only its verbs, so it never covers the GET route the token may call.
    allow, deny = resources(table, ("read",))
    assert allow == ("GET/orders",)
    assert deny == ()


def test_a_greedy_route_denies_the_routes_beneath_it():
    table = "GET /files/{proxy+} files\nGET /files/secret admin\nPOST /files/{name} upload"
    assert resources(table, ("files",)) == (("GET/files/*",), ("GET/files/secret",))


def test_a_literal_route_is_not_denied_for_the_parameter_route_beside_it():
    # API Gateway sends GET /orders/search to its own route, never to GET /orders/{id}.
    table = "GET /orders/search search\nGET /orders/{id} read\nGET /{proxy+} all"
    assert resources(table, ("search",)) == (("GET/orders/search",), ())
    # GET/orders/* also matches GET/orders/a/b, which the greedy route takes: denied deeper than the Allow.
    assert resources(table, ("read",)) == (("GET/orders/*",), ("GET/orders/search", "GET/orders/*/*"))


def test_a_deny_that_also_covers_an_opened_route_is_reported():
    # The greedy Allow (GET/*) reaches GET /orders/{id}, whose requests no IAM wildcard can tell from those of
    # GET /orders/search or from the greedy route's own deeper ones (GET/orders/a/b): both are reported.
    table = parse_route_table("GET /orders/search search\nGET /orders/{id} read\nGET /{proxy+} all")
    found = route_resources(table, table.opened_by(("search", "all")))
    assert found.deny == ("GET/orders/*",)
    assert [str(r) for r in found.shadowed] == ["GET /orders/search", "GET /{proxy+}"]


def test_a_verb_wildcard_that_crosses_a_slash_is_denied_behind_its_verb():
    table = parse_route_table("ANY /orders orders\nGET /{proxy+} all")
    found = route_resources(table, table.opened_by(("orders",)))
    assert found.allow == ("*/orders",)
    assert found.deny == ("GET/*/orders",)  # not GET/*, which would deny GET /orders too
    assert found.shadowed == ()


def test_the_verb_wildcard_can_cross_a_slash_so_it_is_checked_too():
    # */orders also matches GET/tenant/orders, which is another route.
    table = "ANY /orders orders\nGET /{tenant}/orders tenants"
    assert resources(table, ("orders",)) == (("*/orders",), ("GET/*/orders",))


def test_a_token_without_any_route_gets_one_deny_on_everything():
    assert statements(PREFIX, (), ()) == (
        {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [f"{PREFIX}/*/*"]},
    )


def test_policy_response_has_the_api_gateway_shape():
    statement = statements(PREFIX, ("GET/hello",), ("GET/hello/x",))
    response = policy_response("sub1", statement, {"clientId": "c"})
    assert response == {
        "principalId": "sub1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": [f"{PREFIX}/GET/hello"]},
                {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [f"{PREFIX}/GET/hello/x"]},
            ],
        },
        "context": {"clientId": "c"},
    }


# --- the property: a policy never opens a route the token's scopes do not ---------------------------------------

LITERALS = ("a", "b", "orders", "audit", "a-b")
SCOPES = ("s1", "s2", "s3")


@st.composite
def paths(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.sampled_from((*LITERALS, "{id}", "{key}")), max_size=3))
    if draw(st.booleans()) and draw(st.booleans()):
        parts.append("{proxy+}")
    return "/" + "/".join(parts)


@st.composite
def tables(draw: st.DrawFn) -> RouteTable:
    lines, seen = [], set()
    for _ in range(draw(st.integers(1, 8))):
        method, path = draw(st.sampled_from((*METHODS[:3], "ANY"))), draw(paths())
        key = (method, re.sub(r"\{[a-z]+\}", "{}", path))
        if key not in seen:
            seen.add(key)
            lines.append(f"{method} {path} {' '.join(draw(st.lists(st.sampled_from(SCOPES), min_size=1)))}")
    return parse_route_table("\n".join(lines))


RANK = {PARAM: 1, GREEDY: 2}


def template_matches(shape: tuple[str, ...], segments: list[str]) -> bool:
    if shape and shape[-1] == GREEDY:
        return len(segments) >= len(shape) and template_matches(shape[:-1], segments[: len(shape) - 1])
    return len(shape) == len(segments) and all(
        p in (PARAM, GREEDY) or p == s for p, s in zip(shape, segments, strict=True)
    )


def routed(table: RouteTable, request: str) -> Route | None:
    """API Gateway's choice for `VERB/path`: of the routes serving the verb whose template matches, the one whose
    path parts rank first (literal, then parameter, then greedy), part by part from the left."""
    verb, _, path = request.partition("/")
    segments = path.split("/") if path else []
    matching = [r for r in table.routes if verb in r.verbs and template_matches(r.shape, segments)]
    return min(matching, key=lambda r: [RANK.get(p, 0) for p in r.shape], default=None)


def requests_for(route: Route, values: list[str]) -> list[str]:
    """Concrete `VERB/path` strings API Gateway could hand to this route (its methodArn after the stage)."""
    segments = [
        [part]
        if part not in (PARAM, GREEDY)
        else [values[i % len(values)]]
        if part == PARAM
        else values[i % len(values) :][:2] or values[:1]
        for i, part in enumerate(route.shape)
    ]
    path = "/" + "/".join(segment for parts in segments for segment in parts)
    return [verb + path for verb in route.verbs]


def iam_allows(statement: tuple[dict, ...], arn: str) -> bool:
    """IAM's verdict: * is any run of characters, ? one character, an explicit Deny wins over any Allow."""

    def matches(s: dict) -> bool:
        return any(re.fullmatch(re.escape(r).replace(r"\*", ".*").replace(r"\?", "."), arn) for r in s["Resource"])

    if any(s["Effect"] == "Deny" and matches(s) for s in statement):
        return False
    return any(s["Effect"] == "Allow" and matches(s) for s in statement)


def evaluate(table: RouteTable, scopes: list[str], values: list[str]) -> tuple:
    """The token's routes, its policy's resources, and for each sample request: the route it reaches, IAM's verdict."""
    opened = table.opened_by(scopes)
    found = route_resources(table, opened)
    statement = statements(PREFIX, found.allow, found.deny)
    verdicts = [
        (request, routed(table, request), iam_allows(statement, f"{PREFIX}/{request}"))
        for route in table.routes
        for request in requests_for(route, values)
    ]
    return opened, found, verdicts


VALUES = st.lists(st.sampled_from((*LITERALS, "x", "1", "secret")), min_size=1, max_size=4)


@given(table=tables(), scopes=st.lists(st.sampled_from(SCOPES), max_size=2), values=VALUES)
def test_no_policy_opens_a_request_of_a_route_the_token_may_not_call(table, scopes, values):
    opened, found, verdicts = evaluate(table, scopes, values)
    for request, reached, allowed in verdicts:
        if reached not in opened and allowed:
            raise AssertionError(f"{request} reaches {reached}, which {scopes} does not open: {found}")


@given(table=tables(), scopes=st.lists(st.sampled_from(SCOPES), max_size=2), values=VALUES)
def test_every_request_of_an_opened_route_is_allowed_unless_reported_shadowed(table, scopes, values):
    opened, found, verdicts = evaluate(table, scopes, values)
    for request, reached, allowed in verdicts:
        if reached in opened and reached not in found.shadowed:
            assert allowed, f"{request} of {reached} is not allowed"


def test_may_reach_on_samples():
    table = parse_route_table("GET /orders/{id}/audit s\nGET /files/{proxy+} s\nGET /files/top s")
    route, greedy, _ = table.routes
    assert may_reach("GET/orders/*", route, table)
    assert may_reach("*", route, table)
    assert may_reach("*/audit", route, table)
    assert not may_reach("GET/orders/*/items", route, table)
    assert not may_reach("POST/orders/*", route, table)
    assert not may_reach("GET/orders", route, table)
    assert may_reach("GET/files/a/b/c", greedy, table)
    assert may_reach("GET/files/*", greedy, table)
    assert not may_reach("GET/files/top", greedy, table)  # its own route takes it
    assert not may_reach("GET/files", greedy, table)
    assert not may_reach("GET/files/", greedy, table)  # a greedy part is at least one non-empty part

"""The route table (ROUTE_SCOPES): its format, its mistakes, and which route a request reached."""

import pytest

from okta_m2m.errors import ConfigError
from okta_m2m.tokens._routes import METHODS, parse_route_table

TABLE = """
# orders
GET    /orders              orders:read orders:admin
POST   /orders              orders:write
GET    /orders/{id}         orders:read
ANY    /orders/{id}         orders:admin

get /files/{proxy+} files
GET / hello
"""


def test_each_line_is_a_route_with_any_of_its_scopes():
    table = parse_route_table(TABLE)
    assert [str(r) for r in table.routes] == [
        "GET /orders",
        "POST /orders",
        "GET /orders/{id}",
        "ANY /orders/{id}",
        "GET /files/{proxy+}",
        "GET /",
    ]
    assert table.routes[0].scopes == {"orders:read", "orders:admin"}
    assert table.routes[0].line == 3
    assert [str(r) for r in table.opened_by(("orders:read",))] == ["GET /orders", "GET /orders/{id}"]
    assert [str(r) for r in table.opened_by(("profile", "openid"))] == []


def test_resources_as_execute_api_writes_them():
    table = parse_route_table(TABLE)
    assert [r.allow_resource for r in table.routes] == [
        "GET/orders",
        "POST/orders",
        "GET/orders/*",
        "*/orders/*",
        "GET/files/*",
        "GET/",
    ]


def test_any_stands_for_the_verbs_the_path_has_no_route_of_its_own_for():
    table = parse_route_table(TABLE)
    any_route = table.routes[3]
    assert any_route.verbs == tuple(v for v in METHODS if v != "GET")
    assert any_route.resource_path == "/orders/*"
    assert parse_route_table("ANY /x s").routes[0].verbs == METHODS


def test_a_request_finds_its_methods_route_then_the_any_route_of_its_path():
    table = parse_route_table(TABLE)
    assert str(table.route_for("GET", "/orders/{id}")) == "GET /orders/{id}"
    assert str(table.route_for("delete", "/orders/{id}")) == "ANY /orders/{id}"
    assert str(table.route_for("GET", "/orders/{orderId}")) == "GET /orders/{id}"  # the same resource
    assert table.route_for("DELETE", "/orders") is None
    assert table.route_for("GET", "/nowhere") is None
    assert table.route_for("GET", "not a path") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("GET /a s\nFETCH /b s", "line 2: unknown method 'FETCH'"),
        ("GET /a", "line 1: no scope"),
        ("GET", "line 1: expected [Bearer|DPoP] METHOD PATH SCOPE"),
        ("GET a s", "line 1: path 'a' does not start with /"),
        ("GET /a/ s", "line 1: path '/a/' has an empty part"),
        ("GET //a s", "line 1: path '//a' has an empty part"),
        ("GET /a/* s", "line 1: path '/a/*' '*' is not a path part"),
        ("GET /a? s", "is not a path part"),
        ("GET /{proxy+}/a s", "a greedy {name+} part must be the last"),
        ("GET /{1x} s", "is not a path part"),
        ("\n\nGET /a/{id} s\nGET /a/{other} t", "line 4: GET /a/{other} is already listed on line 3"),
        ("get /a s\nGET /a t", "line 2: GET /a is already listed on line 1"),
        ("# nothing\n\n", "lists no route"),
    ],
)
def test_a_malformed_table_is_a_config_error_naming_the_line(text, message):
    with pytest.raises(ConfigError, match="ROUTE_SCOPES") as raised:
        parse_route_table(text)
    assert message in str(raised.value)


def test_a_line_without_a_binding_is_a_bearer_route_as_lines_always_were():
    table = parse_route_table("GET /hello hello\nBearer GET /b s\nDPoP GET /hello/dpop hello\ndpop POST /orders w")
    assert [(str(r), r.binding, r.dpop) for r in table.routes] == [
        ("GET /hello", "Bearer", False),
        ("GET /b", "Bearer", False),
        ("GET /hello/dpop", "DPoP", True),
        ("POST /orders", "DPoP", True),
    ]
    assert [r.line_text for r in table.routes] == ["GET /hello", "GET /b", "DPoP GET /hello/dpop", "DPoP POST /orders"]
    # The binding changes nothing else about the route: its scopes, its policy resource, its place.
    assert table.route_for("POST", "/orders").scopes == frozenset({"w"})
    assert table.routes[2].allow_resource == "GET/hello/dpop"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("DPoP GET /a", "line 1: no scope"),
        ("DPoP /a s", "line 1: unknown method '/a'"),
        ("DPoP DPoP GET /a s", "line 1: unknown method 'DPoP'"),
        ("DPoP", "line 1: expected [Bearer|DPoP] METHOD PATH SCOPE"),
        ("GET /a s\nDPoP GET /a t", "line 2: GET /a is already listed on line 1"),
        ("Bearer DPoP GET /a s", "line 1: unknown method 'DPoP'"),
    ],
)
def test_a_misplaced_binding_is_a_config_error_naming_the_line(text, message):
    with pytest.raises(ConfigError, match="ROUTE_SCOPES") as raised:
        parse_route_table(text)
    assert message in str(raised.value)


def _api_gateway_prefers(shape: tuple[str, ...], other: tuple[str, ...]) -> bool:
    # API Gateway's rule, part by part: at the first part where the two differ in kind, a literal part beats a
    # {parameter}, which beats a {greedy+} one; no difference in kind, no preference.
    rank = {"{}": 1, "{+}": 2}
    for a, b in zip(shape, other, strict=False):
        if rank.get(a, 0) != rank.get(b, 0):
            return rank.get(a, 0) < rank.get(b, 0)
    return False


def test_the_routes_that_take_a_request_first_follow_api_gateways_rule_for_every_path_and_verb():
    table = parse_route_table(
        "GET / s\nGET /a s\nGET /a/{id} s\nPUT /a/{id} s\nGET /a/{id}/b s\nGET /{x} s\nGET /{x}/b s\nANY /{p+} s\n"
        "ANY /a/{p+} s\nDELETE /a/b s\nGET /a/b/{id} s\nPOST /{x}/{y} s\n"
    )
    checked = 0
    for route in table.routes:
        for verb in METHODS:
            expected = tuple(
                other.shape
                for other in table.routes
                if verb in other.verbs and _api_gateway_prefers(other.shape, route.shape)
            )
            assert table.taken_from(route.shape, verb) == expected, (route, verb)
            assert table.taken_from(route.shape, verb) == expected  # and again, from the memo
            checked += bool(expected)
    assert checked > 10  # the table has routes that take others' requests for several verbs

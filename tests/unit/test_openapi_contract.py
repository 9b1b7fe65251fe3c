"""openapi.yaml cannot drift: it is what template.yaml (routes, ROUTE_SCOPES, gateway responses), the layer's error
answers and tools/api_contract/operations.yaml give, and a valid OpenAPI 3.1 document. Each problem names its route."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from api_contract import DOCUMENT, TEMPLATE, build, document_drift, dump, load_source, load_yaml
from okta_m2m.http_errors import ANSWERS
from tests.route_tables import SAM_TEMPLATE_HEAD, TEMPLATE_ROUTES, UNAUTHORIZED_CHALLENGE


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    return load_yaml(DOCUMENT)


@pytest.fixture(scope="module")
def built() -> Any:
    return build()


def operation(document: dict[str, Any], route: str) -> dict[str, Any]:
    method, path = route.split(" ", 1)
    return dict(document["paths"][path][method.lower()])


def test_openapi_yaml_is_what_its_sources_give(committed, built):
    assert built.problems == []
    assert document_drift(committed, built.document) == [], "run `make openapi`"


def test_openapi_yaml_is_written_as_make_openapi_writes_it(built):
    assert DOCUMENT.read_text(encoding="utf-8") == dump(built.document), "run `make openapi`"


def test_openapi_yaml_is_a_valid_openapi_3_1_document(committed):
    assert committed["openapi"].startswith("3.1.")
    validate(committed)


def table_lines() -> list[tuple[str, str, str, list[str]]]:
    """(scheme, method, path, scopes) of each line of the template's route table."""
    found = []
    for line in TEMPLATE_ROUTES.splitlines():
        fields = line.split()
        scheme = "oauth2Dpop" if fields[0] == "DPoP" else "oauth2"
        method, path, *scopes = fields[1:] if scheme == "oauth2Dpop" else fields
        found.append((scheme, method, path, scopes))
    return found


def test_every_route_of_the_route_table_is_an_operation_with_its_binding_and_scopes(committed):
    for scheme, method, path, scopes in table_lines():
        op = operation(committed, f"{method} {path}")
        assert op["security"] == [{scheme: [scope]} for scope in sorted(scopes)], (method, path)
        proof = {"$ref": "#/components/parameters/DPoP"}
        assert (proof in op.get("parameters", [])) == (scheme == "oauth2Dpop"), (method, path)
    schemes = committed["components"]["securitySchemes"]
    for name in ("oauth2", "oauth2Dpop"):
        granted = schemes[name]["flows"]["clientCredentials"]["scopes"]
        assert set(granted) == {s for scheme, _, _, scopes in table_lines() if scheme == name for s in scopes}
    assert any(scheme == "oauth2Dpop" for scheme, *_ in table_lines())


def test_a_dpop_route_is_described_as_rfc_9449_says_a_caller_calls_it(committed):
    dpop = committed["components"]["securitySchemes"]["oauth2Dpop"]
    assert dpop["type"] == "oauth2"
    assert "Authorization: DPoP <token>" in dpop["description"]
    assert "`DPoP` header" in dpop["description"]
    proof = committed["components"]["parameters"]["DPoP"]
    assert (proof["name"], proof["in"], proof["required"]) == ("DPoP", "header", True)
    assert re.fullmatch(proof["schema"]["pattern"], "eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJ4In0.c2ln")
    responses = operation(committed, "GET /hello/dpop")["responses"]
    challenge = responses["401"]["headers"]["WWW-Authenticate"]["$ref"].rsplit("/", 1)[1]
    pattern = committed["components"]["headers"][challenge]["schema"]["pattern"]
    assert re.search(pattern, UNAUTHORIZED_CHALLENGE)  # the template's, as the gateway answers it
    assert not re.search(pattern, 'Bearer error="invalid_token"')
    assert not re.search(pattern, 'Bearer error="invalid_token", DPoP error="invalid_token"')  # no algs
    assert "used before" in responses["401"]["description"]
    assert "replay store" in responses["503"]["description"]
    assert "Retry-After" in responses["503"]["headers"]


def test_every_client_answer_and_the_register_request_have_the_dpop_field(committed):
    schemas = committed["components"]["schemas"]
    assert schemas["RegisterRequest"]["properties"]["dpop"]["type"] == "boolean"
    assert "dpop" not in schemas["RegisterRequest"]["required"]
    for name in ("Registration", "Client", "ClientDetail"):
        assert schemas[name]["properties"]["dpop"] == {"$ref": "#/components/schemas/Dpop"}, name
        assert "dpop" in schemas[name]["required"], name
    assert schemas["ClientPage"]["properties"]["clients"]["items"] == {"$ref": "#/components/schemas/Client"}
    for route in ("PUT /clients/{clientId}", "DELETE /clients/{clientId}"):
        for status, answer in operation(committed, route)["responses"].items():
            if status.startswith("2"):
                assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Client"}


def test_every_route_declares_the_gateways_answers_with_their_headers(committed):
    headers = committed["components"]["headers"]
    for path, item in committed["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            assert {"401", "403", "429", "503"} <= set(responses), (method, path)
            www = responses["401"]["headers"]["WWW-Authenticate"]["$ref"].rsplit("/", 1)[1]
            assert headers[www]["required"] is True
            for status in ("429", "503"):
                ref = responses[status]["headers"]["Retry-After"]["$ref"].rsplit("/", 1)[1]
                assert headers[ref]["required"] is True, (method, path, status)
            assert "Unauthorized" in responses["401"]["x-messages"]


def test_the_functions_error_messages_come_from_the_layer(committed):
    messages = {answer.outcome: answer.message for _, answer in ANSWERS}
    register = operation(committed, "POST /register")["responses"]
    assert messages["okta_unavailable"] in register["502"]["x-messages"]
    assert messages["okta_timeout"] in register["504"]["x-messages"]
    assert register["409"]["x-messages"] == [messages["label_taken"], messages["in_progress"]]
    assert "x-messages" not in operation(committed, "PUT /clients/{clientId}")["responses"]["409"]  # says why
    assert "413" in register and "400" in register
    assert "502" not in operation(committed, "GET /hello")["responses"]  # no fault of Okta's can reach it


def test_only_the_two_answers_that_hand_out_a_secret_have_one_in_their_schema(committed):
    schemas = committed["components"]["schemas"]
    holding = {name for name, schema in schemas.items() if "client_secret" in (schema.get("properties") or {})}
    assert holding == {"Registration", "NewSecret"}
    for route in ("POST /register", "POST /clients/{clientId}/secrets"):
        created = operation(committed, route)["responses"]["201"]
        assert created["headers"]["Cache-Control"] == {"$ref": "#/components/headers/CacheControl"}


# --- drift is named by route ---

TEMPLATE_TEXT = (
    SAM_TEMPLATE_HEAD
    + """\
{table}
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      Auth:
        DefaultAuthorizer: Tokens
        Authorizers:
          Tokens: {{FunctionArn: arn:aws:lambda:us-east-1:123456789012:function:auth, FunctionPayloadType: TOKEN}}
          Proofs:
            FunctionArn: arn:aws:lambda:us-east-1:123456789012:function:auth
            FunctionPayloadType: REQUEST
            Identity: {{Headers: [Authorization, DPoP], ReauthorizeEvery: 0}}
      GatewayResponses:
        UNAUTHORIZED:
          StatusCode: 401
          ResponseParameters:
            Headers:
              WWW-Authenticate: '''{challenge}'''
{extra_header}          ResponseTemplates:
            application/json: '{{"message": "Unauthorized"}}'
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Read: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: "/orders/{{id}}", Method: get{auth}}}}}
"""
)
BEARER_CHALLENGE = 'Bearer error="invalid_token"'

SOURCE: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "orders", "version": "1"},
    "token_url": "https://example.okta.com/oauth2/default/v1/token",
    "scopes": {"orders:read": "Read orders", "orders:admin": "Everything"},
    "path_parameters": {"id": {"schema": {"type": "string"}}},
    "operations": {
        "GET /orders/{id}": {
            "operationId": "getOrder",
            "responses": {"200": {"description": "The order"}},
            "errors": ["invalid_request"],
        }
    },
}


def template(
    tmp_path: Path, *lines: str, no_store: bool = False, dpop: bool = False, challenge: str = BEARER_CHALLENGE
) -> Path:
    """A template with the Orders.Read event, the route table `lines` and the 401 challenge; with `dpop`, the event
    has the REQUEST authorizer a DPoP line asks for."""
    (tmp_path / "code").mkdir(exist_ok=True)
    path = tmp_path / "template.yaml"
    table = "\n".join(f"          {line}" for line in lines)
    extra = "              Cache-Control: \"'no-store'\"\n" if no_store else ""
    auth = ", Auth: {Authorizer: Proofs}" if dpop else ""
    text = TEMPLATE_TEXT.format(
        code=tmp_path / "code", table=table, extra_header=extra, auth=auth, challenge=challenge.replace("'", "''")
    )
    path.write_text(text)
    return path


DPOP_SOURCE: dict[str, Any] = {
    **SOURCE,
    "dpop_token_description": "DPoP-bound tokens: `Authorization: DPoP <token>` and a `DPoP` proof per request.",
    "dpop_proof": {"description": "A DPoP proof for this request", "schema": {"type": "string"}},
}


def test_a_template_in_step_with_its_source_builds_without_problems(tmp_path):
    result = build(template(tmp_path, "GET /orders/{id} orders:read orders:admin"), SOURCE)

    assert result.problems == []
    op = operation(result.document, "GET /orders/{id}")
    assert op["security"] == [{"oauth2": ["orders:admin"]}, {"oauth2": ["orders:read"]}]
    assert op["parameters"] == [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    # 503s are the template's; without them, API Gateway's own AUTHORIZER_FAILURE is a 500.
    assert set(op["responses"]) == {"200", "400", "401", "403", "500"}
    validate(result.document)


def test_an_api_event_without_an_operation_is_named(tmp_path):
    source = copy.deepcopy(SOURCE)
    source["operations"] = {}

    problems = build(template(tmp_path, "GET /orders/{id} orders:read"), source).problems

    assert problems == ["GET /orders/{id} (Orders.Read) has no operation in tools/api_contract/operations.yaml"]


def test_an_operation_without_an_api_event_is_named(tmp_path):
    source = copy.deepcopy(SOURCE)
    source["operations"]["DELETE /orders/{id}"] = copy.deepcopy(source["operations"]["GET /orders/{id}"])

    problems = build(template(tmp_path, "GET /orders/{id} orders:read"), source).problems

    assert problems == ["DELETE /orders/{id}: an operation of operations.yaml that is not an Api event of the template"]


def test_an_event_without_a_line_in_the_route_table_is_named(tmp_path):
    problems = build(template(tmp_path, "GET /elsewhere orders:read"), SOURCE).problems

    assert "GET /orders/{id} (Orders.Read) has no line in ROUTE_SCOPES" in problems


def test_a_scope_change_in_the_route_table_is_named_against_the_committed_document(tmp_path):
    before = build(template(tmp_path, "GET /orders/{id} orders:read"), SOURCE).document
    after = build(template(tmp_path, "GET /orders/{id} orders:admin"), SOURCE).document

    (problem,) = [p for p in document_drift(before, after) if p.startswith("GET /orders/{id}")]

    assert problem.startswith("GET /orders/{id}: security differs: openapi.yaml has")
    assert '"orders:read"' in problem and '"orders:admin"' in problem


def test_a_scope_without_a_description_is_named(tmp_path):
    problems = build(template(tmp_path, "GET /orders/{id} orders:write"), SOURCE).problems

    assert problems == ["GET /orders/{id}: scope orders:write (ROUTE_SCOPES) has no description in operations.yaml"]


def test_a_gateway_response_change_is_named_by_route_and_status(tmp_path):
    before = build(template(tmp_path, "GET /orders/{id} orders:read", no_store=True), SOURCE).document
    after = build(template(tmp_path, "GET /orders/{id} orders:read"), SOURCE).document

    (problem,) = [p for p in document_drift(before, after) if p.startswith("GET /orders/{id}")]

    assert problem.startswith("GET /orders/{id}: the 401 answer differs in headers: openapi.yaml has")
    assert "Cache-Control" in problem


def test_a_route_missing_from_the_committed_document_is_named(tmp_path):
    built = build(template(tmp_path, "GET /orders/{id} orders:read"), SOURCE).document
    committed = copy.deepcopy(built)
    committed["paths"] = {}

    assert (
        document_drift(committed, built)[0]
        == "GET /orders/{id}: an Api event of the template, missing from openapi.yaml"
    )


def test_an_unknown_error_outcome_and_an_error_listed_as_a_response_are_named(tmp_path):
    source = copy.deepcopy(SOURCE)
    source["operations"]["GET /orders/{id}"]["errors"] = ["no_such_outcome"]
    source["operations"]["GET /orders/{id}"]["responses"]["404"] = {"description": "gone"}

    problems = build(template(tmp_path, "GET /orders/{id} orders:read"), source).problems

    assert problems == [
        "GET /orders/{id}: response 404 is an error; list its outcome under `errors`",
        "GET /orders/{id}: error outcome no_such_outcome is not in okta_m2m.http_errors.ANSWERS",
    ]


def test_the_real_source_and_template_are_the_defaults():
    assert load_source()["operations"]
    assert TEMPLATE.name == "template.yaml"


# --- the binding: DPoP routes ---


def test_a_dpop_route_is_described_by_its_binding_the_dpop_scheme_and_the_proof_header(tmp_path):
    path = template(tmp_path, "DPoP GET /orders/{id} orders:read", dpop=True, challenge=UNAUTHORIZED_CHALLENGE)

    result = build(path, DPOP_SOURCE)

    assert result.problems == []
    op = operation(result.document, "GET /orders/{id}")
    assert op["security"] == [{"oauth2Dpop": ["orders:read"]}]
    assert op["parameters"][-1] == {"$ref": "#/components/parameters/DPoP"}
    components = result.document["components"]
    assert components["parameters"]["DPoP"] == {
        "name": "DPoP",
        "in": "header",
        "required": True,
        "description": "A DPoP proof for this request",
        "schema": {"type": "string"},
    }
    scheme = components["securitySchemes"]["oauth2Dpop"]
    assert scheme["description"] == DPOP_SOURCE["dpop_token_description"]
    assert set(scheme["flows"]["clientCredentials"]["scopes"]) == {"orders:read"}
    assert "oauth2" not in components["securitySchemes"]  # no bearer route
    assert op["responses"]["401"]["headers"]["WWW-Authenticate"] == {"$ref": "#/components/headers/WWWAuthenticateDpop"}
    validate(result.document)


def test_a_binding_change_in_the_route_table_is_named_against_the_committed_document(tmp_path):
    before = build(template(tmp_path, "GET /orders/{id} orders:read", challenge=UNAUTHORIZED_CHALLENGE), DPOP_SOURCE)
    path = template(tmp_path, "DPoP GET /orders/{id} orders:read", dpop=True, challenge=UNAUTHORIZED_CHALLENGE)
    after = build(path, DPOP_SOURCE)
    assert before.problems == after.problems == []

    problems = [p for p in document_drift(before.document, after.document) if p.startswith("GET /orders/{id}")]

    assert (
        'GET /orders/{id}: security differs: openapi.yaml has [{"oauth2": ["orders:read"]}], its sources give '
        '[{"oauth2Dpop": ["orders:read"]}]'
    ) in problems
    assert (
        'GET /orders/{id}: parameters differs: openapi.yaml has [{"in": "path", "name": "id", "required": true, '
        '"schema": {"type": "string"}}], its sources give [{"in": "path", "name": "id", "required": true, "schema": '
        '{"type": "string"}}, {"$ref": "#/components/parameters/DPoP"}]'
    ) in problems
    assert any(p.startswith("GET /orders/{id}: the 401 answer differs in headers") for p in problems)


def test_the_committed_dpop_route_with_bearer_security_is_named(committed, built):
    altered = copy.deepcopy(committed)
    operation(altered, "GET /hello/dpop")  # it is there
    altered["paths"]["/hello/dpop"]["get"]["security"] = [{"oauth2": ["hello"]}]

    assert document_drift(altered, built.document) == [
        'GET /hello/dpop: security differs: openapi.yaml has [{"oauth2": ["hello"]}], its sources give '
        '[{"oauth2Dpop": ["hello"]}]'
    ]


def test_a_dpop_route_whose_401_does_not_challenge_dpop_with_its_algorithms_is_named(tmp_path):
    for challenge in (BEARER_CHALLENGE, 'Bearer error="invalid_token", DPoP error="invalid_token"'):
        path = template(tmp_path, "DPoP GET /orders/{id} orders:read", dpop=True, challenge=challenge)

        problems = build(path, DPOP_SOURCE).problems

        assert problems == [
            "GET /orders/{id}: a DPoP route, but its 401 (gateway UNAUTHORIZED) does not challenge DPoP with the "
            f"proof algorithms (WWW-Authenticate: {challenge}; RFC 9449 section 7.1)"
        ]


def test_a_dpop_route_without_its_proof_header_in_operations_yaml_is_named(tmp_path):
    path = template(tmp_path, "DPoP GET /orders/{id} orders:read", dpop=True, challenge=UNAUTHORIZED_CHALLENGE)

    problems = build(path, SOURCE).problems

    assert problems == [
        "GET /orders/{id}: a DPoP route, but operations.yaml has no dpop_proof to describe its DPoP header"
    ]


def test_security_or_a_dpop_header_written_in_operations_yaml_is_named(tmp_path):
    source = copy.deepcopy(DPOP_SOURCE)
    spec = source["operations"]["GET /orders/{id}"]
    spec["security"] = [{"oauth2": ["orders:read"]}]
    spec["parameters"] = [{"name": "DPoP", "in": "header", "required": True, "schema": {"type": "string"}}]

    bearer = build(template(tmp_path, "GET /orders/{id} orders:read"), source).problems
    dpop = build(
        template(tmp_path, "DPoP GET /orders/{id} orders:read", dpop=True, challenge=UNAUTHORIZED_CHALLENGE), source
    ).problems

    assert bearer == [
        "GET /orders/{id}: operations.yaml gives it security; it comes from ROUTE_SCOPES, by its binding",
        "GET /orders/{id}: operations.yaml gives it a DPoP header, but ROUTE_SCOPES makes it a bearer route "
        "(mark its line DPoP)",
    ]
    assert dpop == [
        "GET /orders/{id}: operations.yaml gives it security; it comes from ROUTE_SCOPES, by its binding",
        "GET /orders/{id}: operations.yaml gives it a DPoP header; a DPoP route gets it from dpop_proof",
    ]


def test_a_dpop_line_whose_event_has_the_token_authorizer_is_named(tmp_path):
    path = template(tmp_path, "DPoP GET /orders/{id} orders:read", challenge=UNAUTHORIZED_CHALLENGE)

    problems = build(path, DPOP_SOURCE).problems

    assert problems == [
        "ROUTE_SCOPES line 1: DPoP GET /orders/{id} (Orders.Read) is a DPoP route, but its authorizer Tokens is not "
        "a REQUEST authorizer"
    ]

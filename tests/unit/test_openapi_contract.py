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
from tests.route_tables import TEMPLATE_ROUTES, UNAUTHORIZED_CHALLENGE


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

TEMPLATE_TEXT = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.13
    Handler: app.handler
    CodeUri: {code}
    Environment:
      Variables:
        ROUTE_SCOPES: |
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
      GatewayResponses:
        UNAUTHORIZED:
          StatusCode: 401
          ResponseParameters:
            Headers:
              WWW-Authenticate: '''Bearer error="invalid_token"'''
{extra_header}          ResponseTemplates:
            application/json: '{{"message": "Unauthorized"}}'
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Read: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: "/orders/{{id}}", Method: get}}}}
"""

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


def template(tmp_path: Path, *lines: str, no_store: bool = False) -> Path:
    (tmp_path / "code").mkdir(exist_ok=True)
    path = tmp_path / "template.yaml"
    table = "\n".join(f"          {line}" for line in lines)
    extra = "              Cache-Control: \"'no-store'\"\n" if no_store else ""
    path.write_text(TEMPLATE_TEXT.format(code=tmp_path / "code", table=table, extra_header=extra))
    return path


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

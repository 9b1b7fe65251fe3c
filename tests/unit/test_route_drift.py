"""No drift between template.yaml's Api events and its route table (ROUTE_SCOPES): each problem names the route."""

from __future__ import annotations

from pathlib import Path

import pytest
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

from local_api.drift import route_drift
from tests.route_tables import SAM_TEMPLATE_HEAD, TEMPLATE_ROUTES

ROOT = Path(__file__).resolve().parents[2]
PARAMS = {
    "Issuer": "https://example.okta.com/oauth2/default",
    "OktaOrgUrl": "https://example.okta.com",
    "OktaApiTokenSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:okta-api-token",
}


def drift(template: Path, overrides: dict[str, str] | None = None) -> list[str]:
    stacks, _ = SamLocalStackProvider.get_stacks(str(template), parameter_overrides=overrides or PARAMS)
    return route_drift(stacks)


def test_template_yaml_has_a_line_for_every_api_event_and_an_event_for_every_line():
    assert drift(ROOT / "template.yaml") == []


def test_the_tests_reading_of_the_route_table_is_what_sam_resolves():
    stacks, _ = SamLocalStackProvider.get_stacks(str(ROOT / "template.yaml"), parameter_overrides=PARAMS)
    tables = {
        resource["Properties"]["Environment"]["Variables"]["ROUTE_SCOPES"]
        for stack in stacks
        for resource in stack.resources.values()
        if resource.get("Type") == "AWS::Serverless::Function"
    }
    assert tables == {TEMPLATE_ROUTES}


def test_template_yaml_stays_in_step_when_its_scope_parameters_change():
    assert drift(ROOT / "template.yaml", PARAMS | {"HelloScope": "greet", "RegisterScope": "admin"}) == []


TEMPLATE = (
    SAM_TEMPLATE_HEAD
    + """\
{table}
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties: {{StageName: v1}}
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Read: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: "/orders/{{id}}", Method: get}}}}
        Files: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: "/files/{{proxy+}}", Method: any}}}}
"""
)


def write(tmp_path: Path, *lines: str) -> Path:
    (tmp_path / "code").mkdir(exist_ok=True)
    template = tmp_path / "template.yaml"
    table = "\n".join(f"          {line}" for line in lines)
    template.write_text(TEMPLATE.format(code=tmp_path / "code", table=table))
    return template


def test_a_table_in_step_with_the_events_has_no_drift(tmp_path):
    # The parameter's name does not matter, only its place; ANY is written in any case.
    assert drift(write(tmp_path, "GET /orders/{orderId} read", "ANY /files/{proxy+} files")) == []


def test_an_event_without_a_line_is_named(tmp_path):
    assert drift(write(tmp_path, "GET /orders/{id} read")) == [
        "ANY /files/{proxy+} (Orders.Files) has no line in ROUTE_SCOPES"
    ]


def test_a_line_without_an_event_is_named(tmp_path):
    problems = drift(write(tmp_path, "GET /orders/{id} read", "ANY /files/{proxy+} files", "DELETE /orders/{id} admin"))
    assert problems == ["ROUTE_SCOPES line 3: DELETE /orders/{id} is not an Api event of the template"]


@pytest.mark.parametrize("table", [("GET /orders/{id}",), ("FETCH /orders/{id} read",)])
def test_a_malformed_table_is_drift_too(tmp_path, table):
    (problem,) = drift(write(tmp_path, *table))
    assert "ROUTE_SCOPES line 1" in problem


AUTH_TEMPLATE = (
    SAM_TEMPLATE_HEAD
    + """\
          GET /hello hello
          {binding} GET /hello/dpop hello
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      Auth:
        DefaultAuthorizer: TokenAuth
        Authorizers:
          TokenAuth:
            FunctionArn: arn:aws:lambda:us-east-1:123456789012:function:auth
            Identity: {{Header: Authorization}}
          DpopAuth:
            FunctionArn: arn:aws:lambda:us-east-1:123456789012:function:auth
            FunctionPayloadType: REQUEST
            Identity: {{Headers: [{headers}], ReauthorizeEvery: {ttl}}}
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Hello: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: /hello, Method: get}}}}
        Dpop: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: /hello/dpop, Method: get{auth}}}}}
"""
)


def auth_template(
    tmp_path: Path, binding="DPoP", auth=", Auth: {Authorizer: DpopAuth}", headers="Authorization, DPoP", ttl=0
):
    (tmp_path / "code").mkdir(exist_ok=True)
    template = tmp_path / "template.yaml"
    text = AUTH_TEMPLATE.format(code=tmp_path / "code", binding=binding, auth=auth, headers=headers, ttl=ttl)
    template.write_text(text)
    return template


def test_a_dpop_line_whose_event_has_the_request_authorizer_has_no_drift(tmp_path):
    assert drift(auth_template(tmp_path)) == []


def test_a_dpop_line_whose_event_has_the_token_authorizer_is_drift(tmp_path):
    assert drift(auth_template(tmp_path, auth="")) == [
        "ROUTE_SCOPES line 2: DPoP GET /hello/dpop (Hello.Dpop) is a DPoP route, but its authorizer TokenAuth is not "
        "a REQUEST authorizer"
    ]


def test_a_bearer_line_whose_event_has_the_request_authorizer_is_drift(tmp_path):
    assert drift(auth_template(tmp_path, binding="")) == [
        "ROUTE_SCOPES line 2: GET /hello/dpop (Hello.Dpop) is a bearer route, but its authorizer DpopAuth is a "
        "REQUEST authorizer: mark the line DPoP"
    ]


def test_a_dpop_authorizer_that_caches_or_misses_a_header_is_drift(tmp_path):
    (problem,) = drift(auth_template(tmp_path, ttl=300))
    assert problem.endswith("its authorizer DpopAuth must have ReauthorizeEvery 0 (a cached Allow reuses a proof)")
    (problem,) = drift(auth_template(tmp_path, headers="Authorization"))
    assert problem.endswith("must take the Authorization and DPoP headers as identity")


def test_template_yaml_drifts_if_its_dpop_route_loses_its_marker(tmp_path):
    text = (ROOT / "template.yaml").read_text().replace("DPoP GET /hello/dpop", "GET /hello/dpop")
    for folder in ("functions", "layers"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    (tmp_path / "template.yaml").write_text(text)
    assert drift(tmp_path / "template.yaml") == [
        "ROUTE_SCOPES line 3: GET /hello/dpop (HelloFunction.HelloDpop) is a bearer route, but its authorizer "
        "OktaDpopAuthorizer is a REQUEST authorizer: mark the line DPoP"
    ]

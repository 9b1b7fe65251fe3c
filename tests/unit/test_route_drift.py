"""No drift between template.yaml's Api events and its route table (ROUTE_SCOPES): each problem names the route."""

from __future__ import annotations

from pathlib import Path

import pytest
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

from local_api.drift import route_drift
from tests.route_tables import TEMPLATE_ROUTES

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


TEMPLATE = """\
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
    Properties: {{StageName: v1}}
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Read: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: "/orders/{{id}}", Method: get}}}}
        Files: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: "/files/{{proxy+}}", Method: any}}}}
"""


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

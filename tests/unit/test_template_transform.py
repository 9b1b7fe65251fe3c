"""template.yaml as CloudFormation receives it: SAM's own translator, run offline, and checks of what it makes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from tests.shipped_template import api_events

ROOT = Path(__file__).resolve().parents[2]
PARAMS = {
    "Issuer": "https://example.okta.com/oauth2/default",
    "OktaOrgUrl": "https://example.okta.com",
    "OktaApiTokenSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:okta",
}


class NoManagedPolicies:
    """The translator's IAM lookup of managed policy names; the template names none (it uses ARNs)."""

    def load(self) -> dict[str, str]:
        return {}


def translated(**params: str) -> dict[str, Any]:
    template = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for name in ("CodeUri", "ContentUri"):
            if name in properties:  # what `sam package` does: local paths become S3 objects
                properties[name] = f"s3://artifacts/{resource['Type'].rsplit('::', 1)[-1]}.zip"
    return dict(transform(template, PARAMS | params, NoManagedPolicies()))


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        return dict(translated(AdminClientId="0oaadmin1234567890")["Resources"])


def of_type(resources: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources.values() if r["Type"] == kind]


def test_every_method_needs_the_token_and_an_api_key_named_by_the_authorizer(resources):
    (api,) = of_type(resources, "AWS::ApiGateway::RestApi")
    assert api["Properties"]["ApiKeySourceType"] == "AUTHORIZER"
    paths = api["Properties"]["Body"]["paths"]
    methods = [(path, verb, op) for path, ops in paths.items() for verb, op in ops.items()]
    assert {(verb.upper(), path) for path, verb, _ in methods} == api_events()  # each Api event, nothing else
    for path, verb, operation in methods:
        assert operation["security"] == [{"OktaTokenAuthorizer": []}, {"api_key": []}], (path, verb)


def test_the_usage_plan_limits_each_client_on_the_api_stage(resources):
    plan = resources["ClientUsagePlan"]["Properties"]
    assert plan["ApiStages"] == [{"ApiId": {"Ref": "Api"}, "Stage": {"Ref": "ApiStage"}}]
    assert plan["Throttle"] == {"RateLimit": {"Ref": "ClientRateLimit"}, "BurstLimit": {"Ref": "ClientBurstLimit"}}
    assert plan["Quota"] == {"Limit": {"Ref": "ClientDailyQuota"}, "Period": "DAY"}


def test_the_admin_key_is_derived_as_the_layer_derives_every_clients(resources):
    from okta_m2m.tokens._authorization import KEY_PREFIX

    key = resources["AdminApiKey"]
    assert key["Condition"] == "HasAdminClient"
    assert key["Properties"]["Value"] == {"Fn::Sub": f"{KEY_PREFIX}${{AdminClientId}}"}
    assert resources["AdminUsagePlanKey"]["Properties"]["UsagePlanId"] == {"Ref": "ClientUsagePlan"}


def test_limits_and_unknown_keys_get_short_json_answers(resources):
    (api,) = of_type(resources, "AWS::ApiGateway::RestApi")
    answers = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    for kind in ("THROTTLED", "QUOTA_EXCEEDED"):
        assert str(answers[kind]["statusCode"]) == "429"
        assert "gatewayresponse.header.Retry-After" in answers[kind]["responseParameters"]
    assert str(answers["INVALID_API_KEY"]["statusCode"]) == "403"
    body = json.loads(answers["INVALID_API_KEY"]["responseTemplates"]["application/json"])
    assert "not enrolled" in body["message"] and "revoked" in body["message"]


def test_the_stage_writes_json_access_logs_with_the_client_and_its_key(resources):
    (stage,) = of_type(resources, "AWS::ApiGateway::Stage")
    setting = stage["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["AccessLogGroup", "Arn"]}
    line = json.loads(
        setting["Format"]
        .replace("$context.requestTimeEpoch", "1")
        .replace("$context.status", "200")
        .replace("$context.responseLatency", "5")
    )
    assert {"requestId", "time", "route", "status", "latencyMs", "clientId", "apiKeyId"} <= set(line)
    assert line["clientId"] == "$context.authorizer.clientId"
    assert resources["AccessLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "AccessLogRetentionDays"}


def test_contributor_insights_rank_clients_by_requests_and_errors(resources):
    rules = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::CloudWatch::InsightRule"}
    assert set(rules) == {"TopClientsRule", "TopClientErrorsRule"}
    for rule in rules.values():
        body = json.loads(rule["RuleBody"]["Fn::Sub"].replace("${AccessLogGroup}", "group"))
        assert body["LogGroupNames"] == ["group"]
        assert body["Contribution"]["Keys"][0] == "$.clientId"
    errors = json.loads(rules["TopClientErrorsRule"]["RuleBody"]["Fn::Sub"].replace("${AccessLogGroup}", "g"))
    assert errors["Contribution"]["Filters"] == [{"Match": "$.status", "GreaterThan": 399}]


def test_the_register_function_manages_keys_of_its_own_plan_only(resources):
    function = resources["RegisterFunction"]["Properties"]
    assert function["Environment"]["Variables"]["USAGE_PLAN_ID"] == {"Ref": "ClientUsagePlan"}
    role = resources["RegisterFunctionRole"]["Properties"]
    statements = [
        statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if "apigateway" in json.dumps(statement["Action"])
    ]
    named = json.dumps([statement["Resource"] for statement in statements])
    assert "/usageplans/${ClientUsagePlan}/keys" in named and "::/apikeys" in named
    assert "*" not in json.dumps([statement["Action"] for statement in statements])
    others = [r for name, r in resources.items() if r["Type"] == "AWS::IAM::Role" and name != "RegisterFunctionRole"]
    assert "apigateway:" not in json.dumps(others)

"""template.yaml as CloudFormation receives it: SAM's own translator, run offline, and checks of what it makes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from tests.route_tables import UNAUTHORIZED_CHALLENGE
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
        authorizer = "OktaDpopAuthorizer" if path == "/hello/dpop" else "OktaTokenAuthorizer"
        assert operation["security"] == [{authorizer: []}, {"api_key": []}], (path, verb)


def test_the_dpop_authorizer_sees_both_headers_and_is_never_cached(resources):
    (api,) = of_type(resources, "AWS::ApiGateway::RestApi")
    schemes = api["Properties"]["Body"]["securityDefinitions"]
    dpop = schemes["OktaDpopAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert dpop["type"] == "request"
    assert dpop["identitySource"] == "method.request.header.Authorization, method.request.header.DPoP"
    assert dpop["authorizerResultTtlInSeconds"] == 0  # a cached Allow would skip the replay check
    token = schemes["OktaTokenAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert dpop["authorizerUri"] == token["authorizerUri"]  # one function serves both
    challenge = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]["UNAUTHORIZED"]
    header = challenge["responseParameters"]["gatewayresponse.header.WWW-Authenticate"]
    assert header == f"'{UNAUTHORIZED_CHALLENGE}'"  # both schemes, DPoP's algs, no error code (RFC 6750 3.1)


def test_the_authorizer_may_only_put_items_in_the_replay_table_which_expires_them(resources):
    role = resources["AuthorizerFunctionRole"]["Properties"]
    statements = [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]
    assert statements == [
        {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": {"Fn::GetAtt": ["DpopReplayTable", "Arn"]}}
    ]
    table = resources["DpopReplayTable"]["Properties"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    variables = resources["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["DPOP_REPLAY_TABLE"] == {"Ref": "DpopReplayTable"}


def test_the_usage_plan_limits_each_client_on_the_api_stage(resources):
    plan = resources["ClientUsagePlan"]["Properties"]
    assert plan["ApiStages"] == [{"ApiId": {"Ref": "Api"}, "Stage": {"Ref": "ApiStage"}}]
    assert plan["Throttle"] == {"RateLimit": {"Ref": "ClientRateLimit"}, "BurstLimit": {"Ref": "ClientBurstLimit"}}
    assert plan["Quota"] == {"Limit": {"Ref": "ClientDailyQuota"}, "Period": "DAY"}


def test_the_admin_key_is_derived_as_the_layer_derives_every_clients(resources):
    from okta_m2m.tokens._authorization import KEY_PREFIX

    key = resources["AdminApiKey"]
    assert key["Condition"] == "HasAdminKey"  # an admin client id, and per-client keys
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


def test_the_register_function_manages_keys_of_its_own_plan_only():
    made, conditions = deployed(AdminClientId="0oaadmin1234567890")
    function = made["RegisterFunction"]["Properties"]
    assert picked(function["Environment"]["Variables"]["USAGE_PLAN_ID"], conditions) == {"Ref": "ClientUsagePlan"}
    role = made["RegisterFunctionRole"]["Properties"]
    statements = [
        statement
        for policy in (picked(p, conditions) for p in role["Policies"])
        for statement in policy["PolicyDocument"]["Statement"]
        if "apigateway" in json.dumps(statement["Action"])
    ]
    named = json.dumps([statement["Resource"] for statement in statements])
    assert "/usageplans/${ClientUsagePlan}/keys" in named and "::/apikeys" in named
    assert "*" not in json.dumps([statement["Action"] for statement in statements])
    others = [r for name, r in made.items() if r["Type"] == "AWS::IAM::Role" and name != "RegisterFunctionRole"]
    assert "apigateway:" not in json.dumps(others)


# --- what a deployment makes, by parameter: the conditions CloudFormation evaluates, evaluated here ---


def condition_holds(template: dict[str, Any], params: dict[str, str], name: str) -> bool:
    """CloudFormation's condition functions, on the parameters given (the template's defaults for the rest)."""
    values = {n: str(p["Default"]) for n, p in template["Parameters"].items() if "Default" in p} | params

    def value(node: Any) -> Any:
        if isinstance(node, dict):
            (function, argument), *_ = node.items()
            if function == "Ref":
                return values[argument]
            if function == "Condition":
                return value(template["Conditions"][argument])
            if function == "Fn::Equals":
                return value(argument[0]) == value(argument[1])
            if function == "Fn::Not":
                return not value(argument[0])
            if function == "Fn::And":
                return all(value(a) for a in argument)
            if function == "Fn::Or":
                return any(value(a) for a in argument)
            raise AssertionError(f"unexpected {function} in a condition")
        return node

    return bool(value(template["Conditions"][name]))


def deployed(**params: str) -> tuple[dict[str, Any], dict[str, bool]]:
    """The resources CloudFormation would make from the translated template with these parameters, and the
    value of each condition."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        template = translated(**params)
    values = PARAMS | params
    conditions = {name: condition_holds(template, values, name) for name in template["Conditions"]}
    made = {
        name: resource
        for name, resource in template["Resources"].items()
        if "Condition" not in resource or conditions[resource["Condition"]]
    }
    return made, conditions


def picked(value: Any, conditions: dict[str, bool]) -> Any:
    """Fn::If resolved with the evaluated conditions."""
    if isinstance(value, dict) and "Fn::If" in value:
        name, when_true, when_false = value["Fn::If"]
        return picked(when_true if conditions[name] else when_false, conditions)
    return value


def test_by_default_each_client_has_its_own_key_and_the_register_function_manages_them():
    made, conditions = deployed(AdminClientId="0oaadmin1234567890")

    assert {"ClientUsagePlan", "AdminApiKey", "AdminUsagePlanKey"} <= set(made)
    assert not {"SharedUsagePlan", "SharedApiKey", "SharedUsagePlanKey"} & set(made)
    register_env = made["RegisterFunction"]["Properties"]["Environment"]["Variables"]
    assert picked(register_env["USAGE_PLAN_ID"], conditions) == {"Ref": "ClientUsagePlan"}
    authorizer_env = made["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
    assert picked(authorizer_env["SHARED_API_KEY"], conditions) == ""
    policies = [picked(p, conditions) for p in made["RegisterFunctionRole"]["Properties"]["Policies"]]
    assert "/usageplans/${ClientUsagePlan}/keys" in json.dumps(policies)


def test_without_per_client_keys_every_client_shares_one_unlimited_key_and_none_are_made():
    made, conditions = deployed(AdminClientId="0oaadmin1234567890", PerClientApiKeys="false")

    assert {"SharedUsagePlan", "SharedApiKey", "SharedUsagePlanKey"} <= set(made)
    assert not {"ClientUsagePlan", "AdminApiKey", "AdminUsagePlanKey"} & set(made)
    plan = made["SharedUsagePlan"]["Properties"]
    assert "Throttle" not in plan and "Quota" not in plan  # the Okta access policies alone decide
    assert plan["ApiStages"] == [{"ApiId": {"Ref": "Api"}, "Stage": {"Ref": "ApiStage"}}]
    key = made["SharedApiKey"]["Properties"]
    authorizer_env = made["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
    assert picked(authorizer_env["SHARED_API_KEY"], conditions) == key["Value"]  # the key its Allow names
    register_env = made["RegisterFunction"]["Properties"]["Environment"]["Variables"]
    assert picked(register_env["USAGE_PLAN_ID"], conditions) == ""
    policies = [picked(p, conditions) for p in made["RegisterFunctionRole"]["Properties"]["Policies"]]
    assert "apigateway:" not in json.dumps([p for p in policies if p != {"Ref": "AWS::NoValue"}])
    # every route still requires the key (SAM cannot make that a parameter): the shared one satisfies it
    (api,) = of_type(made, "AWS::ApiGateway::RestApi")
    assert all(
        {"api_key": []} in op["security"] for ops in api["Properties"]["Body"]["paths"].values() for op in ops.values()
    )


def test_the_account_wide_log_role_is_left_alone_unless_asked_for():
    default, default_conditions = deployed()
    assert not {"ApiGatewayLogRole", "ApiGatewayAccount"} & set(default)
    made, conditions = deployed(CreateApiGatewayLogRole="true")
    assert {"ApiGatewayLogRole", "ApiGatewayAccount"} <= set(made)
    # the stage (access logging) waits for the account's role when the stack sets it
    (api_name,) = [name for name, r in made.items() if r["Type"] == "AWS::ApiGateway::RestApi"]
    assert made[api_name]["DependsOn"] == "LogRoleReady"
    handle = made["LogRoleReady"]["Metadata"]["AccountLogRole"]
    assert picked(handle, conditions) == {"Ref": "ApiGatewayAccount"}
    assert picked(handle, default_conditions) == ""


def test_a_recreated_stack_can_attach_the_registry_table_an_earlier_one_left():
    default, conditions = deployed()
    assert default["ClientsTable"]["DeletionPolicy"] == "Retain"  # what is left behind when the stack goes
    assert picked(
        default["RegisterFunction"]["Properties"]["Environment"]["Variables"]["CLIENTS_TABLE"], conditions
    ) == {"Ref": "ClientsTable"}

    made, conditions = deployed(ExistingClientsTable="okta-m2m-api-ClientsTable-1A2B3C4D5E6F")

    assert "ClientsTable" not in made  # no second, empty registry
    env = made["RegisterFunction"]["Properties"]["Environment"]["Variables"]
    assert picked(env["CLIENTS_TABLE"], conditions) == {"Ref": "ExistingClientsTable"}
    policies = json.dumps([picked(p, conditions) for p in made["RegisterFunctionRole"]["Properties"]["Policies"]])
    statements = json.loads(policies)
    resources = [
        picked(statement["Resource"], conditions)
        for policy in statements
        if isinstance(policy, dict) and "PolicyDocument" in policy
        for statement in policy["PolicyDocument"]["Statement"]
        if "dynamodb:" in json.dumps(statement["Action"])
    ]
    named = json.dumps(resources)
    assert "ClientsTable.Arn" not in named and '"ClientsTable"' not in named  # nothing of a table not made
    assert {
        "Fn::Sub": "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ExistingClientsTable}"
    } in resources

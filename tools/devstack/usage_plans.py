"""Usage plans and API keys for local runs: made in moto's API Gateway from the template's own definitions
(AWS::ApiGateway::UsagePlan, ApiKey, UsagePlanKey), as CloudFormation makes them on AWS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devstack.tables import template_resources


def _number(value: Any) -> float:
    return float(str(value))


def _plan_request(name: str, props: dict[str, Any]) -> dict[str, Any]:
    throttle, quota = props.get("Throttle") or {}, props.get("Quota") or {}
    request: dict[str, Any] = {"name": name, "description": str(props.get("Description", ""))}
    if throttle:
        request["throttle"] = {
            "rateLimit": _number(throttle["RateLimit"]),
            "burstLimit": int(_number(throttle["BurstLimit"])),
        }
    if quota:
        request["quota"] = {"limit": int(_number(quota["Limit"])), "period": str(quota.get("Period", "DAY"))}
    return request


def create_usage_plans(
    client: Any, template: Path, parameter_overrides: dict[str, str] | None = None
) -> dict[str, str]:
    """Create the template's usage plans and API keys, and put the keys in their plans; return {plan logical id:
    plan id}. A key whose name resolves empty (its condition off, as AdminApiKey without AdminClientId) is left out."""
    plans = {
        name: str(client.create_usage_plan(**_plan_request(name, props))["id"])
        for name, props in template_resources(template, "AWS::ApiGateway::UsagePlan", parameter_overrides).items()
    }
    keys = {
        name: str(
            client.create_api_key(
                name=str(props["Name"]),
                value=str(props["Value"]),
                enabled=bool(props.get("Enabled", False)),
                description=str(props.get("Description", "")),
            )["id"]
        )
        for name, props in template_resources(template, "AWS::ApiGateway::ApiKey", parameter_overrides).items()
        if props.get("Name")
    }
    for props in template_resources(template, "AWS::ApiGateway::UsagePlanKey", parameter_overrides).values():
        if props["KeyId"] in keys:  # `!Ref` resolves to the logical id locally
            client.create_usage_plan_key(
                usagePlanId=plans[props["UsagePlanId"]], keyId=keys[props["KeyId"]], keyType="API_KEY"
            )
    return plans

"""Usage plans for local runs: made in moto's API Gateway from the template's own definitions, with the seeded
clients' API keys in them, as the template and the register function make them on AWS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

from okta_m2m.api_keys import usage_key


def template_usage_plans(template: Path, parameter_overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """Each AWS::ApiGateway::UsagePlan of the template (parameters resolved), by logical id."""
    stacks, _ = SamLocalStackProvider.get_stacks(str(template), parameter_overrides=parameter_overrides or {})
    return {
        logical_id: resource.get("Properties") or {}
        for stack in stacks
        for logical_id, resource in stack.resources.items()
        if resource.get("Type") == "AWS::ApiGateway::UsagePlan"
    }


def _number(value: Any) -> float:
    return float(str(value))


def create_usage_plans(
    client: Any, template: Path, parameter_overrides: dict[str, str] | None = None
) -> dict[str, str]:
    """Create the template's usage plans (throttle and quota as resolved); return {logical id: plan id}."""
    made = {}
    for name, props in template_usage_plans(template, parameter_overrides).items():
        throttle, quota = props.get("Throttle") or {}, props.get("Quota") or {}
        request: dict[str, Any] = {"name": name, "description": str(props.get("Description", ""))}
        if throttle:
            request["throttle"] = {
                "rateLimit": _number(throttle["RateLimit"]),
                "burstLimit": int(_number(throttle["BurstLimit"])),
            }
        if quota:
            request["quota"] = {"limit": int(_number(quota["Limit"])), "period": str(quota.get("Period", "DAY"))}
        made[name] = str(client.create_usage_plan(**request)["id"])
    return made


def enrol_clients(client: Any, usage_plan_id: str, client_ids: list[str]) -> None:
    """Give each client its API key (the value the authorizer names) in the plan."""
    for client_id in client_ids:
        value = usage_key(client_id)
        if value is None:
            raise ValueError(f"client id {client_id!r} cannot make an API key")
        key = client.create_api_key(name=client_id, value=value, enabled=True, description="okta_m2m seeded client")
        client.create_usage_plan_key(usagePlanId=usage_plan_id, keyId=key["id"], keyType="API_KEY")

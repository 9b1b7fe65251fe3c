"""Do the registry (DynamoDB), Okta and the usage plan's API keys agree? Read from the servers themselves: moto's
DynamoDB and API Gateway, and the local Okta server's management API (SSWS), as an operator would."""

from __future__ import annotations

from typing import Any

import boto3
import requests

from api_fuzz.target import FuzzTarget

TIMEOUT = 30
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def aws_client(target: FuzzTarget, service: str) -> Any:
    """A boto3 client of the stack's moto server."""
    return boto3.client(service, endpoint_url=target.moto_url, **DUMMY_CREDENTIALS)  # type: ignore[call-overload]


def registry_items(target: FuzzTarget) -> list[dict[str, str]]:
    """Every item of the registry table, each attribute as a string."""
    client, items, start = aws_client(target, "dynamodb"), [], None
    while True:
        page = client.scan(
            TableName=target.clients_table, ConsistentRead=True, **({"ExclusiveStartKey": start} if start else {})
        )
        items += [{name: str(next(iter(value.values()))) for name, value in item.items()} for item in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def okta_apps(target: FuzzTarget) -> dict[str, dict[str, Any]]:
    """Every app of the local Okta org, by id (following the Link: next pages)."""
    headers = {"Authorization": f"SSWS {target.okta['OKTA_API_TOKEN']}", "Accept": "application/json"}
    url: str | None = f"{target.okta['OKTA_ORG_URL']}/api/v1/apps?limit=200"
    apps: dict[str, dict[str, Any]] = {}
    while url:
        page = requests.get(url, headers=headers, timeout=TIMEOUT)
        page.raise_for_status()
        apps.update({str(app["id"]): app for app in page.json()})
        url = page.links.get("next", {}).get("url")
    return apps


def policy_clients(target: FuzzTarget) -> set[str] | None:
    """The clients the access policy lists (None if the stack has no clients policy)."""
    policy_id = target.okta.get("OKTA_CLIENTS_POLICY_ID")
    if not policy_id:
        return None
    headers = {"Authorization": f"SSWS {target.okta['OKTA_API_TOKEN']}", "Accept": "application/json"}
    url = f"{target.okta['OKTA_ORG_URL']}/api/v1/authorizationServers/default/policies/{policy_id}"
    answer = requests.get(url, headers=headers, timeout=TIMEOUT)
    answer.raise_for_status()
    return set(answer.json()["conditions"]["clients"]["include"])


def api_keys(target: FuzzTarget) -> dict[str, dict[str, Any]]:
    """The usage plan's API keys by name (a client's key is named by its client id), each with `in_plan`."""
    client = aws_client(target, "apigateway")
    keys = {str(k["name"]): dict(k) for k in client.get_api_keys(limit=500).get("items", [])}
    in_plan = {str(k["id"]) for k in client.get_usage_plan_keys(usagePlanId=target.usage_plan_id, limit=500)["items"]}
    for key in keys.values():
        key["in_plan"] = key["id"] in in_plan
    return keys


def registry_drift(target: FuzzTarget) -> list[str]:
    """Every disagreement between the registry, Okta, the access policy and the API keys."""
    items = registry_items(target)
    apps, keys, enrolled = okta_apps(target), api_keys(target), policy_clients(target)
    clients = {item["client_id"]: item for item in items if item["pk"].startswith("client#")}
    problems = []
    for client_id, client in sorted(clients.items()):
        app, key = apps.get(client["app_id"]), keys.get(client_id)
        if client["status"] == "active":
            if app is None or app.get("status") != "ACTIVE":
                problems.append(f"active client {client_id} has no active Okta app")
            if key is None or not key.get("enabled") or not key["in_plan"]:
                problems.append(f"active client {client_id} has no enabled API key in the usage plan")
            if enrolled is not None and client_id not in enrolled:
                problems.append(f"active client {client_id} is not in the access policy")
        else:
            if app is not None and app.get("status") == "ACTIVE":
                problems.append(f"revoked client {client_id} still has an active Okta app")
            if key is not None and key.get("enabled"):
                problems.append(f"revoked client {client_id} still has an enabled API key")
            # Okta needs a policy to list one client: the last one revoked stays (its app deactivated).
            if enrolled is not None and client_id in enrolled and enrolled != {client_id}:
                problems.append(f"revoked client {client_id} is still in the access policy")
    recorded = {client["app_id"] for client in clients.values()}
    for app_id in sorted(set(apps) - recorded - target.seeded_apps):
        problems.append(f"Okta app {app_id} ({apps[app_id].get('label')!r}) has no record in the registry")
    for item in items:
        if item["pk"].startswith("label#") and item.get("state") == "pending":
            problems.append(f"label {item['label']!r} is still claimed by an unfinished registration")
        if item["pk"].startswith("label#") and item.get("state") == "bound":
            holder = clients.get(item.get("client_id", ""))
            if holder is None or holder["status"] != "active" or holder["label"] != item["label"]:
                problems.append(f"label {item['label']!r} is bound to {item.get('client_id')}, no active client of it")
    return problems

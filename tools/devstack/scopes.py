"""The route table's scopes on the local Okta server: it has every scope ROUTE_SCOPES names (okta_local's
`--scopes`), and its clients policy grants each of them but the register scope, so that a route added to the template
needs nothing more on the local stack than a restart (on Okta: add the scope, and grant it in a policy's rule)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from devstack.tables import template_resources

TIMEOUT = 10
ROUTE_TABLE = "ROUTE_SCOPES"


def route_scopes(template: Path, parameter_overrides: dict[str, str]) -> list[str]:
    """Every scope the template's route tables name (after METHOD and PATH on each line), in order of appearance."""
    found: dict[str, None] = {}
    for props in template_resources(template, "AWS::Serverless::Function", parameter_overrides).values():
        text = ((props.get("Environment") or {}).get("Variables") or {}).get(ROUTE_TABLE)
        for line in str(text or "").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                found.update(dict.fromkeys(line.split()[2:]))
    return list(found)


def grant_in_clients_policy(okta: dict[str, str], scopes: list[str]) -> list[str]:
    """Make the first rule of the local Okta's clients policy grant these scopes too (through the policies API, as
    an operator would); return the scopes it added."""
    headers = {"Authorization": f"SSWS {okta['OKTA_API_TOKEN']}", "Accept": "application/json"}
    rules_url = (
        f"{okta['OKTA_ORG_URL']}/api/v1/authorizationServers/default/policies/{okta['OKTA_CLIENTS_POLICY_ID']}/rules"
    )
    listed = requests.get(rules_url, headers=headers, timeout=TIMEOUT)
    listed.raise_for_status()
    rule: dict[str, Any] = min(listed.json(), key=lambda r: int(r.get("priority", 0)))
    include: list[str] = rule["conditions"]["scopes"]["include"]
    added = [scope for scope in scopes if scope not in include and "*" not in include]
    if added:
        include += added
        response = requests.put(f"{rules_url}/{rule['id']}", json=rule, headers=headers, timeout=TIMEOUT)
        response.raise_for_status()
    return added

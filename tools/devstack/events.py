"""`fresh-event`: an authorizer TOKEN event holding a fresh, valid token from the local Okta server."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from devstack.processes import port_in_use
from devstack.stack import HOST, REPO_ROOT, LocalStack
from devstack.story import client_for
from m2m_client import parse_env_file

EVENT_PATH = REPO_ROOT / "events" / "authorizer-valid.fresh.json"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1/GET/hello"


def token_event(token: str) -> dict[str, str]:
    """The TOKEN event API Gateway sends the authorizer for GET /hello."""
    return {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": METHOD_ARN}


def _running_demo(stack: LocalStack) -> dict[str, str] | None:
    """The demo client of a running `make dev`, if there is one."""
    if not stack.demo_env.is_file() or not port_in_use(HOST, stack.ports.okta):
        return None
    values = parse_env_file(stack.demo_env)
    try:
        answered = requests.get(f"{values.get('ISSUER', '')}/v1/keys", timeout=2).ok
    except requests.RequestException:
        return None
    return values if answered else None


def write_fresh_event(stack: LocalStack, path: Path = EVENT_PATH) -> Path:
    """Get a hello-scope token from the running stack's demo client (or, with no stack running, from the admin client
    of a briefly started, freshly set-up local Okta server) and write the event to path."""
    demo = _running_demo(stack)
    try:
        if demo is not None:
            client = client_for(demo, "", demo["CLIENT_ID"], demo["CLIENT_SECRET"], demo["DEFAULT_SCOPE"])
        else:
            stack.start_okta()
            stack.start_moto()
            stack.setup_okta()
            okta = stack.okta  # the admin client is in the clients policy too: it may ask for hello
            client = client_for(okta, "", okta["ADMIN_CLIENT_ID"], okta["ADMIN_CLIENT_SECRET"], okta["HELLO_SCOPE"])
        token = client.token()
    finally:
        stack.stop()
    path.write_text(json.dumps(token_event(token), indent=2) + "\n", encoding="utf-8")
    return path

"""What each sample event must give under `sam local invoke`, and the checks that compare a result with it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

import requests

Check = Callable[[Any], tuple[bool, str]]
BodyCheck = Callable[[Any], bool]

FUNCTIONS = {
    "authorizer": "AuthorizerFunction",
    "hello": "HelloFunction",
    "register": "RegisterFunction",
    "clients": "RegisterFunction",
}


@dataclass(frozen=True)
class Expectation:
    """The function an event goes to and the check its result must pass."""

    function: str
    check: Check


def unauthorized(result: Any) -> tuple[bool, str]:
    """The authorizer raised Exception("Unauthorized"), API Gateway's contract for 401."""
    message = result.get("errorMessage") if isinstance(result, dict) else None
    return message == "Unauthorized", f"error {json.dumps(message)}"


def policy(allowed: bool, method_arn: str, principal: str) -> Check:
    """The authorizer answered principal with a policy that allows method_arn (or does not), as API Gateway reads it."""

    def check(result: Any) -> tuple[bool, str]:
        if not isinstance(result, dict) or "policyDocument" not in result:
            return False, f"no policy: {shown(result)}"
        statements = result["policyDocument"].get("Statement", [])
        matches = {s.get("Effect") for s in statements if any(fnmatchcase(method_arn, r) for r in _resources(s))}
        # An explicit Deny wins over any Allow; no matching statement denies too.
        granted = matches == {"Allow"}
        passed = granted == allowed and result.get("principalId") == principal
        return passed, f"{'allows' if granted else 'does not allow'} {'/'.join(method_arn.split('/')[2:])}"

    return check


def _resources(statement: dict[str, Any]) -> list[str]:
    resource = statement.get("Resource", [])
    return [resource] if isinstance(resource, str) else list(resource)


def judge(status: int, body: Any, expected_status: int, body_check: BodyCheck) -> tuple[bool, str]:
    """Compare a status and decoded body with what is expected; the detail never shows credentials."""
    passed = status == expected_status and body_check(body)
    detail = f"{status} {shown(body)}"
    return passed, detail if passed else f"{detail} (expected {expected_status})"


def proxy(expected_status: int, body_check: BodyCheck) -> Check:
    """A proxy integration result with this status and a JSON body that passes body_check."""

    def check(result: Any) -> tuple[bool, str]:
        if not isinstance(result, dict) or "statusCode" not in result:
            return False, f"not a proxy response: {shown(result)}"
        return judge(result["statusCode"], _json(result.get("body")), expected_status, body_check)

    return check


def answered(response: requests.Response, expected_status: int, body_check: BodyCheck) -> tuple[bool, str]:
    """An HTTP answer with this status and a JSON body that passes body_check."""
    return judge(response.status_code, _json(response.text), expected_status, body_check)


def message_is(text: str) -> BodyCheck:
    """The body is exactly {"message": text}."""
    return lambda body: body == {"message": text}


def has_message(body: Any) -> bool:
    """The body is a short {"message": ...} and nothing else."""
    return isinstance(body, dict) and set(body) == {"message"} and isinstance(body["message"], str)


def greeting(client_id: str) -> BodyCheck:
    """The hello function's answer to this client."""
    return lambda body: body == {"message": "Hello World!", "clientId": client_id}


def new_credentials(body: Any) -> bool:
    """The body holds a new client's credentials."""
    return isinstance(body, dict) and all(body.get(k) for k in ("client_id", "client_secret", "app_id", "label"))


def shown(body: Any) -> str:
    """What a check line may show of a body: its message, or only the keys of any other object (it may hold secrets)."""
    if isinstance(body, dict):
        body = body.get("message", f"keys {','.join(sorted(body))}")
    return json.dumps(body)[:100]


def _json(text: str | None) -> Any:
    try:
        return json.loads(text or "null")
    except ValueError:
        return text


# Committed proxy events, first matching pattern wins. Every committed authorizer event is expected to be refused:
# no committed token is signed by a key of the local Okta server (the check writes its own fresh ones).
SAMPLE_EVENTS: tuple[tuple[str, Check], ...] = (
    ("*-missing-scope.json", proxy(403, message_is("Forbidden"))),
    ("register-bad-json.json", proxy(400, has_message)),
    ("register-valid.json", proxy(201, new_credentials)),
    ("clients-list.json", proxy(200, lambda b: isinstance(b, dict) and isinstance(b.get("clients"), list))),
    ("hello*.json", proxy(200, lambda b: isinstance(b, dict) and b.get("message") == "Hello World!")),
)


def expectation_for(name: str) -> Expectation | None:
    """The expectation for a committed sample event, or None if it has none (the check then fails)."""
    function = FUNCTIONS.get(name.removesuffix(".json").split("-")[0])
    if function == "AuthorizerFunction":
        return Expectation(function, unauthorized)
    check = next((c for pattern, c in SAMPLE_EVENTS if fnmatchcase(name, pattern)), None)
    return Expectation(function, check) if function and check else None

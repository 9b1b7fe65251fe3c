"""Per-client API keys of the API's usage plan: the authorizer names a client's key (usageIdentifierKey) and API
Gateway meters and limits each client by it.

The key's value is derived from the client id, so the authorizer needs no lookup: clients never see or send it
(the API's key source is the authorizer), so it is an identifier, not a secret. The register function creates a
client's key and attaches it to the plan; revocation disables it, which stops the client at the gateway at once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from okta_m2m.errors import ApiKeysUnavailableError
from okta_m2m.tokens import usage_key


@lru_cache(maxsize=1)
def apigateway() -> Any:
    """The API Gateway client, once per container (its endpoint follows AWS_ENDPOINT_URL_API_GATEWAY where set)."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 2})
    return boto3.client("apigateway", config=config)


def _call(operation: str, **kwargs: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return getattr(apigateway(), operation)(**kwargs)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code == "ConflictException":
            raise
        raise ApiKeysUnavailableError(f"API Gateway {operation}: refused ({code})") from None
    except BotoCoreError as exc:
        raise ApiKeysUnavailableError(f"API Gateway {operation}: unreachable ({type(exc).__name__})") from None


def _find_key(client_id: str) -> dict[str, Any] | None:
    """The client's key, found by its name (the client id)."""
    position: str | None = None
    while True:
        page = _call("get_api_keys", nameQuery=client_id, limit=500, **({"position": position} if position else {}))
        for key in page.get("items", []):
            if key.get("name") == client_id:
                return dict(key)
        position = page.get("position")
        if not position:
            return None


def _set_enabled(key_id: str, enabled: bool) -> None:
    operation = {"op": "replace", "path": "/enabled", "value": "true" if enabled else "false"}
    _call("update_api_key", apiKey=key_id, patchOperations=[operation])


def enrol_key(client_id: str, usage_plan_id: str) -> str:
    """Make sure the client has an enabled key in the usage plan; return the key id (idempotent)."""
    from botocore.exceptions import ClientError

    value = usage_key(client_id)
    if value is None:
        raise ApiKeysUnavailableError("the client id is too short or long to derive an API key from")
    key = _find_key(client_id)
    if key is None:
        try:
            key = _call("create_api_key", name=client_id, value=value, enabled=True, description="okta_m2m client")
        except ClientError:  # made by a concurrent call meanwhile
            key = _find_key(client_id)
            if key is None:
                raise ApiKeysUnavailableError("API Gateway refused the key and has none for the client") from None
    elif not key.get("enabled"):
        _set_enabled(key["id"], True)
    try:
        _call("create_usage_plan_key", usagePlanId=usage_plan_id, keyId=key["id"], keyType="API_KEY")
    except ClientError:
        pass  # already in the plan
    return str(key["id"])


def disable_key(client_id: str) -> bool:
    """Disable the client's key (the gateway refuses it from then on); False if it has none."""
    key = _find_key(client_id)
    if key is None:
        return False
    if key.get("enabled"):
        _set_enabled(key["id"], False)
    return True

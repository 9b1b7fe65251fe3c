"""Managing registered clients: list, show, adopt, rotate and remove secrets, revoke.

The registry (okta_m2m.clients._registry) says which clients this API manages; Okta holds their apps and secrets. Secret
changes of one client take turns under a lease on that client, so two at once can never leave it without an
active secret or with more than Okta's two.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from aws_lambda_powertools import Logger

from okta_m2m.clients._api_keys import disable_key, enrol_key
from okta_m2m.clients._locks import lease
from okta_m2m.clients._okta_client import OktaClient, RemainingMillis, requires_dpop
from okta_m2m.clients._registration import LEASE_MARGIN_SECONDS, LEASE_WAIT_SECONDS, enrol_client, unenrol_client
from okta_m2m.clients._registry import (
    ACTIVE,
    REVOKED,
    Client,
    ConditionFailed,
    Registry,
    decode_page_token,
    encode_page_token,
    iso_now,
)
from okta_m2m.clients._settings import RegisterSettings
from okta_m2m.errors import (
    ClientConflictError,
    ClientNotFoundError,
    InvalidRequestError,
    OktaNotFoundError,
    OktaRefusedError,
)

logger = Logger(child=True)

__all__ = [
    "adopt_client",
    "check_id",
    "list_clients",
    "remove_secret",
    "revoke_client",
    "rotate_secret",
    "show_client",
]

DEFAULT_PAGE = 25
MAX_PAGE = 100
MAX_SECRETS = 2  # Okta keeps at most two client secrets per app
# Okta ids (apps 0oa..., secrets ocs...) are short and URL-safe; anything else cannot name one.
_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")  # fullmatch: `$` would let a trailing newline through
# ASCII digits only: str.isdigit() also takes "²" (which int() refuses) and "１" (which it takes).
_LIMIT = re.compile(r"[0-9]{1,3}")


def check_id(value: str | None, what: str) -> str:
    """A path parameter that may name an Okta client or secret (400 otherwise)."""
    if value is None or not _ID.fullmatch(value):
        raise InvalidRequestError(f"{what} is not a valid id")
    return value


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE
    if not _LIMIT.fullmatch(raw) or not 1 <= int(raw) <= MAX_PAGE:
        raise InvalidRequestError(f"limit must be a whole number from 1 to {MAX_PAGE}")
    return int(raw)


def list_clients(registry: Registry, limit: str | None, next_token: str | None) -> dict[str, Any]:
    """One page of registered clients, newest first, and the `next` token of the page after it (or null)."""
    start = decode_page_token(next_token) if next_token is not None else None
    clients, last = registry.page(_limit(limit), start)
    return {"clients": [c.as_dict() for c in clients], "next": encode_page_token(last) if last else None}


def _registered(registry: Registry, client_id: str) -> Client:
    client = registry.get(client_id)
    if client is None:
        raise ClientNotFoundError(f"client {client_id} is not in the registry")
    return client


def _secret_view(secret: dict[str, Any]) -> dict[str, Any]:
    return {"id": secret.get("id"), "status": secret.get("status"), "created": secret.get("created")}


def show_client(registry: Registry, okta: OktaClient, client_id: str) -> dict[str, Any]:
    """The registered client, with its app's status in Okta and its secrets (ids and status, never values)."""
    client = _registered(registry, client_id)
    try:
        app = okta.get_app(client.app_id)
        secrets = [_secret_view(s) for s in okta.list_secrets(client.app_id)]
    except OktaNotFoundError:
        return {**client.as_dict(), "okta_status": "DELETED", "secrets": []}
    return {**client.as_dict(), "okta_status": app.get("status"), "secrets": secrets}


def _is_service_client(app: dict[str, Any], client_id: str) -> bool:
    oauth = (app.get("settings") or {}).get("oauthClient") or {}
    credentials = (app.get("credentials") or {}).get("oauthClient") or {}
    return (
        app.get("signOnMode") == "OPENID_CONNECT"
        and credentials.get("client_id") == client_id
        and "client_credentials" in (oauth.get("grant_types") or [])
    )


def adopt_client(
    registry: Registry,
    okta: OktaClient,
    settings: RegisterSettings,
    client_id: str,
    caller: str | None,
    remaining_ms: RemainingMillis,
) -> tuple[dict[str, Any], bool]:
    """Bring an active Okta service app this API did not register under its management; (client, newly adopted).

    Adopting a client that is already registered answers it as it is (idempotent), after making sure it has its
    API key. Its client id must be its app id, as for every app Okta's API creates."""
    known = registry.get(client_id)
    if known is not None:
        if known.status == REVOKED:
            raise ClientConflictError("the client is revoked; register a new one")
        if settings.usage_plan_id:
            enrol_key(client_id, settings.usage_plan_id)  # a client registered before it had keys gets one
        return known.as_dict(), False
    try:
        app = okta.get_app(client_id)
    except OktaNotFoundError:
        raise ClientNotFoundError(f"no Okta app {client_id}") from None
    if not _is_service_client(app, client_id):
        raise ClientConflictError("the Okta app is not a client credentials service app")
    if app.get("status") != "ACTIVE":
        raise ClientConflictError("the Okta app is not active")
    label = str(app.get("label") or client_id)
    enrol_client(okta, settings, client_id, remaining_ms)
    if settings.usage_plan_id:
        enrol_key(client_id, settings.usage_plan_id)
    client = Client(client_id, client_id, label, ACTIVE, iso_now(), caller, "adopted", dpop=requires_dpop(app))
    try:
        registry.adopt(client, str(uuid.uuid4()))
    except ConditionFailed as exc:
        if exc.reasons[:1] == ["ConditionalCheckFailed"]:
            # Adopted by a concurrent call: the same answer as a second call.
            return _registered(registry, client_id).as_dict(), False
        raise ClientConflictError("another registered client has this label") from None
    return client.as_dict(), True


def _client_lease(settings: RegisterSettings, client: Client, remaining_ms: RemainingMillis) -> Any:
    return lease(
        settings.locks_table,
        f"client#{client.client_id}",
        seconds=remaining_ms() / 1000 + LEASE_MARGIN_SECONDS,
        wait_seconds=LEASE_WAIT_SECONDS,
    )


def _active_client(registry: Registry, client_id: str) -> Client:
    client = _registered(registry, client_id)
    if client.status != ACTIVE:
        raise ClientConflictError("the client is revoked")
    return client


def rotate_secret(
    registry: Registry, okta: OktaClient, settings: RegisterSettings, client_id: str, remaining_ms: RemainingMillis
) -> dict[str, Any]:
    """A new active client secret, answered once; the old one keeps working until it is removed."""
    client = _active_client(registry, client_id)
    with _client_lease(settings, client, remaining_ms):
        if len(okta.list_secrets(client.app_id)) >= MAX_SECRETS:
            raise ClientConflictError("the client has two secrets; remove one first")
        try:
            secret = okta.create_secret(client.app_id)
        except OktaRefusedError:
            # Someone else (the Admin Console) added one meanwhile.
            raise ClientConflictError("Okta refused a new secret; the client may have two already") from None
    logger.info("client secret created", secret_id=secret["id"])
    return {
        "client_id": client.client_id,
        "secret_id": secret["id"],
        "client_secret": secret["client_secret"],
        "status": secret.get("status", "ACTIVE"),
        "created": secret.get("created"),
    }


def remove_secret(  # noqa: PLR0913 - the request's two ids and the function's parts
    registry: Registry,
    okta: OktaClient,
    settings: RegisterSettings,
    client_id: str,
    secret_id: str,
    remaining_ms: RemainingMillis,
) -> dict[str, Any]:
    """Deactivate and delete one client secret; never the client's last active one."""
    client = _active_client(registry, client_id)
    with _client_lease(settings, client, remaining_ms):
        secrets = okta.list_secrets(client.app_id)
        target = next((s for s in secrets if s.get("id") == secret_id), None)
        if target is None:
            raise ClientNotFoundError(f"client {client_id} has no secret {secret_id}")
        others_active = [s for s in secrets if s.get("id") != secret_id and s.get("status") == "ACTIVE"]
        if target.get("status") == "ACTIVE" and not others_active:
            raise ClientConflictError("this is the client's last active secret; create another one first")
        if target.get("status") == "ACTIVE":
            okta.deactivate_secret(client.app_id, secret_id)
        okta.delete_secret(client.app_id, secret_id)
    logger.info("client secret removed", secret_id=secret_id)
    return {"client_id": client.client_id, "secret_id": secret_id, "status": "DELETED"}


def revoke_client(
    registry: Registry,
    okta: OktaClient,
    settings: RegisterSettings,
    client_id: str,
    caller: str | None,
    remaining_ms: RemainingMillis,
) -> dict[str, Any]:
    """Disable the client's API key (the gateway refuses it at once, tokens or not), deactivate its app (no new
    tokens), take it out of the access policy, mark it revoked; idempotent.

    The registry comes last: if a step fails, it still says active and the next call does it all again."""
    client = _registered(registry, client_id)
    if client.status == REVOKED:
        return client.as_dict()
    if settings.usage_plan_id and not disable_key(client.client_id):
        logger.warning("revoked client had no API key", client_id=client.client_id)
    try:
        okta.deactivate_app(client.app_id)
    except OktaNotFoundError:
        logger.warning("revoked client's app was already gone from Okta", app_id=client.app_id)
    unenrol_client(okta, settings, client.client_id, remaining_ms)
    return registry.revoke(client, caller).as_dict()

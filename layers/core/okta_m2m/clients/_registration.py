"""Registering a machine-to-machine client: check the request, claim its label in the registry, create one Okta
service app, enrol its client in the authorization server's access policy, and record it (or remove it again: no
half-registered client)."""

from __future__ import annotations

import base64
import binascii
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from okta_m2m.clients._api_keys import disable_key, enrol_key
from okta_m2m.clients._locks import lease
from okta_m2m.clients._okta_client import (
    REGISTRATION_MARKER,
    SAFETY_MARGIN_SECONDS,
    OktaClient,
    RemainingMillis,
    ServiceApp,
)
from okta_m2m.clients._registry import ACTIVE, BOUND, PENDING, Client, ConditionFailed, LabelClaim, Registry, iso_now
from okta_m2m.clients._settings import RegisterSettings
from okta_m2m.errors import (
    ApiKeysUnavailableError,
    ClientExistsError,
    EnrolmentFailedError,
    InvalidRequestError,
    LeaseBusyError,
    LeaseUnavailableError,
    OktaM2MError,
    OktaTimeoutError,
    OktaUnavailableError,
    PayloadTooLargeError,
    RegistrationInProgressError,
    RegistryUnavailableError,
)

logger = Logger(child=True)

__all__ = [
    "Registration",
    "RegistrationRequest",
    "enrol_client",
    "read_label",
    "read_registration",
    "register_service_app",
    "remove_app",
    "unenrol_client",
]

ALL_CLIENTS = "ALL_CLIENTS"  # Okta's value for a policy that covers every client
MAX_ENROL_ATTEMPTS = 3  # GET, PUT, GET again: someone else (the Admin Console) may replace the policy meanwhile
LEASE_WAIT_SECONDS = 5.0  # how long a registration waits for another one's enrolment
LEASE_MARGIN_SECONDS = 5.0  # a lease outlives its holder's invocation by this much
# A pending label claim older than this was left by a registration that died (far longer than any invocation).
PENDING_STALE_SECONDS = 180.0
PENDING_WAIT_SECONDS = 8.0  # how long a registration waits for another one of the same label to finish
PENDING_POLL_SECONDS = (0.1, 0.3)
MAX_BODY_BYTES = 4096
MAX_LABEL_CHARS = 100
ALLOWED_FIELDS = frozenset({"label", "dpop"})


@dataclass(frozen=True)
class Registration(ServiceApp):
    """What the caller gets back once: the new app with its credentials (secret out of repr) and where to use them."""

    request_token_url: str
    dpop: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Return the response body fields."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "request_token_url": self.request_token_url,
            "app_id": self.app_id,
            "label": self.label,
            "dpop": self.dpop,
        }


@dataclass(frozen=True)
class RegistrationRequest:
    """A checked POST /register body: the new client's label, and whether it must use DPoP-bound tokens."""

    label: str
    dpop: bool = False


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise InvalidRequestError("request body has a duplicate field")
    return dict(pairs)


def _body_bytes(body: str | None, is_base64_encoded: bool) -> bytes:
    if not body:
        raise InvalidRequestError("request body is required")
    # Checked before decoding too, so a huge body costs nothing; base64 makes it a third longer.
    if len(body) > MAX_BODY_BYTES * 2:
        raise PayloadTooLargeError(f"request body is larger than {MAX_BODY_BYTES} bytes")
    if is_base64_encoded:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestError("request body is not valid base64") from None
    else:
        raw = body.encode("utf-8", errors="surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"request body is larger than {MAX_BODY_BYTES} bytes")
    return raw


def read_label(body: str | None, is_base64_encoded: bool = False) -> str:
    """Parse a register request body and return the checked label."""
    return read_registration(body, is_base64_encoded).label


def read_registration(body: str | None, is_base64_encoded: bool = False) -> RegistrationRequest:
    """Parse a register request body, {"label": "...", "dpop": true|false} (dpop optional, false by default) and
    nothing else."""
    raw = _body_bytes(body, is_base64_encoded)
    try:
        document = json.loads(raw.decode("utf-8"), object_pairs_hook=_refuse_duplicate_keys)
    except UnicodeDecodeError:
        raise InvalidRequestError("request body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise InvalidRequestError("request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise InvalidRequestError("request body must be a JSON object")
    if set(document) - ALLOWED_FIELDS:
        raise InvalidRequestError("only the fields label and dpop are allowed")
    dpop = document.get("dpop", False)
    if not isinstance(dpop, bool):
        raise InvalidRequestError("dpop must be true or false")
    if "label" not in document:
        raise InvalidRequestError("label is required")
    label = document["label"]
    if not isinstance(label, str):
        raise InvalidRequestError("label must be a string")
    if not 1 <= len(label) <= MAX_LABEL_CHARS:
        raise InvalidRequestError(f"label must be 1 to {MAX_LABEL_CHARS} characters")
    if not label.isprintable():
        raise InvalidRequestError("label must contain only printable characters")
    if label != label.strip():
        raise InvalidRequestError("label must not start or end with whitespace")
    return RegistrationRequest(label, dpop)


def _clients(policy: dict[str, Any]) -> list[str]:
    include = ((policy.get("conditions") or {}).get("clients") or {}).get("include")
    if not isinstance(include, list) or not all(isinstance(c, str) for c in include):
        raise EnrolmentFailedError("the access policy has no conditions.clients.include list")
    return include


def _update_policy(
    okta: OktaClient, settings: RegisterSettings, client_id: str, remaining_ms: RemainingMillis, *, listed: bool
) -> None:
    """Add client_id to the access policy's `conditions.clients.include` (listed) or take it out, and check it stuck.

    Okta replaces a policy whole on PUT, so changes take turns under a lease on the policy (DynamoDB), and each
    checks with a fresh GET that it holds (someone may edit the policy in the Admin Console meanwhile).
    """
    server, policy_id = settings.authorization_server_id, settings.access_policy_id
    held_for = remaining_ms() / 1000 + LEASE_MARGIN_SECONDS
    change = "enrolled in" if listed else "removed from"
    with lease(
        settings.locks_table, f"okta-policy#{server}#{policy_id}", seconds=held_for, wait_seconds=LEASE_WAIT_SECONDS
    ):
        for _ in range(MAX_ENROL_ATTEMPTS):
            policy = okta.get_policy(server, policy_id)
            clients = _clients(policy)
            if (client_id in clients or (listed and ALL_CLIENTS in clients)) == listed:
                return
            if not listed and clients == [client_id]:
                # Okta refuses a policy that lists no client, so the last one stays: its app is deactivated before
                # it is taken out (revocation, removal), so it gets no token; later enrolments list others beside it.
                logger.warning("last client left in the access policy (Okta needs one)", policy_id=policy_id)
                return
            wanted = [*clients, client_id] if listed else [c for c in clients if c != client_id]
            policy["conditions"]["clients"]["include"] = wanted
            okta.put_policy(server, policy_id, policy)
            if (client_id in _clients(okta.get_policy(server, policy_id))) == listed:
                logger.info(f"client {change} the access policy", policy_id=policy_id, client_id=client_id)
                return
            logger.warning("access policy change did not stick; trying again", policy_id=policy_id, client_id=client_id)
    raise EnrolmentFailedError(f"client not {change} access policy {policy_id} after {MAX_ENROL_ATTEMPTS} tries")


def enrol_client(okta: OktaClient, settings: RegisterSettings, client_id: str, remaining_ms: RemainingMillis) -> None:
    """Add client_id to the access policy (nothing to do without one configured)."""
    if settings.access_policy_id:
        _update_policy(okta, settings, client_id, remaining_ms, listed=True)


def unenrol_client(okta: OktaClient, settings: RegisterSettings, client_id: str, remaining_ms: RemainingMillis) -> None:
    """Take client_id out of the access policy (nothing to do without one configured), unless it is the last one
    the policy lists (Okta needs one): callers deactivate the client's app first."""
    if settings.access_policy_id:
        _update_policy(okta, settings, client_id, remaining_ms, listed=False)


def remove_app(okta: OktaClient, settings: RegisterSettings, app_id: str, remaining_ms: RemainingMillis) -> bool:
    """Take an app's client out of the policy, deactivate and delete the app; False (and logged) if that failed.

    Used for apps whose caller never got the secret: a failed enrolment or recording, a crashed registration."""
    try:
        okta.deactivate_app(app_id)
        try:
            unenrol_client(okta, settings, app_id, remaining_ms)
            if settings.usage_plan_id:
                disable_key(app_id)
        except OktaM2MError as exc:
            # Harmless once the app is gone: the policy lists, or the key names, a client that no longer exists.
            logger.warning("removed app's client left in the policy or the usage plan", app_id=app_id, reason=str(exc))
        okta.delete_app(app_id)
    except OktaM2MError as exc:
        # The operator must remove it by hand: the id is all they need, and the caller never saw its secret.
        logger.error("half-registered app left in Okta", app_id=app_id, reason=str(exc))
        return False
    logger.info("unfinished registration's app removed", app_id=app_id)
    return True


def _claim_label(
    registry: Registry,
    label: str,
    owner: str,
    caller: str | None,
    remaining_ms: RemainingMillis,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> LabelClaim | None:
    """Make the label ours: None if it was free, the stale claim we took over if one was left behind.

    A label bound to a client is ClientExistsError; one another registration is working on is waited for, up to
    PENDING_WAIT_SECONDS, then RegistrationInProgressError."""
    deadline = clock() + min(PENDING_WAIT_SECONDS, max(0.0, remaining_ms() / 1000 - 3 * SAFETY_MARGIN_SECONDS))
    while True:
        held = registry.claim_label(label, owner, caller)
        if held is None:
            return None
        if held.state == BOUND and held.client_id:
            raise ClientExistsError(held.client_id)
        if held.state == PENDING and clock() - held.started_at > PENDING_STALE_SECONDS:
            if registry.take_over(held, owner):
                return held
            continue
        if clock() >= deadline:
            raise RegistrationInProgressError(f"label held by registration {held.owner} ({held.state})")
        sleep(random.uniform(*PENDING_POLL_SECONDS))  # noqa: S311 - jitter, not a secret


def _marker(app: dict[str, Any]) -> str | None:
    """The id of the registration of ours that made this Okta app, if one did."""
    marker = (app.get("profile") or {}).get(REGISTRATION_MARKER)
    return marker if isinstance(marker, str) and marker else None


def _resolve_stale(
    stale: LabelClaim, okta: OktaClient, settings: RegisterSettings, registry: Registry, remaining_ms: RemainingMillis
) -> None:
    """Remove what crashed registrations of this label left in Okta: apps they marked that no client record names.

    Their callers never got a secret, so nothing can be using them; apps someone else made are never touched."""
    for app in okta.find_apps(stale.label):
        app_id = str(app.get("id") or "")
        if _marker(app) and app_id and registry.get(app_id) is None:
            remove_app(okta, settings, app_id, remaining_ms)
    logger.warning("stale pending registration resolved", label=stale.label, stale_owner=stale.owner)


def _undo_failed_create(  # noqa: PLR0913 - the failed registration and the function's parts
    label: str,
    owner: str,
    okta: OktaClient,
    settings: RegisterSettings,
    registry: Registry,
    remaining_ms: RemainingMillis,
) -> None:
    """After a 5xx or an unusable answer to the create: remove the app if Okta made it, then free the label.

    If Okta cannot even be searched now, the claim is left for the next registration of the label to resolve."""
    try:
        made = [app for app in okta.find_apps(label) if _marker(app) == owner]
    except OktaM2MError:
        made = None
    if made is not None and all(remove_app(okta, settings, str(app.get("id")), remaining_ms) for app in made):
        registry.release_label(label, owner)
    else:
        logger.warning("registration abandoned: Okta may have made the app; the next one resolves it", label=label)
        registry.abandon_label(label, owner)


def register_service_app(  # noqa: PLR0913 - the caller's request and the function's parts
    label: str,
    caller: str | None,
    settings: RegisterSettings,
    okta: OktaClient,
    registry: Registry,
    remaining_ms: RemainingMillis,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    *,
    dpop: bool = False,
) -> Registration:
    """Register a new client labelled label: claim the label, create the service app (one that requires DPoP, if
    `dpop`), enrol it, record it.

    The label is claimed in the registry first (a conditional write): of many registrations of one label, one
    creates an app, the others get ClientExistsError naming its client. After a 5xx the app Okta may have made
    is looked for (by the registration id in its profile) and removed; after a timeout the claim stays pending
    and the next registration of the label resolves it once it is stale; after a refusal the claim is dropped.
    A failed enrolment or recording removes the app again: a client is either registered and usable, or gone.
    """
    owner = str(uuid.uuid4())
    stale = _claim_label(registry, label, owner, caller, remaining_ms, clock, sleep)
    if stale is not None:
        _resolve_stale(stale, okta, settings, registry, remaining_ms)
    try:
        app = okta.create_service_app(label, owner, dpop)
    except OktaTimeoutError:
        # Okta may still be making the app: the claim stays pending, and goes stale in PENDING_STALE_SECONDS.
        logger.warning("registration left pending: Okta may have made the app", label=label)
        raise
    except OktaUnavailableError:
        _undo_failed_create(label, owner, okta, settings, registry, remaining_ms)
        raise
    except Exception:
        registry.release_label(label, owner)  # refused, rate-limited, or never sent: Okta made nothing
        raise
    try:
        enrol_client(okta, settings, app.client_id, remaining_ms)
        if settings.usage_plan_id:
            enrol_key(app.client_id, settings.usage_plan_id)
        client = Client(app.client_id, app.app_id, app.label, ACTIVE, iso_now(clock), caller, "registered", dpop=dpop)
        registry.bind(client, owner)
    except (OktaM2MError, ConditionFailed) as exc:
        if remove_app(okta, settings, app.app_id, remaining_ms):
            registry.release_label(label, owner)
        else:
            registry.abandon_label(label, owner)  # the next registration of the label removes the app
        if isinstance(exc, LeaseBusyError | LeaseUnavailableError | RegistryUnavailableError | ApiKeysUnavailableError):
            raise
        if isinstance(exc, ConditionFailed):
            raise RegistryUnavailableError("the label claim was lost before the client was recorded") from None
        raise EnrolmentFailedError(f"enrolment failed: {exc}") from None
    return Registration(
        app_id=app.app_id,
        label=app.label,
        client_id=app.client_id,
        client_secret=app.client_secret,
        request_token_url=f"{settings.issuer.rstrip('/')}/v1/token",
        dpop=dpop,
    )

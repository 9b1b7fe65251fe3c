"""Registering a machine-to-machine client: check the request, create one Okta service app, and enrol its client
in the authorization server's access policy (or remove it again: no half-registered client)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from okta_m2m.config import RegisterSettings
from okta_m2m.errors import (
    AppAlreadyExistsError,
    EnrolmentFailedError,
    InvalidRequestError,
    LeaseBusyError,
    LeaseUnavailableError,
    OktaM2MError,
)
from okta_m2m.locks import lease
from okta_m2m.okta_client import OktaClient, RemainingMillis, ServiceApp

logger = Logger(child=True)

__all__ = ["Registration", "enrol_client", "read_label", "register_service_app"]

ALL_CLIENTS = "ALL_CLIENTS"  # Okta's value for a policy that covers every client
MAX_ENROL_ATTEMPTS = 3  # GET, PUT, GET again: someone else (the Admin Console) may replace the policy meanwhile
LEASE_WAIT_SECONDS = 5.0  # how long a registration waits for another one's enrolment
LEASE_MARGIN_SECONDS = 5.0  # a lease outlives its holder's invocation by this much
MAX_BODY_BYTES = 4096
MAX_LABEL_CHARS = 100
ALLOWED_FIELDS = frozenset({"label"})


@dataclass(frozen=True)
class Registration(ServiceApp):
    """What the caller gets back once: the new app with its credentials (secret out of repr) and where to use them."""

    request_token_url: str

    def as_dict(self) -> dict[str, str]:
        """Return the response body fields."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "request_token_url": self.request_token_url,
            "app_id": self.app_id,
            "label": self.label,
        }


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
        raise InvalidRequestError(f"request body is larger than {MAX_BODY_BYTES} bytes")
    if is_base64_encoded:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestError("request body is not valid base64") from None
    else:
        raw = body.encode("utf-8", errors="surrogatepass")
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidRequestError(f"request body is larger than {MAX_BODY_BYTES} bytes")
    return raw


def read_label(body: str | None, is_base64_encoded: bool = False) -> str:
    """Parse a register request body, {"label": "..."} and nothing else, and return the checked label."""
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
        raise InvalidRequestError("only the field label is allowed")
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
    return label


def _create_unique(okta: OktaClient, label: str) -> ServiceApp:
    existing = okta.find_active_app(label)
    if existing is not None:
        logger.info("label already taken", existing_app_id=existing)
        raise AppAlreadyExistsError("an active app with this label exists")
    return okta.create_service_app(label)


def _clients(policy: dict[str, Any]) -> list[str]:
    include = ((policy.get("conditions") or {}).get("clients") or {}).get("include")
    if not isinstance(include, list) or not all(isinstance(c, str) for c in include):
        raise EnrolmentFailedError("the access policy has no conditions.clients.include list")
    return include


def enrol_client(okta: OktaClient, settings: RegisterSettings, client_id: str, remaining_ms: RemainingMillis) -> None:
    """Add client_id to the access policy's `conditions.clients.include` and check that it stuck.

    Okta replaces a policy whole on PUT, so registrations take turns under a lease on the policy (DynamoDB), and
    each checks with a fresh GET that its client is listed (someone may edit the policy in the Admin Console).
    """
    server, policy_id = settings.authorization_server_id, settings.access_policy_id
    held_for = remaining_ms() / 1000 + LEASE_MARGIN_SECONDS
    with lease(
        settings.locks_table, f"okta-policy#{server}#{policy_id}", seconds=held_for, wait_seconds=LEASE_WAIT_SECONDS
    ):
        for _ in range(MAX_ENROL_ATTEMPTS):
            policy = okta.get_policy(server, policy_id)
            clients = _clients(policy)
            if client_id in clients or ALL_CLIENTS in clients:
                return
            policy["conditions"]["clients"]["include"] = [*clients, client_id]
            okta.put_policy(server, policy_id, policy)
            if client_id in _clients(okta.get_policy(server, policy_id)):
                logger.info("client enrolled in the access policy", policy_id=policy_id, client_id=client_id)
                return
            logger.warning("enrolment did not stick; trying again", policy_id=policy_id, client_id=client_id)
    raise EnrolmentFailedError(f"client still missing from access policy {policy_id} after {MAX_ENROL_ATTEMPTS} tries")


def _remove(okta: OktaClient, app: ServiceApp) -> None:
    """Deactivate and delete an app whose client could not be enrolled (it holds credentials that get nothing)."""
    try:
        okta.deactivate_app(app.app_id)
        okta.delete_app(app.app_id)
    except OktaM2MError as exc:
        # The operator must remove it by hand: the id is all they need, and the caller never saw its secret.
        logger.error("half-registered app left in Okta", app_id=app.app_id, label=app.label, reason=str(exc))
        return
    logger.info("app removed after failed enrolment", app_id=app.app_id)


def register_service_app(
    label: str, settings: RegisterSettings, okta: OktaClient, remaining_ms: RemainingMillis
) -> Registration:
    """Create a service app labelled label unless an active one exists, then enrol its client.

    Okta does not enforce unique labels, so uniqueness is checked with a search first. It is best effort:
    two concurrent requests with the same label can both pass the check. After a timeout, 429 or 5xx the POST
    may have succeeded, so it is never retried. If enrolment fails, the app is removed again.
    """
    app = _create_unique(okta, label)
    if settings.access_policy_id:
        try:
            enrol_client(okta, settings, app.client_id, remaining_ms)
        except (LeaseBusyError, LeaseUnavailableError):
            _remove(okta, app)
            raise
        except OktaM2MError as exc:
            _remove(okta, app)
            raise EnrolmentFailedError(f"enrolment failed: {exc}") from None
    return Registration(
        app_id=app.app_id,
        label=app.label,
        client_id=app.client_id,
        client_secret=app.client_secret,
        request_token_url=f"{settings.issuer.rstrip('/')}/v1/token",
    )

"""Registering a machine-to-machine client: check the caller and the request, then create one Okta service app."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from okta_m2m.config import RegisterSettings
from okta_m2m.errors import AppAlreadyExistsError, InvalidRequestError, OktaAuthError
from okta_m2m.okta_client import OktaAppsClient, OktaTokenRejectedError, ServiceApp
from okta_m2m.scopes import require_scope
from okta_m2m.secrets import okta_api_token

logger = Logger(child=True)

__all__ = ["Registration", "read_label", "register_service_app", "require_scope"]

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


def _create_unique(okta: OktaAppsClient, label: str, api_token: str) -> ServiceApp:
    existing = okta.find_active_app(label, api_token)
    if existing is not None:
        logger.info("label already taken", existing_app_id=existing)
        raise AppAlreadyExistsError("an active app with this label exists")
    return okta.create_service_app(label, api_token)


def register_service_app(label: str, settings: RegisterSettings, okta: OktaAppsClient) -> Registration:
    """Create a service app labelled label unless an active one exists; re-read the API token once on 401.

    Okta does not enforce unique labels, so uniqueness is checked with a search first. It is best effort:
    two concurrent requests with the same label can both pass the check. A 401 means Okta created nothing,
    so the one retry after re-reading the secret (it may have been rotated) cannot make a duplicate. After a
    timeout, 429 or 5xx the POST may have succeeded, so those are never retried.
    """
    api_token = okta_api_token(settings.api_token_secret)
    try:
        app = _create_unique(okta, label, api_token)
    except OktaTokenRejectedError:
        fresh_token = okta_api_token(settings.api_token_secret, refresh=True)
        if fresh_token == api_token:
            raise OktaAuthError("Okta refused the API token and the secret still holds the same one") from None
        logger.info("Okta refused the cached API token; retrying once with the re-read secret")
        app = _create_unique(okta, label, fresh_token)
    return Registration(
        app_id=app.app_id,
        label=app.label,
        client_id=app.client_id,
        client_secret=app.client_secret,
        request_token_url=f"{settings.issuer.rstrip('/')}/v1/token",
    )

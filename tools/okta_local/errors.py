"""Error answers in the two wire formats the server speaks: Okta's API errors and RFC 6749 OAuth errors."""

from __future__ import annotations

import json
import secrets
from typing import Any


class OktaApiError(Exception):
    """An Okta management API error: errorCode, errorSummary, errorCauses (Okta's error object)."""

    def __init__(
        self,
        status: int,
        code: str,
        summary: str,
        causes: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.summary = summary
        self.causes = causes or []
        self.headers = headers or {}  # e.g. WWW-Authenticate on 401 and 403

    def body(self) -> dict[str, Any]:
        """Return Okta's JSON error object; errorId is random like Okta's, for log correlation."""
        return {
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": "oae" + secrets.token_urlsafe(16),
            "errorCauses": [{"errorSummary": cause} for cause in self.causes],
        }


class OAuthError(Exception):
    """An RFC 6749 section 5.2 error answer of the token endpoint."""

    def __init__(self, status: int, error: str, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {error}")
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}  # e.g. DPoP-Nonce with use_dpop_nonce

    def body(self) -> dict[str, Any]:
        """Return the RFC 6749 JSON error object (Okta's token endpoint shape)."""
        return {"error": self.error, "error_description": self.description}


def validation_failed(*causes: str) -> OktaApiError:
    """Return Okta's E0000001 (400): the request body broke an endpoint precondition."""
    return OktaApiError(400, "E0000001", "Api validation failed: " + "; ".join(causes), list(causes))


def malformed_body() -> OktaApiError:
    """Return Okta's E0000003 (400): the request body is not well-formed JSON."""
    return OktaApiError(400, "E0000003", "The request body was not well-formed.")


def invalid_token(challenge: str | None = None) -> OktaApiError:
    """Return Okta's E0000011 (401): the API token or access token is missing or not valid."""
    return OktaApiError(
        401, "E0000011", "Invalid token provided", headers={"WWW-Authenticate": challenge} if challenge else None
    )


def forbidden(challenge: str) -> OktaApiError:
    """Return Okta's E0000006 (403): a valid access token without the scope the endpoint needs."""
    return OktaApiError(
        403,
        "E0000006",
        "You do not have permission to perform the requested action",
        headers={"WWW-Authenticate": challenge},
    )


def not_found(what: str, kind: str) -> OktaApiError:
    """Return Okta's E0000007 (404) for an unknown resource."""
    return OktaApiError(404, "E0000007", f"Not found: Resource not found: {what} ({kind})")


def method_not_allowed() -> OktaApiError:
    """Return Okta's E0000022 (405) for a method the endpoint does not support."""
    return OktaApiError(405, "E0000022", "The endpoint does not support the provided HTTP method")


def rate_limited() -> OktaApiError:
    """Return Okta's E0000047 (429): the API call exceeded the rate limit."""
    return OktaApiError(429, "E0000047", "API call exceeded rate limit due to too many requests.")


def internal_error() -> OktaApiError:
    """Return Okta's E0000009 (500)."""
    return OktaApiError(500, "E0000009", "Internal Server Error")


def json_body(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or Okta's malformed-body error."""
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise malformed_body() from None
    if not isinstance(data, dict):
        raise malformed_body()
    return data

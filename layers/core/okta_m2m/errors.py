"""Domain errors. Handlers map them to HTTP answers; their text is for logs, never for clients."""


class OktaM2MError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(OktaM2MError):
    """A required setting is missing or invalid; the message names the setting, never its value."""


class TokenError(OktaM2MError):
    """The bearer token is missing, malformed or invalid (the caller gets 401)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeySetUnavailableError(OktaM2MError):
    """The issuer's signing keys cannot be had, so no token can be trusted (fail closed)."""


class ReplayStoreUnavailableError(OktaM2MError):
    """The DPoP replay store cannot be asked whether a proof is new, so no proof can be accepted (fail closed)."""


class InvalidRequestError(OktaM2MError):
    """The request body is not acceptable (400); the message is short and safe to show."""


class PayloadTooLargeError(InvalidRequestError):
    """The request body is larger than the route takes (413); the message is short and safe to show."""


class UnknownRouteError(OktaM2MError):
    """The request reached a route the route table does not list (404: no such route, no handler runs)."""


class ForbiddenError(OktaM2MError):
    """The caller is authenticated but lacks the required scope (403); `scopes`, when known, are the scopes any one
    of which would open the route (the answer names them, RFC 6750 section 3)."""

    def __init__(self, reason: str, scopes: frozenset[str] = frozenset()) -> None:
        super().__init__(reason)
        self.scopes = scopes


class SecretUnavailableError(OktaM2MError):
    """The Okta API token cannot be read from Secrets Manager (500)."""


class OktaRateLimitedError(OktaM2MError):
    """Okta answered 429; retry_after is in seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited, retry after {retry_after}s")
        self.retry_after = retry_after


class OktaUnavailableError(OktaM2MError):
    """Okta answered 5xx or something unusable (502)."""


class OktaTimeoutError(OktaM2MError):
    """Okta did not answer in time (504)."""


class OktaAuthError(OktaM2MError):
    """Okta refused the API token (401/403) even after re-reading the secret."""


class LeaseBusyError(OktaM2MError):
    """Another registration holds the access policy's lease longer than we may wait (503, retry shortly)."""


class LeaseUnavailableError(OktaM2MError):
    """The lease table cannot be used (503): enrolment cannot be made safe, so nothing is registered."""


class EnrolmentFailedError(OktaM2MError):
    """The new client could not be enrolled in the access policy; the app was removed again (502)."""


class OktaNotFoundError(OktaM2MError):
    """Okta answered 404: the app or secret does not exist (or no longer does)."""


class OktaRefusedError(OktaM2MError):
    """Okta refused a change as invalid (400), e.g. a third client secret; `code` is Okta's errorCode."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class RegistryUnavailableError(OktaM2MError):
    """The client registry (DynamoDB) cannot be read or written (503): nothing was changed that is not undone."""


class ClientNotFoundError(OktaM2MError):
    """No client with this id is in the registry (or, for adoption, in Okta) (404)."""


class ClientExistsError(OktaM2MError):
    """The label is taken by a registered client (409); the answer names that client, never its secret."""

    def __init__(self, client_id: str) -> None:
        super().__init__(f"label taken by client {client_id}")
        self.client_id = client_id


class RegistrationInProgressError(OktaM2MError):
    """Another registration of the same label has not finished yet (409, retry shortly)."""


class ClientConflictError(OktaM2MError):
    """The client's state does not allow the operation (409); the message is short and safe to show."""


class ApiKeysUnavailableError(OktaM2MError):
    """The usage plan's API keys (API Gateway) cannot be read or changed (503); nothing is left half-done."""

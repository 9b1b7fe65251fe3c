"""One mapping from domain errors to short, fixed JSON answers, shared by every proxy function."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError

from okta_m2m.errors import (
    ApiKeysUnavailableError,
    ClientConflictError,
    ClientExistsError,
    ClientNotFoundError,
    ConfigError,
    EnrolmentFailedError,
    ForbiddenError,
    InvalidRequestError,
    LeaseBusyError,
    LeaseUnavailableError,
    OktaAuthError,
    OktaM2MError,
    OktaNotFoundError,
    OktaRateLimitedError,
    OktaRefusedError,
    OktaTimeoutError,
    OktaUnavailableError,
    PayloadTooLargeError,
    RegistrationInProgressError,
    RegistryUnavailableError,
    SecretUnavailableError,
    UnknownRouteError,
)

NO_STORE = {"Cache-Control": "no-store"}
# What Powertools' resolver matches in a path parameter (aws_lambda_powertools 3.37's _NAMED_GROUP_BOUNDARY_PATTERN):
# a value with any other character reaches no route of the function, although API Gateway routed it there.
_ROUTABLE = re.compile(r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+")
RETRY_AFTER_BUSY_SECONDS = 2
# RFC 6750 section 3: a scope-token is 1*NQCHAR (printable ASCII but for space, double quote and backslash).
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


@dataclass(frozen=True)
class ErrorAnswer:
    """How one kind of error is answered: status, fixed message, and an outcome name for logs and metrics."""

    status: int
    message: str
    outcome: str


INTERNAL_ERROR = ErrorAnswer(500, "Internal server error", "internal_error")
NOT_FOUND = ErrorAnswer(404, "Not found", "not_found")

# Most specific first: the first class the error is an instance of wins. Public: the API's contract (openapi.yaml)
# is generated from it, each operation naming the outcomes it can answer.
ANSWERS: tuple[tuple[type[OktaM2MError], ErrorAnswer], ...] = (
    (PayloadTooLargeError, ErrorAnswer(413, "Request body too large", "too_large")),
    (InvalidRequestError, ErrorAnswer(400, "Bad request", "invalid_request")),
    (ForbiddenError, ErrorAnswer(403, "Forbidden", "forbidden")),
    (UnknownRouteError, NOT_FOUND),
    (ClientNotFoundError, ErrorAnswer(404, "Client not found", "client_not_found")),
    (ClientExistsError, ErrorAnswer(409, "A client with this label is already registered", "label_taken")),
    (RegistrationInProgressError, ErrorAnswer(409, "A registration of this label is in progress", "in_progress")),
    (ClientConflictError, ErrorAnswer(409, "Conflict", "conflict")),
    (OktaRateLimitedError, ErrorAnswer(429, "Too many requests to Okta, retry later", "rate_limited")),
    (OktaUnavailableError, ErrorAnswer(502, "Okta is unavailable", "okta_unavailable")),
    (OktaNotFoundError, ErrorAnswer(502, "Okta is unavailable", "okta_unavailable")),
    (OktaRefusedError, ErrorAnswer(502, "Okta refused the change", "okta_refused")),
    (
        EnrolmentFailedError,
        ErrorAnswer(502, "Okta did not enrol the new client; nothing was registered", "enrolment_failed"),
    ),
    (LeaseBusyError, ErrorAnswer(503, "Another registration is in progress, retry shortly", "busy")),
    (LeaseUnavailableError, ErrorAnswer(503, "Registration is temporarily unavailable", "lease_unavailable")),
    (
        RegistryUnavailableError,
        ErrorAnswer(503, "The client registry is temporarily unavailable", "registry_unavailable"),
    ),
    (
        ApiKeysUnavailableError,
        ErrorAnswer(503, "Per-client limits are temporarily unavailable", "api_keys_unavailable"),
    ),
    (OktaTimeoutError, ErrorAnswer(504, "Okta did not answer in time", "okta_timeout")),
    (SecretUnavailableError, ErrorAnswer(500, "Internal server error", "secret_unavailable")),
    (ConfigError, ErrorAnswer(500, "Internal server error", "config_error")),
    (OktaAuthError, ErrorAnswer(500, "Internal server error", "okta_auth_error")),
)


# Errors whose own text is the answer's message (written to be shown, errors.py); every other message is fixed.
SHOWN: tuple[type[OktaM2MError], ...] = (InvalidRequestError, ClientConflictError)


def _service_answer(exc: ServiceError) -> ErrorAnswer:
    # Powertools' own HTTP errors (NotFoundError("Order 7 not found"), BadRequestError(...)): a function raises them
    # to answer its caller, so its status and message are the answer. An unknown route is NotFoundError() itself.
    try:
        outcome = HTTPStatus(exc.status_code).name.lower()
    except ValueError:
        outcome = f"http_{exc.status_code}"
    message = exc.msg if isinstance(exc.msg, str) else json.dumps(exc.msg)
    return ErrorAnswer(int(exc.status_code), message, outcome)


def answer_for(exc: Exception) -> ErrorAnswer:
    """Return how exc is answered; anything unknown is a 500."""
    if isinstance(exc, ServiceError):
        return _service_answer(exc)
    return next((answer for cls, answer in ANSWERS if isinstance(exc, cls)), INTERNAL_ERROR)


def insufficient_scope(scopes: frozenset[str]) -> str:
    """The WWW-Authenticate challenge of a 403 for want of a scope, naming the scopes that would do (RFC 6750)."""
    challenge = 'Bearer error="insufficient_scope"'
    if scopes and all(_SCOPE_TOKEN.fullmatch(scope) for scope in scopes):
        challenge += f', scope="{" ".join(sorted(scopes))}"'
    return challenge


def error_response(exc: Exception) -> Response:
    """Build the HTTP answer for exc: status, {"message": ...}, no-store, Retry-After on 429 and 503, and the
    Bearer challenge on a 403 for want of a scope."""
    answer = answer_for(exc)
    body: dict[str, object]
    if isinstance(exc, ServiceError):
        body = {"message": exc.msg}  # the function's own answer, a text or a JSON object, as it raised it
    else:
        # These texts are written to be shown (errors.py); every other message is fixed here.
        shown = isinstance(exc, SHOWN)
        body = {"message": str(exc) if shown else answer.message}
    if isinstance(exc, ClientExistsError):
        body["client_id"] = exc.client_id
    headers = dict(NO_STORE)
    if isinstance(exc, ForbiddenError):
        headers["WWW-Authenticate"] = insufficient_scope(exc.scopes)
    if isinstance(exc, OktaRateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    elif answer.status == 503 or isinstance(exc, RegistrationInProgressError):
        headers["Retry-After"] = str(RETRY_AFTER_BUSY_SECONDS)
    return Response(
        status_code=answer.status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=headers,
    )


def unroutable_parameter(path_parameters: Mapping[str, str] | None) -> str | None:
    """The name of a path parameter whose value Powertools cannot route (a control character, a backslash...)."""
    return next((name for name, value in (path_parameters or {}).items() if not _ROUTABLE.fullmatch(value or "")), None)


def register_error_handlers(
    app: APIGatewayRestResolver, logger: Logger, on_error: Callable[[ErrorAnswer], None] | None = None
) -> None:
    """Install the shared error answers on app; on_error (e.g. a metric) sees each error's ErrorAnswer."""

    def answered(exc: Exception, answer: ErrorAnswer) -> Response:
        if on_error is not None:
            on_error(answer)
        return error_response(exc)

    def domain_error(exc: OktaM2MError) -> Response:
        answer = answer_for(exc)
        # Domain error texts are written for logs (errors.py): they name settings and statuses, never secrets.
        log = logger.error if answer.status >= 500 else logger.info
        caller = (app.current_event.request_context.authorizer.raw_event or {}).get("clientId")
        log("request failed", outcome=answer.outcome, status=answer.status, reason=str(exc), caller_client_id=caller)
        return answered(exc, answer)

    app.exception_handler(OktaM2MError)(domain_error)

    @app.not_found
    def handle_not_found(exc: NotFoundError) -> Response:
        # An unknown route (NotFoundError()), or the function's own 404 with its message. API Gateway routed the
        # request here, so a path parameter the resolver cannot match is a bad value (400), not a missing route.
        name = unroutable_parameter(app.current_event.path_parameters)
        if name is not None:
            return domain_error(InvalidRequestError(f"path parameter {name} is not valid"))
        return answered(exc, answer_for(exc))

    @app.exception_handler(ServiceError)
    def handle_service_error(exc: ServiceError) -> Response:
        # Registered explicitly, or the catch-all below would turn a function's own 400 or 409 into a 500.
        return answered(exc, answer_for(exc))

    @app.exception_handler(Exception)
    def handle_bug(exc: Exception) -> Response:
        # A bug: the traceback goes to the log (alarm on outcome=internal_error), the caller sees a fixed 500.
        logger.exception("unhandled error", outcome=INTERNAL_ERROR.outcome, status=INTERNAL_ERROR.status)
        return answered(exc, INTERNAL_ERROR)

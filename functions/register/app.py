"""The client admin API: POST /register (a new Okta service app, its credentials answered once) and /clients
(list, show, adopt, rotate and remove secrets, revoke). Every route needs the register scope (ROUTE_SCOPES)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from okta_m2m import clients
from okta_m2m.clients import (
    OktaClient,
    RegisterSettings,
    Registry,
    okta_auth,
    read_registration,
    register_service_app,
    register_settings,
)
from okta_m2m.http_errors import NO_STORE, ErrorAnswer, register_error_handlers
from okta_m2m.tokens import check_route_scope

logger = Logger()
metrics = Metrics()
# debug=False even if POWERTOOLS_DEV is set: debug mode prints the event (bearer token included) and tracebacks.
app = APIGatewayRestResolver(debug=False)


def count(action: str, outcome: str) -> None:
    """Add one to the ClientOperations metric for this action and outcome (both low-cardinality names)."""
    metrics.add_dimension(name="action", value=action)
    metrics.add_dimension(name="outcome", value=outcome)
    metrics.add_metric(name="ClientOperations", unit=MetricUnit.Count, value=1)


# The action each route is, for the audit log and the metric (known before the route runs: its scope check
# may refuse the request first).
ACTIONS = {
    ("POST", "/register"): "register",
    ("GET", "/clients"): "list",
    ("GET", "/clients/{clientId}"): "show",
    ("PUT", "/clients/{clientId}"): "adopt",
    ("POST", "/clients/{clientId}/secrets"): "rotate",
    ("DELETE", "/clients/{clientId}/secrets/{secretId}"): "remove_secret",
    ("DELETE", "/clients/{clientId}"): "revoke",
}


def _action() -> str:
    event = app.current_event
    return ACTIONS.get((event.http_method, event.resource), "unknown")


def _count_error(answer: ErrorAnswer) -> None:
    count(_action(), answer.outcome)


register_error_handlers(app, logger, on_error=_count_error)
app.use(middlewares=[check_route_scope])  # the scopes ROUTE_SCOPES lists for the route, checked again here


def _caller() -> str | None:
    context: dict[str, Any] = app.current_event.request_context.authorizer.raw_event or {}
    caller = context.get("clientId")
    return str(caller) if caller else None


def _begin(target: str | None = None) -> str | None:
    """Name the operation and its target for the audit log lines; return the caller's client id."""
    caller = _caller()
    logger.append_keys(action=_action(), caller_client_id=caller, target_client_id=target)
    return caller


def _done(outcome: str, status: int, body: dict[str, Any], **log: Any) -> Response:
    """Log who did what to which client, count it, and answer short JSON that no cache may keep."""
    logger.info("client operation", outcome=outcome, **log)
    count(_action(), outcome)
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body), headers=dict(NO_STORE)
    )


def _parts() -> tuple[RegisterSettings, OktaClient, Registry, Callable[[], int]]:
    settings = register_settings()
    remaining_ms = app.lambda_context.get_remaining_time_in_millis
    okta = OktaClient(settings.okta_org_url, remaining_ms, okta_auth(settings, remaining_ms))
    return settings, okta, Registry(settings.clients_table), remaining_ms


@app.post("/register")
def register_client() -> Response:
    """Check the body, claim the label, create and enrol the service app, answer 201 with its credentials once."""
    caller = _begin()
    settings, okta, registry, remaining_ms = _parts()
    wanted = read_registration(app.current_event.body, bool(app.current_event.is_base64_encoded))
    logger.append_keys(label=wanted.label, dpop=wanted.dpop)
    registration = register_service_app(wanted.label, caller, settings, okta, registry, remaining_ms, dpop=wanted.dpop)
    logger.append_keys(target_client_id=registration.client_id)
    return _done("created", 201, registration.as_dict(), app_id=registration.app_id)


@app.get("/clients")
def list_clients() -> Response:
    """A page of registered clients (`limit`, `next`), never a secret."""
    _begin()
    _, _, registry, _ = _parts()
    event = app.current_event
    page = clients.list_clients(registry, event.get_query_string_value("limit"), event.get_query_string_value("next"))
    return _done("listed", 200, page, count=len(page["clients"]))


@app.get("/clients/<client_id>")
def show_client(client_id: str) -> Response:
    """One registered client, with its Okta status and secrets (ids only)."""
    _begin(client_id)
    _, okta, registry, _ = _parts()
    return _done("shown", 200, clients.show_client(registry, okta, clients.check_id(client_id, "clientId")))


@app.put("/clients/<client_id>")
def adopt_client(client_id: str) -> Response:
    """Adopt an active Okta service app this API did not register: 201 when newly adopted, 200 if it already was."""
    caller = _begin(client_id)
    settings, okta, registry, remaining_ms = _parts()
    client, adopted = clients.adopt_client(
        registry, okta, settings, clients.check_id(client_id, "clientId"), caller, remaining_ms
    )
    return _done("adopted" if adopted else "unchanged", 201 if adopted else 200, client)


@app.post("/clients/<client_id>/secrets")
def rotate_secret(client_id: str) -> Response:
    """A new client secret, answered once with its id; the old one keeps working until it is removed."""
    _begin(client_id)
    settings, okta, registry, remaining_ms = _parts()
    secret = clients.rotate_secret(registry, okta, settings, clients.check_id(client_id, "clientId"), remaining_ms)
    return _done("created", 201, secret, secret_id=secret["secret_id"])


@app.delete("/clients/<client_id>/secrets/<secret_id>")
def remove_secret(client_id: str, secret_id: str) -> Response:
    """Deactivate and delete one secret (409 for the last active one)."""
    _begin(client_id)
    settings, okta, registry, remaining_ms = _parts()
    removed = clients.remove_secret(
        registry,
        okta,
        settings,
        clients.check_id(client_id, "clientId"),
        clients.check_id(secret_id, "secretId"),
        remaining_ms,
    )
    return _done("removed", 200, removed, secret_id=secret_id)


@app.delete("/clients/<client_id>")
def revoke_client(client_id: str) -> Response:
    """Revoke: deactivate the app, take it out of the access policy, mark it revoked (idempotent)."""
    caller = _begin(client_id)
    settings, okta, registry, remaining_ms = _parts()
    revoked = clients.revoke_client(
        registry, okta, settings, clients.check_id(client_id, "clientId"), caller, remaining_ms
    )
    return _done("revoked", 200, revoked)


# clear_state: caller and label keys must not leak into the next invocation's logs; log_event=False
# wins over POWERTOOLS_LOGGER_LOG_EVENT, because the event carries the caller's bearer token.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Route the API Gateway proxy event."""
    return app.resolve(event, context)

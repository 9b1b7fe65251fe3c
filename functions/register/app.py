"""POST /register: create an Okta service app for a machine-to-machine client and return its credentials once."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from okta_m2m.config import register_settings
from okta_m2m.http_errors import NO_STORE, ErrorAnswer, register_error_handlers
from okta_m2m.okta_auth import okta_auth
from okta_m2m.okta_client import OktaClient
from okta_m2m.registration import read_label, register_service_app
from okta_m2m.scopes import check_route_scope

logger = Logger()
metrics = Metrics()
# debug=False even if POWERTOOLS_DEV is set: debug mode prints the event (bearer token included) and tracebacks.
app = APIGatewayRestResolver(debug=False)


def count_registration(outcome: str) -> None:
    """Add one to the Registrations metric under this outcome."""
    metrics.add_dimension(name="outcome", value=outcome)
    metrics.add_metric(name="Registrations", unit=MetricUnit.Count, value=1)


def _count_error(answer: ErrorAnswer) -> None:
    count_registration(answer.outcome)


register_error_handlers(app, logger, on_error=_count_error)
app.use(middlewares=[check_route_scope])  # the scopes ROUTE_SCOPES lists for the route, checked again here


@app.post("/register")
def register_client() -> Response:
    """Check the body, create the service app, and answer 201 with its credentials (the scope: check_route_scope)."""
    caller: dict[str, Any] = app.current_event.request_context.authorizer.raw_event or {}
    logger.append_keys(caller_client_id=caller.get("clientId"))
    settings = register_settings()
    label = read_label(app.current_event.body, bool(app.current_event.is_base64_encoded))
    logger.append_keys(label=label)
    remaining_ms = app.lambda_context.get_remaining_time_in_millis
    okta = OktaClient(settings.okta_org_url, remaining_ms, okta_auth(settings, remaining_ms))
    registration = register_service_app(label, settings, okta, remaining_ms)
    logger.info("service app registered", outcome="created", app_id=registration.app_id)
    count_registration("created")
    return Response(
        status_code=201,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(registration.as_dict()),
        headers=dict(NO_STORE),
    )


# clear_state: caller and label keys must not leak into the next invocation's logs; log_event=False
# wins over POWERTOOLS_LOGGER_LOG_EVENT, because the event carries the caller's bearer token.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Route the API Gateway proxy event."""
    return app.resolve(event, context)

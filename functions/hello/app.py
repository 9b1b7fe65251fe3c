"""GET /hello, GET / and GET /hello/dpop (for DPoP-bound tokens): the protected Hello World, for callers the
authorizer let through."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from okta_m2m.http_errors import register_error_handlers
from okta_m2m.tokens import check_route_scope

logger = Logger()
app = APIGatewayRestResolver(debug=False)  # debug mode would print events, bearer tokens included
app.use(middlewares=[check_route_scope])  # the scopes ROUTE_SCOPES lists for the route, checked again here
register_error_handlers(app, logger)


@app.get("/hello/dpop")
@app.get("/hello")
@app.get("/")
def get_hello() -> dict[str, str]:
    """Greet the calling client, named by the authorizer's context."""
    caller: dict[str, Any] = app.current_event.request_context.authorizer.raw_event or {}
    logger.info("hello", client_id=caller.get("clientId"))
    return {"message": "Hello World!", "clientId": str(caller.get("clientId", ""))}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Route the API Gateway proxy event."""
    return app.resolve(event, context)

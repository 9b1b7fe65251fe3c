"""Lambda TOKEN authorizer: validates Okta access tokens and answers API Gateway with an IAM policy."""

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from okta_m2m.authorization import TokenAuthorizer
from okta_m2m.config import authorizer_settings
from okta_m2m.errors import TokenError
from okta_m2m.jwks import KeyCache
from okta_m2m.log_format import LeanJsonFormatter

# The lean formatter keeps a decision line at a fraction of the default formatter's cost (make bench).
formatter = LeanJsonFormatter()
logger = Logger(logger_formatter=formatter)


@lru_cache(maxsize=1)
def token_authorizer() -> TokenAuthorizer:
    """One authorizer per container, so signing keys and verified tokens stay cached between calls."""
    settings = authorizer_settings()
    keys = KeyCache(settings.issuer, settings.jwks_uri, discover=not settings.jwks_uri_configured)
    return TokenAuthorizer(settings, keys)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Allow or deny; a missing or invalid token raises Exception("Unauthorized"), which API Gateway answers 401."""
    # Only the request id, not inject_lambda_context: that costs more than half of a cached decision (make bench).
    # Straight to the formatter: Logger.append_keys looks the handler and formatter up on every call.
    formatter.append_keys(function_request_id=getattr(context, "aws_request_id", None))
    try:
        return token_authorizer().authorize(event.get("authorizationToken"), event.get("methodArn"))
    except TokenError as exc:
        logger.info("unauthorized", decision="unauthorized", reason=exc.reason)
    # The exact text "Unauthorized" is API Gateway's contract for 401; raised outside the except for a clean trace.
    raise Exception("Unauthorized")  # noqa: TRY002

"""Lambda authorizer: validates Okta access tokens and answers API Gateway with an IAM policy.

One function serves both kinds of route (one cold path, one deployment): a TOKEN event is a bearer route's, a
REQUEST event a DPoP route's (its token bound to a key, with a proof of that key for this request).
"""

from __future__ import annotations

# The issuer's keys are fetched first, in the background, so that the fetch waits on the network while the imports
# below load (Lambda's INIT; make bench, cold start). These modules need only the standard library, and little of it.
import sys
import time

from okta_m2m.errors import ConfigError
from okta_m2m.tokens import TIMEOUT_SECONDS, Prefetched, issuer_settings


def _prefetch_keys() -> dict[str, Prefetched]:
    """Start fetching each issuer's signing keys; none without settings (the first call then fails on them)."""
    try:
        issuers = issuer_settings()
    except ConfigError:
        return {}
    started = {issuer.issuer: Prefetched(issuer.jwks_uri, TIMEOUT_SECONDS) for issuer in issuers}
    time.sleep(0)  # yield the GIL: each thread connects and sends before the imports below take it back
    return started


# While the imports below run, the interpreter hands the GIL over every 0.5 ms instead of every 5: the prefetch
# thread's short steps (connect, send, read) then go out at once rather than each waiting on an import to yield.
_switch_interval = sys.getswitchinterval()
sys.setswitchinterval(0.0005)
_keys_prefetch = _prefetch_keys()

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from okta_m2m.errors import KeySetUnavailableError, ReplayStoreUnavailableError, TokenError
from okta_m2m.tokens import (
    CallSiteLog,
    FieldLogger,
    KeyCache,
    TokenAuthorizer,
    authorizer_settings,
    fetch_json,
    service_logger,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

sys.setswitchinterval(_switch_interval)

# Powertools' line format without importing Powertools, a third of this function's cold start (tokens._log_format).
logger, formatter = service_logger()
_log_unauthorized = CallSiteLog(FieldLogger(logger), decision_metric=True)
_log_keys_unavailable = CallSiteLog(FieldLogger(logger), decision_metric=True)
_log_store_unavailable = CallSiteLog(FieldLogger(logger), decision_metric=True)
REQUEST = "REQUEST"  # the event type of a DPoP route's authorizer


@lru_cache(maxsize=1)
def token_authorizer() -> TokenAuthorizer:
    """One authorizer per container, so signing keys and verified tokens stay cached between calls."""
    settings = authorizer_settings()
    keys = {
        issuer.issuer: KeyCache(
            issuer.issuer,
            issuer.jwks_uri,
            discover=not issuer.jwks_uri_configured,
            fetch=_keys_prefetch.get(issuer.issuer, fetch_json),
        )
        for issuer in settings.issuers
    }
    return TokenAuthorizer(settings, keys)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Allow or deny; a missing or invalid token (or proof) raises Exception("Unauthorized"), which API Gateway
    answers 401."""
    # Only the request id, not Powertools' inject_lambda_context: that costs more than half of a cached decision.
    formatter.append_key("function_request_id", getattr(context, "aws_request_id", None))
    try:
        if event.get("type") == REQUEST:
            return token_authorizer().authorize_request(event)
        return token_authorizer().authorize(event.get("authorizationToken"), event.get("methodArn"))
    except TokenError as exc:
        _log_unauthorized("unauthorized", {"decision": "unauthorized", "reason": exc.reason})
    except KeySetUnavailableError as exc:
        # Not the caller's fault: the error reaches API Gateway, whose AUTHORIZER_FAILURE answer is a 503.
        _log_keys_unavailable("keys unavailable", {"decision": "keys_unavailable", "reason": str(exc)})
        raise
    except ReplayStoreUnavailableError as exc:
        # Fail closed: a proof that cannot be known to be new is not accepted; 503, as for the keys.
        _log_store_unavailable("replay store unavailable", {"decision": "replay_store_unavailable", "reason": str(exc)})
        raise
    # The exact text "Unauthorized" is API Gateway's contract for 401; raised outside the except for a clean trace.
    raise Exception("Unauthorized")  # noqa: TRY002

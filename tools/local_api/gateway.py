"""SAM CLI's API Gateway emulator, corrected where it differs from API Gateway: TOKEN authorizers, function errors.

- An authorizer raising Exception("Unauthorized") answers 401 (SAM CLI: 502).
- Authorizer results (policies) are cached per token for the authorizer's ReauthorizeEvery (SAM CLI: no cache).
- The template's GatewayResponses shape the authorizer's 401, 403 and failure answers (SAM CLI: fixed bodies).
- An explicit Deny in the authorizer's policy wins over any Allow, as in IAM (SAM CLI: reads Allow statements only).
- A function's error (exception, timeout, exited runtime) answers 502 Internal server error, as API Gateway's proxy
  integration does (SAM CLI: 500).

Requests are served concurrently (werkzeug threads): per-request state lives in a threading.local, the authorizer
cache takes a lock, and the settings are read-only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from io import StringIO
from typing import Any

from flask import Response
from samcli.lib.utils.stream_writer import StreamWriter
from samcli.local.apigw.authorizers.lambda_authorizer import LambdaAuthorizer
from samcli.local.apigw.exceptions import (
    AuthorizerUnauthorizedRequest,
    InvalidLambdaAuthorizerResponse,
    LambdaResponseParseException,
)
from samcli.local.apigw.local_apigw_service import LocalApigwService
from samcli.local.apigw.service_error_responses import ServiceErrorResponses
from samcli.local.services.base_local_service import LambdaOutputParser

LOG = logging.getLogger("local_api.gateway")

UNAUTHORIZED = "UNAUTHORIZED"
ACCESS_DENIED = "ACCESS_DENIED"
AUTHORIZER_FAILURE = "AUTHORIZER_FAILURE"
AUTHORIZER_CONFIGURATION_ERROR = "AUTHORIZER_CONFIGURATION_ERROR"

DEFAULT_REAUTHORIZE_EVERY = 300  # API Gateway's default authorizer result TTL, in seconds


@dataclass(frozen=True)
class GatewayResponse:
    """One gateway response: status, static headers and body."""

    status: int
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)


# API Gateway's answers when the template does not customise a response type.
_BUILT_IN = {
    UNAUTHORIZED: GatewayResponse(401, '{"message":"Unauthorized"}'),
    ACCESS_DENIED: GatewayResponse(
        403, '{"Message":"User is not authorized to access this resource with an explicit deny"}'
    ),
    AUTHORIZER_FAILURE: GatewayResponse(500, '{"message":null}'),
    AUTHORIZER_CONFIGURATION_ERROR: GatewayResponse(500, '{"message":null}'),
}


class _AnsweredBySamFilter(logging.Filter):
    """Drops SAM CLI's ERROR line for authorizer verdicts we answer on purpose (401, 403, 503 are not faults here)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.msg == "Lambda authorizer failed to invoke successfully: %s"
            and isinstance(record.args, tuple)
            and record.args[:1] in ((UNAUTHORIZED,), (ACCESS_DENIED,), (AUTHORIZER_CONFIGURATION_ERROR,))
        )


_ANSWERED_BY_US = _AnsweredBySamFilter()


class FunctionError(Exception):
    """Raised inside a request when the route's function answered an error payload (never carries request data)."""


class GatewayResponseError(Exception):
    """Raised inside a request to answer with the gateway response of this type (never carries request data)."""

    def __init__(self, response_type: str) -> None:
        super().__init__(response_type)
        self.response_type = response_type


def _parse_gateway_response(spec: Mapping[str, Any]) -> GatewayResponse:
    headers = {}
    for name, value in (spec.get("ResponseParameters", {}).get("Headers") or {}).items():
        # Only static values ('quoted') can be had locally; mappings such as method.request.header.X cannot.
        if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == "'":
            headers[name] = value[1:-1]
        else:
            LOG.warning("gateway response header %s is not a static value; left out locally", name)
    templates = spec.get("ResponseTemplates") or {}
    body = templates.get("application/json", next(iter(templates.values()), '{"message":null}'))
    return GatewayResponse(status=int(spec["StatusCode"]), body=body, headers=headers)


@dataclass(frozen=True)
class GatewaySettings:
    """What the template says about gateway responses and authorizer caching."""

    responses: Mapping[str, GatewayResponse] = field(default_factory=dict)
    authorizer_ttls: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_stacks(cls, stacks: Iterable[Any]) -> GatewaySettings:
        """Read GatewayResponses and ReauthorizeEvery from the AWS::Serverless::Api resources (intrinsics resolved)."""
        responses: dict[str, GatewayResponse] = {}
        ttls: dict[str, int] = {}
        for stack in stacks:
            for resource in stack.resources.values():
                if resource.get("Type") != "AWS::Serverless::Api":
                    continue
                props = resource.get("Properties") or {}
                for kind, spec in (props.get("GatewayResponses") or {}).items():
                    responses.setdefault(kind, _parse_gateway_response(spec))
                for name, auth in ((props.get("Auth") or {}).get("Authorizers") or {}).items():
                    ttl = (auth.get("Identity") or {}).get("ReauthorizeEvery", DEFAULT_REAUTHORIZE_EVERY)
                    ttls.setdefault(name, int(ttl))
        return cls(responses=responses, authorizer_ttls=ttls)

    def response(self, response_type: str) -> GatewayResponse:
        """The template's response of that type, else its DEFAULT_4XX/5XX, else API Gateway's built-in one."""
        built_in = _BUILT_IN[response_type]
        fallback = "DEFAULT_4XX" if built_in.status < 500 else "DEFAULT_5XX"
        return self.responses.get(response_type) or self.responses.get(fallback) or built_in

    def ttl(self, authorizer_name: str) -> int:
        """Seconds an authorizer's result is cached (0: not cached)."""
        return self.authorizer_ttls.get(authorizer_name, DEFAULT_REAUTHORIZE_EVERY)


class AuthorizerCache:
    """Authorizer results per (authorizer, token) for a TTL; keys hold a SHA-256 of the token, never the token."""

    _PURGE_ABOVE = 1024

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, str]] = {}

    @staticmethod
    def key(authorizer_name: str, token: str) -> tuple[str, str]:
        """Cache key for a token."""
        return authorizer_name, hashlib.sha256(token.encode()).hexdigest()

    def get(self, key: tuple[str, str]) -> str | None:
        """The cached authorizer output, if still fresh."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] <= self._clock():
                self._entries.pop(key, None)
                return None
            return entry[1]

    def put(self, key: tuple[str, str], output: str, ttl: int) -> None:
        """Keep an authorizer output for ttl seconds."""
        if ttl <= 0:
            return
        with self._lock:
            now = self._clock()
            if len(self._entries) >= self._PURGE_ABOVE:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            self._entries[key] = (now + ttl, output)

    def clear(self) -> None:
        """Forget every cached result."""
        with self._lock:
            self._entries.clear()


def explicitly_denied(output: str, method_arn: str) -> bool:
    """Whether a Deny statement of the authorizer's policy covers method_arn (`*` any run of characters, `?` one)."""
    statements = json.loads(output).get("policyDocument", {}).get("Statement", [])
    for statement in statements if isinstance(statements, list) else []:
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        actions = statement.get("Action", [])
        if "execute-api:Invoke" not in (actions if isinstance(actions, list) else [actions]):
            continue
        resources = statement.get("Resource", [])
        for resource in resources if isinstance(resources, list) else [resources]:
            pattern = re.escape(str(resource)).replace(r"\*", ".*").replace(r"\?", ".")
            if re.fullmatch(pattern, method_arn):
                return True
    return False


class GatewayApigwService(LocalApigwService):
    """LocalApigwService with API Gateway's authorizer error statuses, result caching and gateway responses."""

    def __init__(self, *args: Any, gateway: GatewaySettings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gateway = gateway
        self.authorizer_cache = AuthorizerCache()
        self._local = threading.local()  # the authorizer being invoked by this request's thread

    def create(self) -> None:
        """Build the Flask app, then answer GatewayResponseError with the template's gateway responses."""
        super().create()
        self._app.register_error_handler(GatewayResponseError, self._gateway_response)
        self._app.register_error_handler(FunctionError, lambda _error: ServiceErrorResponses.lambda_failure_response())
        logging.getLogger("samcli.local.apigw.local_apigw_service").addFilter(_ANSWERED_BY_US)

    def _gateway_response(self, error: GatewayResponseError) -> Response:
        spec = self.gateway.response(error.response_type)
        response = Response(spec.body, status=spec.status, content_type="application/json")
        response.headers.update(spec.headers)
        return response

    def _valid_identity_sources(self, request: Any, route: Any) -> bool:
        # A missing token, or one failing the ValidationExpression, is API Gateway's UNAUTHORIZED response.
        if not super()._valid_identity_sources(request, route):
            raise GatewayResponseError(UNAUTHORIZED)
        return True

    def _invoke_parse_lambda_authorizer(
        self, lambda_authorizer: Any, auth_lambda_event: dict[str, Any], route_lambda_event: dict[str, Any], route: Any
    ) -> None:
        # SAM CLI evaluates the policy against this route and merges the context; we supply the (cached) output
        # through _invoke_lambda_function and map SAM CLI's verdicts to gateway responses.
        self._local.authorizer, self._local.output = lambda_authorizer, None
        try:
            super()._invoke_parse_lambda_authorizer(lambda_authorizer, auth_lambda_event, route_lambda_event, route)
            output = self._local.output
            if lambda_authorizer.type == LambdaAuthorizer.TOKEN and isinstance(output, str):
                if explicitly_denied(output, str(auth_lambda_event.get("methodArn", ""))):
                    raise GatewayResponseError(ACCESS_DENIED)
        except AuthorizerUnauthorizedRequest:
            raise GatewayResponseError(ACCESS_DENIED) from None
        except InvalidLambdaAuthorizerResponse:
            LOG.error("authorizer=%s returned a malformed policy", lambda_authorizer.authorizer_name)
            raise GatewayResponseError(AUTHORIZER_CONFIGURATION_ERROR) from None
        finally:
            self._local.authorizer = self._local.output = None

    def _invoke_lambda_function(
        self, lambda_function_name: str, event: dict[str, Any], tenant_id: str | None = None
    ) -> str | bytes:
        authorizer = getattr(self._local, "authorizer", None)
        if authorizer is None or authorizer.type != LambdaAuthorizer.TOKEN:
            try:
                output: str | bytes = super()._invoke_lambda_function(lambda_function_name, event, tenant_id)
            except LambdaResponseParseException:  # SAM CLI's signal of an error payload, which it answers 500
                if authorizer is None:
                    raise FunctionError from None
                raise
            return output
        name = authorizer.authorizer_name
        key = AuthorizerCache.key(name, str(event["authorizationToken"]))
        cached = self.authorizer_cache.get(key)
        if cached is not None:
            LOG.info("authorizer=%s cache=hit", name)
            self._local.output = cached
            return cached
        output = self._local.output = self._run_authorizer(lambda_function_name, event)
        try:
            authorizer.is_valid_response(output, "")  # only well-formed policies are cached
        except InvalidLambdaAuthorizerResponse:
            return output
        self.authorizer_cache.put(key, output, self.gateway.ttl(name))
        return output

    def _run_authorizer(self, function_name: str, event: dict[str, Any]) -> str:
        """Invoke the authorizer; Unauthorized -> 401, any other error -> authorizer failure (never cached)."""
        with StringIO() as stdout:
            payload, writer = json.dumps(event, sort_keys=True), StreamWriter(stdout, auto_flush=True)
            self.lambda_runner.invoke(function_name, payload, stdout=writer, stderr=self.stderr)
            output, is_error = LambdaOutputParser.get_lambda_output(stdout)
        text = output.decode() if isinstance(output, bytes) else output
        if is_error:
            if json.loads(text).get("errorMessage") == "Unauthorized":
                raise GatewayResponseError(UNAUTHORIZED)
            # API Gateway reports a failing authorizer function as AuthorizerConfigurationException.
            raise GatewayResponseError(AUTHORIZER_CONFIGURATION_ERROR)
        return text

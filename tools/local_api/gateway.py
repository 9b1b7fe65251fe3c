"""SAM CLI's API Gateway emulator, corrected where it differs from API Gateway: Lambda authorizers (TOKEN and
REQUEST), function errors, usage plans, access log.

- An authorizer raising Exception("Unauthorized") answers 401 (SAM CLI: 502), TOKEN or REQUEST alike.
- A missing identity source (the TOKEN header, or any of a REQUEST authorizer's) answers 401 without invoking the
  authorizer, as API Gateway does; SAM CLI's own event (the whole request, `type` REQUEST, `methodArn`) is kept.
- Authorizer results (policies, with their usageIdentifierKey) are cached for the authorizer's ReauthorizeEvery, by
  the token (TOKEN) or by the values of all identity sources (REQUEST); 0 caches nothing (SAM CLI: no cache).
- The template's GatewayResponses shape the authorizer's 401, 403 and failure answers (SAM CLI: fixed bodies).
- An explicit Deny in the authorizer's policy wins over any Allow, as in IAM (SAM CLI: reads Allow statements only).
- Routes that require an API key from the authorizer get the key check, throttle and quota of their usage plan
  before their function runs (local_api.usage_plans; SAM CLI: none): INVALID_API_KEY, THROTTLED, QUOTA_EXCEEDED.
- A function's error (exception, timeout, exited runtime) answers 502 Internal server error, as API Gateway's proxy
  integration does (SAM CLI: 500).
- A path or method the API does not have answers the template's MISSING_AUTHENTICATION_TOKEN response (SAM CLI: its
  fixed 403, without the template's headers).
- A text body (a media type not in BinaryMediaTypes) that is not UTF-8 reaches the function as text, each bad byte
  sequence replaced by U+FFFD (SAM CLI: 502 before the authorizer runs, no answer API Gateway gives): TextBodies.
- Every request, answered by a function or by the gateway, can be written to an access log (local_api.access_log),
  its requestId the one the function's event carries.

Requests are served concurrently (werkzeug threads): per-request state lives in Flask's `g` and a threading.local,
the authorizer cache, key store, limiter and access log take locks, and the settings are read-only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from io import BytesIO, StringIO
from typing import Any

from flask import Response, g, request
from samcli.lib.utils.stream_writer import StreamWriter
from samcli.local.apigw.authorizers.lambda_authorizer import LambdaAuthorizer
from samcli.local.apigw.event_constructor import _should_base64_encode
from samcli.local.apigw.exceptions import (
    AuthorizerUnauthorizedRequest,
    InvalidLambdaAuthorizerResponse,
    LambdaResponseParseException,
)
from samcli.local.apigw.local_apigw_service import LocalApigwService
from samcli.local.apigw.path_converter import PathConverter
from samcli.local.apigw.service_error_responses import ServiceErrorResponses
from samcli.local.services.base_local_service import LambdaOutputParser

from local_api.access_log import AccessLog, AccessRecord
from local_api.usage_plans import INVALID_API_KEY, QUOTA_EXCEEDED, THROTTLED, KeyStoreError, UsagePlans

LOG = logging.getLogger("local_api.gateway")

UNAUTHORIZED = "UNAUTHORIZED"
ACCESS_DENIED = "ACCESS_DENIED"
AUTHORIZER_FAILURE = "AUTHORIZER_FAILURE"
AUTHORIZER_CONFIGURATION_ERROR = "AUTHORIZER_CONFIGURATION_ERROR"
API_CONFIGURATION_ERROR = "API_CONFIGURATION_ERROR"
MISSING_AUTHENTICATION_TOKEN = "MISSING_AUTHENTICATION_TOKEN"  # noqa: S105 - a type; SAM CLI's 403 answers it

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
    API_CONFIGURATION_ERROR: GatewayResponse(500, '{"message":null}'),
    INVALID_API_KEY: GatewayResponse(403, '{"message":"Forbidden"}'),
    MISSING_AUTHENTICATION_TOKEN: GatewayResponse(403, '{"message":"Missing Authentication Token"}'),
    THROTTLED: GatewayResponse(429, '{"message":"Too Many Requests"}'),
    QUOTA_EXCEEDED: GatewayResponse(429, '{"message":"Limit Exceeded"}'),
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


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _logical_id(value: Any) -> str:
    """An ApiId or RestApiId as SAM CLI resolves it: a logical id, or {"Ref": logical id}."""
    return str((value.get("Ref") if isinstance(value, dict) else value) or "")


def _resources(stacks: Iterable[Any], kind: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(logical id, properties) of the stacks' resources of one type."""
    for stack in stacks:
        for logical_id, resource in stack.resources.items():
            if resource.get("Type") == kind:
                yield logical_id, resource.get("Properties") or {}


def _usage_plan_names(stacks: Iterable[Any]) -> dict[str, frozenset[str]]:
    """The names (logical id, UsagePlanName) of the template's usage plans, by the API their ApiStages name."""
    names: dict[str, set[str]] = {}
    for logical_id, props in _resources(stacks, "AWS::ApiGateway::UsagePlan"):
        plan = {logical_id, *([str(props["UsagePlanName"])] if props.get("UsagePlanName") else [])}
        for stage in props.get("ApiStages") or []:
            names.setdefault(_logical_id(stage.get("ApiId")), set()).update(plan)
    return {api: frozenset(plan) for api, plan in names.items()}


def _keyed_routes(stacks: list[Any]) -> dict[tuple[str, str], frozenset[str]]:
    """(path, METHOD) of each Api event whose API takes keys from its authorizer and requires one (the event's
    Auth.ApiKeyRequired, else the API's), with the names of the API's usage plans."""
    apis = {
        logical_id: (props.get("Auth") or {}).get("ApiKeyRequired", False)
        for logical_id, props in _resources(stacks, "AWS::Serverless::Api")
        if props.get("ApiKeySourceType") == "AUTHORIZER"
    }
    plans = _usage_plan_names(stacks)
    routes = {}
    for _, props in _resources(stacks, "AWS::Serverless::Function"):
        for event in (props.get("Events") or {}).values():
            spec = event.get("Properties") or {}
            api = _logical_id(spec.get("RestApiId"))
            if event.get("Type") == "Api" and api in apis:
                if _truthy((spec.get("Auth") or {}).get("ApiKeyRequired", apis[api])):
                    key = (str(spec.get("Path", "")), str(spec.get("Method", "")).upper())
                    routes[key] = plans.get(api, frozenset())
    return routes


@dataclass(frozen=True)
class GatewaySettings:
    """What the template says about gateway responses, authorizer caching, API keys and the access log format."""

    responses: Mapping[str, GatewayResponse] = field(default_factory=dict)
    authorizer_ttls: Mapping[str, int] = field(default_factory=dict)
    keyed_routes: Mapping[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    access_log_format: str | None = None

    @classmethod
    def from_stacks(cls, stacks: Iterable[Any]) -> GatewaySettings:
        """Read GatewayResponses, ReauthorizeEvery, AccessLogSetting and the routes that require an API key from the
        AWS::Serverless::Api resources and their Api events (intrinsics resolved)."""
        stacks = list(stacks)
        responses: dict[str, GatewayResponse] = {}
        ttls: dict[str, int] = {}
        log_format = None
        for _, props in _resources(stacks, "AWS::Serverless::Api"):
            for kind, spec in (props.get("GatewayResponses") or {}).items():
                responses.setdefault(kind, _parse_gateway_response(spec))
            for name, auth in ((props.get("Auth") or {}).get("Authorizers") or {}).items():
                ttl = (auth.get("Identity") or {}).get("ReauthorizeEvery", DEFAULT_REAUTHORIZE_EVERY)
                ttls.setdefault(name, int(ttl))
            log_format = log_format or (props.get("AccessLogSetting") or {}).get("Format")
        return cls(responses, ttls, _keyed_routes(stacks), str(log_format) if log_format else None)

    def response(self, response_type: str) -> GatewayResponse:
        """The template's response of that type, else its DEFAULT_4XX/5XX, else API Gateway's built-in one."""
        built_in = _BUILT_IN[response_type]
        fallback = "DEFAULT_4XX" if built_in.status < 500 else "DEFAULT_5XX"
        return self.responses.get(response_type) or self.responses.get(fallback) or built_in

    def ttl(self, authorizer_name: str) -> int:
        """Seconds an authorizer's result is cached (0: not cached)."""
        return self.authorizer_ttls.get(authorizer_name, DEFAULT_REAUTHORIZE_EVERY)

    def plan_names(self, path: str, method: str) -> frozenset[str] | None:
        """The names of the usage plans a key must be in for this route, or None if the route requires no key."""
        found = self.keyed_routes.get((path, method.upper()))
        return self.keyed_routes.get((path, "ANY")) if found is None else found

    @property
    def usage_plan_names(self) -> frozenset[str]:
        """Every usage plan name some route's key must be in."""
        return frozenset().union(*self.keyed_routes.values())


class AuthorizerCache:
    """Authorizer results per (authorizer, token) for a TTL; keys hold a SHA-256 of the token, never the token."""

    _PURGE_ABOVE = 1024

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, str]] = {}

    @staticmethod
    def key(authorizer_name: str, token: str) -> tuple[str, str]:
        """Cache key for a token (or a REQUEST authorizer's identity source values, joined)."""
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


class TextBodies:
    """WSGI middleware: a request body whose media type is not binary goes on as UTF-8 text, bytes that are not
    UTF-8 replaced by U+FFFD (API Gateway passes such bodies on as text, corrupted; SAM CLI's event building raises
    on them and answers 502 before the authorizer runs)."""

    def __init__(self, app: Callable[..., Any], binary_media_types: Iterable[str]) -> None:
        self.app = app
        self.binary_media_types = list(binary_media_types)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        length = str(environ.get("CONTENT_LENGTH") or "")
        mimetype = str(environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        if length.isdigit() and int(length) and not _should_base64_encode(self.binary_media_types, mimetype):
            body = environ["wsgi.input"].read(int(length))
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                body = body.decode("utf-8", errors="replace").encode("utf-8")
            environ["wsgi.input"] = BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


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


def _authorizer_answer(output: Any) -> dict[str, Any]:
    """The authorizer's answer as an object ({} when there is none or it is not JSON)."""
    try:
        answer = json.loads(output) if isinstance(output, str | bytes) else None
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


class GatewayApigwService(LocalApigwService):
    """LocalApigwService with API Gateway's authorizer error statuses, result caching, gateway responses, usage
    plans (`usage`: the key store and limiter; None only for templates whose routes require no key) and access log."""

    def __init__(
        self,
        *args: Any,
        gateway: GatewaySettings,
        usage: UsagePlans | None = None,
        access_log: AccessLog | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.gateway = gateway
        self.usage = usage
        self.access_log = access_log
        self.authorizer_cache = AuthorizerCache()
        self._local = threading.local()  # the authorizer being invoked by this request's thread

    def create(self) -> None:
        """Build the Flask app, then answer GatewayResponseError with the template's gateway responses, and keep
        each request's facts for the access log."""
        super().create()
        self._app.register_error_handler(GatewayResponseError, self._gateway_response)
        self._app.register_error_handler(FunctionError, lambda _error: ServiceErrorResponses.lambda_failure_response())
        for status in (404, 405):  # SAM CLI's "Missing Authentication Token", recorded as API Gateway's type
            self._app.register_error_handler(status, self._missing_route)
        self._app.before_request(self._begin_request)
        self._app.after_request(self._end_request)
        logging.getLogger("samcli.local.apigw.local_apigw_service").addFilter(_ANSWERED_BY_US)

    @staticmethod
    def _begin_request() -> None:
        g.local_api_started, g.local_api_received = time.perf_counter(), time.time()
        g.local_api_request_id = str(uuid.uuid4())

    def _end_request(self, response: Response) -> Response:
        if self.access_log is not None:
            try:
                self.access_log.write(self._access_record(response))
            except (OSError, ValueError) as exc:
                LOG.error("access log %s: %s", self.access_log.path, type(exc).__name__)
        return response

    def _access_record(self, response: Response) -> AccessRecord:
        started = g.get("local_api_started", time.perf_counter())
        return AccessRecord(
            request_id=g.get("local_api_request_id", ""),
            received=g.get("local_api_received", time.time()),
            method=request.method,
            resource_path=PathConverter.convert_path_to_api_gateway(request.endpoint) if request.url_rule else "",
            path=request.path,
            status=response.status_code,
            latency_ms=round((time.perf_counter() - started) * 1000),
            source_ip=request.remote_addr or "",
            authorizer=g.get("local_api_authorizer") or {},
            api_key_id=g.get("local_api_key_id", ""),
            error_type=g.get("local_api_error", ""),
            stage=str(self.api.stage_name or ""),
            protocol=str(request.environ.get("SERVER_PROTOCOL", "")),
        )

    def _missing_route(self, _error: Exception) -> Response:
        # No route for this path and method: the template's MISSING_AUTHENTICATION_TOKEN response, else API
        # Gateway's own 403 (SAM CLI: always its fixed 403, without the template's headers).
        return self._gateway_response(GatewayResponseError(MISSING_AUTHENTICATION_TOKEN))

    def _gateway_response(self, error: GatewayResponseError) -> Response:
        g.local_api_error = error.response_type
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
            if isinstance(output, str) and explicitly_denied(output, str(auth_lambda_event.get("methodArn", ""))):
                raise GatewayResponseError(ACCESS_DENIED)
        except AuthorizerUnauthorizedRequest:
            raise GatewayResponseError(ACCESS_DENIED) from None
        except InvalidLambdaAuthorizerResponse:
            LOG.error("authorizer=%s returned a malformed policy", lambda_authorizer.authorizer_name)
            raise GatewayResponseError(AUTHORIZER_CONFIGURATION_ERROR) from None
        finally:
            g.local_api_authorizer = _authorizer_answer(self._local.output)  # usageIdentifierKey, context
            self._local.authorizer = self._local.output = None

    def _invoke_lambda_function(
        self, lambda_function_name: str, event: dict[str, Any], tenant_id: str | None = None
    ) -> str | bytes:
        authorizer = getattr(self._local, "authorizer", None)
        if authorizer is None:  # the route's own function: its usage plan first
            self._admit(event)
            try:
                output: str | bytes = super()._invoke_lambda_function(lambda_function_name, event, tenant_id)
            except LambdaResponseParseException:  # SAM CLI's signal of an error payload, which it answers 500
                raise FunctionError from None
            return output
        name = authorizer.authorizer_name
        key = AuthorizerCache.key(name, self._identity(authorizer, event))
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

    def _identity(self, authorizer: Any, event: dict[str, Any]) -> str:
        """What API Gateway caches an authorizer's result by: the token (TOKEN), or the values of every identity
        source, in their order (REQUEST)."""
        if authorizer.type == LambdaAuthorizer.TOKEN:
            return str(event["authorizationToken"])
        sources = {
            "headers": request.headers,
            "querystring": request.query_string.decode("utf-8"),
            "context": event.get("requestContext") or {},
            "stageVariables": self.api.stage_variables or {},
        }
        return "\x00".join(str(source.find_identity_value(**sources)) for source in authorizer.identity_sources)

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

    def _admit(self, event: dict[str, Any]) -> None:
        """Give the function's event this request's id, then apply the route's usage plan (key, throttle, quota) with
        the key the authorizer named; a refusal is its gateway response."""
        if isinstance(event.get("requestContext"), dict):
            event["requestContext"]["requestId"] = g.get("local_api_request_id", "")
        route = self._get_current_route(request)
        names = self.gateway.plan_names(route.path, request.method)
        if names is None:
            return
        if self.usage is None:
            LOG.error("%s %s requires an API key, but this local API has no key store", request.method, route.path)
            raise GatewayResponseError(API_CONFIGURATION_ERROR)
        named = (g.get("local_api_authorizer") or {}).get("usageIdentifierKey")
        try:
            admission = self.usage.admit(named if isinstance(named, str) else None, names)
        except KeyStoreError as exc:
            LOG.error("API keys unavailable: %s", exc)
            raise GatewayResponseError(API_CONFIGURATION_ERROR) from None
        g.local_api_key_id = admission.key_id
        if admission.refusal is not None:
            raise GatewayResponseError(admission.refusal)

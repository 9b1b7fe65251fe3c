"""Build the local API from a SAM template and serve it, in a thread (LocalApi) or until a signal (serve).

A template whose routes require an API key from the authorizer needs the key store: AWS_ENDPOINT_URL_API_GATEWAY
in this process's environment (moto's server, as the devstack sets it); without it the local API refuses to start,
with a one-line error, rather than answer those routes otherwise than API Gateway would.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any, Self, TypedDict, Unpack

from flask import Response, g, request
from samcli.lib.providers.api_provider import ApiProvider
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from local_api.access_log import AccessLog, AccessLogFormat
from local_api.drift import route_drift
from local_api.gateway import GatewayApigwService, GatewaySettings, TextBodies
from local_api.pool import DEFAULT_MAX_WORKERS
from local_api.runner import WorkerRunner
from local_api.usage_plans import UsagePlans

LOG = logging.getLogger("local_api")


def load_env_vars(path: str | Path | None) -> dict[str, Any]:
    """Read an --env-vars file (SAM's JSON: {"FunctionLogicalId": {...}, "Parameters": {...}})."""
    if not path:
        return {}
    values = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(values, dict) or not all(isinstance(v, dict) for v in values.values()):
        raise ValueError(f"{path}: expected an object of objects, as for `sam local --env-vars`")
    return values


class ApiOptions(TypedDict, total=False):
    """LocalApi's keyword options, for serve to pass on; their defaults live in LocalApi only."""

    host: str
    port: int
    env_vars: str | Path | Mapping[str, Any] | None
    parameter_overrides: Mapping[str, str] | None
    max_workers: int
    access_log: str | Path | None


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without its access log line (it shows query strings); _log_request logs instead."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Left out on purpose."""


class LocalApi:
    """The template's API on host:port, its handlers run in worker processes; bound on creation, served after start().

    Use as a context manager: `with LocalApi("template.yaml", port=0, parameter_overrides={...}) as api: api.url`.
    Requests run concurrently, on up to max_workers workers per function; stop() ends the workers too. With
    access_log, every request's line (local_api.access_log) is appended to that file.
    """

    def __init__(
        self,
        template: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 3000,
        env_vars: str | Path | Mapping[str, Any] | None = None,
        parameter_overrides: Mapping[str, str] | None = None,
        max_workers: int = DEFAULT_MAX_WORKERS,
        access_log: str | Path | None = None,
    ) -> None:
        template_path = Path(template).resolve()
        cwd = str(template_path.parent)  # as `sam local`: CodeUri paths are relative to the template
        overrides = dict(parameter_overrides or {})
        stacks, _ = SamLocalStackProvider.get_stacks(str(template_path), parameter_overrides=overrides)
        api = ApiProvider(stacks, cwd=cwd).api
        if not api.routes:
            raise ValueError(f"{template}: no API routes")
        env_values = env_vars if isinstance(env_vars, Mapping) else load_env_vars(env_vars)
        gateway = GatewaySettings.from_stacks(stacks)
        usage = _usage_plans(template, gateway)
        self.runner = WorkerRunner(SamFunctionProvider(stacks), cwd, env_values, max_workers=max_workers)
        _log_route_drift(self.runner, stacks)
        log = AccessLog(access_log, AccessLogFormat.from_template(gateway.access_log_format)) if access_log else None
        self.service = GatewayApigwService(
            api=api, lambda_runner=self.runner, host=host, port=port, gateway=gateway, usage=usage, access_log=log
        )
        self.service.create()
        app = self.service._app
        app.after_request(_log_request)
        wsgi = TextBodies(app, api.binary_media_types or [])
        self._server: BaseWSGIServer = make_server(
            host, port, wsgi, threaded=True, request_handler=_QuietRequestHandler
        )
        self.service.port = self._server.server_port  # SAM CLI puts the port into events
        self.host = host
        self.port: int = self._server.server_port
        self.runner.add_base_url("API_BASE_URLS", self.url)
        self.routes = [(route.path, tuple(route.methods)) for route in api.routes]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, without a trailing slash (no stage prefix, as with `sam local start-api`)."""
        return f"http://{self.host}:{self.port}"

    @property
    def invocations(self) -> Mapping[str, int]:
        """How many times each function (by logical id) has run."""
        return self.runner.invocations

    def start(self) -> Self:
        """Serve in a daemon thread; returns at once."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="local-api", daemon=True
            )
            self._thread.start()
            LOG.info("local API listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving, release the port and end every worker."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self.runner.close()
        if self.service.access_log is not None:
            self.service.access_log.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _log_route_drift(runner: WorkerRunner, stacks: list[Any]) -> None:
    """Warn of drift between Api events and ROUTE_SCOPES, read by the okta_m2m package of a function's own layer."""
    for container in runner.containers():
        if any((Path(root) / "okta_m2m" / "tokens" / "_routes.py").is_file() for root in container.roots):
            with container.activated():
                problems = route_drift(stacks)
            for problem in problems:
                LOG.warning("route table drift: %s", problem)
            return


def _usage_plans(template: str | Path, gateway: GatewaySettings) -> UsagePlans | None:
    """The key store and limiter if some route requires an API key; ValueError naming the template if the key store
    is not configured. A route whose API no usage plan of the template covers refuses every key: say so at start."""
    if not gateway.keyed_routes:
        return None
    for (path, method), names in sorted(gateway.keyed_routes.items()):
        if not names:
            LOG.warning("%s %s requires an API key but no usage plan of the template covers its API", method, path)
    try:
        return UsagePlans.from_environment(gateway.usage_plan_names)
    except ValueError as exc:
        raise ValueError(f"{template}: {exc}") from None


def _log_request(response: Response) -> Response:
    # Method, path and status only: never headers (Authorization) or the query string.
    elapsed = (time.perf_counter() - g.get("local_api_started", time.perf_counter())) * 1000
    LOG.info("%s %s %s %.1fms", request.method, request.path, response.status_code, elapsed)
    return response


def serve(template: str | Path, **options: Unpack[ApiOptions]) -> None:
    """Serve LocalApi(template, **options) until SIGINT or SIGTERM (call from the main thread), then shut down."""
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        LOG.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        api = LocalApi(template, **options)
        with api:
            for path, methods in api.routes:
                LOG.info("route %s %s", ",".join(methods), path)
            print(f"Local API: {api.url}", flush=True)  # the line scripts wait for
            stop.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

"""Helpers for the register function's tests: env, events, a log catcher, and a stdlib HTTP server playing Okta."""

from __future__ import annotations

import base64
import copy
import io
import itertools
import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest

from tests.conftest import load_event
from tests.route_tables import TEMPLATE_ROUTES

ROOT = Path(__file__).resolve().parents[1]
ISSUER = "https://example.okta.com/oauth2/default"
SECRET_NAME = "okta-api-token"
REGISTER_SCOPE = "register"
CALLER_CLIENT_ID = "0oaadmin1234567890"
# The bearer token in events/register-valid.json: it must never show up in a log.
CALLER_BEARER = load_event("register-valid")["headers"]["Authorization"].split()[1]


def register_env(
    monkeypatch: pytest.MonkeyPatch, org_url: str = "https://example.okta.com", auth_mode: str = "ssws"
) -> None:
    """Set the register function's settings (as template.yaml does) plus a fake AWS region and credentials."""
    for name, value in {
        "OKTA_AUTH_MODE": auth_mode,
        "POWERTOOLS_SERVICE_NAME": "register",
        "POWERTOOLS_METRICS_NAMESPACE": "OktaM2MApiTest",
        "ISSUER": ISSUER,
        "ROUTE_SCOPES": TEMPLATE_ROUTES,
        "OKTA_ORG_URL": org_url,
        "OKTA_API_TOKEN_SECRET": SECRET_NAME,
        "LOCKS_TABLE": "LocksTable",
        "CLIENTS_TABLE": "ClientsTable",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def fresh_tables(endpoint: str) -> None:
    """Empty DynamoDB tables made from the template's definitions, in the moto server at endpoint, for one test."""
    from devstack.tables import create_tables
    from okta_m2m.clients import _locks as locks

    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
    for name in client.list_tables().get("TableNames", []):
        client.delete_table(TableName=name)
    create_tables(client, ROOT / "template.yaml")
    locks.dynamodb.cache_clear()  # the function's client, made for another endpoint or test


def register_event(
    body: str | dict[str, Any] | None = None, *, scopes: str | None = "register hello", base64_body: bool = False
) -> dict[str, Any]:
    """Return events/register-valid.json with another body or scopes (scopes=None drops the authorizer context)."""
    event = copy.deepcopy(load_event("register-valid"))
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    if base64_body and event["body"] is not None:
        event["body"] = base64.b64encode(event["body"].encode()).decode()
        event["isBase64Encoded"] = True
    if scopes is None:
        del event["requestContext"]["authorizer"]
    else:
        event["requestContext"]["authorizer"]["scopes"] = scopes
    return event


def message_of(response: dict[str, Any]) -> str:
    """Return the "message" of a JSON error answer."""
    return str(json.loads(response["body"])["message"])


def header(response: dict[str, Any], name: str) -> str | None:
    """Return one header of a proxy response (Powertools answers REST events with multiValueHeaders)."""
    values = response.get("multiValueHeaders", {}).get(name) or [response.get("headers", {}).get(name)]
    return values[0]


class _DumpFormatter(logging.Formatter):
    """Render a record with every attribute, extras included, so nothing can hide from the assertions."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text + " " + json.dumps(record.__dict__, default=str)


@contextmanager
def all_log_output() -> Iterator[io.StringIO]:
    """Catch every log line at DEBUG: the root logger and every stream handler (Powertools), our loggers at DEBUG."""
    buffer = io.StringIO()
    root = logging.getLogger()
    catcher = logging.StreamHandler(buffer)
    catcher.setFormatter(_DumpFormatter())
    saved_root_level = root.level
    root.addHandler(catcher)
    root.setLevel(logging.DEBUG)
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    relevelled: list[tuple[logging.Logger, int]] = []
    loggers = [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    services = tuple(lg.name for lg in loggers if getattr(lg, "powertools_handler", None))
    for logger in loggers:
        for handler in logger.handlers:
            # pytest puts one capture handler on several loggers: swap each handler once, or it is restored to None.
            if isinstance(handler, logging.StreamHandler) and all(handler is not h for h, _ in swapped):
                swapped.append((handler, handler.setStream(buffer)))
        ours = logger.name in services or ".okta_m2m." in logger.name  # child names depend on import order
        if ours or logger.name.startswith(tuple(f"{name}." for name in services)):
            # Powertools service loggers and our package's child loggers: DEBUG, as POWERTOOLS_LOG_LEVEL=DEBUG would.
            relevelled.append((logger, logger.level))
            logger.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        for handler, stream in swapped:
            handler.setStream(stream)
        for logger, level in relevelled:
            logger.setLevel(level)
        root.removeHandler(catcher)
        root.setLevel(saved_root_level)


@dataclass
class OktaRequest:
    """One request the fake Okta received."""

    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    body: dict[str, Any] | None


@dataclass
class Fault:
    """A scripted answer for the next request of one method: status, headers, body, delay before answering."""

    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0


class FakeOkta:
    """A real HTTP server on 127.0.0.1 playing Okta's /api/v1/apps (search by label prefix, create, SSWS auth)."""

    def __init__(self, api_token: str) -> None:
        self.valid_tokens = {api_token}
        self.apps: list[dict[str, Any]] = []
        self.requests: list[OktaRequest] = []
        self.faults: dict[str, list[Fault]] = {"GET": [], "POST": []}
        self.page_size = 200
        self.next_link_base: str | None = None
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def org_url(self) -> str:
        """Base URL of the fake org."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeOkta:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def add_app(self, label: str, status: str = "ACTIVE") -> dict[str, Any]:
        """Store an existing app, as if created earlier."""
        app = {"id": f"0oaexisting{next(self._ids)}", "label": label, "name": "oidc_client", "status": status}
        self.apps.append(app)
        return app

    def fail_next(self, method: str, fault: Fault) -> None:
        """Answer the next request of method with fault instead of the normal behaviour."""
        self.faults[method].append(fault)

    def calls(self, method: str) -> list[OktaRequest]:
        """Requests received with this method."""
        return [r for r in self.requests if r.method == method]

    def _answer(self, request: OktaRequest) -> tuple[int, dict[str, str], Any]:
        if request.path != "/api/v1/apps":
            return 404, {}, {"errorCode": "E0000022", "errorSummary": "not found"}
        if request.authorization not in {f"SSWS {t}" for t in self.valid_tokens}:
            return 401, {}, {"errorCode": "E0000011", "errorSummary": "Invalid token provided"}
        if request.method == "GET":
            return self._search(request)
        return self._create(request)

    def _search(self, request: OktaRequest) -> tuple[int, dict[str, str], Any]:
        prefix = request.query.get("q", [""])[0].lower()
        after = int(request.query.get("after", ["0"])[0])
        matches = [a for a in self.apps if a["label"].lower().startswith(prefix)]
        page = matches[after : after + self.page_size]
        headers = {}
        if after + self.page_size < len(matches):
            base = self.next_link_base or self.org_url
            query = urlencode({"q": prefix, "after": after + self.page_size})
            headers["Link"] = f'<{base}/api/v1/apps?{query}>; rel="next"'
        return 200, headers, page

    def _create(self, request: OktaRequest) -> tuple[int, dict[str, str], Any]:
        body = request.body or {}
        app_id = f"0oanew{next(self._ids)}"
        app = {
            "id": app_id,
            "label": body.get("label"),
            "name": body.get("name"),
            "status": "ACTIVE",
            "signOnMode": body.get("signOnMode"),
            "credentials": {
                "oauthClient": {
                    "client_id": f"0oaclient{app_id}",
                    "client_secret": secrets.token_urlsafe(32),
                    "token_endpoint_auth_method": "client_secret_basic",
                }
            },
            "settings": body.get("settings"),
        }
        self.apps.append({k: app[k] for k in ("id", "label", "name", "status")})
        return 200, {}, app

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        okta = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                request = OktaRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    authorization=self.headers.get("Authorization"),
                    body=json.loads(raw) if raw else None,
                )
                okta.requests.append(request)
                queue = okta.faults.get(self.command, [])
                if queue:
                    fault = queue.pop(0)
                    time.sleep(fault.delay)
                    status, headers, body = fault.status, fault.headers, fault.body
                else:
                    status, headers, body = okta._answer(request)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep test output clean

        return Handler

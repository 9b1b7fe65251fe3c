"""The HTTP server: routes Okta's paths to the token, keys, Apps API, policy API and fault-control handlers."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from okta_local import apiauth, apps, bootstrap, iam, policies
from okta_local.authservers import scopes
from okta_local.context import (
    AUTH_SERVER_ID,
    DEFAULT_APPS_RATE_LIMIT,
    DEFAULT_TOKEN_TTL,
    Answer,
    Context,
    Request,
)
from okta_local.dpop import ALGORITHMS as DPOP_ALGORITHMS
from okta_local.errors import (
    OAuthError,
    OktaApiError,
    internal_error,
    method_not_allowed,
    not_found,
    rate_limited,
    validation_failed,
)
from okta_local.faults import MAX_DELAY_SECONDS, Faults, FaultSpec, FaultSpecError
from okta_local.keys import KeyRing
from okta_local.orgauth import issue_org_token, org_discovery
from okta_local.ratelimit import RateLimiter
from okta_local.recorder import Recorder, is_management
from okta_local.store import Store
from okta_local.tokens import issue_token

logger = logging.getLogger("okta_local")

DB_FILE = "okta_local.sqlite3"
MAX_BODY = 64 * 1024
FAULTS_PATH = "/_local/faults"
KEYS_LOG_PATH = "/_local/keys-log"
KEYS_CACHE_SECONDS = 300
_AS = f"/oauth2/{AUTH_SERVER_ID}"
_ORG = "/oauth2/v1"


def discovery(ctx: Context) -> dict[str, Any]:
    """Return the authorization server metadata (RFC 8414), limited to what this server implements."""
    return {
        "issuer": ctx.issuer,
        "token_endpoint": f"{ctx.issuer}/v1/token",
        "jwks_uri": f"{ctx.issuer}/v1/keys",
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": ["token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
        "scopes_supported": [s["name"] for s in scopes(ctx.store) if s.get("metadataPublish") == "ALL_CLIENTS"],
        "claims_supported": ["ver", "jti", "iss", "aud", "iat", "exp", "cid", "scp", "sub", "cnf"],
        "subject_types_supported": ["public"],
    }


def _org_keys(ctx: Context) -> Answer:
    """Answer the org authorization server's keys: the same key set (no faults, not in the keys log)."""
    return Answer(200, ctx.keyring.jwks(), {"Cache-Control": f"max-age={KEYS_CACHE_SECONDS}, must-revalidate"})


def _keys(ctx: Context) -> Answer:
    fault = ctx.faults.spec
    received, status = time.time(), 500
    try:
        if fault.keys == "fail":
            raise internal_error()
        if fault.keys == "hang":
            # Hold the request until the fault is cleared (or the server stops), far past any sane client timeout.
            ctx.faults.wait(MAX_DELAY_SECONDS, interruptible=True)
        if fault.keys == "slow":
            ctx.faults.wait(fault.delay_seconds, interruptible=False)
        answer = Answer(200, ctx.keyring.jwks(), {"Cache-Control": f"max-age={KEYS_CACHE_SECONDS}, must-revalidate"})
        status = answer.status
        return answer
    finally:
        ctx.keys_log.add(received, status, fault.keys)


def _limited(ctx: Context, req: Request, handler: Callable[[Context, Request], Answer]) -> Answer:
    """Rate-limit (Okta's per-minute bucket, shared with the policy API here) and run a management handler."""
    decision = ctx.policies_limiter.check(ctx.apps_rate_limit)
    try:
        if not decision.allowed:
            raise rate_limited()
        answer = handler(ctx, req)
    except OktaApiError as exc:
        return Answer(exc.status, exc.body(), {**exc.headers, **decision.headers()})
    return Answer(answer.status, answer.body, {**answer.headers, **decision.headers()})


def _faults(ctx: Context, method: str, authorization: str | None, body: bytes) -> Answer:
    apiauth.authenticate_ssws(ctx, authorization)
    if method == "POST":
        try:
            ctx.faults.set(FaultSpec.from_json(json.loads(body or b"{}")))
        except (ValueError, FaultSpecError) as exc:
            raise validation_failed(str(exc) if isinstance(exc, FaultSpecError) else "body is not JSON") from None
        logger.warning("faults set: %s", ctx.faults.spec.to_json())
    elif method != "GET":
        raise method_not_allowed()
    return Answer(200, ctx.faults.spec.to_json())


class Handler(BaseHTTPRequestHandler):
    """One request; every answer is JSON with a Content-Length, so keep-alive works."""

    server: OktaLocalServer
    _sent_body = b""
    protocol_version = "HTTP/1.1"
    server_version = "okta_local"
    timeout = 30  # seconds a client may take to send its request

    def version_string(self) -> str:
        """Name the server without the Python version."""
        return self.server_version

    def _send(self, answer: Answer) -> None:
        payload = b"" if answer.body is None else json.dumps(answer.body).encode()
        self.send_response(answer.status)
        if answer.body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise validation_failed("Transfer-Encoding is not supported; send Content-Length")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            raise OktaApiError(413, "E0000001", "Api validation failed: the request body is too large or unsized")
        return self.rfile.read(length)

    def _request(self, method: str, path: str, query: str) -> Request:
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
        self._sent_body = body
        return Request(method, path, query, headers, body)

    def _route(self, method: str, path: str, query: str) -> Answer:
        ctx = self.server.ctx
        req = self._request(method, path, query)
        auth = req.header("Authorization")
        if path == apps.PREFIX or path.startswith(apps.PREFIX + "/"):
            return apps.handle_apps(ctx, req)
        if path == policies.PREFIX or path.startswith(policies.PREFIX + "/"):
            return policies.handle_policies(ctx, req)
        if path.startswith((iam.IAM_PREFIX + "/", iam.CLIENTS_PREFIX + "/")):
            return _limited(ctx, req, iam.handle_iam if path.startswith(iam.IAM_PREFIX) else iam.handle_client_roles)
        if path == FAULTS_PATH:
            return _faults(ctx, method, auth, req.body)
        if path == KEYS_LOG_PATH:
            apiauth.authenticate_ssws(ctx, auth)
            if method != "GET":
                raise method_not_allowed()
            return Answer(200, {"requests": ctx.keys_log.entries()})
        if path in (f"{_AS}/v1/token", f"{_ORG}/token"):
            if method != "POST":
                raise OAuthError(405, "invalid_request", "The token endpoint accepts POST only.")
            if path == f"{_ORG}/token":
                return issue_org_token(ctx, req)
            return issue_token(ctx, req)
        known = {
            f"{_AS}/.well-known/oauth-authorization-server": lambda: Answer(200, discovery(ctx)),
            f"{_AS}/.well-known/openid-configuration": lambda: Answer(200, discovery(ctx)),
            f"{_AS}/v1/keys": lambda: _keys(ctx),
            "/.well-known/oauth-authorization-server": lambda: Answer(200, org_discovery(ctx)),
            "/.well-known/openid-configuration": lambda: Answer(200, org_discovery(ctx)),
            f"{_ORG}/keys": lambda: _org_keys(ctx),
        }
        if path not in known:
            raise not_found(path, "Resource")
        if method not in ("GET", "HEAD"):
            raise method_not_allowed()
        return known[path]()

    def _dispatch(self) -> None:
        path, _, query = self.path.partition("?")
        ctx = self.server.ctx
        try:
            if is_management(path) and ctx.faults.take_api_500():
                raise internal_error()
            answer = self._route(self.command, path, query)
        except OAuthError as exc:
            headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **exc.headers}
            if exc.error == "invalid_client":
                headers["WWW-Authenticate"] = 'Basic realm="okta_local"'
            answer = Answer(exc.status, exc.body(), headers)
        except OktaApiError as exc:
            answer = Answer(exc.status, exc.body(), exc.headers)
        except Exception:
            # Never the traceback's text to the client; the log has it (it holds no request data).
            logger.exception("request failed: %s %s", self.command, path)
            answer = Answer(500, internal_error().body())
        if ctx.recorder is not None and is_management(path):
            self._record(path, query, answer)
        self._send(answer)

    def _record(self, path: str, query: str, answer: Answer) -> None:
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        sent = dict(answer.headers)
        if answer.body is not None:
            sent["Content-Type"] = "application/json"
        recorder = self.server.ctx.recorder
        if recorder is not None:
            recorder.add(self.command, path, query, headers, self._sent_body, answer.status, sent, answer.body)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer requests the base class rejects (bad request line, too long headers) in JSON too."""
        self.close_connection = True
        self._send(Answer(code, {"errorCode": "E0000001", "errorSummary": HTTPStatus(code).phrase}))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log method, path without query string, and status; never headers or bodies."""
        logger.info("%s %s %s", self.command, (self.path or "").partition("?")[0], code)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        """Drop the base class's free-form messages: they can echo raw request bytes."""


class OktaLocalServer(ThreadingHTTPServer):
    """A threading HTTP server that carries the shared context."""

    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 refuses connections when a few dozen clients ask at once

    def __init__(self, address: tuple[str, int], ctx: Context) -> None:
        self.ctx = ctx  # before binding: a failed bind calls server_close()
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up before its answer was written is no error of the server's: say nothing (the base
        class printed a traceback for each, as clients with short timeouts and the soak test's do). Anything else is
        printed as before."""
        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipeError, ConnectionResetError, ...
            return
        super().handle_error(request, client_address)

    def server_close(self) -> None:
        """Release hanging requests, stop listening and close the database."""
        self.ctx.faults.release()
        super().server_close()
        self.ctx.store.close()


def _url_host(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104 (mapping the wildcard away)


def build_server(
    state_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    public_url: str | None = None,
    apps_rate_limit: int = DEFAULT_APPS_RATE_LIMIT,
    token_ttl: int = DEFAULT_TOKEN_TTL,
    *,
    seed: bool = False,
    custom_roles: bool = True,
    recorder: Recorder | None = None,
) -> tuple[OktaLocalServer, dict[str, str], list[str]]:
    """Bind the server, bring state and okta.env up to date; return the server, env values and fresh secrets.

    Without `seed` the org is empty (a new Okta org: the default authorization server and an API token); `seed`
    adds the test harness's fixtures (okta_local.bootstrap)."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    store = Store(state_dir / DB_FILE)
    ctx = Context(store, KeyRing(store), Faults(), RateLimiter(), apps_rate_limit, token_ttl)
    ctx.custom_roles, ctx.recorder = custom_roles, recorder
    server = OktaLocalServer((host, port), ctx)  # a failed bind closes the store through server_close()
    ctx.base_url = (public_url or f"http://{_url_host(host)}:{server.server_address[1]}").rstrip("/")
    env, issued = bootstrap.prepare(ctx, state_dir, seed)
    return server, env, issued

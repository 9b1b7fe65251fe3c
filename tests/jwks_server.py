"""A real HTTP server on 127.0.0.1 that publishes signing keys the way Okta does, with faults on demand."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.jwt_factory import ISSUER_PATH


class JwksServer:
    """Serves {issuer}/v1/keys (and metadata); `mode` is ok, error, hang, notfound, garbage or redirect."""

    def __init__(self, keys: list[dict[str, Any]] | None = None) -> None:
        self.keys: list[dict[str, Any]] = keys or []
        self.mode = "ok"
        self.metadata = False  # serve RFC 8414 metadata with a jwks_uri of /keys-elsewhere
        self.key_requests = 0
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path in (f"{ISSUER_PATH}/v1/keys", "/keys-elsewhere"):
                    server.key_requests += 1
                    if self.path.endswith("/v1/keys") and server.metadata:
                        return self._send(404, b"{}")
                    return server._answer_keys(self)
                if server.metadata and self.path == f"{ISSUER_PATH}/.well-known/oauth-authorization-server":
                    doc = {"issuer": server.issuer, "jwks_uri": f"{server.base}/keys-elsewhere"}
                    return self._send(200, json.dumps(doc).encode())
                return self._send(404, b"{}")

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        self.handler = Handler
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.issuer = self.base + ISSUER_PATH
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def _answer_keys(self, handler: Any) -> None:
        if self.mode == "hang":
            self.release.wait(30)
            return
        if self.mode == "error":
            return handler._send(500, b'{"errorCode":"E0000009"}')
        if self.mode == "notfound":
            return handler._send(404, b"{}")
        if self.mode == "garbage":
            return handler._send(200, b"<html>not json</html>")
        if self.mode == "redirect":
            return handler._send(302, b"", {"Location": "http://127.0.0.1:9/evil-keys"})
        return handler._send(200, json.dumps({"keys": self.keys}).encode(), {"Cache-Control": "max-age=3600"})

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

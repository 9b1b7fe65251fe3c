"""LocalOkta: the server in a background thread, with helpers for tests."""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from okta_local.context import DEFAULT_APPS_RATE_LIMIT, DEFAULT_TOKEN_TTL, HELLO_SCOPE
from okta_local.keys import DEFAULT_GRACE_SECONDS, rotate_keys
from okta_local.server import FAULTS_PATH, OktaLocalServer, build_server

TIMEOUT = 10


class LocalOkta:
    """Start with `with LocalOkta(tmp_path) as okta:`; state persists in state_dir across restarts."""

    def __init__(
        self,
        state_dir: Path,
        port: int = 0,
        apps_rate_limit: int = DEFAULT_APPS_RATE_LIMIT,
        token_ttl: int = DEFAULT_TOKEN_TTL,
    ) -> None:
        self.state_dir = Path(state_dir)
        self._port, self._apps_rate_limit, self._token_ttl = port, apps_rate_limit, token_ttl
        self._server: OktaLocalServer | None = None
        self._thread: threading.Thread | None = None
        self.env: dict[str, str] = {}

    def start(self) -> LocalOkta:
        """Bind 127.0.0.1 and serve in a daemon thread."""
        self._server, self.env, _ = build_server(
            self.state_dir, "127.0.0.1", self._port, apps_rate_limit=self._apps_rate_limit, token_ttl=self._token_ttl
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="okta_local", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the database."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(TIMEOUT)
            self._thread = None

    def __enter__(self) -> LocalOkta:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def issuer(self) -> str:
        """Return the issuer, e.g. http://127.0.0.1:PORT/oauth2/default."""
        return self.env["ISSUER"]

    @property
    def org_url(self) -> str:
        """Return the org URL (the Apps API lives under it)."""
        return self.env["OKTA_ORG_URL"]

    @property
    def api_token(self) -> str:
        """Return the SSWS API token."""
        return self.env["OKTA_API_TOKEN"]

    @property
    def token_url(self) -> str:
        """Return the token endpoint."""
        return f"{self.issuer}/v1/token"

    @property
    def jwks_uri(self) -> str:
        """Return the keys endpoint."""
        return f"{self.issuer}/v1/keys"

    def token(self, client_id: str | None = None, client_secret: str | None = None, scope: str = HELLO_SCOPE) -> str:
        """Return an access token (client_secret_basic); the demo client by default."""
        auth = (client_id or self.env["CLIENT_ID"], client_secret or self.env["CLIENT_SECRET"])
        response = requests.post(
            self.token_url, data={"grant_type": "client_credentials", "scope": scope}, auth=auth, timeout=TIMEOUT
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def set_faults(self, **spec: Any) -> dict[str, Any]:
        """Replace the faults through the control API, e.g. set_faults(keys="fail", apps=429)."""
        response = requests.post(
            self.org_url + FAULTS_PATH, json=spec, headers={"Authorization": f"SSWS {self.api_token}"}, timeout=TIMEOUT
        )
        response.raise_for_status()
        return dict(response.json())

    def clear_faults(self) -> None:
        """Remove every fault."""
        self.set_faults()

    def rotate_keys(self, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> str:
        """Add a new signing key (as `rotate-keys` does) and return its kid."""
        if self._server is None:
            raise RuntimeError("LocalOkta is not running")
        return rotate_keys(self._server.ctx.store, grace_seconds)

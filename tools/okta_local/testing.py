"""LocalOkta: the server in a background thread, with helpers for tests; OrgClient: an org-token client."""

from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from okta_local.context import DEFAULT_APPS_RATE_LIMIT, DEFAULT_TOKEN_TTL, HELLO_SCOPE
from okta_local.dpop import access_token_hash
from okta_local.keys import DEFAULT_GRACE_SECONDS, rotate_keys
from okta_local.orgauth import JWT_BEARER
from okta_local.recorder import Recorder
from okta_local.server import FAULTS_PATH, OktaLocalServer, build_server

TIMEOUT = 10
POLICIES_PATH = "/api/v1/authorizationServers/default/policies"


class OrgClient:
    """Gets org access tokens with private_key_jwt and DPoP, and calls the management API with them.

    It behaves like Okta's SDKs: an EC P-256 DPoP key for its lifetime, the server's nonce kept and sent,
    and on use_dpop_nonce one retry with the new nonce and a fresh client assertion.
    """

    def __init__(self, org_url: str, client_id: str, private_jwk: dict[str, Any]) -> None:
        self.org_url, self.client_id, self.private_jwk = org_url, client_id, private_jwk
        self.token_url = f"{org_url}/oauth2/v1/token"
        self.dpop_key = ec.generate_private_key(ec.SECP256R1())
        self.nonce: str | None = None
        self.access_token: str | None = None
        self.token_type = "Bearer"  # noqa: S105 (a token type, not a secret)

    def assertion(self, **claims: Any) -> str:
        """Return a client assertion for the token endpoint (claims override the defaults)."""
        now = int(time.time())
        body = {"iss": self.client_id, "sub": self.client_id, "aud": self.token_url, "iat": now, "exp": now + 300}
        body["jti"] = secrets.token_urlsafe(16)
        body.update(claims)
        key = jwt.PyJWK(self.private_jwk).key
        return jwt.encode(body, key, algorithm="RS256", headers={"kid": self.private_jwk.get("kid")})

    def proof(self, method: str, url: str, access_token: str | None = None) -> str:
        """Return a DPoP proof for one request (with ath when access_token is given)."""
        parts = urlsplit(url)
        claims: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")),
            "iat": int(time.time()),
        }
        if self.nonce:
            claims["nonce"] = self.nonce
        if access_token:
            claims["ath"] = access_token_hash(access_token)
        jwk = ECAlgorithm.to_jwk(self.dpop_key.public_key(), as_dict=True)
        return jwt.encode(claims, self.dpop_key, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": jwk})

    def token_response(self, scope: str) -> requests.Response:
        """POST the token request, retrying once on use_dpop_nonce; return the last answer."""
        for _ in range(2):
            data = {
                "grant_type": "client_credentials",
                "scope": scope,
                "client_assertion_type": JWT_BEARER,
                "client_assertion": self.assertion(),
            }
            headers = {"DPoP": self.proof("POST", self.token_url), "Accept": "application/json"}
            response = requests.post(self.token_url, data=data, headers=headers, timeout=TIMEOUT)
            self.nonce = response.headers.get("DPoP-Nonce", self.nonce)
            if response.status_code != 400 or response.json().get("error") != "use_dpop_nonce":
                break
        return response

    def token(self, scope: str) -> str:
        """Return a new access token for the scopes (space separated); raise for an error answer."""
        response = self.token_response(scope)
        response.raise_for_status()
        body = response.json()
        self.access_token, self.token_type = str(body["access_token"]), str(body["token_type"])
        return self.access_token

    def headers(self, method: str, url: str) -> dict[str, str]:
        """Return the Authorization (and DPoP) headers for one management API request."""
        if self.access_token is None:
            raise RuntimeError("call token() first")
        headers = {"Authorization": f"{self.token_type} {self.access_token}", "Accept": "application/json"}
        if self.token_type == "DPoP":  # noqa: S105 (a token type)
            headers["DPoP"] = self.proof(method, url, self.access_token)
        return headers

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Call the management API with the current access token."""
        headers = {**self.headers(method, url), **kwargs.pop("headers", {})}
        return requests.request(method, url, headers=headers, timeout=TIMEOUT, **kwargs)


class LocalOkta:
    """Start with `with LocalOkta(tmp_path) as okta:`; state persists in state_dir across restarts."""

    def __init__(
        self,
        state_dir: Path,
        port: int = 0,
        apps_rate_limit: int = DEFAULT_APPS_RATE_LIMIT,
        token_ttl: int = DEFAULT_TOKEN_TTL,
        *,
        seed: bool = True,
        custom_roles: bool = True,
        record: bool = False,
    ) -> None:
        """seed=False starts an empty org (what `serve` starts); record=True keeps the management exchanges."""
        self.state_dir = Path(state_dir)
        self._port, self._apps_rate_limit, self._token_ttl = port, apps_rate_limit, token_ttl
        self._seed, self._custom_roles = seed, custom_roles
        self.recorder = Recorder() if record else None
        self._server: OktaLocalServer | None = None
        self._thread: threading.Thread | None = None
        self.env: dict[str, str] = {}

    def start(self) -> LocalOkta:
        """Bind 127.0.0.1 and serve in a daemon thread."""
        self._server, self.env, _ = build_server(
            self.state_dir,
            "127.0.0.1",
            self._port,
            apps_rate_limit=self._apps_rate_limit,
            token_ttl=self._token_ttl,
            seed=self._seed,
            custom_roles=self._custom_roles,
            recorder=self.recorder,
        )
        server = self._server
        # A short poll interval: stop() waits for it, and tests start and stop many servers.
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05), name="okta_local", daemon=True
        )
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
        """Return the org URL (the Apps API and the org authorization server live under it)."""
        return self.env["OKTA_ORG_URL"]

    @property
    def api_token(self) -> str:
        """Return the SSWS API token."""
        return self.env["OKTA_API_TOKEN"]

    @property
    def token_url(self) -> str:
        """Return the custom authorization server's token endpoint."""
        return f"{self.issuer}/v1/token"

    @property
    def org_token_url(self) -> str:
        """Return the org authorization server's token endpoint (private_key_jwt, okta.* scopes)."""
        return f"{self.org_url}/oauth2/v1/token"

    @property
    def jwks_uri(self) -> str:
        """Return the keys endpoint."""
        return f"{self.issuer}/v1/keys"

    @property
    def service_client_id(self) -> str:
        """Return the client id of the seeded service app (private_key_jwt, DPoP-bound org tokens)."""
        return self.env["OKTA_SERVICE_CLIENT_ID"]

    @property
    def service_jwk_path(self) -> Path:
        """Return the file with the service app's private JWK."""
        return Path(self.env["OKTA_SERVICE_PRIVATE_JWK_FILE"])

    @property
    def service_jwk(self) -> dict[str, Any]:
        """Return the service app's private JWK."""
        return dict(json.loads(self.service_jwk_path.read_text(encoding="utf-8")))

    @property
    def clients_policy_id(self) -> str:
        """Return the id of the clients policy (its rule grants hello); new clients are enrolled here."""
        return self.env["OKTA_CLIENTS_POLICY_ID"]

    @property
    def admin_policy_id(self) -> str:
        """Return the id of the admin policy (its rule grants register)."""
        return self.env["OKTA_ADMIN_POLICY_ID"]

    def records(self) -> list[dict[str, Any]]:
        """Return the management API exchanges recorded so far (LocalOkta(record=True))."""
        if self.recorder is None:
            raise RuntimeError("start LocalOkta with record=True")
        return self.recorder.items()

    def ssws(self) -> dict[str, str]:
        """Return the management API headers with the SSWS API token."""
        return {"Authorization": f"SSWS {self.api_token}", "Accept": "application/json"}

    def service_client(self, client_id: str | None = None, private_jwk: dict[str, Any] | None = None) -> OrgClient:
        """Return an org-token client: the seeded service app by default."""
        return OrgClient(self.org_url, client_id or self.service_client_id, private_jwk or self.service_jwk)

    def enroll(self, client_id: str, policy_id: str | None = None) -> dict[str, Any]:
        """Add a client to a policy (the clients policy by default) through the policy API; return the policy."""
        url = f"{self.org_url}{POLICIES_PATH}/{policy_id or self.clients_policy_id}"
        policy = requests.get(url, headers=self.ssws(), timeout=TIMEOUT)
        policy.raise_for_status()
        body = policy.json()
        include = body["conditions"]["clients"]["include"]
        if client_id not in include:
            include.append(client_id)
        updated = requests.put(url, json=body, headers=self.ssws(), timeout=TIMEOUT)
        updated.raise_for_status()
        return dict(updated.json())

    def _secrets(self, method: str, client_id: str, suffix: str = "", **kwargs: Any) -> requests.Response:
        """Call the app's client secrets API with the SSWS token; raise for an error answer."""
        url = f"{self.org_url}/api/v1/apps/{client_id}/credentials/secrets{suffix}"
        response = requests.request(method, url, headers=self.ssws(), timeout=TIMEOUT, **kwargs)
        response.raise_for_status()
        return response

    def client_secrets(self, client_id: str) -> list[dict[str, Any]]:
        """Return the app's client secrets as Okta lists them (client_secret masked)."""
        return list(self._secrets("GET", client_id).json())

    def add_client_secret(self, client_id: str, **body: Any) -> dict[str, Any]:
        """Add a client secret (body e.g. client_secret=..., status="INACTIVE"); return the answer, with plaintext."""
        return dict(self._secrets("POST", client_id, json=body).json())

    def retire_client_secret(self, client_id: str, secret_id: str) -> None:
        """Deactivate and delete one of the app's client secrets."""
        self._secrets("POST", client_id, f"/{secret_id}/lifecycle/deactivate")
        self._secrets("DELETE", client_id, f"/{secret_id}")

    def rotate_client_secret(self, client_id: str) -> str:
        """Rotate with no downtime: drop INACTIVE secrets, add one, retire the others; return the new secret.

        With two ACTIVE secrets there is no room for a third: Okta's 400 E0000001 is raised as HTTPError.
        """
        old = self.client_secrets(client_id)
        for secret in old:
            if secret["status"] == "INACTIVE":
                self._secrets("DELETE", client_id, f"/{secret['id']}")
        new = self.add_client_secret(client_id)
        for secret in old:
            if secret["status"] == "ACTIVE":
                self.retire_client_secret(client_id, secret["id"])
        return str(new["client_secret"])

    def token(self, client_id: str | None = None, client_secret: str | None = None, scope: str = HELLO_SCOPE) -> str:
        """Return an access token (client_secret_basic); the demo client by default."""
        auth = (client_id or self.env["CLIENT_ID"], client_secret or self.env["CLIENT_SECRET"])
        response = requests.post(
            self.token_url, data={"grant_type": "client_credentials", "scope": scope}, auth=auth, timeout=TIMEOUT
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def wait_until_held(self, count: int = 1, timeout: float = 60) -> bool:
        """Wait until a hang fault holds `count` requests (the server has them, and answers none)."""
        if self._server is None:
            raise RuntimeError("the server is not running")
        return self._server.ctx.faults.wait_until_held(count, timeout)

    def set_faults(self, **spec: Any) -> dict[str, Any]:
        """Replace the faults through the control API, e.g. set_faults(keys="fail", apps=429)."""
        response = requests.post(self.org_url + FAULTS_PATH, json=spec, headers=self.ssws(), timeout=TIMEOUT)
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

"""The `make demo` story: each step is one line with PASS or FAIL; the run passes only if every step does."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from m2m_client import ClientConfig, ClientError, M2MClient
from m2m_client.client import CachedToken, DpopKey

TIMEOUT = 15.0
# register, token, register scope refused, hello 200, no token 401, tampered 401, lacking scope 403,
# rotate (both secrets work), old secret removed (only the new one works), revoke (no new token);
# then DPoP: register a DPoP client (shown as such), a DPoP call, a captured token and proof replayed (401), the
# stolen token with the thief's own proof (401), the bound token sent as a bearer token (401)
STORY_STEPS = 15


@dataclass(frozen=True)
class Step:
    """One checked claim of the story."""

    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        """The step as one printable line (no tokens, no secrets)."""
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {self.detail}"


def tamper(token: str) -> str:
    """Return the token with its payload's sub changed and the original signature kept (so it must be refused)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def get(api_url: str, route: str, token: str | None) -> requests.Response:
    """GET a route with the given bearer token (or none), without the client's retry."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.get(f"{api_url}/{route.lstrip('/')}", headers=headers, timeout=TIMEOUT)


def _expect(
    response: requests.Response, status: int, check: Callable[[Any], bool] = lambda _: True
) -> tuple[bool, str]:
    try:
        body = response.json()
    except ValueError:
        body = None
    shown = body.get("message") if isinstance(body, dict) and "message" in body else body
    passed = response.status_code == status and check(body)
    detail = f"{response.status_code} {json.dumps(shown)[:80]}"
    return passed, detail if passed else f"{detail} (expected {status})"


def client_for(
    okta: dict[str, str], api_url: str, client_id: str, client_secret: str, scope: str, *, dpop: bool = False
) -> M2MClient:
    """A client of the local Okta server's issuer and the local API (asking for DPoP-bound tokens, if `dpop`)."""
    config = ClientConfig(okta["ISSUER"], client_id, client_secret, scope=scope, api_url=api_url, dpop=dpop)
    return M2MClient(config, timeout=TIMEOUT)


def run_story(okta: dict[str, str], api_url: str) -> list[Step]:
    """Play the story against a running stack and return its steps, stopping at the first step others need."""
    steps: list[Step] = []
    admin = client_for(okta, api_url, okta["ADMIN_CLIENT_ID"], okta["ADMIN_CLIENT_SECRET"], okta["REGISTER_SCOPE"])
    label = f"demo-{uuid.uuid4().hex[:8]}"
    try:
        created = admin.register(label)
        steps.append(Step("admin registers a new client", True, f"201, client_id {created['client_id']}"))
        newcomer = client_for(okta, api_url, created["client_id"], created["client_secret"], okta["HELLO_SCOPE"])
        token = newcomer.token()
        steps.append(Step("new client gets a token", True, f"scope {okta['HELLO_SCOPE']}"))
    except ClientError as exc:
        steps.append(Step("admin registers a new client, which gets a token", False, str(exc)))
        return steps

    # Least privilege: the new client is enrolled in the clients policy, whose rule grants hello only.
    greedy = client_for(okta, api_url, created["client_id"], created["client_secret"], okta["REGISTER_SCOPE"])
    try:
        greedy.token()
        steps.append(Step("new client is refused the register scope", False, "the issuer granted it"))
    except ClientError as exc:
        refused = "invalid_scope" in str(exc) or "access_denied" in str(exc)
        steps.append(Step("new client is refused the register scope", refused, str(exc)[:80]))
    passed, detail = _expect(
        get(api_url, "/hello", token), 200, lambda b: b == {"message": "Hello World!", "clientId": created["client_id"]}
    )
    steps.append(Step("GET /hello with its token", passed, detail))
    steps.append(Step("GET /hello without a token", *_expect(get(api_url, "/hello", None), 401)))
    steps.append(Step("GET /hello with a tampered token", *_expect(get(api_url, "/hello", tamper(token)), 401)))
    try:
        register_only = admin.token()
    except ClientError as exc:
        steps.append(Step("GET /hello with a token lacking the scope", False, str(exc)))
        return steps
    steps.append(
        Step("GET /hello with a token lacking the scope", *_expect(get(api_url, "/hello", register_only), 403))
    )
    steps += rotate_and_revoke(okta, api_url, admin, created)
    steps += dpop_story(okta, api_url, admin)
    return steps


def dpop_story(okta: dict[str, str], api_url: str, admin: M2MClient) -> list[Step]:
    """A client that must use DPoP: its call works, and its token and proof are worth nothing to anyone else."""
    try:
        created = admin.register(f"demo-dpop-{uuid.uuid4().hex[:8]}", dpop=True)
        shown = admin.client_call("GET", created["client_id"])
    except ClientError as exc:
        return [Step("admin registers a client that must use DPoP", False, str(exc)[:80])]
    registered = created.get("dpop") is True and shown.get("dpop") is True
    steps = [Step("admin registers a client that must use DPoP", registered, f"201, dpop {shown.get('dpop')}")]
    client = client_for(okta, api_url, created["client_id"], created["client_secret"], okta["HELLO_SCOPE"], dpop=True)
    url = f"{api_url}/hello/dpop"
    try:
        token = CachedToken(client.token(), 0, "DPoP")
    except ClientError as exc:
        return [*steps, Step("GET /hello/dpop with a DPoP-bound token and a proof", False, str(exc)[:80])]
    captured = client.headers("GET", url, token)  # what an eavesdropper on this call would see
    hello = {"message": "Hello World!", "clientId": created["client_id"]}
    first = requests.get(url, headers=captured, timeout=TIMEOUT)
    steps.append(Step("GET /hello/dpop with a DPoP-bound token and a proof", *_expect(first, 200, hello.__eq__)))
    replayed = requests.get(url, headers=captured, timeout=TIMEOUT)
    steps.append(Step("another caller replays the captured token and proof", *_expect(replayed, 401)))
    thief = DpopKey()  # the thief's own key: it can sign proofs, but not for a token bound to the client's key
    forged = {"Authorization": f"DPoP {token.value}", "DPoP": thief.proof("GET", url, access_token=token.value)}
    stolen = requests.get(url, headers=forged, timeout=TIMEOUT)
    steps.append(Step("the stolen token with the thief's own proof", *_expect(stolen, 401)))
    steps.append(
        Step("the DPoP-bound token sent as a bearer token", *_expect(get(api_url, "/hello", token.value), 401))
    )
    try:
        admin.client_call("DELETE", created["client_id"])
    except ClientError as exc:  # the demo's clean-up only: every claim above is checked already
        steps.append(Step("admin revokes the DPoP client", False, str(exc)[:80]))
    return steps


def _gets_token(okta: dict[str, str], api_url: str, client_id: str, secret: str) -> bool:
    try:
        client_for(okta, api_url, client_id, secret, okta["HELLO_SCOPE"]).token()
    except ClientError:
        return False
    return True


def rotate_and_revoke(okta: dict[str, str], api_url: str, admin: M2MClient, created: dict[str, Any]) -> list[Step]:
    """Rotate the new client's secret with no downtime, then revoke the client."""
    client_id, old_secret = created["client_id"], created["client_secret"]
    try:
        (old,) = admin.client_call("GET", client_id)["secrets"]
        rotated = admin.client_call("POST", client_id, "secrets")
    except (ClientError, ValueError) as exc:
        return [Step("admin rotates the client's secret", False, str(exc)[:80])]
    both = _gets_token(okta, api_url, client_id, old_secret) and _gets_token(
        okta, api_url, client_id, rotated["client_secret"]
    )
    steps = [Step("admin rotates the client's secret", both, f"secret {rotated['secret_id']}: old and new both work")]
    try:
        admin.client_call("DELETE", client_id, "secrets", old["id"])
        only_new = not _gets_token(okta, api_url, client_id, old_secret) and _gets_token(
            okta, api_url, client_id, rotated["client_secret"]
        )
        steps.append(Step("admin removes the old secret", only_new, "the old one is refused, the new one works"))
        revoked = admin.client_call("DELETE", client_id)
    except ClientError as exc:
        return [*steps, Step("admin removes the old secret, then revokes the client", False, str(exc)[:80])]
    stopped = revoked.get("status") == "revoked" and not _gets_token(okta, api_url, client_id, rotated["client_secret"])
    steps.append(Step("admin revokes the client", stopped, "it gets no new token"))
    return steps

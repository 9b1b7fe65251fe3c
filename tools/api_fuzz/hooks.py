"""Schemathesis hooks (SCHEMATHESIS_HOOKS=api_fuzz.hooks): real tokens from the local Okta server, and our own
checks on every answer. Configured by the environment that api_fuzz.run gives the CLI (target.ENV_*).

- Auth: for each operation, a token of the client that holds one of the scopes its security lists (the
  document's, so ROUTE_SCOPES's); or, by API_FUZZ_AUTH, no token, a token without the operation's scopes, or a
  malformed Authorization header (every answer must then be the gateway's 401 or 403).
- Checks: no client secret, token or key in any answer but the 201s that hand a secret out once;
  Cache-Control: no-store on every admin answer; every fixed error message one the document lists for its status;
  a registered client works at once and a revoked one is locked out; the registry and Okta agree after the run.
- The label's `printable` format: what the register function accepts (str.isprintable, no edge whitespace).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from typing import Any

import requests
import schemathesis
from hypothesis import strategies as st

from api_fuzz.consistency import registry_drift
from api_fuzz.target import AUTH_MODES, FuzzTarget

TARGET = FuzzTarget.from_environment()
TIMEOUT = 30
# A disabled API key stops its client at the gateway once the gateway sees the change: the local API reads the
# keys again each second (local_api.usage_plans); API Gateway takes seconds too.
LOCKOUT_SECONDS = 10.0
# A JWT, or the private part of a JWK: never in an answer.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_SECRET_FIELDS = frozenset({"client_secret", "access_token", "refresh_token", "id_token", "d", "p", "q", "private_key"})
# Operations whose 201 hands out a secret, once, in this field.
SECRET_ANSWERS = {("registerClient", 201), ("rotateSecret", 201)}
# Malformed Authorization headers, tried in turn: no scheme, another scheme, not a JWT, a JWT with a bad signature,
# a token split by a space, an empty token.
MALFORMED = (
    "Bearer",
    "Bearer ",
    "Basic dXNlcjpwYXNzd29yZA==",
    "Bearer not-a-jwt",
    "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
    "Bearer eyJhbGciOiJub25lIn0.eyJzY3AiOlsicmVnaXN0ZXIiXX0.",
    "Bearer a.b c",
    "Token abc.def.ghi",
)


def _operation_scopes(operation: Any) -> list[str]:
    """Every scope that opens the operation, from its security requirements (any one of them does)."""
    security = operation.definition.raw.get("security") or []
    return sorted({scope for requirement in security for scopes in requirement.values() for scope in scopes})


def _scope_key(case: Any, ctx: Any) -> str:
    return ",".join(_operation_scopes(ctx.operation))


class _Secrets:
    """Every secret the run has seen: the stack's own, each token fetched, each secret an answer handed out."""

    def __init__(self, initial: set[str]) -> None:
        self._lock = threading.Lock()
        self._known = {value for value in initial if len(value) >= 8}

    def add(self, value: str) -> None:
        with self._lock:
            self._known.add(value)

    def found_in(self, text: str) -> bool:
        with self._lock:
            return any(secret in text for secret in self._known)

    def __contains__(self, value: object) -> bool:
        with self._lock:
            return value in self._known


STACK_SECRETS = _Secrets(TARGET.stack_secrets())  # the stack's own, and every token fetched
# Those, and every secret an answer handed out (an answer checked twice, as when Schemathesis replays, is fine).
SECRETS = _Secrets(TARGET.stack_secrets())


def fetch_token(client_id: str, secret: str, scope: str) -> str:
    """A client credentials token from the local Okta server (and remember it as a secret)."""
    answer = requests.post(
        TARGET.token_url,
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, secret),
        timeout=TIMEOUT,
    )
    answer.raise_for_status()
    token = str(answer.json()["access_token"])
    STACK_SECRETS.add(token)
    SECRETS.add(token)
    return token


@schemathesis.auth(cache_by_key=_scope_key, refresh_interval=120)
class OktaClientCredentials:
    """A real token for the operation's scopes, as API_FUZZ_AUTH says: scoped (default), none, wrong-scope or
    malformed (a malformed header from MALFORMED, in turn)."""

    def __init__(self) -> None:
        self._malformed = itertools.cycle(MALFORMED)
        self._lock = threading.Lock()

    def get(self, case: Any, ctx: Any) -> str | None:
        if TARGET.auth == "none":
            return None
        if TARGET.auth == "malformed":
            return "malformed"
        wanted = _operation_scopes(ctx.operation)
        if TARGET.auth == "wrong-scope":
            scope = next((s for s in TARGET.clients if s not in wanted), None)
            if scope is None:
                raise RuntimeError(f"no client holds a scope outside {wanted}")
        else:
            scope = next((s for s in wanted if s in TARGET.clients), None)
            if scope is None:
                raise RuntimeError(f"no client of the local Okta holds one of {wanted}")
        client_id, secret = TARGET.clients[scope]
        return fetch_token(client_id, secret, scope)

    def set(self, case: Any, data: str, ctx: Any) -> None:
        if data == "malformed":
            with self._lock:
                case.headers["Authorization"] = next(self._malformed)
        else:
            case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def filter_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> bool:
    """Never a request on the clients the runs authenticate with (values from earlier answers could name them:
    a client's created_by is the admin client): revoking or adopting them would end the run's own access."""
    return (path_parameters or {}).get("clientId") not in TARGET.seeded_clients


def _printable_labels() -> st.SearchStrategy[str]:
    """What the register function takes as a label: printable, 1 to 100 characters, no whitespace at either end."""
    printable = st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))
    text = st.text(printable, min_size=1, max_size=100)
    return text.filter(lambda s: s.isprintable() and s == s.strip())


schemathesis.openapi.format("printable", _printable_labels())


def _json(response: Any) -> Any:
    try:
        return json.loads(response.text)
    except ValueError:
        return None


def _fields(value: Any) -> set[str]:
    """Every object key anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value) | {name for item in value.values() for name in _fields(item)}
    if isinstance(value, list):
        return {name for item in value for name in _fields(item)}
    return set()


@schemathesis.check
def no_secret_in_answers(ctx: Any, response: Any, case: Any) -> bool | None:
    """No client secret, token or key in an answer, except the one new secret a 201 of register or rotate hands
    out (which must be new, and is then never seen again)."""
    body = _json(response)
    handed_out = None
    if (case.operation.definition.raw.get("operationId"), response.status_code) in SECRET_ANSWERS:
        handed_out = body.get("client_secret") if isinstance(body, dict) else None
        if not isinstance(handed_out, str) or not handed_out:
            raise AssertionError("a 201 that hands out a secret has no client_secret")
        if handed_out in STACK_SECRETS:
            raise AssertionError("a 201 handed out the secret of a client the stack seeded, or a token")
    text = response.text.replace(handed_out, "") if handed_out else response.text
    headers = " ".join(f"{name}: {value}" for name, values in response.headers.items() for value in values)
    leaked = SECRETS.found_in(text) or SECRETS.found_in(headers)
    fields = _fields(body) - ({"client_secret"} if handed_out else set())
    if leaked or fields & _SECRET_FIELDS or _JWT.search(text) or _JWT.search(headers):
        raise AssertionError(f"{response.status_code} answer holds a secret, a token or a key")
    if handed_out:
        SECRETS.add(handed_out)
    return None


@schemathesis.check
def admin_answers_are_not_stored(ctx: Any, response: Any, case: Any) -> bool | None:
    """Cache-Control: no-store on every answer of an admin route (one the register scope opens), errors included."""
    if TARGET.admin_scope in _operation_scopes(case.operation):
        values = response.headers.get("cache-control") or []
        if values != ["no-store"]:
            raise AssertionError(f"{response.status_code} answer of an admin route has Cache-Control {values}")
    return None


@schemathesis.check
def error_messages_are_declared(ctx: Any, response: Any, case: Any) -> bool | None:
    """An error answer the document lists fixed messages for (x-messages) has one of them: the gateway's failure
    answer, or a function's crash, is not the function's own answer of the same status."""
    if case.method.upper() != case.operation.method.upper():
        return None  # a method the path does not have (the coverage phase's probes): the gateway's, not the route's
    declared = (case.operation.definition.raw.get("responses") or {}).get(str(response.status_code)) or {}
    messages = declared.get("x-messages")
    if messages is not None:
        body = _json(response)
        message = body.get("message") if isinstance(body, dict) else None
        if message not in messages:
            raise AssertionError(f"{response.status_code} answer says {message!r}, not one of {messages}")
    return None


@schemathesis.check
def refused_without_a_valid_token(ctx: Any, response: Any, case: Any) -> bool | None:
    """Without a token, or with a malformed one: 401 with a Bearer challenge. With a token lacking the operation's
    scopes: 403. (Runs whatever API_FUZZ_AUTH says; a no-op for scoped tokens.)"""
    if TARGET.auth in ("none", "malformed"):
        challenge = " ".join(response.headers.get("www-authenticate") or [])
        if response.status_code != 401 or not challenge.startswith("Bearer"):
            raise AssertionError(f"a request without a valid token was answered {response.status_code}")
    elif TARGET.auth == "wrong-scope" and response.status_code != 403:
        raise AssertionError(f"a token without the operation's scope was answered {response.status_code}")
    return None


@schemathesis.check
class revoked_clients_are_locked_out:  # noqa: N801 - Schemathesis names checks by their class name
    """A client POST /register made works at once (a token, then GET /hello); once DELETE /clients/{clientId}
    revoked it, the token it held is refused (403) and Okta gives it no new one (401)."""

    def __init__(self) -> None:
        self.clients: dict[str, tuple[str, str]] = {}  # client id: (secret, a token it got)
        self.revoked: set[str] = set()

    def after_response(self, ctx: Any, response: Any, case: Any) -> bool | None:
        operation = case.operation.definition.raw.get("operationId")
        body = _json(response)
        if not isinstance(body, dict) or TARGET.auth != "scoped":
            return None
        client_id = str(body.get("client_id", ""))
        if operation == "registerClient" and response.status_code == 201 and client_id not in self.clients:
            secret = str(body["client_secret"])
            token = fetch_token(client_id, secret, TARGET.hello_scope)
            hello = requests.get(f"{TARGET.api_url}/hello", headers=_bearer(token), timeout=TIMEOUT)
            if hello.status_code != 200:
                raise AssertionError(f"a client registered just now was answered {hello.status_code} on GET /hello")
            self.clients[client_id] = (secret, token)
        elif operation == "revokeClient" and response.status_code == 200 and client_id in self.clients:
            if client_id in self.revoked:
                return None
            secret, token = self.clients[client_id]
            status = _locked_out_within(token, LOCKOUT_SECONDS)
            if status != 403:
                raise AssertionError(f"a revoked client's token was still answered {status} on GET /hello")
            refused = requests.post(
                TARGET.token_url,
                data={"grant_type": "client_credentials", "scope": TARGET.hello_scope},
                auth=(client_id, secret),
                timeout=TIMEOUT,
            )
            if refused.status_code != 401:
                raise AssertionError(f"Okta answered a revoked client's token request {refused.status_code}")
            self.revoked.add(client_id)
        return None


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _locked_out_within(token: str, seconds: float) -> int:
    """GET /hello with the token until the gateway refuses it (403) or seconds pass; the last status."""
    deadline = time.monotonic() + seconds
    while True:
        status = requests.get(f"{TARGET.api_url}/hello", headers=_bearer(token), timeout=TIMEOUT).status_code
        if status == 403 or time.monotonic() >= deadline:
            return status
        time.sleep(0.2)


@schemathesis.check
class registry_matches_okta:  # noqa: N801 - Schemathesis names checks by their class name
    """After the run: every active client of the registry has an active Okta app and an enabled API key in the
    usage plan, every revoked one neither, and every Okta app a registration of ours made has a record."""

    def after_run(self, ctx: Any) -> None:
        if TARGET.auth != "scoped":
            return
        problems = registry_drift(TARGET)
        if problems:
            raise AssertionError("; ".join(problems))


__all__ = ["AUTH_MODES", "OktaClientCredentials"]

"""Schemathesis hooks (SCHEMATHESIS_HOOKS=api_fuzz.hooks): real tokens from the local Okta server, and our own
checks on every answer. Configured by the environment that api_fuzz.run gives the CLI (target.ENV_*).

- Auth: for each operation, a token of the client that holds one of the scopes its security lists (the
  document's, so ROUTE_SCOPES's); where that security is the DPoP scheme, a DPoP-bound token (`Authorization:
  DPoP`) and a fresh proof of its key for each request (`DPoP`, made with m2m_client's DPoP support), unless the
  case leaves the DPoP header out or makes it invalid on purpose. Or, by API_FUZZ_AUTH, no token, a token without
  the operation's scopes (DPoP-bound where the operation takes those), a malformed Authorization header, or a real
  bearer token on an operation that takes DPoP-bound ones (every answer must then be the gateway's 401 or 403).
- Checks: no client secret, token or key in any answer but the 201s that hand a secret out once;
  Cache-Control: no-store on every admin answer; every fixed error message one the document lists for its status;
  a registered client works at once and a revoked one is locked out; a DPoP proof is used once, and a DPoP-bound
  token works only with proofs of its key and only as DPoP; the registry and Okta agree after the run.
- The label's `printable` format: what the register function accepts (str.isprintable, no edge whitespace).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis.generation.meta import negated_parameters  # what Schemathesis's own auth consults (pinned)

from api_fuzz.consistency import registry_drift
from api_fuzz.target import AUTH_MODES, FuzzTarget
from m2m_client import ClientConfig, M2MClient
from m2m_client.client import DpopKey

TARGET = FuzzTarget.from_environment()
DPOP_SCHEME = "oauth2Dpop"  # the document's security scheme of DPoP-bound tokens
DPOP_HEADER = "DPoP"
# The routes a newly registered client calls to show it works: a bearer client GET /hello, a DPoP client its twin.
HELLO_ROUTES = {False: "/hello", True: "/hello/dpop"}
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
# a token split by a space, an empty token; then the same in the DPoP scheme (a bound-looking token among them).
MALFORMED = (
    "Bearer",
    "Bearer ",
    "Basic dXNlcjpwYXNzd29yZA==",
    "Bearer not-a-jwt",
    "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
    "Bearer eyJhbGciOiJub25lIn0.eyJzY3AiOlsicmVnaXN0ZXIiXX0.",
    "Bearer a.b c",
    "Token abc.def.ghi",
    "DPoP",
    "DPoP not-a-jwt",
    "DPoP eyJhbGciOiJSUzI1NiJ9.eyJjbmYiOnsiamt0IjoieCJ9fQ.c2lnbmF0dXJl",
    "DPoP eyJhbGciOiJub25lIn0.eyJzY3AiOlsiaGVsbG8iXX0.",
)


def _operation_scopes(operation: Any) -> list[str]:
    """Every scope that opens the operation, from its security requirements (any one of them does)."""
    security = operation.definition.raw.get("security") or []
    return sorted({scope for requirement in security for scopes in requirement.values() for scope in scopes})


def takes_dpop(operation: Any) -> bool:
    """Whether the operation takes DPoP-bound tokens and a proof per request (its security is the DPoP scheme)."""
    return any(DPOP_SCHEME in requirement for requirement in operation.definition.raw.get("security") or [])


def _scope_key(case: Any, ctx: Any) -> str:
    return f"{'DPoP' if takes_dpop(ctx.operation) else 'Bearer'} {','.join(_operation_scopes(ctx.operation))}"


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


_CALLERS: dict[tuple[str, str, bool], M2MClient] = {}
_CALLERS_LOCK = threading.Lock()


def caller(client_id: str, secret: str, scope: str, *, dpop: bool) -> M2MClient:
    """One m2m_client client per client, scope and binding for the whole run: a DPoP one keeps its key, so its
    tokens and the proofs it signs go together."""
    with _CALLERS_LOCK:
        key = (client_id, scope, dpop)
        if key not in _CALLERS:
            issuer, api_url = TARGET.okta["ISSUER"], TARGET.api_url
            config = ClientConfig(issuer, client_id, secret, scope=scope, api_url=api_url, dpop=dpop)
            _CALLERS[key] = M2MClient(config, timeout=TIMEOUT)
        return _CALLERS[key]


@dataclass(frozen=True)
class Credential:
    """A token and how a request carries it: the Authorization scheme, and the key its DPoP proofs are signed with
    (the token's own for a bound token; another, for a bearer token sent with a proof); None: no proof."""

    token: str
    scheme: str = "Bearer"
    key: DpopKey | None = None

    def headers(self, method: str, url: str) -> dict[str, str]:
        """The headers of one request: Authorization, and a fresh proof for it if the credential has a key."""
        found = {"Authorization": f"{self.scheme} {self.token}"}
        if self.key is not None:
            found[DPOP_HEADER] = self.key.proof(method, url, access_token=self.token)
        return found


def dpop_credential(client_id: str, secret: str, scope: str) -> Credential:
    """A DPoP-bound token (m2m_client's DPoP support: a proof at the token request, Okta's nonce if it asks), with
    the key it is bound to."""
    client = caller(client_id, secret, scope, dpop=True)
    token = client.token(fresh=True)
    STACK_SECRETS.add(token)
    SECRETS.add(token)
    if client.dpop_key is None:
        raise RuntimeError("an m2m_client client made for DPoP has no key")
    return Credential(token, "DPoP", client.dpop_key)


def _proof_left_out(case: Any) -> bool:
    """Whether a negative case left out, or made invalid, the DPoP header on purpose (the auth then sends none)."""
    return any(name.lower() == DPOP_HEADER.lower() for name, _ in negated_parameters(case.meta))


def request_url(case: Any) -> str:
    """The URL a case is sent to, as its DPoP proof must name it (htu: no query, no fragment)."""
    return f"{TARGET.api_url}{case.formatted_path}"


@schemathesis.auth(cache_by_key=_scope_key, refresh_interval=120)
class OktaClientCredentials:
    """A real token for the operation's scopes, as API_FUZZ_AUTH says: scoped (default), none, wrong-scope,
    malformed (a malformed header from MALFORMED, in turn) or bearer (an unbound token on a DPoP operation, sent as
    Bearer and as DPoP in turn, each time with a proof of a key it is not bound to). A DPoP operation gets a
    DPoP-bound token, and a fresh proof of its key with each request."""

    def __init__(self) -> None:
        self._malformed = itertools.cycle(MALFORMED)
        self._bearer_schemes = itertools.cycle(("Bearer", "DPoP"))
        self._lock = threading.Lock()

    def get(self, case: Any, ctx: Any) -> Credential | str | None:
        if TARGET.auth == "none":
            return None
        if TARGET.auth == "malformed":
            return "malformed"
        wanted = _operation_scopes(ctx.operation)
        dpop = takes_dpop(ctx.operation) and TARGET.auth != "bearer"
        clients = TARGET.dpop_clients if dpop else TARGET.clients
        if TARGET.auth == "wrong-scope":
            scope = next((s for s in clients if s not in wanted), None)
            if scope is None:
                raise RuntimeError(f"no client holds a scope outside {wanted}")
        else:
            scope = next((s for s in wanted if s in clients), None)
            if scope is None:
                raise RuntimeError(f"no client of the local Okta holds one of {wanted}")
        client_id, secret = clients[scope]
        if dpop:
            return dpop_credential(client_id, secret, scope)
        token = fetch_token(client_id, secret, scope)
        return Credential(token, key=DpopKey()) if TARGET.auth == "bearer" else Credential(token)

    def set(self, case: Any, data: Credential | str, ctx: Any) -> None:
        if not isinstance(data, Credential):
            with self._lock:
                case.headers["Authorization"] = next(self._malformed)
            return
        if data.key is not None and data.scheme == "Bearer" and TARGET.auth == "bearer":
            with self._lock:
                data = replace(data, scheme=next(self._bearer_schemes))
        headers = data.headers(case.method.upper(), request_url(case))
        case.headers["Authorization"] = headers["Authorization"]
        if DPOP_HEADER in headers and takes_dpop(case.operation) and not _proof_left_out(case):
            case.headers[DPOP_HEADER] = headers[DPOP_HEADER]


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


_DPOP_CHALLENGE = re.compile(r'(^|, )DPoP ([A-Za-z0-9_]+="[^"]*", )*algs="[^"]+"')


def _challenges(response: Any, dpop: bool) -> bool:
    """Whether a 401 challenges the scheme the operation takes: Bearer, or DPoP with its algs (RFC 9449 7.1)."""
    challenge = " ".join(response.headers.get("www-authenticate") or [])
    return bool(_DPOP_CHALLENGE.search(challenge)) if dpop else challenge.startswith("Bearer")


@schemathesis.check
def refused_without_a_valid_token(ctx: Any, response: Any, case: Any) -> bool | None:
    """Without a token, with a malformed one, or with a bearer token on an operation that takes DPoP-bound ones:
    401, challenging the operation's scheme. With a token lacking the operation's scopes: 403 (401 on a DPoP
    operation if the request has no DPoP header: the gateway refuses it before the authorizer runs). (Runs
    whatever API_FUZZ_AUTH says; a no-op for scoped tokens.)"""
    dpop = takes_dpop(case.operation)
    if TARGET.auth in ("none", "malformed", "bearer"):
        if response.status_code != 401 or not _challenges(response, dpop):
            raise AssertionError(f"a request without a valid token was answered {response.status_code}")
    elif TARGET.auth == "wrong-scope":
        expected = 401 if dpop and not response.request.headers.get(DPOP_HEADER) else 403
        if response.status_code != expected:
            raise AssertionError(f"a token without the operation's scope was answered {response.status_code}")
    return None


def _resend(response: Any, **headers: str) -> requests.Response:
    """The request of this answer sent again as it was, but for the headers given."""
    prepared = response.request.copy()
    prepared.headers.update(headers)
    with requests.Session() as session:
        return session.send(prepared, timeout=TIMEOUT, allow_redirects=False)


@schemathesis.check
def dpop_proofs_are_used_once(ctx: Any, response: Any, case: Any) -> bool | None:
    """A request a DPoP operation accepted (2xx), sent again as it was (a captured token and proof): 401, with a
    DPoP challenge."""
    if TARGET.auth != "scoped" or not takes_dpop(case.operation) or not 200 <= response.status_code < 300:
        return None
    again = _resend(response)
    if again.status_code != 401 or "DPoP" not in again.headers.get("WWW-Authenticate", ""):
        raise AssertionError(f"a DPoP proof used a second time was answered {again.status_code}")
    return None


@schemathesis.check
class dpop_tokens_are_bound:  # noqa: N801 - Schemathesis names checks by their class name
    """The DPoP-bound token of a request a DPoP operation accepted (2xx), once per token: with a fresh proof of
    another key (a thief's), 401; sent as a bearer token, on that operation and on the bearer route of its scope
    (GET /hello), 401."""

    def __init__(self) -> None:
        self.checked: set[str] = set()
        self._lock = threading.Lock()

    def after_response(self, ctx: Any, response: Any, case: Any) -> bool | None:
        if TARGET.auth != "scoped" or not takes_dpop(case.operation) or not 200 <= response.status_code < 300:
            return None
        scheme, _, token = str(response.request.headers.get("Authorization", "")).partition(" ")
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self._lock:
            if scheme != "DPoP" or digest in self.checked:
                return None
            self.checked.add(digest)
        url, method = request_url(case), case.method.upper()
        thief = Credential(token, "DPoP", DpopKey()).headers(method, url)
        if (status := _resend(response, **thief).status_code) != 401:
            raise AssertionError(f"a DPoP-bound token with a proof of another key was answered {status}")
        downgraded = Credential(token, "Bearer", DpopKey()).headers(method, url)
        if (status := _resend(response, **downgraded).status_code) != 401:
            raise AssertionError(f"a DPoP-bound token sent as a bearer token was answered {status}")
        bearer = requests.get(f"{TARGET.api_url}{HELLO_ROUTES[False]}", headers=_bearer(token), timeout=TIMEOUT)
        if bearer.status_code != 401:
            raise AssertionError(f"a DPoP-bound token sent to a bearer route was answered {bearer.status_code}")
        return None


@schemathesis.check
class revoked_clients_are_locked_out:  # noqa: N801 - Schemathesis names checks by their class name
    """A client POST /register made works at once (a token, then GET /hello; for a client that must use DPoP, a
    DPoP-bound token and GET /hello/dpop with a proof); once DELETE /clients/{clientId} revoked it, the token it
    held is refused (403) and Okta gives it no new one (401)."""

    def __init__(self) -> None:
        self.clients: dict[str, tuple[str, Credential, str]] = {}  # client id: (secret, a token it got, its route)
        self.revoked: set[str] = set()

    def after_response(self, ctx: Any, response: Any, case: Any) -> bool | None:
        operation = case.operation.definition.raw.get("operationId")
        body = _json(response)
        if not isinstance(body, dict) or TARGET.auth != "scoped":
            return None
        client_id = str(body.get("client_id", ""))
        if operation == "registerClient" and response.status_code == 201 and client_id not in self.clients:
            secret, dpop = str(body["client_secret"]), body.get("dpop") is True
            if dpop:
                credential = dpop_credential(client_id, secret, TARGET.hello_scope)
            else:
                credential = Credential(fetch_token(client_id, secret, TARGET.hello_scope))
            route = HELLO_ROUTES[dpop]
            hello = _call(route, credential)
            if hello.status_code != 200:
                raise AssertionError(f"a client registered just now was answered {hello.status_code} on GET {route}")
            self.clients[client_id] = (secret, credential, route)
        elif operation == "revokeClient" and response.status_code == 200 and client_id in self.clients:
            if client_id in self.revoked:
                return None
            secret, credential, route = self.clients[client_id]
            status = _locked_out_within(route, credential, LOCKOUT_SECONDS)
            if status != 403:
                raise AssertionError(f"a revoked client's token was still answered {status} on GET {route}")
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


def _call(route: str, credential: Credential) -> requests.Response:
    """GET a route with the credential (and a fresh proof, if it has a key)."""
    url = f"{TARGET.api_url}{route}"
    return requests.get(url, headers=credential.headers("GET", url), timeout=TIMEOUT)


def _locked_out_within(route: str, credential: Credential, seconds: float) -> int:
    """GET the route with the credential until the gateway refuses it (403) or seconds pass; the last status."""
    deadline = time.monotonic() + seconds
    while True:
        status = _call(route, credential).status_code
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

"""The authorizer's DPoP path (TokenAuthorizer.authorize_request), offline: REQUEST events as API Gateway sends them,
real tokens and proofs, and a replay store in memory (the DynamoDB one is tested against moto's server)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from okta_m2m.errors import ConfigError, ReplayStoreUnavailableError, TokenError
from okta_m2m.tokens._authorization import TokenAuthorizer
from okta_m2m.tokens._jwks import KeyCache
from okta_m2m.tokens._replay import ProofReplay, SeenProofs
from okta_m2m.tokens._settings import DpopSettings, authorizer_settings, dpop_settings
from tests.dpop_factory import ec_key
from tests.jwt_factory import access_claims, mint, signing_key

ISSUER = "https://issuer.example/oauth2/default"
API = "abcdef1234"
STAGE_URL = f"https://{API}.execute-api.us-east-1.amazonaws.com/v1"
CUSTOM = "https://api.example.com/orders"
ROUTES = "GET /hello hello\nDPoP GET /hello/dpop hello\nDPoP POST /things/{id} things\n"
KEY = signing_key("unit-dpop")
CLIENT = ec_key("unit-dpop-client")
SETTINGS = DpopSettings((CUSTOM,), 60, "replay", "us-east-1", "https://dynamodb.us-east-1.amazonaws.com", False)


class MemoryStore:
    """The ReplayStore protocol over a dict, shared by the authorizers (containers) of a test; `down` fails it."""

    def __init__(self) -> None:
        self.items: dict[str, int] = {}
        self.claims: list[tuple[str, int]] = []
        self.down = False
        self._lock = threading.Lock()

    def claim(self, key: str, until: int, now: float) -> bool:
        if self.down:
            raise ReplayStoreUnavailableError("replay store unreachable: ConnectionRefusedError")
        with self._lock:
            self.claims.append((key, until))
            held = self.items.get(key)
            if held is not None and held >= now:
                return False
            self.items[key] = until
            return True


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def make(monkeypatch: pytest.MonkeyPatch, store: MemoryStore):
    for name, value in {"ISSUER": ISSUER, "AUDIENCE": "api://default", "ROUTE_SCOPES": ROUTES}.items():
        monkeypatch.setenv(name, value)
    settings = authorizer_settings()

    def make_one(fail_open: bool = False) -> TokenAuthorizer:
        keys = {ISSUER: KeyCache(ISSUER, ISSUER + "/v1/keys", fetch=lambda uri, timeout: {"keys": [KEY.jwk()]})}
        replay = ProofReplay(store, fail_open=fail_open)
        return TokenAuthorizer(settings, keys, dpop=SETTINGS, replay=replay)

    return make_one


def bound_token(scopes: tuple[str, ...] = ("hello",), key=CLIENT, **claims: Any) -> str:
    return mint(KEY, access_claims(ISSUER, scopes, cnf={"jkt": key.jkt}, **claims))


def event(
    token: str | None,
    proofs: list[str] | None,
    *,
    scheme: str = "DPoP",
    method: str = "GET",
    path: str = "/hello/dpop",
    headers: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A REQUEST authorizer event as API Gateway sends it (REST API, proxy integration)."""
    multi: dict[str, list[str]] = {"Host": [f"{API}.execute-api.us-east-1.amazonaws.com"], "Accept": ["*/*"]}
    if token is not None:
        multi["Authorization"] = [f"{scheme} {token}"]
    if proofs is not None:
        multi["DPoP"] = proofs
    multi.update(headers or {})
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:us-east-1:123456789012:{API}/v1/{method}{path}",
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi.items()},
        "multiValueHeaders": multi,
        "queryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"stage": "v1", "httpMethod": method, "path": f"/v1{path}", "resourcePath": path},
    }


def allowed(policy: dict[str, Any]) -> bool:
    return policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def refusal(auth: TokenAuthorizer, request: dict[str, Any]) -> str:
    with pytest.raises(TokenError) as raised:
        auth.authorize_request(request)
    return raised.value.reason


def test_a_bound_token_with_its_proof_is_allowed_with_the_bearer_paths_context(make, store):
    auth, token = make(), bound_token()
    policy = auth.authorize_request(event(token, [CLIENT.proof("GET", f"{STAGE_URL}/hello/dpop", token)]))
    assert allowed(policy)
    assert policy["context"]["clientId"] and policy["context"]["scopes"] == "hello"
    assert policy["usageIdentifierKey"].startswith("oktam2mclient")
    assert len(store.claims) == 1


def test_each_request_needs_a_new_proof_the_token_is_verified_once(make, store, monkeypatch):
    from okta_m2m.tokens import _authorization

    verified: list[str] = []
    real = _authorization.validate_access_token
    monkeypatch.setattr(
        _authorization, "validate_access_token", lambda raw, **k: verified.append(raw) or real(raw, **k)
    )
    auth, token = make(), bound_token()
    for _ in range(3):
        assert allowed(auth.authorize_request(event(token, [CLIENT.proof("GET", f"{STAGE_URL}/hello/dpop", token)])))
    assert verified == [token] and len(store.items) == 3


def test_a_replayed_proof_is_refused_by_this_container_without_asking_the_store(make, store):
    auth, token = make(), bound_token()
    request = event(token, [CLIENT.proof("GET", f"{STAGE_URL}/hello/dpop", token)])
    auth.authorize_request(request)
    assert refusal(auth, request) == "proof already used"
    assert len(store.claims) == 1


def test_a_proof_replayed_to_another_container_is_refused_by_the_shared_store(make, store):
    token = bound_token()
    request = event(token, [CLIENT.proof("GET", f"{STAGE_URL}/hello/dpop", token)])
    make().authorize_request(request)
    other = make()
    assert refusal(other, request) == "proof already used"
    assert refusal(other, request) == "proof already used"  # now known to that container too
    assert len(store.claims) == 2


def test_concurrent_replays_across_containers_let_exactly_one_through(make, store):
    token = bound_token()
    request = event(token, [CLIENT.proof("GET", f"{STAGE_URL}/hello/dpop", token)])
    containers = [make() for _ in range(8)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(containers))

    def call(auth: TokenAuthorizer) -> None:
        barrier.wait()
        try:
            auth.authorize_request(request)
            outcomes.append("allow")
        except TokenError as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=call, args=(auth,)) for auth in containers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["allow"] + ["proof already used"] * 7


@pytest.mark.parametrize("base", [STAGE_URL, CUSTOM, CUSTOM + "/"])
def test_the_proof_may_name_the_stage_url_or_a_configured_base_url(make, base):
    token = bound_token()
    assert allowed(
        make().authorize_request(event(token, [CLIENT.proof("GET", f"{base.rstrip('/')}/hello/dpop", token)]))
    )


def test_the_host_header_never_decides_the_url(make):
    token = bound_token()
    proof = CLIENT.proof("GET", "https://evil.example/hello/dpop", token)
    request = event(token, [proof], headers={"Host": ["evil.example"]})
    assert refusal(make(), request) == "proof htu is not the request's URL"


def test_the_method_and_path_come_from_the_request(make):
    token = bound_token(("hello", "things"))
    url = f"{STAGE_URL}/things/42"
    assert allowed(
        make().authorize_request(event(token, [CLIENT.proof("POST", url, token)], method="POST", path="/things/42"))
    )
    assert refusal(make(), event(token, [CLIENT.proof("GET", url, token)], method="POST", path="/things/42")) == (
        "proof htm is not the request's method"
    )
    assert refusal(make(), event(token, [CLIENT.proof("POST", url, token)], method="POST", path="/things/43")) == (
        "proof htu is not the request's URL"
    )


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda t, p: event(t, None), "no dpop header"),
        (lambda t, p: event(t, [p, p]), "not exactly one dpop header"),
        (lambda t, p: event(t, [f"{p},{p}"]), "not exactly one dpop header"),
        (lambda t, p: event(t, [p], headers={"dpop": [p]}), "not exactly one dpop header"),
        (lambda t, p: event(None, [p]), "no authorization header"),
        (lambda t, p: event(t, [p], scheme="Bearer"), "bearer token on a DPoP route"),
        (lambda t, p: event(t, [p], scheme="Basic"), "not the DPoP scheme"),
        (lambda t, p: event(t, [p], headers={"authorization": ["DPoP x"]}), "not exactly one authorization header"),
    ],
)
def test_headers_that_are_not_one_authorization_and_one_proof_are_refused(make, build, reason):
    token = bound_token()
    assert refusal(make(), build(token, CLIENT.proof("GET", f"{STAGE_URL}/hello/dpop", token))) == reason


def test_header_names_and_the_scheme_are_case_insensitive(make):
    token = bound_token()
    proof = CLIENT.proof("GET", f"{STAGE_URL}/hello/dpop", token)
    request = event(None, None, headers={"authorization": [f"dpop {token}"], "dpop": [proof]})
    assert allowed(make().authorize_request(request))


def test_without_multi_value_headers_the_single_values_are_read(make):
    token = bound_token()
    request = event(token, [CLIENT.proof("GET", f"{STAGE_URL}/hello/dpop", token)])
    del request["multiValueHeaders"]
    assert allowed(make().authorize_request(request))


def test_a_token_without_cnf_is_refused_on_a_dpop_route(make):
    token = mint(KEY, access_claims(ISSUER))
    assert refusal(make(), event(token, [CLIENT.proof("GET", f"{STAGE_URL}/hello/dpop", token)])) == (
        "token is not DPoP-bound (no cnf.jkt)"
    )


def test_a_token_bound_otherwise_than_by_jkt_is_refused(make):
    token = mint(KEY, access_claims(ISSUER, cnf={"x5t#S256": "abc"}))
    assert refusal(make(), event(token, [CLIENT.proof("GET", f"{STAGE_URL}/hello/dpop", token)])) == (
        "token is not DPoP-bound (no cnf.jkt)"
    )


def test_a_stolen_token_with_the_thiefs_own_proof_is_refused(make, store):
    token, thief = bound_token(), ec_key("thief")
    assert refusal(make(), event(token, [thief.proof("GET", f"{STAGE_URL}/hello/dpop", token)])) == (
        "proof key is not the key the token is bound to"
    )
    assert store.claims == []  # nothing written for a proof that failed


def test_a_bound_token_is_refused_as_a_bearer_token_before_and_after_its_dpop_use(make):
    auth, token = make(), bound_token()
    arn = f"arn:aws:execute-api:us-east-1:123456789012:{API}/v1/GET/hello"
    with pytest.raises(TokenError, match="token is bound to a key"):
        auth.authorize(f"Bearer {token}", arn)
    auth.authorize_request(event(token, [CLIENT.proof("GET", f"{STAGE_URL}/hello/dpop", token)]))
    with pytest.raises(TokenError, match="token is bound to a key"):
        auth.authorize(f"Bearer {token}", arn)  # its DPoP verification never made it a bearer token


def test_an_expired_bound_token_is_refused(make):
    now = int(time.time())
    token = bound_token(iat=now - 7200, exp=now - 3600)
    assert refusal(make(), event(token, [CLIENT.proof("GET", f"{STAGE_URL}/hello/dpop", token)])) == "expired"


def test_a_token_whose_scopes_open_no_route_is_denied_without_a_store_write(make, store):
    token = bound_token(("other",))
    policy = make().authorize_request(event(token, [CLIENT.proof("GET", f"{STAGE_URL}/hello/dpop", token)]))
    assert policy["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert store.claims == []


def test_the_store_keeps_a_proof_until_it_is_too_old_to_pass_anyway(make, store):
    token, iat = bound_token(), int(time.time()) - 10
    make().authorize_request(event(token, [CLIENT.proof("GET", f"{STAGE_URL}/hello/dpop", token, iat=iat)]))
    [(key, until)] = store.claims
    assert until == iat + 60 + 30  # window + leeway
    assert len(key) == 43 and CLIENT.jkt not in key


def test_an_unreachable_store_fails_closed(make, store):
    store.down = True
    token = bound_token()
    with pytest.raises(ReplayStoreUnavailableError):
        make().authorize_request(event(token, [CLIENT.proof("GET", f"{STAGE_URL}/hello/dpop", token)]))


def test_failing_open_lets_the_containers_own_cache_answer_alone(make, store):
    store.down = True
    auth, token = make(fail_open=True), bound_token()
    request = event(token, [CLIENT.proof("GET", f"{STAGE_URL}/hello/dpop", token)])
    assert allowed(auth.authorize_request(request))
    assert refusal(auth, request) == "proof already used"


def test_the_local_cache_forgets_proofs_once_they_are_too_old_and_stays_bounded():
    seen = SeenProofs(max_entries=3)
    seen.add("a", until=100, now=0)
    assert seen.holds("a", 50) and not seen.holds("a", 101)
    for i, key in enumerate("bcde"):
        seen.add(key, until=200, now=150 + i)  # "a" has expired; then the oldest go
    assert not seen.holds("a", 150) and not seen.holds("b", 160) and seen.holds("e", 160)


def test_dpop_settings_are_read_and_checked(monkeypatch):
    env = {
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "AKID",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "DPOP_REPLAY_TABLE": "replay",
        "API_BASE_URLS": "https://api.example.com/orders/ http://127.0.0.1:3000",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = dpop_settings()
    assert settings.base_urls == ("https://api.example.com/orders", "http://127.0.0.1:3000")
    assert settings.proof_window_seconds == 60 and not settings.replay_fail_open
    assert settings.dynamodb_endpoint == "https://dynamodb.eu-west-1.amazonaws.com"
    assert "secret" not in repr(settings)
    for name, value, message in [
        ("API_BASE_URLS", "http://api.example.com", "API_BASE_URLS must be an https URL"),
        ("DPOP_PROOF_WINDOW_SECONDS", "0", "between 1 and 300"),
        ("DPOP_REPLAY_FAIL_OPEN", "maybe", "must be true or false"),
        ("DPOP_REPLAY_TABLE", "", "DPOP_REPLAY_TABLE is missing"),
    ]:
        with monkeypatch.context() as patch:
            patch.setenv(name, value)
            dpop_settings.cache_clear()
            with pytest.raises(ConfigError, match=message):
                dpop_settings()

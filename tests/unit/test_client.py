"""m2m_client offline: token requests, caching, the 401 retry, config and one-line errors."""

from __future__ import annotations

import base64
import json
from collections import defaultdict, deque
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter

from m2m_client import (
    ApiError,
    ApiUnreachableError,
    ClientConfig,
    ClientConfigError,
    IssuerUnreachableError,
    M2MClient,
    TokenRequestError,
    load_config,
    parse_env_file,
)
from m2m_client.__main__ import main

ISSUER = "http://127.0.0.1:9000/oauth2/default"
SECRET = "s3cr3t-value-never-printed"
CONFIG = ClientConfig(ISSUER, "0oaclient", SECRET, scope="hello", api_url="http://127.0.0.1:3000")
TOKEN_PATH = "/oauth2/default/v1/token"


class ScriptedAdapter(BaseAdapter):
    """Answers each path from a queue of (status, body) pairs or exceptions, and records what was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.script: dict[str, deque[tuple[int, object] | tuple[int, object, dict] | Exception]] = defaultdict(deque)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        outcome = self.script[urlsplit(request.url).path].popleft()
        if isinstance(outcome, Exception):
            raise outcome
        response = requests.Response()
        response.status_code, response.request, response.url = outcome[0], request, request.url
        response._content = json.dumps(outcome[1]).encode()
        response.headers["Content-Type"] = "application/json"
        response.headers.update(outcome[2] if len(outcome) > 2 else {})
        return response

    def close(self) -> None:
        pass

    def sent_to(self, path: str) -> list[requests.PreparedRequest]:
        return [r for r in self.sent if urlsplit(r.url).path == path]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def token_answer(value: str, expires_in: int = 3600) -> tuple[int, dict]:
    return 200, {"access_token": value, "token_type": "Bearer", "expires_in": expires_in, "scope": "hello"}


@pytest.fixture
def adapter() -> ScriptedAdapter:
    return ScriptedAdapter()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(adapter, clock) -> M2MClient:
    session = requests.Session()
    session.mount("http://", adapter)
    return M2MClient(CONFIG, session, clock=clock)


def test_token_request_uses_client_secret_basic_and_the_scope(client, adapter):
    # Given the issuer issues a token
    adapter.script[TOKEN_PATH].append(token_answer("tok-1"))
    # When a token is asked for
    token = client.token()
    # Then it came from the token endpoint, credentials in the Basic header and not in the body
    assert token == "tok-1"
    sent = adapter.sent_to(TOKEN_PATH)[0]
    assert sent.method == "POST"
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(f"0oaclient:{SECRET}".encode()).decode()
    assert parse_qs(sent.body) == {"grant_type": ["client_credentials"], "scope": ["hello"]}


def test_token_is_reused_until_shortly_before_it_expires(client, adapter, clock):
    # Given a token valid for an hour
    adapter.script[TOKEN_PATH].extend([token_answer("tok-1"), token_answer("tok-2")])
    assert client.token() == "tok-1"
    # When asked again 59 minutes later, then it is reused
    clock.now += 3540
    assert client.token() == "tok-1"
    # When asked within the last 30 seconds, then a new one is fetched
    clock.now += 31
    assert client.token() == "tok-2"
    assert client.tokens_fetched == 2


def test_short_lived_token_is_refreshed_a_tenth_of_its_life_early(client, adapter, clock):
    adapter.script[TOKEN_PATH].extend([token_answer("tok-1", expires_in=10), token_answer("tok-2", expires_in=10)])
    assert client.token() == "tok-1"
    clock.now += 8.9
    assert client.token() == "tok-1"
    clock.now += 0.2
    assert client.token() == "tok-2"


def test_call_retries_once_on_401_with_a_fresh_token(client, adapter):
    # Given a cached token the API no longer accepts
    adapter.script[TOKEN_PATH].extend([token_answer("old"), token_answer("new")])
    adapter.script["/hello"].extend([(401, {"message": "Unauthorized"}), (200, {"message": "Hello World!"})])
    # When the route is called
    body = client.call("GET", "/hello")
    # Then the second attempt used a newly fetched token and succeeded
    assert body == {"message": "Hello World!"}
    assert [r.headers["Authorization"] for r in adapter.sent_to("/hello")] == ["Bearer old", "Bearer new"]


def test_call_gives_up_after_the_second_401(client, adapter):
    adapter.script[TOKEN_PATH].extend([token_answer("a"), token_answer("b")])
    adapter.script["/hello"].extend([(401, {"message": "Unauthorized"})] * 2)
    with pytest.raises(ApiError) as raised:
        client.call("GET", "/hello")
    assert raised.value.status == 401
    assert str(raised.value).startswith("GET /hello answered 401: Unauthorized (the API refused the token")
    assert len(adapter.sent_to("/hello")) == 2


def test_403_is_reported_without_retry(client, adapter):
    adapter.script[TOKEN_PATH].append(token_answer("a"))
    adapter.script["/hello"].append((403, {"message": "Forbidden"}, {"WWW-Authenticate": GATEWAY_403}))
    with pytest.raises(ApiError) as raised:
        client.call("GET", "hello")
    assert str(raised.value) == "GET /hello answered 403: Forbidden (the token has no scope that opens this route)"
    assert len(adapter.sent_to("/hello")) == 1


GATEWAY_403 = 'Bearer error="insufficient_scope"'
FUNCTION_403 = 'Bearer error="insufficient_scope", scope="orders:admin orders:read"'
REVOKED = "This client is not enrolled for this API, or it has been revoked"


@pytest.mark.parametrize(
    ("answer", "line"),
    [
        (
            (403, {"message": "Forbidden"}, {"WWW-Authenticate": FUNCTION_403}),
            "answered 403: Forbidden (the token has no scope that opens this route; any of: orders:admin orders:read)",
        ),
        # A revoked client's token is valid: its answer says why, and no guess about scopes is added to it.
        ((403, {"message": REVOKED}), f"answered 403: {REVOKED}"),
        ((403, {"message": "Missing Authentication Token"}), "(the API has no such route or method)"),
    ],
)
def test_a_403_is_explained_by_what_the_answer_says(client, adapter, answer, line):
    adapter.script[TOKEN_PATH].append(token_answer("a"))
    adapter.script["/orders/7"].append(answer)
    with pytest.raises(ApiError) as raised:
        client.call("GET", "/orders/7")
    assert str(raised.value).endswith(line)


def test_register_posts_the_label_and_returns_the_credentials(client, adapter):
    created = {"client_id": "0oanew", "client_secret": "x", "app_id": "0oaapp", "label": "svc"}
    adapter.script[TOKEN_PATH].append(token_answer("a"))
    adapter.script["/register"].append((201, created))
    assert client.register("svc") == created
    assert json.loads(adapter.sent_to("/register")[0].body) == {"label": "svc"}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ((401, {"error": "invalid_client", "error_description": "Client authentication failed."}), "credentials"),
        ((400, {"error": "invalid_scope", "error_description": "One or more scopes are not configured."}), "scope"),
        ((400, {"error": "access_denied", "error_description": "Policy evaluation failed."}), "access policies"),
        ((500, "oops"), "answered 500"),
        ((200, {"access_token": "t", "token_type": "Bearer"}), "no usable access_token"),
        ((200, {"access_token": "t", "token_type": "DPoP", "expires_in": 60}), "not a Bearer token"),
    ],
)
def test_issuer_refusals_are_one_line_without_the_secret(client, adapter, answer, expected):
    adapter.script[TOKEN_PATH].append(answer)
    with pytest.raises(TokenRequestError) as raised:
        client.token()
    message = str(raised.value)
    assert expected in message
    assert "\n" not in message
    assert SECRET not in message


def test_unreachable_issuer_and_api_are_named(client, adapter):
    adapter.script[TOKEN_PATH].append(requests.ConnectionError("[Errno 111] long nested text"))
    with pytest.raises(IssuerUnreachableError, match=r"^cannot reach the issuer at .*/v1/token: connection refused"):
        client.token()
    adapter.script[TOKEN_PATH].append(token_answer("a"))
    adapter.script["/hello"].append(requests.ReadTimeout("read timed out"))
    with pytest.raises(ApiUnreachableError, match=r"^cannot reach the API at http://127.0.0.1:3000/hello: timed out$"):
        client.call("GET", "/hello")


def test_env_file_parsing(tmp_path: Path):
    env = tmp_path / "x.env"
    env.write_text("# comment\nexport ISSUER='https://a.example/oauth2/default'\nCLIENT_ID=\"abc\"\n\nnoise\nX=a=b\n")
    assert parse_env_file(env) == {"ISSUER": "https://a.example/oauth2/default", "CLIENT_ID": "abc", "X": "a=b"}


def test_named_env_file_wins_over_the_environment(tmp_path: Path):
    env = tmp_path / "admin.env"
    env.write_text(f"ISSUER={ISSUER}/\nCLIENT_ID=from-file\nCLIENT_SECRET=file-secret\n")
    environ = {"CLIENT_ID": "from-env", "CLIENT_SECRET": "env-secret", "DEFAULT_SCOPE": "hello"}
    config = load_config(env, environ)
    assert (config.issuer, config.client_id, config.client_secret, config.scope) == (
        ISSUER,
        "from-file",
        "file-secret",
        "hello",
    )
    assert load_config(env, environ, scope="register").scope == "register"


def test_dot_env_only_fills_gaps(tmp_path: Path, monkeypatch):
    (tmp_path / ".env").write_text(f"ISSUER={ISSUER}\nCLIENT_ID=from-dotenv\nCLIENT_SECRET=x\n")
    monkeypatch.chdir(tmp_path)
    assert load_config(None, {"CLIENT_ID": "from-env"}).client_id == "from-env"
    assert load_config(None, {}).client_id == "from-dotenv"


def test_missing_settings_are_listed(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ClientConfigError, match="^missing ISSUER, CLIENT_SECRET, API_URL: set them"):
        load_config(None, {"CLIENT_ID": "a"}, need_api=True)


@pytest.mark.parametrize("url", ["http://api.example.com", "ftp://127.0.0.1", "http://user:pw@127.0.0.1", "nonsense"])
def test_secrets_are_never_sent_in_clear_to_another_host(url):
    with pytest.raises(ClientConfigError, match="^ISSUER "):
        load_config(None, {"ISSUER": url, "CLIENT_ID": "a", "CLIENT_SECRET": "b"})


def test_config_repr_hides_the_secret():
    assert SECRET not in repr(CONFIG)


def test_cli_reports_a_config_error_in_one_line(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in ("ISSUER", "CLIENT_ID", "CLIENT_SECRET", "API_URL", "DEFAULT_SCOPE"):
        monkeypatch.delenv(name, raising=False)
    assert main(["call", "/hello"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "error: missing ISSUER, CLIENT_ID, CLIENT_SECRET, API_URL: set them in the environment or a .env file\n"
    )


def test_cli_refuses_bad_json_data(tmp_path: Path, capsys):
    env = tmp_path / "c.env"
    env.write_text(f"ISSUER={ISSUER}\nCLIENT_ID=a\nCLIENT_SECRET=b\nAPI_URL=http://127.0.0.1:3000\n")
    assert main(["--env-file", str(env), "call", "/register", "-X", "POST", "-d", "{nope"]) == 1
    assert capsys.readouterr().err.startswith("error: --data is not valid JSON")


def test_cli_turns_an_unexpected_failure_into_one_line_without_its_text(tmp_path: Path, monkeypatch, capsys):
    env = tmp_path / "c.env"
    env.write_text(f"ISSUER={ISSUER}\nCLIENT_ID=a\nCLIENT_SECRET={SECRET}\n")

    def broken(self, *, fresh=False):
        raise RuntimeError(f"boom {SECRET}")

    monkeypatch.setattr(M2MClient, "token", broken)
    assert main(["--env-file", str(env), "token"]) == 1
    assert capsys.readouterr().err == "error: unexpected RuntimeError; please report it\n"


# --- DPoP --------------------------------------------------------------------------------------------------------


def session_with(adapter: ScriptedAdapter) -> requests.Session:
    session = requests.Session()
    session.mount("http://", adapter)
    return session


DPOP_CONFIG = ClientConfig(ISSUER, "0oaclient", SECRET, scope="hello", api_url="http://127.0.0.1:3000", dpop=True)


def proof_claims(request: requests.PreparedRequest) -> tuple[dict, dict]:
    """The header and claims of a request's DPoP proof, its signature checked with the key it carries."""
    import jwt

    proof = request.headers["DPoP"]
    header = jwt.get_unverified_header(proof)
    key = jwt.PyJWK(header["jwk"], algorithm="ES256").key
    return header, jwt.decode(proof, key, algorithms=["ES256"])


def test_a_dpop_client_proves_its_key_to_the_issuer_and_retries_with_its_nonce(adapter, clock):
    use_nonce = {"error": "use_dpop_nonce", "error_description": "Authorization server requires nonce in DPoP proof."}
    adapter.script[TOKEN_PATH].append((400, use_nonce, {"DPoP-Nonce": "n-1"}))
    adapter.script[TOKEN_PATH].append((200, {**token_answer("tok")[1], "token_type": "DPoP"}, {"DPoP-Nonce": "n-2"}))
    client = M2MClient(DPOP_CONFIG, session_with(adapter), clock=clock)
    assert client.token() == "tok"
    first, second = adapter.sent_to(TOKEN_PATH)
    header, claims = proof_claims(first)
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256" and "d" not in header["jwk"]
    assert claims["htm"] == "POST" and claims["htu"] == f"{ISSUER}/v1/token" and "nonce" not in claims
    _, retried = proof_claims(second)
    assert retried["nonce"] == "n-1" and retried["jti"] != claims["jti"]


def test_a_dpop_client_refuses_a_bearer_token(adapter, clock):
    adapter.script[TOKEN_PATH].append(token_answer("tok"))
    with pytest.raises(TokenRequestError, match="not a DPoP token"):
        M2MClient(DPOP_CONFIG, session_with(adapter), clock=clock).token()


def test_each_dpop_call_carries_a_fresh_proof_our_authorizer_accepts(adapter, clock):
    from okta_m2m.tokens._dpop import access_token_hash, jwk_thumbprint, normalized_url, verify_proof

    adapter.script[TOKEN_PATH].append((200, {**token_answer("a.b.c")[1], "token_type": "DPoP"}))
    adapter.script["/hello/dpop"].extend([(200, {"message": "hi"}), (200, {"message": "hi"})])
    client = M2MClient(DPOP_CONFIG, session_with(adapter), clock=clock)
    client.call("GET", "/hello/dpop?x=1")
    client.call("GET", "/hello/dpop")
    calls = adapter.sent_to("/hello/dpop")
    jtis = set()
    for call in calls:
        assert call.headers["Authorization"] == "DPoP a.b.c"
        header, claims = proof_claims(call)
        assert claims["htu"] == "http://127.0.0.1:3000/hello/dpop" and claims["ath"] == access_token_hash("a.b.c")
        jtis.add(claims["jti"])
        jkt = jwk_thumbprint(header["jwk"])
        urls = {normalized_url("http://127.0.0.1:3000/hello/dpop")}
        proof = call.headers["DPoP"]
        checked = verify_proof(
            proof, method="GET", urls=urls, ath=claims["ath"], jkt=jkt, now=claims["iat"], window=60, leeway=0
        )
        assert checked.jti == claims["jti"]
    assert len(jtis) == 2


def test_the_dpop_setting_and_flag(tmp_path):
    env = {"ISSUER": ISSUER, "CLIENT_ID": "c", "CLIENT_SECRET": "s"}
    assert load_config(environ=env).dpop is False
    assert load_config(environ={**env, "DPOP": "true"}).dpop is True
    assert load_config(environ={**env, "DPOP": "true"}, dpop=False).dpop is False
    with pytest.raises(ClientConfigError, match="DPOP must be true or false"):
        load_config(environ={**env, "DPOP": "maybe"})

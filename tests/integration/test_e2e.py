"""End to end over HTTP: the local stack (local Okta server, moto, local API) as `make dev` runs it, on free ports."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from devstack import LocalStack, Ports, free_port
from devstack.story import STORY_STEPS, client_for, get, run_story, tamper
from local_api import LocalApi
from m2m_client import M2MClient
from m2m_client.client import CachedToken
from okta_local.server import FAULTS_PATH
from tests.integration.client_cli import run_m2m_client
from tests.route_tables import UNAUTHORIZED_CHALLENGE

pytestmark = pytest.mark.integration

TIMEOUT = 15
AUTHORIZER = "AuthorizerFunction"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    ports = Ports(api=free_port(), okta=free_port(), moto=free_port())
    with LocalStack(tmp_path_factory.mktemp("stack"), ports=ports) as running:
        yield running


@pytest.fixture
def faults(stack: LocalStack) -> Iterator[Callable[..., None]]:
    """Set faults on the local Okta server through its control API; cleared after the test."""

    def set_faults(**spec: object) -> None:
        response = requests.post(f"{stack.okta_url}{FAULTS_PATH}", json=spec, headers=ssws(stack), timeout=TIMEOUT)
        assert response.status_code == 200, response.text

    yield set_faults
    set_faults()


def ssws(stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"SSWS {stack.okta['OKTA_API_TOKEN']}", "Accept": "application/json"}


def demo_client(stack: LocalStack) -> M2MClient:
    okta = stack.okta
    return client_for(okta, stack.api_url, okta["CLIENT_ID"], okta["CLIENT_SECRET"], okta["HELLO_SCOPE"])


def admin_client(stack: LocalStack) -> M2MClient:
    okta = stack.okta
    return client_for(okta, stack.api_url, okta["ADMIN_CLIENT_ID"], okta["ADMIN_CLIENT_SECRET"], okta["REGISTER_SCOPE"])


def kid_of(token: str) -> str:
    header = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]


def apps_labelled(stack: LocalStack, label: str) -> list[dict]:
    response = requests.get(f"{stack.okta_url}/api/v1/apps", params={"q": label}, headers=ssws(stack), timeout=TIMEOUT)
    assert response.status_code == 200
    return [app for app in response.json() if app["label"] == label]


# The `make demo` story, row by row.


def test_registered_client_gets_a_token_and_its_hello(stack):
    # Given the admin client registers a new client
    created = admin_client(stack).register(label := f"e2e-{uuid.uuid4().hex[:8]}")
    assert set(created) >= {"client_id", "client_secret", "request_token_url", "app_id", "label"}
    assert created["label"] == label
    # When the new client gets a token and calls GET /hello
    newcomer = client_for(stack.okta, stack.api_url, created["client_id"], created["client_secret"], "hello")
    response = get(stack.api_url, "/hello", newcomer.token())
    # Then the API greets it by its client id
    assert response.status_code == 200
    assert response.json() == {"message": "Hello World!", "clientId": created["client_id"]}
    # And the app really exists in Okta, once
    assert len(apps_labelled(stack, label)) == 1


def test_no_token_is_401_with_the_gateway_response(stack):
    response = get(stack.api_url, "/hello", None)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert response.headers["WWW-Authenticate"] == UNAUTHORIZED_CHALLENGE


def test_tampered_token_is_401(stack):
    token = demo_client(stack).token()
    assert get(stack.api_url, "/hello", token).status_code == 200
    response = get(stack.api_url, "/hello", tamper(token))
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_token_without_the_hello_scope_is_403(stack):
    register_only = admin_client(stack).token()
    response = get(stack.api_url, "/hello", register_only)
    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}
    assert response.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'


def test_demo_story_passes_every_step(stack):
    steps = run_story(stack.okta, stack.api_url)
    assert [s.passed for s in steps] == [True] * STORY_STEPS, [s.line() for s in steps]
    assert "new client is refused the register scope" in [s.name for s in steps]


# Beyond the story.


def test_key_rotation_accepts_new_tokens_and_old_ones_until_they_expire(stack):
    # Given a token signed with the current key, not yet shown to the API
    client = demo_client(stack)
    old = client.token()
    # When the local Okta server rotates its keys (the CLI, against the running server's state)
    subprocess.run(
        [sys.executable, "-m", "okta_local", "rotate-keys", "--state-dir", str(stack.okta_dir)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    new = client.token(fresh=True)
    # Then both keys are published, new tokens use the new one, and both tokens are accepted
    published = requests.get(f"{stack.okta['ISSUER']}/v1/keys", timeout=TIMEOUT).json()["keys"]
    assert kid_of(new) != kid_of(old)
    assert {kid_of(new), kid_of(old)} <= {key["kid"] for key in published}
    assert get(stack.api_url, "/hello", new).status_code == 200
    assert get(stack.api_url, "/hello", old).status_code == 200


def test_keys_endpoint_failing_after_a_warm_start_still_serves(stack, faults):
    # Given a warm authorizer that holds the current signing key
    client = demo_client(stack)
    assert get(stack.api_url, "/hello", client.token(fresh=True)).status_code == 200
    # When the keys endpoint starts failing
    faults(keys="fail")
    assert requests.get(f"{stack.okta['ISSUER']}/v1/keys", timeout=TIMEOUT).status_code >= 500
    # Then a new token, which the gateway has never cached, is still accepted
    response = get(stack.api_url, "/hello", client.token(fresh=True))
    assert response.status_code == 200
    assert response.json()["clientId"] == stack.okta["CLIENT_ID"]


@pytest.mark.parametrize(("fault", "status"), [(500, 502), (429, 429)])
def test_apps_api_failing_leaves_nothing_half_made(stack, faults, fault, status):
    # Given the Okta Apps API fails
    admin = admin_client(stack)
    admin.token()
    label = f"e2e-fault-{uuid.uuid4().hex[:8]}"
    faults(apps=fault)
    # When the admin registers a client
    response = admin.request("POST", "/register", {"label": label})
    # Then the API says so, with no credentials and no app left behind
    assert response.status_code == status
    assert set(response.json()) == {"message"}
    if status == 429:
        assert int(response.headers["Retry-After"]) > 0
    faults()
    assert apps_labelled(stack, label) == []
    # And once Okta recovers the same label registers normally
    assert admin.request("POST", "/register", {"label": label}).status_code == 201


def apps_window(stack: LocalStack) -> tuple[int, int]:
    """The Apps API's rate-limit window (when it resets) and how many requests it has counted."""
    probe = requests.get(f"{stack.okta_url}/api/v1/apps", params={"limit": 1}, headers=ssws(stack), timeout=TIMEOUT)
    used = int(probe.headers["X-Rate-Limit-Limit"]) - int(probe.headers["X-Rate-Limit-Remaining"])
    return int(probe.headers["X-Rate-Limit-Reset"]), used


def test_the_apps_rate_limit_reached_leaves_nothing_and_the_label_free(stack, faults):
    admin = admin_client(stack)
    admin.token()
    # A one-minute window may end between the steps (a busy machine, a window near its end): the new one counts
    # from zero and would let the create through. That is seen (another reset), and the steps run again in it.
    for _ in range(3):
        # Given the Apps API allows no more request in this window (a registration makes one: the create)
        label = f"e2e-limit-{uuid.uuid4().hex[:8]}"
        window, used = apps_window(stack)
        faults(apps_rate_limit=used)
        # When the admin registers a client
        response = admin.request("POST", "/register", {"label": label})
        same_window = apps_window(stack)[0] == window
        faults()
        if same_window:
            break
    else:
        pytest.fail("a new rate-limit window began during each of three tries")
    # Then the create is refused with Okta's 429 passed on, no app exists, and the label is free again
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert apps_labelled(stack, label) == []
    assert admin.request("POST", "/register", {"label": label}).status_code == 201


@pytest.mark.parametrize(("ttl", "runs_on_second_call"), [("300", 0), ("0", 1)])
def test_authorizer_result_is_cached_per_token(stack, ttl, runs_on_second_call, monkeypatch):
    # Given a local API on the stack's Okta and moto (API keys), in this process so that its invocations can be read
    monkeypatch.setenv("AWS_ENDPOINT_URL_API_GATEWAY", stack.moto_url)
    overrides = stack.parameter_overrides() | {"AuthorizerCacheTtl": ttl}
    with LocalApi(stack.template, port=0, parameter_overrides=overrides) as api:
        token = demo_client(stack).token()
        # When the same token calls twice
        assert get(api.url, "/hello", token).status_code == 200
        first = api.invocations[AUTHORIZER]
        assert get(api.url, "/hello", token).status_code == 200
        # Then the authorizer ran once (cached for the TTL), or twice when caching is off
        assert first == 1
        assert api.invocations[AUTHORIZER] == first + runs_on_second_call
        # And another token is authorized on its own
        assert get(api.url, "/hello", tamper(token)).status_code == 401
        assert api.invocations[AUTHORIZER] == first + runs_on_second_call + 1


def test_client_retries_once_with_a_fresh_token_after_401(stack):
    # Given a client whose cached token the API refuses (here: altered, as a revoked one would be)
    client = demo_client(stack)
    client._cached = CachedToken(tamper(client.token()), float("inf"))
    # When it calls GET /hello
    body = client.call("GET", "/hello")
    # Then it fetched one fresh token and got through
    assert body == {"message": "Hello World!", "clientId": stack.okta["CLIENT_ID"]}
    assert client.tokens_fetched == 2


# The CLI, end to end.


def run_cli(stack: LocalStack, tmp_path: Path, *args: str, admin: bool = False) -> subprocess.CompletedProcess[str]:
    okta = stack.okta
    prefix = "ADMIN_" if admin else ""
    settings = {
        "ISSUER": okta["ISSUER"],
        "API_URL": stack.api_url,
        "CLIENT_ID": okta[prefix + "CLIENT_ID"],
        "CLIENT_SECRET": okta[prefix + "CLIENT_SECRET"],
        "DEFAULT_SCOPE": okta["REGISTER_SCOPE" if admin else "HELLO_SCOPE"],
    }
    return run_m2m_client(tmp_path / "client.env", settings, *args)


def test_cli_calls_hello(stack, tmp_path):
    result = run_cli(stack, tmp_path, "call", "/hello")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"message": "Hello World!", "clientId": stack.okta["CLIENT_ID"]}


def test_cli_registers_and_shows_the_credentials_once(stack, tmp_path):
    result = run_cli(stack, tmp_path, "register", "e2e-cli", admin=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["label"] == "e2e-cli"
    assert "shown only this once" in result.stderr


def test_cli_403_is_one_line_without_secrets(stack, tmp_path):
    result = run_cli(stack, tmp_path, "call", "/hello", admin=True)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: GET /hello answered 403: Forbidden")
    assert result.stderr.count("\n") == 1
    assert stack.okta["ADMIN_CLIENT_SECRET"] not in result.stderr


def test_cli_scope_the_client_may_not_have_is_one_line(stack, tmp_path):
    result = run_cli(stack, tmp_path, "--scope", "register", "token")
    assert result.returncode == 1
    assert result.stderr == (
        f"error: the issuer's access policies do not grant {stack.okta['CLIENT_ID']} the scope 'register' "
        "(access_denied: Policy evaluation failed for this request, please check the policy configurations.)\n"
    )


def test_cli_bad_credentials_is_one_line(stack, tmp_path):
    okta = dict(stack.okta, CLIENT_SECRET="wrong-secret")
    settings = {"ISSUER": okta["ISSUER"], "CLIENT_ID": okta["CLIENT_ID"], "CLIENT_SECRET": "wrong-secret"}
    result = run_m2m_client(tmp_path / "bad.env", settings, "token")
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: the issuer refused the client credentials of {okta['CLIENT_ID']}")
    assert "Traceback" not in result.stderr
    assert "wrong-secret" not in result.stderr

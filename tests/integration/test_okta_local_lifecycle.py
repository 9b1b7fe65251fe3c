"""okta_local over time: restarts, key rotation, injected faults, and the command line on a real process."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
import requests

from okta_local.cli import READY_PREFIX
from okta_local.envfile import read_env
from okta_local.server import build_server
from okta_local.testing import LocalOkta, OrgClient
from tests.integration.okta_local_fixtures import (
    TIMEOUT,
    clean_faults,
    create_app,
    okta,
    request_token,
    ssws,
    verify,
)

pytestmark = pytest.mark.integration
__all__ = ["clean_faults", "okta"]  # re-exported fixtures: pytest finds them here, and ruff reads them as used

ENV_KEYS = {
    "ISSUER",
    "OKTA_ORG_URL",
    "OKTA_API_TOKEN",
    "HELLO_SCOPE",
    "REGISTER_SCOPE",
    "DEFAULT_SCOPE",
    "ADMIN_CLIENT_ID",
    "ADMIN_CLIENT_SECRET",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "OKTA_SERVICE_CLIENT_ID",
    "OKTA_SERVICE_PRIVATE_JWK_FILE",
    "OKTA_CLIENTS_POLICY_ID",
    "OKTA_ADMIN_POLICY_ID",
}


def kids(okta: LocalOkta) -> list[str]:
    return [key["kid"] for key in requests.get(okta.jwks_uri, timeout=TIMEOUT).json()["keys"]]


def token_kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


# restarts


def test_okta_env_is_private_and_complete(tmp_path: Path) -> None:
    with LocalOkta(tmp_path) as okta:
        env_file = tmp_path / "okta.env"
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        assert set(read_env(env_file)) == ENV_KEYS
        assert read_env(env_file) == okta.env
        assert okta.env["HELLO_SCOPE"] == "hello" and okta.env["REGISTER_SCOPE"] == "register"
        assert okta.env["OKTA_ORG_URL"] + "/oauth2/default" == okta.issuer
        secret = okta.env["CLIENT_SECRET"]
        jwk_file = okta.service_jwk_path
        assert jwk_file == tmp_path.resolve() / "service-app.jwk.json"
        assert stat.S_IMODE(jwk_file.stat().st_mode) == 0o600
        private_part = okta.service_jwk["d"]
    # Secrets are stored only as hashes, and the service app's private key only in its own file
    database = b"".join(p.read_bytes() for p in tmp_path.glob("okta_local.sqlite3*"))
    assert secret.encode() not in database and okta.api_token.encode() not in database
    assert private_part.encode() not in database


def test_restart_keeps_keys_clients_apps_and_tokens(tmp_path: Path) -> None:
    # Given a server that issued a token and created an app
    with LocalOkta(tmp_path) as first:
        old_env, old_kids, old_token = dict(first.env), kids(first), first.token()
        app = create_app(first, "survivor")
        first.enroll(app["id"])
    # When it restarts on another port
    with LocalOkta(tmp_path) as second:
        # Then okta.env has the new URL and the same credentials
        assert second.issuer != old_env["ISSUER"]
        assert read_env(tmp_path / "okta.env")["ISSUER"] == second.issuer
        assert {k: v for k, v in second.env.items() if k not in ("ISSUER", "OKTA_ORG_URL")} == {
            k: v for k, v in old_env.items() if k not in ("ISSUER", "OKTA_ORG_URL")
        }
        # And the same keys, clients, app and API token work
        assert kids(second) == old_kids
        assert token_kid(second.token()) == token_kid(old_token)
        oauth = app["credentials"]["oauthClient"]
        assert request_token(second, oauth["client_id"], oauth["client_secret"]).status_code == 200
        got = requests.get(f"{second.org_url}/api/v1/apps/{app['id']}", headers=ssws(second), timeout=TIMEOUT)
        assert got.status_code == 200 and got.json()["label"] == "survivor"
        # And the old token's signature still checks out against the published keys
        key = jwt.PyJWKClient(second.jwks_uri).get_signing_key_from_jwt(old_token).key
        assert jwt.decode(old_token, key, algorithms=["RS256"], audience="api://default")["sub"] == old_env["CLIENT_ID"]


def test_lost_okta_env_reissues_the_seeded_secrets(tmp_path: Path) -> None:
    with LocalOkta(tmp_path) as first:
        old = dict(first.env)
    (tmp_path / "okta.env").unlink()
    with LocalOkta(tmp_path) as second:
        assert second.env["CLIENT_ID"] == old["CLIENT_ID"]
        assert second.env["ADMIN_CLIENT_ID"] == old["ADMIN_CLIENT_ID"]
        for name in ("CLIENT_SECRET", "ADMIN_CLIENT_SECRET", "OKTA_API_TOKEN"):
            assert second.env[name] != old[name]
        assert request_token(second, old["CLIENT_ID"], old["CLIENT_SECRET"]).status_code == 401
        assert request_token(second, old["CLIENT_ID"], second.env["CLIENT_SECRET"]).status_code == 200
        old_api = requests.get(f"{second.org_url}/api/v1/apps", headers=ssws(second, old["OKTA_API_TOKEN"]), timeout=5)
        assert old_api.status_code == 401


# rotation


def test_rotation_signs_with_the_new_key_and_keeps_the_old_one_published(tmp_path: Path) -> None:
    with LocalOkta(tmp_path) as okta:
        before = okta.token()
        new_kid = okta.rotate_keys(grace_seconds=300)
        after = okta.token()
        assert token_kid(after) == new_kid != token_kid(before)
        assert kids(okta) == [new_kid, token_kid(before)]  # the signing key first
        assert verify(okta, before)["sub"] == verify(okta, after)["sub"]


def test_emergency_rotation_drops_the_old_key_at_once(tmp_path: Path) -> None:
    with LocalOkta(tmp_path) as okta:
        before = okta.token()
        new_kid = okta.rotate_keys(grace_seconds=0)
        assert kids(okta) == [new_kid]
        with pytest.raises(jwt.PyJWKClientError):
            verify(okta, before)
        assert verify(okta, okta.token())


def test_grace_period_ends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The key ring's clock, moved by the test: the grace period is what decides, not how long a request takes.
    from okta_local import keys

    now = [time.time()]
    monkeypatch.setattr(keys, "time", SimpleNamespace(time=lambda: now[0]))
    with LocalOkta(tmp_path) as okta:
        old_kid = kids(okta)[0]
        okta.rotate_keys(grace_seconds=1)
        now[0] += 0.9
        assert old_kid in kids(okta)
        now[0] += 0.2
        assert old_kid not in kids(okta)


# faults


def test_keys_fault_fail_answers_500_and_clears(clean_faults: LocalOkta) -> None:
    clean_faults.set_faults(keys="fail")
    failing = requests.get(clean_faults.jwks_uri, timeout=TIMEOUT)
    assert failing.status_code == 500 and failing.json()["errorCode"] == "E0000009"
    discovery = requests.get(f"{clean_faults.issuer}/.well-known/oauth-authorization-server", timeout=TIMEOUT)
    assert discovery.status_code == 200  # only the keys endpoint is broken
    clean_faults.clear_faults()
    assert requests.get(clean_faults.jwks_uri, timeout=TIMEOUT).status_code == 200


def test_keys_fault_slow_delays_the_answer(clean_faults: LocalOkta) -> None:
    clean_faults.set_faults(keys="slow", delay_seconds=0.6)
    started = time.monotonic()
    response = requests.get(clean_faults.jwks_uri, timeout=TIMEOUT)
    assert response.status_code == 200 and time.monotonic() - started >= 0.6


def test_a_client_hanging_up_before_its_answer_prints_no_traceback_and_a_server_error_still_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server, _, _ = build_server(tmp_path / "state")
    try:
        for gone in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "Connection reset by peer")):
            try:
                raise gone
            except ConnectionError:
                server.handle_error(None, ("127.0.0.1", 40000))
        assert capsys.readouterr().err == ""
        try:
            raise ValueError("a bug in a handler")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 40000))
        assert "ValueError: a bug in a handler" in capsys.readouterr().err
    finally:
        server.server_close()


def test_keys_fault_hang_holds_requests_until_cleared(clean_faults: LocalOkta) -> None:
    clean_faults.set_faults(keys="hang")
    # A client with a short timeout gives up
    with pytest.raises(requests.ReadTimeout):
        requests.get(clean_faults.jwks_uri, timeout=0.5)
    # A patient client is held (the server has its request) and released when the fault is cleared
    results: list[int] = []
    waiter = threading.Thread(
        target=lambda: results.append(requests.get(clean_faults.jwks_uri, timeout=60).status_code)
    )
    waiter.start()
    assert clean_faults.wait_until_held(2)  # the impatient client's request is still held too
    assert results == []
    clean_faults.clear_faults()
    waiter.join(60)
    assert results == [200]


def test_token_fault_fail_answers_server_error(clean_faults: LocalOkta) -> None:
    clean_faults.set_faults(token="fail")
    response = request_token(clean_faults, clean_faults.env["CLIENT_ID"], clean_faults.env["CLIENT_SECRET"])
    assert response.status_code == 500 and response.json()["error"] == "server_error"


@pytest.mark.parametrize(("fault", "code"), [(429, "E0000047"), (500, "E0000009")])
def test_apps_faults_answer_okta_errors_with_rate_limit_headers(clean_faults: LocalOkta, fault: int, code: str) -> None:
    clean_faults.set_faults(apps=fault)
    response = requests.get(f"{clean_faults.org_url}/api/v1/apps", headers=ssws(clean_faults), timeout=TIMEOUT)
    assert response.status_code == fault and response.json()["errorCode"] == code
    assert {"X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"} <= set(response.headers)
    if fault == 429:
        assert response.headers["X-Rate-Limit-Remaining"] == "0"


def test_apps_rate_limit_can_be_changed_on_a_running_server(clean_faults: LocalOkta) -> None:
    shown = clean_faults.set_faults(apps_rate_limit=7)
    assert shown["apps_rate_limit"] == 7
    response = requests.get(f"{clean_faults.org_url}/api/v1/apps", headers=ssws(clean_faults), timeout=TIMEOUT)
    assert response.headers["X-Rate-Limit-Limit"] == "7"


@pytest.mark.parametrize(
    "body",
    [
        {"keys": "explode"},
        {"token": "explode"},
        {"token": "428"},
        {"token": 429.0},
        {"token": True},
        {"dpop_nonce": "sometimes"},
        {"apps": 404},
        {"apps": True},
        {"apps": "429"},
        {"delay_seconds": -1},
        {"delay_seconds": 1000},
        {"apps_rate_limit": 0},
        {"surprise": 1},
        [],
        "not an object",
    ],
)
def test_invalid_fault_settings_are_refused_and_change_nothing(clean_faults: LocalOkta, body: Any) -> None:
    clean_faults.set_faults(keys="slow", delay_seconds=0)
    url = f"{clean_faults.org_url}/_local/faults"
    response = requests.post(url, json=body, headers=ssws(clean_faults), timeout=TIMEOUT)
    assert response.status_code == 400 and response.json()["errorCode"] == "E0000001"
    assert requests.get(url, headers=ssws(clean_faults), timeout=TIMEOUT).json()["keys"] == "slow"


def test_fault_control_needs_the_api_token(clean_faults: LocalOkta) -> None:
    url = f"{clean_faults.org_url}/_local/faults"
    assert requests.post(url, json={"keys": "fail"}, timeout=TIMEOUT).status_code == 401
    assert requests.get(url, headers={"Authorization": "SSWS wrong"}, timeout=TIMEOUT).status_code == 401
    assert requests.get(clean_faults.jwks_uri, timeout=TIMEOUT).status_code == 200


# the command line, as other tools run it


class CliServer:
    """`python -m okta_local serve` in a child process."""

    def __init__(self, state_dir: Path, port: int = 0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "okta_local", "serve", "--port", str(port), "--state-dir", str(state_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        self.stdout_lines: list[str] = []
        for line in self.proc.stdout:
            self.stdout_lines.append(line)
            if line.startswith(READY_PREFIX):
                break
        else:
            raise AssertionError("server did not start: " + "".join(self.stdout_lines))
        self.url = self.stdout_lines[-1][len(READY_PREFIX) :].split()[0]

    def stop(self) -> tuple[int, str]:
        """SIGTERM the server; return its exit status and everything it logged."""
        self.proc.send_signal(signal.SIGTERM)
        _, stderr = self.proc.communicate(timeout=TIMEOUT)
        return self.proc.returncode, stderr


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "okta_local", *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def cli_server(tmp_path: Path) -> Iterator[CliServer]:
    server = CliServer(tmp_path)
    yield server
    if server.proc.poll() is None:
        server.stop()


def test_cli_server_starts_an_empty_org_prints_its_token_once_and_binds_loopback(
    cli_server: CliServer, tmp_path: Path
) -> None:
    env = read_env(tmp_path / "okta.env")
    printed = "".join(cli_server.stdout_lines)
    assert cli_server.url.startswith("http://127.0.0.1:") and env["OKTA_ORG_URL"] == cli_server.url
    # An empty org, as a new Okta org: the default authorization server, an API token, nothing else
    assert set(env) == {"ISSUER", "OKTA_ORG_URL", "OKTA_API_TOKEN"}
    assert f"OKTA_API_TOKEN={env['OKTA_API_TOKEN']}" in printed
    headers = {"Authorization": f"SSWS {env['OKTA_API_TOKEN']}", "Accept": "application/json"}
    server = f"{cli_server.url}/api/v1/authorizationServers/default"
    for path in ("/api/v1/apps", "/api/v1/authorizationServers/default/scopes"):
        assert requests.get(cli_server.url + path, headers=headers, timeout=TIMEOUT).json() == []
    assert requests.get(f"{server}/policies", headers=headers, timeout=TIMEOUT).json() == []
    assert requests.get(server, headers=headers, timeout=TIMEOUT).json()["issuer"] == env["ISSUER"]
    assert "development tool" in printed
    status, _ = cli_server.stop()
    assert status == 0
    again = CliServer(tmp_path)
    try:
        assert env["OKTA_API_TOKEN"] not in "".join(again.stdout_lines)
        assert read_env(tmp_path / "okta.env")["OKTA_API_TOKEN"] == env["OKTA_API_TOKEN"]
    finally:
        again.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_the_moment_the_server_is_ready_stops_it_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sig: signal.Signals
) -> None:
    """Whoever waits for the ready line may signal at once: here the signal lands while that line is printed, before
    serve_forever runs, which is the moment that used to escape as a KeyboardInterrupt (exit status -2)."""
    from okta_local import cli

    def print_then_signal(*args: Any, **kwargs: Any) -> None:
        print(*args, **kwargs)
        if str(args[0]).startswith(READY_PREFIX):
            os.kill(os.getpid(), sig)  # the handler runs here, in this frame, before print returns

    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    monkeypatch.setattr(cli, "print", print_then_signal, raising=False)
    try:
        status = cli.main(["serve", "--port", "0", "--state-dir", str(tmp_path)])
    except KeyboardInterrupt:
        pytest.fail("the signal escaped as KeyboardInterrupt")
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)
    assert status == 0


def test_cli_rotation_and_faults_reach_the_running_server(tmp_path: Path) -> None:
    # Given a state directory the test harness seeded (clients, service app), served by the command line
    with LocalOkta(tmp_path) as seeded:
        env = dict(seeded.env)
    cli_server = CliServer(tmp_path)
    try:
        _rotation_and_faults(cli_server, tmp_path, env)
    finally:
        if cli_server.proc.poll() is None:
            cli_server.stop()


def _rotation_and_faults(cli_server: CliServer, tmp_path: Path, env: dict[str, str]) -> None:
    state = str(tmp_path)
    env = {**env, **read_env(tmp_path / "okta.env")}
    okta_url = env["ISSUER"]
    token = requests.post(
        f"{okta_url}/v1/token",
        data={"grant_type": "client_credentials"},
        auth=(env["CLIENT_ID"], env["CLIENT_SECRET"]),
        timeout=TIMEOUT,
    ).json()["access_token"]
    # rotate-keys in another process: the running server signs with the new key and still lists the old one
    rotated = run_cli("rotate-keys", "--state-dir", state, "--grace-seconds", "60")
    assert rotated.returncode == 0, rotated.stderr
    listed = [k["kid"] for k in requests.get(f"{okta_url}/v1/keys", timeout=TIMEOUT).json()["keys"]]
    assert len(listed) == 2 and listed[1] == token_kid(token) and listed[0] in rotated.stdout
    fresh = requests.post(
        f"{okta_url}/v1/token",
        data={"grant_type": "client_credentials"},
        auth=(env["CLIENT_ID"], env["CLIENT_SECRET"]),
        timeout=TIMEOUT,
    ).json()["access_token"]
    assert token_kid(fresh) == listed[0]
    # faults from the command line
    assert run_cli("faults", "--state-dir", state, "--keys", "fail").returncode == 0
    assert requests.get(f"{okta_url}/v1/keys", timeout=TIMEOUT).status_code == 500
    shown = run_cli("faults", "--state-dir", state, "--show")
    assert '"keys": "fail"' in shown.stdout
    assert run_cli("faults", "--state-dir", state).returncode == 0
    assert requests.get(f"{okta_url}/v1/keys", timeout=TIMEOUT).status_code == 200
    assert run_cli("faults", "--state-dir", state, "--token", "429", "--dpop-nonce", "always").returncode == 0
    shown = json.loads(run_cli("faults", "--state-dir", state, "--show").stdout)
    assert shown["token"] == 429 and shown["dpop_nonce"] == "always"
    assert run_cli("faults", "--state-dir", state).returncode == 0
    # an org token and a DPoP-bound API call: assertion, proof and token must not be logged either
    private = json.loads(Path(env["OKTA_SERVICE_PRIVATE_JWK_FILE"]).read_text())
    client = OrgClient(env["OKTA_ORG_URL"], env["OKTA_SERVICE_CLIENT_ID"], private)
    org = client.token("okta.apps.manage")
    assertion = client.assertion()
    apps_url = f"{env['OKTA_ORG_URL']}/api/v1/apps"
    api_headers = client.headers("GET", apps_url)
    assert requests.get(apps_url, headers=api_headers, timeout=TIMEOUT).status_code == 200
    # and nothing secret reached the log
    status, log = cli_server.stop()
    assert status == 0 and "POST /oauth2/default/v1/token 200" in log
    assert "POST /oauth2/v1/token 200" in log and "GET /api/v1/apps 200" in log
    secrets_seen = (env["CLIENT_SECRET"], env["OKTA_API_TOKEN"], token, fresh, org, private["d"], api_headers["DPoP"])
    for secret in (*secrets_seen, assertion.split(".")[2]):
        assert secret not in log


def test_cli_restart_on_another_port_rewrites_okta_env(cli_server: CliServer, tmp_path: Path) -> None:
    first_url = cli_server.url
    cli_server.stop()
    again = CliServer(tmp_path)
    try:
        env = read_env(tmp_path / "okta.env")
        assert again.url != first_url
        assert env["OKTA_ORG_URL"] == again.url and env["ISSUER"] == f"{again.url}/oauth2/default"
    finally:
        again.stop()


def test_cli_faults_without_a_server_says_so(tmp_path: Path) -> None:
    result = run_cli("faults", "--state-dir", str(tmp_path), "--keys", "fail")
    assert result.returncode == 2 and "start the server first" in result.stderr


def test_cli_port_in_use_fails_cleanly(cli_server: CliServer, tmp_path: Path) -> None:
    port = cli_server.url.rsplit(":", 1)[1]
    result = run_cli("serve", "--port", port, "--state-dir", str(tmp_path / "other"))
    assert result.returncode == 1 and "Traceback" not in result.stderr


# concurrency


def test_concurrent_tokens_apps_and_a_rotation_are_safe(tmp_path: Path) -> None:
    # Given one server, when 16 threads ask for tokens and create apps while the keys rotate
    with LocalOkta(tmp_path) as okta, ThreadPoolExecutor(16) as pool:
        token_futures = [pool.submit(okta.token) for _ in range(40)]
        app_futures = [pool.submit(create_app, okta, f"parallel-{n}") for n in range(20)]
        new_kid = okta.rotate_keys(grace_seconds=300)
        tokens = [f.result() for f in token_futures]
        app_ids = [f.result()["id"] for f in app_futures]
        # Then every answer is whole: distinct tokens that all verify, distinct apps that are all listed
        assert len(set(tokens)) == 40
        assert all(verify(okta, t)["sub"] == okta.env["CLIENT_ID"] for t in tokens)
        assert len(set(app_ids)) == 20
        listed = requests.get(
            f"{okta.org_url}/api/v1/apps", params={"q": "parallel-", "limit": "200"}, headers=ssws(okta), timeout=5
        ).json()
        assert sorted(a["id"] for a in listed) == sorted(app_ids)
        assert token_kid(okta.token()) == new_kid

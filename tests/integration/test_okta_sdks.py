"""Okta's own Python clients against okta_local, as they are used against Okta.

The official management SDK (`okta` 3.x) in its SSWS and its PrivateKey + DPoP modes runs a service app's
lifecycle, and okta-jwt-verifier verifies a token of a new app. They live in .venv-okta-sdks (pinned in
tests/okta_sdks/requirements.txt, built by `make okta-sdks-venv`, which `make venv` and `make test` run), never
in .venv, so the scripts in tests/okta_sdks/ run in a subprocess with that venv's python and print JSON. A
missing SDK venv fails these tests: CI must never skip them.

The management SDK takes an http:// org URL with its testing switch OKTA_TESTING_TESTINGDISABLEHTTPSCHECK.
okta-jwt-verifier takes https issuers only, with no switch, so its test runs okta_local behind TLS (its own
`public_url`, a throwaway CA in tmp_path, SSL_CERT_FILE for the SDKs and REQUESTS_CA_BUNDLE for requests).
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from okta_local.server import build_server
from okta_local.testing import LocalOkta
from okta_local.tls import make_tls_files

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "tests" / "okta_sdks"
REQUIREMENTS = SCRIPTS / "requirements.txt"
SDK_VENV = ROOT / ".venv-okta-sdks"
SDK_PYTHON = SDK_VENV / "bin" / "python"
SCRIPT_TIMEOUT = 120  # the SDK imports in ~3 s; a hung client must not hold CI for long
TIMEOUT = 10
HTTPS_CHECK_OFF = {"OKTA_TESTING_TESTINGDISABLEHTTPSCHECK": "true"}  # the okta SDK's own switch for http:// orgs


def pinned_versions() -> dict[str, str]:
    """Return the versions tests/okta_sdks/requirements.txt pins ({name: version})."""
    pins = {}
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            pins[name.strip()] = pinned.strip()
    return pins


@pytest.fixture(scope="module")
def sdk_python() -> Path:
    """The SDK venv's python; its absence fails the test (never a skip)."""
    if not SDK_PYTHON.exists():
        pytest.fail(f"{SDK_VENV} is missing: run `make okta-sdks-venv` (`make venv` and `make test` build it)")
    return SDK_PYTHON


@pytest.fixture(scope="module")
def okta(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOkta]:
    with LocalOkta(tmp_path_factory.mktemp("okta_sdks")) as server:
        yield server


def run_script(
    python: Path, script: str, args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run a tests/okta_sdks script with the SDK venv and return the JSON it printed.

    The environment is built from nothing (no OKTA_* variable leaks into the SDK's configuration) and HOME and
    the working directory are cwd, so no ~/.okta/okta.yaml or ./okta.yaml is read either.
    """
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd), "LANG": "C.UTF-8"}
    completed = subprocess.run(
        [str(python), str(SCRIPTS / script), *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        # Not an AssertionError: a broken run must never pass for the expected SSWS failure.
        raise RuntimeError(
            f"{script} exited {completed.returncode} without a JSON report:\n{completed.stdout}\n{completed.stderr}"
        ) from None
    if report.get("versions") != pinned_versions():
        raise RuntimeError(f"{SDK_VENV} is stale: {report.get('versions')}; run `make okta-sdks-venv`")
    return dict(report)


def management(python: Path, cwd: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return run_script(python, "management_sdk.py", list(args), cwd, env)


def private_key_args(okta: LocalOkta) -> list[str]:
    return [
        "--mode=private-key",
        f"--org-url={okta.org_url}",
        f"--client-id={okta.service_client_id}",
        f"--private-jwk-file={okta.service_jwk_path}",
    ]


def app_answer(okta: LocalOkta, app_id: str) -> requests.Response:
    """GET the app with SSWS through requests, not through the SDK."""
    return requests.get(f"{okta.org_url}/api/v1/apps/{app_id}", headers=okta.ssws(), timeout=TIMEOUT)


def check_lifecycle(okta: LocalOkta, report: dict[str, Any], label: str) -> None:
    """Every step ran as against Okta, and the server itself no longer knows the app."""
    steps = {step["step"]: step for step in report["steps"]}
    assert list(steps) == ["create", "get", "list", "deactivate", "get_deactivated", "delete", "get_deleted"], steps
    created = steps["create"]
    assert created["ok"] and created["http_status"] == 200, created
    app_id = created["id"]
    assert app_id.startswith("0oa") and created["client_id"] == app_id
    assert created["model"] == "OpenIdConnectApplication" and created["label"] == label
    assert created["status"] == "ACTIVE" and created["client_secret_issued"]
    assert created["token_endpoint_auth_method"] == "client_secret_basic"
    assert created["grant_types"] == ["client_credentials"] and created["application_type"] == "service"
    assert steps["get"]["ok"] and steps["get"]["id"] == app_id and steps["get"]["status"] == "ACTIVE"
    assert not steps["get"]["client_secret_issued"]  # Okta shows the secret once, in the create answer
    assert steps["list"]["ok"] and steps["list"]["ids"] == [app_id]
    assert steps["deactivate"]["ok"] and steps["deactivate"]["http_status"] == 200
    assert steps["get_deactivated"]["ok"] and steps["get_deactivated"]["status"] == "INACTIVE"
    assert steps["delete"]["ok"] and steps["delete"]["http_status"] == 204
    gone = steps["get_deleted"]
    assert gone["ok"] and gone["http_status"] == 404 and "E0000007" in gone["error"], gone
    assert report["ok"]
    # And the server agrees: the app is gone, not just hidden from the SDK.
    answer = app_answer(okta, app_id)
    assert answer.status_code == 404 and answer.json()["errorCode"] == "E0000007", answer.text
    listed = requests.get(f"{okta.org_url}/api/v1/apps", params={"q": label}, headers=okta.ssws(), timeout=TIMEOUT)
    assert listed.status_code == 200 and app_id not in [app["id"] for app in listed.json()]


def test_management_sdk_ssws_mode_runs_a_service_app_lifecycle(
    sdk_python: Path, okta: LocalOkta, tmp_path: Path
) -> None:
    # Given the SDK configured as Okta's README shows: {"orgUrl": ..., "token": <API token>}
    env = {**HTTPS_CHECK_OFF, "SDK_CHECK_API_TOKEN": okta.api_token}
    label = "sdk-ssws-lifecycle"
    # When it creates, gets, lists, deactivates and deletes a service app
    report = management(
        sdk_python, tmp_path, "lifecycle", "--mode=ssws", f"--org-url={okta.org_url}", f"--label={label}", env=env
    )
    # (okta 3.x sends `SSWS<token>`, with no space: okta_local accepts it, as Okta does)
    assert report["authorization_header"] == "SSWS<token>"
    # Then every step works as against Okta
    check_lifecycle(okta, report, label)


def test_management_sdk_private_key_mode_with_dpop_runs_a_service_app_lifecycle(
    sdk_python: Path, okta: LocalOkta, tmp_path: Path
) -> None:
    # Given the SDK in PrivateKey mode with DPoP, as the seeded service app (private_key_jwt, DPoP-bound tokens)
    label = "sdk-dpop-lifecycle"
    # When it creates, gets, lists, deactivates and deletes a service app
    report = management(
        sdk_python, tmp_path, "lifecycle", *private_key_args(okta), f"--label={label}", env=HTTPS_CHECK_OFF
    )
    # Then it got a DPoP-bound org token (after okta_local's use_dpop_nonce) and every step works as against Okta
    assert report["token_type"] == "DPoP", report
    check_lifecycle(okta, report, label)


def test_okta_jwt_verifier_refuses_an_http_issuer(sdk_python: Path, okta: LocalOkta, tmp_path: Path) -> None:
    # Why the next test puts okta_local behind TLS: the verifier refuses the http issuer before any request,
    # whatever the token (okta_jwt_verifier/config_validator.py validate_issuer; no setting turns it off).
    report = run_script(
        sdk_python, "verify_token.py", [f"--issuer={okta.issuer}"], tmp_path, {"SDK_CHECK_ACCESS_TOKEN": okta.token()}
    )
    assert not report["verified"] and report["stage"] == "config", report
    assert report["error_type"] == "JWTInvalidConfigException" and "https" in report["error"]


# --- okta_local behind TLS, for okta-jwt-verifier ---


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def https_okta(state_dir: Path, cert: Path, key: Path) -> Iterator[LocalOkta]:
    """Serve okta_local over TLS at https://127.0.0.1:PORT, the URL in its issuer, tokens and okta.env.

    Yields a LocalOkta that is not started itself: its helpers (enroll, token, ssws, ...) only read `env`.
    """
    port = free_port()
    server, env, _ = build_server(state_dir, "127.0.0.1", port, public_url=f"https://127.0.0.1:{port}", seed=True)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    helpers = LocalOkta(state_dir)
    helpers.env = env
    try:
        yield helpers
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)


def test_okta_jwt_verifier_accepts_a_token_of_a_new_app(
    sdk_python: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, cert, key = make_tls_files(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))  # this process's requests calls (LocalOkta's helpers)
    trust = {"SSL_CERT_FILE": str(ca)}  # the SDKs' aiohttp default SSL context
    with https_okta(tmp_path / "state", cert, key) as okta:
        assert okta.issuer.startswith("https://127.0.0.1:")
        # Given a service app the management SDK created (PrivateKey + DPoP mode, over https: no testing switch)
        credentials_file = tmp_path / "new-app.json"
        label = "sdk-verifier-app"
        created = management(
            sdk_python,
            tmp_path,
            "create",
            *private_key_args(okta),
            f"--label={label}",
            f"--credentials-file={credentials_file}",
            env=trust,
        )
        assert created["ok"] and created["token_type"] == "DPoP", created
        app_id = created["steps"][0]["id"]
        credentials = json.loads(credentials_file.read_text(encoding="utf-8"))
        assert credentials["client_id"] == app_id and credentials["client_secret"]
        # And, as with Okta, enrolled in the clients policy, it gets a hello token with client_secret_basic
        okta.enroll(app_id)
        token = okta.token(credentials["client_id"], credentials["client_secret"], "hello")
        # When okta-jwt-verifier checks it as a resource server would
        report = run_script(
            sdk_python,
            "verify_token.py",
            [f"--issuer={okta.issuer}", "--audience=api://default"],
            tmp_path,
            {**trust, "SDK_CHECK_ACCESS_TOKEN": token},
        )
        # Then it verifies (signature from the published keys, iss, aud, exp), and a tampered copy does not
        assert report["verified"], report
        assert not report["tampered"]["verified"] and report["tampered"]["error_type"] == "JWTValidationException"
        claims = report["claims"]
        assert claims["iss"] == okta.issuer and claims["aud"] == "api://default"
        assert claims["cid"] == claims["sub"] == app_id and claims["scp"] == ["hello"]


def test_the_sdks_are_not_in_the_test_venv(sdk_python: Path) -> None:
    # They stay in their own venv: .venv (the layer's pins, the dev tools) does not get them or their dependencies.
    assert Path(sys.prefix).resolve() != SDK_VENV.resolve()
    for module in ("okta", "okta_jwt_verifier"):
        assert importlib.util.find_spec(module) is None, module

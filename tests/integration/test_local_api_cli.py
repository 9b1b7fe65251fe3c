"""`python -m local_api` as a process: ready line, real requests, logs without tokens, clean stop on signals."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.api_key_fixtures import keys_in_moto
from tests.integration.test_local_api import TEMPLATE, overrides
from tests.jwks_server import JwksServer
from tests.jwt_factory import CLIENT_ID, access_claims, mint, signing_key

pytestmark = pytest.mark.integration

KEY = signing_key("cli-key")
READY = "Local API: "


@pytest.fixture(scope="module", autouse=True)
def api_keys(moto_endpoint: str) -> Iterator[None]:
    """The template's routes require an API key: the test client's, in moto, which the local API process is pointed
    at through the environment it inherits."""
    with keys_in_moto(moto_endpoint, TEMPLATE, [CLIENT_ID]):
        yield


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    with JwksServer([KEY.jwk()]) as server:
        yield server


def start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    argv = [sys.executable, "-m", "local_api", "--port", "0", "--template", str(TEMPLATE), *args]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(argv, stdout=stdout, stderr=stderr)
    return process, out, err


def wait_for_url(process: subprocess.Popen[bytes], out: Path, err: Path) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in out.read_text().splitlines():
            if line.startswith(READY):
                return line.removeprefix(READY).strip()
        if process.poll() is not None:
            pytest.fail(f"local API exited {process.returncode}: {err.read_text()}")
        time.sleep(0.05)
    process.kill()
    pytest.fail("local API did not print its URL in 30 s")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serves_logs_no_tokens_and_stops_cleanly(tmp_path, jwks, stop_signal):
    params = " ".join(f"{key}={value}" for key, value in overrides(jwks.issuer).items())
    process, out, err = start(tmp_path, "--parameter-overrides", params)
    try:
        url = wait_for_url(process, out, err)
        valid = mint(KEY, access_claims(jwks.issuer))
        forged = mint(signing_key("cli-key", 3072), access_claims(jwks.issuer))

        statuses = [
            requests.get(f"{url}/hello", timeout=10).status_code,
            requests.get(f"{url}/hello", headers={"Authorization": f"Bearer {valid}"}, timeout=10).status_code,
            requests.get(f"{url}/hello", headers={"Authorization": f"Bearer {forged}"}, timeout=10).status_code,
        ]
        process.send_signal(stop_signal)
        returncode = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()

    assert statuses == [401, 200, 401]
    assert returncode == 0
    logs = out.read_text() + err.read_text()
    assert "GET /hello 200" in logs
    for secret in (valid, forged, valid.split(".")[2], "Bearer "):
        assert secret not in logs
    assert "Traceback" not in logs


def test_bad_env_vars_file_is_a_one_line_error(tmp_path):
    env_file = tmp_path / "env.json"
    env_file.write_text("[1, 2]")

    process, out, err = start(tmp_path, "--env-vars", str(env_file))
    returncode = process.wait(timeout=30)

    assert returncode == 1
    assert "expected an object of objects" in err.read_text()
    assert "Traceback" not in err.read_text()

"""The commands behind `make demo`, `make dev` and `make events`, run as a user runs them, on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from benchmarks.api import main as bench_api
from devstack import LocalStack, Ports, free_port
from devstack.__main__ import FRESH_STATE
from devstack.events import METHOD_ARN, write_fresh_event
from devstack.processes import port_in_use
from devstack.story import STORY_STEPS, get
from m2m_client import ClientConfig, M2MClient, TokenRequestError, load_config, parse_env_file

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"


def free_ports() -> Ports:
    return Ports(api=free_port(), okta=free_port(), moto=free_port())


def devstack_argv(command: str, state_dir: Path, ports: Ports) -> list[str]:
    return [
        *(sys.executable, "-m", "devstack", command, "--state-dir", str(state_dir)),
        *("--api-port", str(ports.api), "--okta-port", str(ports.okta), "--moto-port", str(ports.moto)),
    ]


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line mentions text (our state dir), other than this test's own process."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if text.encode() in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def assert_all_stopped(state_dir: Path, ports: Ports) -> None:
    assert processes_mentioning(str(state_dir)) == []
    assert not any(port_in_use(HOST, port) for port in (ports.api, ports.okta, ports.moto))


def test_demo_passes_on_a_fresh_state_dir_and_leaves_nothing_running(tmp_path):
    # Given no state at all
    state_dir, ports = tmp_path / "fresh", free_ports()
    # When the demo runs
    result = subprocess.run(devstack_argv("demo", state_dir, ports), capture_output=True, text=True, timeout=180)
    # Then every step passed, it exited 0 and stopped every server
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(lines) == STORY_STEPS
    assert all(line.startswith("PASS") for line in lines)
    # And it ends with the usage table of the run, from the local API's access log
    newcomer = lines[0].rsplit("client_id ", 1)[1]
    usage = result.stdout.split("Who called what in this demo", 1)[1]
    assert f"client {newcomer}: 1 request\n" in usage and "GET /hello    1      1" in usage
    assert (state_dir / "okta" / "okta.env").is_file()
    # The Okta server logs the credentials it creates: its log is the owner's alone
    assert (state_dir / "devstack" / "okta.log").stat().st_mode & 0o777 == 0o600
    assert_all_stopped(state_dir, ports)


def test_demo_fails_cleanly_when_a_port_is_taken(tmp_path):
    ports = free_ports()
    with socket.socket() as busy:
        busy.bind((HOST, ports.api))
        busy.listen()
        result = subprocess.run(devstack_argv("demo", tmp_path, ports), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert (
        result.stderr == f"error: port {ports.api} for the API server is already in use (choose another with a flag)\n"
    )


def test_dev_serves_paste_ready_commands_until_ctrl_c(tmp_path):
    # Given `dev` is serving
    state_dir, ports = tmp_path / "dev", free_ports()
    dev = subprocess.Popen(
        devstack_argv("dev", state_dir, ports), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("Ctrl-C stops everything" in line for line in output):
            line = dev.stdout.readline()
            assert line, "".join(output)
            output.append(line)
        text = "".join(output)
        assert f"http://{HOST}:{ports.api}" in text
        # When the printed client command is pasted
        pasted = [line.strip() for line in output if "m2m_client" in line and "call /hello" in line][0]
        called = subprocess.run(pasted, shell=True, capture_output=True, text=True, timeout=60, check=False)  # noqa: S602
        # Then it gets its hello
        assert called.returncode == 0, called.stderr
        assert json.loads(called.stdout)["message"] == "Hello World!"
        assert oct((state_dir / "demo.env").stat().st_mode & 0o777) == "0o600"
        # And the admin's pasted `clients list` shows the demo client, adopted when the stack started
        pasted = [line.strip() for line in output if "m2m_client" in line and "clients list" in line][0]
        listed = subprocess.run(pasted, shell=True, capture_output=True, text=True, timeout=60, check=False)  # noqa: S602
        assert listed.returncode == 0, listed.stderr
        demo_id = parse_env_file(state_dir / "demo.env")["CLIENT_ID"]
        assert [row.split("\t")[:2] for row in listed.stdout.splitlines()] == [[demo_id, "active"]]
    finally:
        # When Ctrl-C arrives
        dev.send_signal(signal.SIGINT)
        returncode = dev.wait(timeout=60)
        dev.stdout.close()
    # Then it stopped everything it started
    assert returncode == 0
    assert_all_stopped(state_dir, ports)


def start_dev(state_dir: Path, ports: Ports) -> tuple[subprocess.Popen[str], str]:
    """`python -m devstack dev` as a user starts it; returns it and what it printed until it serves."""
    dev = subprocess.Popen(
        devstack_argv("dev", state_dir, ports), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert dev.stdout is not None
    output: list[str] = []
    while not any("Ctrl-C stops everything" in line for line in output):
        line = dev.stdout.readline()  # the end of its output (it exited) fails below, never a wait on the clock
        assert line, "".join(output)
        output.append(line)
    return dev, "".join(output)


def stop_dev(dev: subprocess.Popen[str]) -> None:
    dev.send_signal(signal.SIGINT)
    assert dev.wait(timeout=60) == 0
    assert dev.stdout is not None
    dev.stdout.close()


def okta_apps_labelled(state_dir: Path, label: str) -> list[dict[str, object]]:
    okta = parse_env_file(state_dir / "okta" / "okta.env")
    headers = {"Authorization": f"SSWS {okta['OKTA_API_TOKEN']}", "Accept": "application/json"}
    answer = requests.get(f"{okta['OKTA_ORG_URL']}/api/v1/apps", params={"q": label}, headers=headers, timeout=30)
    return [app for app in answer.json() if app["label"] == label]


def test_a_restart_starts_fresh_and_okta_the_registry_and_the_keys_agree(tmp_path):
    state_dir, ports, label = tmp_path / "state", free_ports(), "restart survivor?"
    # Given a client registered on a running stack
    dev, _ = start_dev(state_dir, ports)
    try:
        admin = M2MClient(load_config(state_dir / "admin.env", {}, need_api=True))
        before = admin.register(label)
        old_demo = parse_env_file(state_dir / "demo.env")
    finally:
        stop_dev(dev)
    # When the stack starts again on the same state folder
    dev, printed = start_dev(state_dir, ports)
    try:
        # Then it said it starts fresh
        assert FRESH_STATE in printed
        # And none of the client is left anywhere: not in the registry, not in Okta, no API key
        admin = M2MClient(load_config(state_dir / "admin.env", {}, need_api=True))
        demo = parse_env_file(state_dir / "demo.env")
        assert [c["client_id"] for c in admin.all_clients()] == [demo["CLIENT_ID"]]  # the demo client, adopted
        assert okta_apps_labelled(state_dir, label) == []
        apigateway = LocalStack(state_dir, ports=ports).aws_client("apigateway")
        assert apigateway.get_api_keys(nameQuery=before["client_id"])["items"] == []
        old_token = M2MClient(ClientConfig(demo["ISSUER"], before["client_id"], before["client_secret"], "hello"))
        with pytest.raises(TokenRequestError, match="invalid_client"):
            old_token.token()
        # And the label registers again, as one app
        again = admin.register(label)
        assert [app["id"] for app in okta_apps_labelled(state_dir, label)] == [again["app_id"]]
        # And the demo and admin settings files hold this run's credentials, which work
        assert (demo["CLIENT_ID"], demo["CLIENT_SECRET"]) != (old_demo["CLIENT_ID"], old_demo["CLIENT_SECRET"])
        hello = M2MClient(load_config(state_dir / "demo.env", {}, need_api=True)).call("GET", "/hello")
        assert hello["clientId"] == demo["CLIENT_ID"]
    finally:
        stop_dev(dev)
    assert_all_stopped(state_dir, ports)


def test_dev_stops_everything_on_sigterm(tmp_path):
    state_dir, ports = tmp_path / "term", free_ports()
    dev = subprocess.Popen(devstack_argv("dev", state_dir, ports), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        for line in dev.stdout:
            if b"Ctrl-C stops everything" in line:
                break
        assert port_in_use(HOST, ports.api)
    finally:
        dev.terminate()
        returncode = dev.wait(timeout=60)
        dev.stdout.close()
    assert returncode == 128 + signal.SIGTERM
    assert_all_stopped(state_dir, ports)


def test_fresh_event_starts_okta_briefly_and_holds_a_valid_token(tmp_path):
    # Given no running Okta server for this state dir
    stack, path = LocalStack(tmp_path / "state", ports=free_ports()), tmp_path / "event.json"
    # When the fresh event is written
    write_fresh_event(stack, path)
    # Then it is the authorizer TOKEN event, and the server it started is gone again
    event = json.loads(path.read_text())
    assert set(event) == {"type", "authorizationToken", "methodArn"}
    assert (event["type"], event["methodArn"]) == ("TOKEN", METHOD_ARN)
    assert event["authorizationToken"].startswith("Bearer ey")
    assert_all_stopped(stack.state_dir, stack.ports)


def test_fresh_event_uses_the_running_stack_and_its_token_is_accepted(tmp_path):
    with LocalStack(tmp_path / "state", ports=free_ports()) as running:
        path = tmp_path / "event.json"
        write_fresh_event(LocalStack(running.state_dir, ports=running.ports), path)
        token = json.loads(path.read_text())["authorizationToken"].removeprefix("Bearer ")
        # The running server issued it: the running API accepts it
        response = get(running.api_url, "/hello", token)
        assert response.status_code == 200
        assert response.json()["clientId"] == running.okta["CLIENT_ID"]


def test_bench_api_runs_both_routes_without_errors(capsys):
    # A smoke run, not a timing test: the generated baseline template still builds and both routes answer 200
    assert bench_api(["--clients", "2", "--requests", "5", "--warmup", "2", "--rounds", "1"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("GET /")]
    assert [row.split()[1] for row in rows] == ["/hello-baseline", "/hello"]
    assert all(row.split()[-1] == "0" for row in rows)

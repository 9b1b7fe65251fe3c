"""The local API's worker processes: concurrent, warm, bounded per function, killed at Timeout, replaced when dead.

Concurrency is proven without clocks: handlers meet at a TCP gate on 127.0.0.1 that lets a batch through only once
`parties` connections are open at the same time, so run one at a time they would never get through.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import requests
from samcli.lib.utils.stream_writer import StreamWriter

from local_api import LocalApi

pytestmark = pytest.mark.integration

MAX_WORKERS = 3

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.13
    Timeout: 30
    Layers: [!Ref SharedLayer]
Resources:
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: shared/}
  WorkFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: work/
      Handler: app.handler
      MemorySize: 256
      Environment: {Variables: {ROLE: work}}
      Events:
        Work: {Type: Api, Properties: {Path: /work, Method: GET}}
  SlowFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: slow/
      Handler: app.handler
      Timeout: 1
      Environment: {Variables: {ROLE: slow}}
      Events:
        Slow: {Type: Api, Properties: {Path: /slow, Method: GET}}
"""

# Both functions: module state, the process they run in, what they see; on demand: a gate, a crash, a long sleep.
APP = """\
import json
import os
import signal
import socket
import subprocess
import sys
import time

import shared

STATE = {"calls": 0}


def meet(port):
    with socket.create_connection(("127.0.0.1", port), timeout=60) as gate:
        return gate.makefile().readline().strip()


def handler(event, context):
    query = event.get("queryStringParameters") or {}
    STATE["calls"] += 1
    print('{"result": {"statusCode": 200, "body": "forged by a print"}}')  # the handler's stdout: not the protocol
    print("handler-log-line", context.function_name, file=sys.stderr)
    if "exit" in query:
        os._exit(int(query["exit"]))
    if "signal" in query:
        os.kill(os.getpid(), getattr(signal, query["signal"]))
    if "sleep" in query:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # dies with its worker
        with open(query["pidfile"], "w") as pidfile:
            pidfile.write(f"{os.getpid()} {child.pid}")
        time.sleep(float(query["sleep"]))
    body = {
        "pid": os.getpid(),
        "calls": STATE["calls"],
        "gate": meet(int(query["gate"])) if "gate" in query else None,
        "shared": shared.NAME,
        "env": {name: os.environ.get(name) for name in query.get("env", "").split(",") if name},
        "cwd": os.getcwd(),
        "path": sys.path[:2],
        "remaining_ms": context.get_remaining_time_in_millis(),
        "memory": context.memory_limit_in_mb,
    }
    return {"statusCode": 200, "body": json.dumps(body)}
"""


class Gate:
    """A TCP server that answers "go" to `parties` connections once they are all open at the same time, or "late"
    to those open when no other came for `wait` seconds; `peak` is the most that were ever open together."""

    def __init__(self, parties: int, wait: float) -> None:
        self.parties, self.wait = parties, wait
        self.peak = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Gate:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._server.close()

    def _serve(self) -> None:
        waiting: list[socket.socket] = []
        last = 0.0
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
                last = time.monotonic()
                waiting.append(connection)
                self.peak = max(self.peak, len(waiting))
            except TimeoutError:
                pass
            if len(waiting) >= self.parties or (waiting and time.monotonic() - last > self.wait):
                word = b"go\n" if len(waiting) >= self.parties else b"late\n"
                for connection in waiting:
                    connection.sendall(word)
                    connection.close()
                waiting = []


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("workers")
    write(root / "work" / "app.py", APP)
    write(root / "slow" / "app.py", APP)
    write(root / "shared" / "shared.py", "NAME = 'shared-layer'\n")
    path = root / "template.yaml"
    path.write_text(TEMPLATE)
    return path


@pytest.fixture(scope="module")
def api(template: Path) -> Iterator[LocalApi]:
    env_vars = {"WorkFunction": {"ROLE": "from-file"}}
    with LocalApi(template, port=0, env_vars=env_vars, max_workers=MAX_WORKERS) as local_api:
        yield local_api


def get(api: LocalApi, path: str, **query: Any) -> requests.Response:
    return requests.get(f"{api.url}{path}", params=query, timeout=60)


def body(api: LocalApi, path: str, **query: Any) -> dict[str, Any]:
    response = get(api, path, **query)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def concurrently(count: int, call: Any) -> list[Any]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie, waiting for a parent that is not ours to reap it, does not)."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.parent.parent.is_dir():
        try:
            return stat.read_text().rpartition(")")[2].split()[0] != "Z"
        except FileNotFoundError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def eventually_gone(pids: list[int], within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(alive(pid) for pid in pids)


def invoke(api: LocalApi, function: str, **query: str) -> dict[str, Any]:
    """The function's own answer (its result or Lambda's error payload), as the gateway gets it from the runner."""
    event = {"httpMethod": "GET", "path": "/", "queryStringParameters": query or None}
    with StringIO() as out:
        api.runner.invoke(function, json.dumps(event), stdout=StreamWriter(out, auto_flush=True))
        answer: dict[str, Any] = json.loads(out.getvalue())
    return answer


def test_concurrent_requests_run_in_as_many_workers(api):
    with Gate(parties=MAX_WORKERS, wait=20) as gate:
        answers = concurrently(MAX_WORKERS, lambda: body(api, "/work", gate=gate.port))

    assert [answer["gate"] for answer in answers] == ["go"] * MAX_WORKERS  # all of them in the handler at once
    assert len({answer["pid"] for answer in answers}) == MAX_WORKERS
    assert os.getpid() not in {answer["pid"] for answer in answers}


def test_a_warm_worker_takes_the_next_request_with_its_module_state(api):
    first, second = body(api, "/work"), body(api, "/work")

    assert second["pid"] == first["pid"]
    assert second["calls"] == first["calls"] + 1


def test_a_function_never_has_more_than_max_workers(api):
    # One more than the limit would have to meet at the gate: with the limit kept, every batch is late.
    with Gate(parties=MAX_WORKERS + 1, wait=0.5) as gate:
        answers = concurrently(4 * MAX_WORKERS, lambda: body(api, "/work", gate=gate.port))

    assert gate.peak == MAX_WORKERS
    assert {answer["gate"] for answer in answers} == {"late"}
    assert len({answer["pid"] for answer in answers}) <= MAX_WORKERS
    assert len(api.runner.worker_pids()["WorkFunction"]) <= MAX_WORKERS


def test_each_worker_sees_its_own_function_as_lambda_sets_it_up(api, template):
    names = "ROLE,AWS_LAMBDA_FUNCTION_NAME,AWS_LAMBDA_FUNCTION_TIMEOUT,AWS_LAMBDA_FUNCTION_MEMORY_SIZE,_HANDLER"
    environ = dict(os.environ)

    work, slow = body(api, "/work", env=names + ",LAMBDA_TASK_ROOT"), body(api, "/slow", env=names)

    assert work["env"] == {
        "ROLE": "from-file",  # --env-vars for this function only
        "AWS_LAMBDA_FUNCTION_NAME": "WorkFunction",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "30",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "_HANDLER": "app.handler",
        "LAMBDA_TASK_ROOT": str(template.parent / "work"),
    }
    assert slow["env"]["ROLE"] == "slow"
    assert (slow["env"]["AWS_LAMBDA_FUNCTION_NAME"], slow["env"]["AWS_LAMBDA_FUNCTION_TIMEOUT"]) == (
        "SlowFunction",
        "1",
    )
    assert work["cwd"] == str(template.parent / "work")
    assert work["path"] == [str(template.parent / "work"), str(template.parent / "shared")]  # code, then layers
    assert work["shared"] == "shared-layer"
    assert work["memory"] == 256
    assert 0 < work["remaining_ms"] <= 30_000
    assert dict(os.environ) == environ  # this process's own environment is untouched


def test_a_print_on_stdout_does_not_reach_the_protocol(api):
    answer = invoke(api, "WorkFunction")

    assert json.loads(answer["body"])["pid"] != os.getpid()  # the real result, not the printed one


def test_a_handler_past_its_timeout_is_killed_and_answers_lambdas_error(api, tmp_path):
    before = body(api, "/slow")
    pidfile = tmp_path / "pids"

    with ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(invoke, api, "SlowFunction", sleep="30", pidfile=str(pidfile))
        other = body(api, "/work")  # meanwhile another function answers as usual
        error = slow.result(timeout=20)  # well before the 30 s sleep

    assert other["calls"] > 0
    assert error["errorType"] == "Sandbox.Timedout"
    assert error["errorMessage"].startswith("RequestId: ")
    assert " Error: Task timed out after 1." in error["errorMessage"]
    assert set(error) == {"errorMessage", "errorType"}
    worker, child = map(int, pidfile.read_text().split())
    assert worker == before["pid"]  # the warm worker ran it
    assert eventually_gone([worker, child])  # the worker's whole process group
    after = body(api, "/slow")
    assert after["pid"] not in (before["pid"], worker)
    assert after["calls"] == 1  # a cold start: fresh module state


def test_a_timeout_through_the_gateway_is_502(api, tmp_path):
    started = time.monotonic()

    response = get(api, "/slow", sleep="30", pidfile=str(tmp_path / "pids"))

    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    assert time.monotonic() - started < 20  # a sanity bound, far from the 30 s sleep


@pytest.mark.parametrize(
    ("query", "how"),
    [
        ({"exit": "1"}, "Runtime exited with error: exit status 1"),
        ({"exit": "0"}, "Runtime exited without providing a reason"),
        ({"signal": "SIGSEGV"}, "Runtime exited with error: signal: segmentation fault"),
        ({"signal": "SIGKILL"}, "Runtime exited with error: signal: killed"),  # as the OOM killer would
    ],
)
def test_a_worker_that_dies_answers_runtime_exit_error_and_is_replaced(api, query, how):
    before = body(api, "/work")

    error = invoke(api, "WorkFunction", **query)

    assert error["errorType"] == "Runtime.ExitError"
    assert error["errorMessage"].endswith(f" Error: {how}")
    assert before["pid"] not in api.runner.worker_pids()["WorkFunction"]
    assert body(api, "/work")["pid"] != before["pid"]


def test_a_dead_worker_is_502_through_the_gateway(api):
    response = get(api, "/work", exit="3")

    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_a_failed_import_replaces_the_worker_and_the_next_call_is_cold_again(tmp_path):
    write(tmp_path / "work" / "app.py", "import json\nraise RuntimeError('init failed')\n")
    write(tmp_path / "slow" / "app.py", APP)
    write(tmp_path / "shared" / "shared.py", "NAME = 'x'\n")
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    with LocalApi(tmp_path / "template.yaml", port=0) as api:
        failed = invoke(api, "WorkFunction")
        assert api.runner.worker_pids()["WorkFunction"] == []  # the worker that failed its init is gone
        write(tmp_path / "work" / "app.py", APP)
        recovered = body(api, "/work")

    assert failed == {"errorMessage": "init failed", "errorType": "RuntimeError"}
    assert recovered["calls"] == 1


def test_stop_ends_every_worker(template):
    api = LocalApi(template, port=0).start()
    try:
        with Gate(parties=2, wait=20) as gate:
            pids = {answer["pid"] for answer in concurrently(2, lambda: body(api, "/work", gate=gate.port))}
        pids.add(body(api, "/slow")["pid"])
        assert sorted(pids) == sorted(p for found in api.runner.worker_pids().values() for p in found)
    finally:
        api.stop()

    assert len(pids) == 3
    assert not any(alive(pid) for pid in pids)  # stopped and reaped, nothing left behind
    assert api.runner.worker_pids() == {"WorkFunction": [], "SlowFunction": []}


def start_cli(template: Path, tmp_path: Path, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    argv = [sys.executable, "-m", "local_api", "--port", "0", "--template", str(template)]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(argv, stdout=stdout, stderr=stderr, env={**os.environ, **env})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if out.read_text().startswith("Local API: ") and out.read_text().endswith("\n"):
            return process, out.read_text().removeprefix("Local API: ").strip()
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"local API did not start: {err.read_text()}")


def test_the_cli_logs_handler_output_on_stderr_and_ends_its_workers_on_sigterm(template, tmp_path):
    process, url = start_cli(template, tmp_path, LOCAL_API_MAX_WORKERS="1")  # as --max-workers 1
    try:
        with Gate(parties=2, wait=0.5) as gate:
            answers = concurrently(2, lambda: requests.get(f"{url}/work", params={"gate": gate.port}, timeout=30))
        pids = {answer.json()["pid"] for answer in answers}
        gates = [answer.json()["gate"] for answer in answers]
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()

    assert returncode == 0
    assert (len(pids), gates) == (1, ["late", "late"])  # one worker, one request after the other
    assert (tmp_path / "stdout").read_text().splitlines() == [f"Local API: {url}"]  # only the ready line
    stderr = (tmp_path / "stderr").read_text()
    assert "handler-log-line WorkFunction" in stderr
    assert "forged by a print" in stderr  # the handler's stdout, passed through to stderr
    assert "function=WorkFunction ms=" in stderr
    assert eventually_gone(list(pids))


def test_workers_exit_when_the_local_api_dies(template, tmp_path):
    process, url = start_cli(template, tmp_path)
    pidfile = tmp_path / "pids"

    def call() -> None:
        with suppress(requests.ConnectionError):  # the local API dies under it
            requests.get(f"{url}/work", params={"sleep": "60", "pidfile": str(pidfile)}, timeout=60)

    caller = threading.Thread(target=call, daemon=True)
    try:
        caller.start()
        deadline = time.monotonic() + 30
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        worker = int(pidfile.read_text().split()[0])
        process.kill()  # no chance to stop its workers
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()

    assert eventually_gone([worker])  # it saw its request pipe close, in the middle of the handler's sleep

"""The DPoP replay store against moto's DynamoDB with request authentication on: our hand-written SigV4 must pass
moto's signature check (moto recomputes it with botocore) and the IAM policy of the key, and the conditional PutItem
must behave as DynamoDB's: first use wins, a live item refuses, an expired one is taken over, our own earlier write
(an answer lost, the request sent again) is still ours."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import boto3
import pytest
import requests

from okta_m2m.errors import ReplayStoreUnavailableError
from okta_m2m.tokens._fetch import KeepAlive
from okta_m2m.tokens._replay import DynamoDbReplayStore
from okta_m2m.tokens._sigv4 import Credentials

pytestmark = pytest.mark.integration

TABLE = "replay"
BOOTSTRAP = {"aws_access_key_id": "bootstrap", "aws_secret_access_key": "bootstrap", "region_name": "us-east-1"}
UNAUTHENTICATED_REQUESTS = 4  # moto checks every request after these: the set-up's own


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def authed_moto() -> Iterator[tuple[str, Credentials]]:
    """moto's server (its own process: authentication is a process-wide setting) with an IAM user allowed
    dynamodb:PutItem on the table, and that user's access key."""
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(UNAUTHENTICATED_REQUESTS)}
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{endpoint}/moto-api/", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "moto's server did not start"
            time.sleep(0.1)
        iam = boto3.client("iam", endpoint_url=endpoint, **BOOTSTRAP)
        iam.create_user(UserName="authorizer")
        key = iam.create_access_key(UserName="authorizer")["AccessKey"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="authorizer", PolicyName="replay", PolicyDocument=json.dumps(policy))
        boto3.client("dynamodb", endpoint_url=endpoint, **BOOTSTRAP).create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield endpoint, Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        process.terminate()
        process.wait(timeout=10)


def store(authed_moto: tuple[str, Credentials], **kwargs: Any) -> DynamoDbReplayStore:
    endpoint, creds = authed_moto
    return DynamoDbReplayStore(TABLE, "us-east-1", endpoint, kwargs.pop("credentials", creds), **kwargs)


def test_the_first_use_of_a_key_wins_and_the_second_is_refused(authed_moto):
    replay, now = store(authed_moto), time.time()
    assert replay.claim("key-1", int(now) + 90, now) is True
    assert replay.claim("key-1", int(now) + 90, now) is False
    assert replay.claim("key-2", int(now) + 90, now) is True


def test_two_containers_share_the_table(authed_moto):
    now = time.time()
    assert store(authed_moto).claim("shared", int(now) + 90, now) is True
    assert store(authed_moto).claim("shared", int(now) + 90, now) is False


def test_an_expired_item_not_yet_deleted_by_ttl_is_taken_over(authed_moto):
    replay, now = store(authed_moto), time.time()
    assert replay.claim("old", int(now) - 1, now - 100) is True  # good until a second ago
    assert replay.claim("old", int(now) + 90, now) is True


def test_our_own_write_sent_again_is_still_ours(authed_moto, monkeypatch):
    # KeepAlive sends a request again when its connection broke before the answer: the same bytes, the same writer.
    from okta_m2m.tokens import _replay

    monkeypatch.setattr(_replay.os, "urandom", lambda n: b"\x07" * n)
    replay, now = store(authed_moto), time.time()
    assert replay.claim("resent", int(now) + 90, now) is True
    assert replay.claim("resent", int(now) + 90, now) is True
    monkeypatch.setattr(_replay.os, "urandom", lambda n: b"\x08" * n)
    assert replay.claim("resent", int(now) + 90, now) is False  # anyone else's write is a replay


class _KeepAliveHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive (as DynamoDB's endpoints): answers each POST with the body it got and its connection's
    number; closes the connection after the answer when the request path is /close."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[list[int]] = []

    def setup(self) -> None:
        super().setup()
        self.connections.append(len(self.connections) + 1)
        self.number = len(self.connections)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = json.dumps({"connection": self.number, "got": body.decode()}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        if self.path == "/close":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def keep_alive_server() -> Iterator[str]:
    _KeepAliveHandler.connections = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KeepAliveHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_keep_alive_reuses_one_connection_and_reconnects_when_the_server_closed_it(keep_alive_server):
    connection = KeepAlive(keep_alive_server)
    answers = [json.loads(connection.post("/", [], f"{i}".encode(), 5)[1]) for i in range(3)]
    assert [a["connection"] for a in answers] == [1, 1, 1] and [a["got"] for a in answers] == ["0", "1", "2"]
    assert json.loads(connection.post("/close", [], b"x", 5)[1])["connection"] == 1  # then the server closes it
    assert json.loads(connection.post("/", [], b"y", 5)[1]) == {"connection": 2, "got": "y"}
    # A connection the server dropped while idle (as after a frozen container) is found out and the request sent
    # again on a new one.
    connection._sock.shutdown(socket.SHUT_RDWR)
    assert json.loads(connection.post("/", [], b"z", 5)[1]) == {"connection": 3, "got": "z"}


def test_a_wrong_secret_fails_the_signature_check_and_the_store_is_unavailable(authed_moto):
    endpoint, creds = authed_moto
    wrong = store(authed_moto, credentials=Credentials(creds.access_key, "not-the-secret"))
    with pytest.raises(ReplayStoreUnavailableError, match="403"):
        wrong.claim("wrong", int(time.time()) + 90, time.time())


def test_an_unknown_table_or_closed_port_is_unavailable(authed_moto):
    endpoint, creds = authed_moto
    with pytest.raises(ReplayStoreUnavailableError, match="400 .ResourceNotFoundException"):
        DynamoDbReplayStore("missing", "us-east-1", endpoint, creds).claim("k", int(time.time()) + 90, time.time())
    closed = DynamoDbReplayStore(TABLE, "us-east-1", f"http://127.0.0.1:{free_port()}", creds, timeout=0.5)
    with pytest.raises(ReplayStoreUnavailableError, match="unreachable"):
        closed.claim("k", int(time.time()) + 90, time.time())

"""Usage plans, the access log and `make usage` through the whole local stack (local Okta server, moto, the local
API with the real authorizer and register function), all on 127.0.0.1.

Two stacks, each with its own limits for every key of the template's usage plan (the admin's too):
- `throttled`: a burst of 4 and practically no refill (0.001 request/s), so that a burst's outcome is exact;
- `metered`: no throttle to speak of and a quota of 30 requests a day.
Clients are registered through POST /register (so they get their API key there), except those with no key: apps
made directly in the local Okta and enrolled in the clients policy, never registered through the API (one of them
is then given a key in moto by hand, outside the plan first). Key state may be 1 s old (KEY_STATE_TTL): tests of a
change to it poll for at most that, and a little more.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from devstack import LocalStack, Ports, free_port
from local_api import LocalApi
from local_api.usage_plans import KEY_STATE_TTL
from okta_m2m.clients._okta_client import service_app_body
from okta_m2m.tokens._authorization import usage_key
from tests.integration.test_clients_api import Admin, fetch_token
from tests.shipped_template import access_log_fields, gateway_body

pytestmark = pytest.mark.integration

BURST = 4
QUOTA = 30
THROTTLED_LIMITS = {"ClientRateLimit": "0.001", "ClientBurstLimit": str(BURST)}
METERED_LIMITS = {"ClientRateLimit": "1000", "ClientBurstLimit": "1000", "ClientDailyQuota": str(QUOTA)}
# template.yaml's gateway responses and its AccessLogSetting.Format, as it declares them
SLOW_DOWN = gateway_body("THROTTLED")
QUOTA_USED = gateway_body("QUOTA_EXCEEDED")
NOT_ENROLLED = gateway_body("INVALID_API_KEY")
FIELDS = access_log_fields()
CLF = re.compile(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000")


def start(tmp_path_factory: pytest.TempPathFactory, name: str, limits: dict[str, str]) -> Iterator[Admin]:
    ports = Ports(api=free_port(), okta=free_port(), moto=free_port())
    with LocalStack(tmp_path_factory.mktemp(name) / "state", ports=ports, parameter_overrides=limits) as stack:
        okta = stack.okta
        yield Admin(stack, fetch_token(okta, okta["ADMIN_CLIENT_ID"], okta["ADMIN_CLIENT_SECRET"], "register"))


@pytest.fixture(scope="module")
def throttled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    yield from start(tmp_path_factory, "throttled", THROTTLED_LIMITS)


@pytest.fixture(scope="module")
def metered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    yield from start(tmp_path_factory, "metered", METERED_LIMITS)


def hello(admin: Admin, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{admin.stack.api_url}/hello", headers=headers, timeout=30)


def registered(admin: Admin) -> tuple[str, str]:
    """A client registered through the API (so it has its API key), and a hello token of it."""
    created = admin.register(f"usage {uuid.uuid4().hex[:12]}")
    return created["client_id"], fetch_token(admin.okta, created["client_id"], created["client_secret"], "hello")


def keyless(admin: Admin) -> tuple[str, str]:
    """A client made in the local Okta and enrolled in the clients policy by hand: valid hello tokens, no API key."""
    made = admin.ssws("POST", "/api/v1/apps", json=service_app_body(f"keyless {uuid.uuid4().hex[:12]}"))
    made.raise_for_status()
    oauth = made.json()["credentials"]["oauthClient"]
    path = f"/api/v1/authorizationServers/default/policies/{admin.okta['OKTA_CLIENTS_POLICY_ID']}"
    policy = admin.ssws("GET", path).json()
    policy["conditions"]["clients"]["include"].append(oauth["client_id"])
    admin.ssws("PUT", path, json=policy).raise_for_status()
    return oauth["client_id"], fetch_token(admin.okta, oauth["client_id"], oauth["client_secret"], "hello")


def key_ids(admin: Admin, client_id: str) -> list[str]:
    """The ids of the API keys named after the client, in moto's API Gateway."""
    keys = admin.stack.aws_client("apigateway").get_api_keys(nameQuery=client_id)["items"]
    return [key["id"] for key in keys if key["name"] == client_id]


def log_text(admin: Admin) -> str:
    return (admin.stack.state_dir / "access.log").read_text(encoding="utf-8")


def log_lines(admin: Admin, since: float = 0.0) -> list[dict[str, Any]]:
    """Every access log line (each must be a JSON object) of requests received since `since` (epoch seconds)."""
    lines = [json.loads(line) for line in log_text(admin).splitlines()]
    assert all(isinstance(line, dict) for line in lines)
    return [line for line in lines if line["epochMs"] >= int(since * 1000)]


# --- throttle ---


def test_a_client_past_its_burst_is_throttled_with_retry_after_while_another_is_not(throttled):
    busy, busy_token = registered(throttled)
    other, other_token = registered(throttled)
    (busy_key,) = key_ids(throttled, busy)

    with ThreadPoolExecutor(max_workers=BURST + 3) as pool:
        answers = list(pool.map(lambda _: hello(throttled, busy_token), range(BURST + 3)))

    assert sorted(a.status_code for a in answers) == [200] * BURST + [429] * 3
    for answer in (a for a in answers if a.status_code == 429):
        assert answer.json() == SLOW_DOWN
        assert (answer.headers["Retry-After"], answer.headers["Cache-Control"]) == ("1", "no-store")
    calm = hello(throttled, other_token)
    assert (calm.status_code, calm.json()) == (200, {"message": "Hello World!", "clientId": other})
    mine = [line for line in log_lines(throttled) if line["clientId"] == busy]
    assert sorted((line["status"], line["error"], line["apiKeyId"]) for line in mine) == [
        *[(200, "", busy_key)] * BURST,
        *[(429, "THROTTLED", busy_key)] * 3,
    ]


# --- quota, revocation, no key ---


def test_a_client_that_used_its_quota_gets_quota_exceeded_while_another_does_not(metered):
    spender, token = registered(metered)
    _, other_token = registered(metered)

    statuses = [hello(metered, token).status_code for _ in range(QUOTA)]
    over = hello(metered, token)

    assert statuses == [200] * QUOTA
    assert (over.status_code, over.json()) == (429, QUOTA_USED)
    assert (over.headers["Retry-After"], over.headers["Cache-Control"]) == ("3600", "no-store")
    assert hello(metered, other_token).status_code == 200
    assert [line["error"] for line in log_lines(metered) if line["clientId"] == spender][-1] == "QUOTA_EXCEEDED"


def until_changed(changed: float, call: Callable[[], requests.Response], before: int) -> list[requests.Response]:
    """Call until an answer is no longer `before`, or until a request sent KEY_STATE_TTL after `changed` has been
    answered: the local API reads key state at most that old, so a request it receives later sees the change. What
    counts is when a request was sent, never how long the answers took (which is the machine's)."""
    answers = []
    while True:
        sent = time.monotonic()
        answers.append(call())
        if answers[-1].status_code != before or sent - changed >= KEY_STATE_TTL:
            return answers
        time.sleep(0.1)


def test_a_revoked_client_is_refused_a_second_later_with_the_token_it_was_just_allowed_with(metered):
    client_id, token = registered(metered)
    (key_id,) = key_ids(metered, client_id)
    assert hello(metered, token).status_code == 200

    assert metered.call("DELETE", f"/clients/{client_id}").status_code == 200
    answers = until_changed(time.monotonic(), lambda: hello(metered, token), before=200)

    statuses = [answer.status_code for answer in answers]
    assert statuses[-1] == 403 and set(statuses[:-1]) <= {200}, statuses
    answer = answers[-1]
    assert answer.json() == NOT_ENROLLED
    # The gateway still held the Allow for the token: the refusal is the key's (disabled), not the token's.
    last = [line for line in log_lines(metered) if line["clientId"] == client_id][-1]
    assert (last["status"], last["error"], last["apiKeyId"]) == (403, "INVALID_API_KEY", key_id)
    assert hello(metered, token).status_code == 403


def test_a_valid_token_of_a_client_with_no_api_key_is_refused_403(metered):
    client_id, token = keyless(metered)
    assert key_ids(metered, client_id) == []

    answer = hello(metered, token)

    assert (answer.status_code, answer.json()) == (403, NOT_ENROLLED)
    assert answer.headers["Cache-Control"] == "no-store"
    last = [line for line in log_lines(metered) if line["clientId"] == client_id][-1]
    assert (last["status"], last["error"], last["apiKeyId"]) == (403, "INVALID_API_KEY", "")


def test_a_key_in_no_usage_plan_of_the_api_is_refused_until_it_joins_one(metered):
    client_id, token = keyless(metered)
    apigateway = metered.stack.aws_client("apigateway")
    key = apigateway.create_api_key(name=client_id, value=usage_key(client_id), enabled=True)

    outside = hello(metered, token)
    apigateway.create_usage_plan_key(usagePlanId=metered.stack.usage_plan_id, keyId=key["id"], keyType="API_KEY")
    statuses = [a.status_code for a in until_changed(time.monotonic(), lambda: hello(metered, token), before=403)]

    assert (outside.status_code, outside.json()) == (403, NOT_ENROLLED)
    first = next(line for line in log_lines(metered) if line["clientId"] == client_id)
    assert (first["status"], first["error"], first["apiKeyId"]) == (403, "INVALID_API_KEY", key["id"])
    assert statuses[-1] == 200 and set(statuses[:-1]) <= {403}, statuses


# --- the access log and `make usage` ---


@dataclass(frozen=True)
class Traffic:
    """Requests sent to the metered stack from `since` on, with nothing else sent meanwhile."""

    since: float
    client_id: str
    key_id: str
    keyless_id: str
    tokens: tuple[str, ...]


@pytest.fixture(scope="module")
def traffic(metered: Admin) -> Traffic:
    """A client's whole quota and one more (200s, a 429), no token (401), a client with no key (403), a path that
    is no route (403)."""
    client_id, token = registered(metered)
    keyless_id, keyless_token = keyless(metered)
    since = time.time()
    for _ in range(QUOTA + 1):
        hello(metered, token)
    hello(metered, None)
    hello(metered, keyless_token)
    requests.get(f"{metered.stack.api_url}/no-such-route", timeout=30)
    return Traffic(since, client_id, key_ids(metered, client_id)[0], keyless_id, (token, keyless_token))


def test_the_access_log_has_a_json_line_per_request_with_client_and_key_ids(metered, traffic):
    lines = log_lines(metered, traffic.since)

    assert all(set(line) == FIELDS for line in lines)
    summary = [(line["clientId"], line["apiKeyId"], line["status"], line["error"], line["route"]) for line in lines]
    assert summary == [
        *[(traffic.client_id, traffic.key_id, 200, "", "/hello")] * QUOTA,
        (traffic.client_id, traffic.key_id, 429, "QUOTA_EXCEEDED", "/hello"),
        ("", "", 401, "UNAUTHORIZED", "/hello"),
        (traffic.keyless_id, "", 403, "INVALID_API_KEY", "/hello"),
        ("", "", 403, "MISSING_AUTHENTICATION_TOKEN", ""),
    ]
    for line in lines:
        assert CLF.fullmatch(line["time"]) and line["method"] == "GET" and line["sourceIp"] == "127.0.0.1"
        assert time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(line["epochMs"] / 1000)) == line["time"]
        assert isinstance(line["latencyMs"], int) and line["latencyMs"] >= 0
    assert lines[-1]["path"] == "/no-such-route"
    assert len({line["requestId"] for line in lines}) == len(lines)
    text = log_text(metered)
    assert "Bearer" not in text
    assert not any(token in text or token.split(".")[2] in text for token in traffic.tokens)


def usage_report(admin: Admin, *args: str) -> list[list[str]]:
    """`python -m local_api.usage` on the stack's access log (what `make usage` runs), its lines split on blanks."""
    log = admin.stack.state_dir / "access.log"
    done = subprocess.run(
        [sys.executable, "-m", "local_api.usage", "--log", str(log), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [line.split() for line in done.stdout.splitlines()]


def block(report: list[list[str]], client: str) -> list[list[str]]:
    """One client's table: from its heading to the blank line after it."""
    start = report.index(next(line for line in report if line[:2] == ["client", f"{client}:"]))
    end = next((i for i in range(start, len(report)) if not report[i]), len(report))
    return report[start:end]


def test_make_usage_prints_each_clients_requests_by_route_and_status(metered, traffic):
    report = usage_report(metered, "--since", "1h")

    logged = log_lines(metered, time.time() - 3600)
    clients = {line["clientId"] or "-" for line in logged}
    assert report[0][-4:] == [str(len(logged)), "requests,", str(len(clients)), "clients"]
    assert block(report, traffic.client_id) == [
        ["client", f"{traffic.client_id}:", str(QUOTA + 1), "requests"],
        ["route", "200", "429", "total"],
        ["GET", "/hello", str(QUOTA), "1", str(QUOTA + 1)],
        ["total", str(QUOTA), "1", str(QUOTA + 1)],
    ]
    assert block(report, traffic.keyless_id) == [
        ["client", f"{traffic.keyless_id}:", "1", "request"],
        ["route", "403", "total"],
        ["GET", "/hello", "1", "1"],
        ["total", "1", "1"],
    ]
    shown = [line[1].rstrip(":") for line in report if line[:1] == ["client"]]
    assert shown == sorted(clients - {"-"}) + ["-"]  # in id order, requests with no client last
    anonymous = block(report, "-")
    statuses = anonymous[1][1:-1]
    rows = {" ".join(row[:2]): dict(zip(statuses, row[2:-1], strict=True)) for row in anonymous[2:-1]}
    assert int(rows["GET /hello"]["401"]) >= 1  # ours, and the stack's readiness probes
    assert rows["GET -"]["403"] == "1"


def test_a_local_api_in_this_process_writes_its_access_log_where_told(metered, traffic, tmp_path, monkeypatch):
    # Given a local API of our own on the stack's Okta and moto (its keys), its counters its own
    monkeypatch.setenv("AWS_ENDPOINT_URL_API_GATEWAY", metered.stack.moto_url)
    log = tmp_path / "logs" / "access.log"
    stack = metered.stack
    with LocalApi(stack.template, port=0, parameter_overrides=stack.parameter_overrides(), access_log=log) as api:
        # When a client whose quota the stack's API saw used calls it, and then a request without a token comes
        token = traffic.tokens[0]
        statuses = [
            requests.get(f"{api.url}/hello", headers=headers, timeout=30).status_code
            for headers in ({"Authorization": f"Bearer {token}"}, {})
        ]
    # Then each has its line in the file, the client's with its key
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert statuses == [200, 401]
    assert [(line["clientId"], line["apiKeyId"], line["status"]) for line in lines] == [
        (traffic.client_id, traffic.key_id, 200),
        ("", "", 401),
    ]

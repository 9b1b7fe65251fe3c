"""Schemathesis against the whole local stack (local Okta, moto, the local API) with the API's own document,
openapi.yaml: the bounded `ci` profile, fixed seed (`make fuzz-api` runs the deep one with a new seed).

Every run goes through the Schemathesis CLI with api_fuzz.hooks, as `make fuzz-api` does: real tokens for each
operation's scopes (DPoP-bound ones, with a fresh proof per request, on the DPoP route), then no token, a token
without the scopes, malformed Authorization headers, and a real bearer token on the DPoP route. What it found is
fixed; each finding has a regression test of its own (test_clients_api.py, test_local_api.py and the unit tests
they name)."""

from __future__ import annotations

import copy
import dataclasses
import importlib
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import yaml

from api_contract import load_yaml
from api_fuzz.consistency import api_keys, aws_client, registry_drift
from api_fuzz.run import (
    CI_SEED,
    DOCUMENT,
    PROFILES,
    dpop_operations,
    fuzz_stack,
    run_one,
    run_schemathesis,
    target_of,
)
from api_fuzz.target import FuzzTarget
from devstack import LocalStack
from m2m_client import M2MClient

pytestmark = pytest.mark.integration

TIMEOUT = 30


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with fuzz_stack(tmp_path_factory.mktemp("fuzz") / "state") as started:
        yield started


@pytest.fixture(scope="module")
def target(stack: LocalStack) -> FuzzTarget:
    return target_of(stack)


def dpop_answers(stack: LocalStack) -> Counter[tuple[int, str]]:
    """(status, client id) of each answer GET /hello/dpop gave, from the stack's access log."""
    records = [json.loads(line) for line in stack.access_log.read_text(encoding="utf-8").splitlines() if line]
    return Counter((r["status"], r["clientId"]) for r in records if (r["method"], r["path"]) == ("GET", "/hello/dpop"))


def test_schemathesis_finds_nothing_against_the_live_stack(stack, target, tmp_path):
    runs = run_schemathesis(target, PROFILES["ci"], CI_SEED, tmp_path / "reports")

    failed = [f"--- {run.auth} ---\n{run.output}" for run in runs if not run.passed]
    assert not failed, "\n".join(failed)
    assert [run.auth for run in runs] == ["none", "wrong-scope", "malformed", "bearer", "scoped"]
    scoped = runs[-1].output
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in scoped, phase
    assert "10 selected / 10 total" in scoped
    assert "1 selected / 10 total" in runs[3].output  # the bearer run: the DPoP route only
    assert dpop_operations() == ("getHelloDpop",)
    # The DPoP route was called with the registered DPoP client's bound tokens and proofs (200), their replays
    # and everything the refused runs sent were 401, and the admin client's bound token (wrong scope) 403.
    answers = dpop_answers(stack)
    assert target.dpop_client is not None
    assert answers[200, target.dpop_client.client_id] >= 3, answers
    assert answers[401, ""] >= 10, answers
    assert answers[403, target.clients[target.admin_scope][0]] >= 1, answers
    assert registry_drift(target) == []


def altered_document(tmp_path: Path, change: Any) -> Path:
    document = load_yaml(DOCUMENT)
    change(document)
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_an_answer_the_document_does_not_describe_fails_the_run(target, tmp_path):
    def client_id_is_a_number(document: dict[str, Any]) -> None:
        document["components"]["schemas"]["Hello"]["properties"]["clientId"] = {"type": "integer"}

    document = altered_document(tmp_path, client_id_is_a_number)

    run = run_one(target, PROFILES["ci"], CI_SEED, "scoped", tmp_path / "reports", document, ("getHello",))

    assert not run.passed
    assert "Response violates schema" in run.output


def test_a_message_the_document_does_not_list_fails_the_run_by_our_own_check(target, tmp_path):
    def other_messages(document: dict[str, Any]) -> None:
        document["paths"]["/hello"]["get"]["responses"]["401"]["x-messages"] = ["Something else"]

    document = altered_document(tmp_path, other_messages)

    run = run_one(target, PROFILES["ci"], CI_SEED, "none", tmp_path / "reports", document, ("getHello",))

    assert not run.passed
    assert "error_messages_are_declared" in run.output
    assert "401 answer says 'Unauthorized'" in run.output


def test_the_consistency_check_names_a_client_without_its_key_and_an_app_without_a_record(target):
    admin_id, admin_secret = target.clients[target.admin_scope]
    token = requests.post(
        target.token_url,
        data={"grant_type": "client_credentials", "scope": target.admin_scope},
        auth=(admin_id, admin_secret),
        timeout=TIMEOUT,
    ).json()["access_token"]
    created = requests.post(
        f"{target.api_url}/register",
        json={"label": "consistency check"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    ).json()
    client_id = created["client_id"]
    key = api_keys(target)[client_id]
    aws_client(target, "apigateway").update_api_key(
        apiKey=key["id"], patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
    )
    headers = {"Authorization": f"SSWS {target.okta['OKTA_API_TOKEN']}", "Accept": "application/json"}
    app = copy.deepcopy(SERVICE_APP)
    made = requests.post(f"{target.okta['OKTA_ORG_URL']}/api/v1/apps", json=app, headers=headers, timeout=TIMEOUT)
    assert made.status_code == 200, made.text

    problems = registry_drift(target)

    assert problems == [
        f"active client {client_id} has no enabled API key in the usage plan",
        f"Okta app {made.json()['id']} ('made by hand') has no record in the registry",
    ]


SERVICE_APP = {
    "name": "oidc_client",
    "label": "made by hand",
    "signOnMode": "OPENID_CONNECT",
    "credentials": {"oauthClient": {"token_endpoint_auth_method": "client_secret_basic"}},
    "settings": {
        "oauthClient": {
            "application_type": "service",
            "grant_types": ["client_credentials"],
            "response_types": ["token"],
        }
    },
}


def test_our_checks_catch_a_secret_in_another_answer_and_an_admin_answer_that_may_be_stored(target, monkeypatch):
    # The hooks judge real answers of the stack: a 201 of POST /register may hold its new secret, the same answer
    # as GET /clients's may not; GET /hello's answer (no Cache-Control) would fail as an admin route's.
    for name, value in target.environment("scoped").items():
        monkeypatch.setenv(name, value)
    hooks = importlib.import_module("api_fuzz.hooks")
    schema = schemathesis.openapi.from_path(str(DOCUMENT))
    admin_id, admin_secret = target.clients[target.admin_scope]
    token = hooks.fetch_token(admin_id, admin_secret, target.admin_scope)
    created = requests.post(
        f"{target.api_url}/register",
        json={"label": "checks of our own"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )
    assert created.status_code == 201
    answer = schemathesis.Response.from_requests(created, verify=True)
    register, listing = schema["/register"]["POST"].Case(), schema["/clients"]["GET"].Case()

    assert hooks.no_secret_in_answers(None, answer, register) is None
    with pytest.raises(AssertionError, match="holds a secret, a token or a key"):
        hooks.no_secret_in_answers(None, answer, listing)
    demo_id, demo_secret = target.clients[target.hello_scope]
    hello = requests.get(
        f"{target.api_url}/hello",
        headers={"Authorization": f"Bearer {hooks.fetch_token(demo_id, demo_secret, target.hello_scope)}"},
        timeout=TIMEOUT,
    )
    with pytest.raises(AssertionError, match="Cache-Control"):
        hooks.admin_answers_are_not_stored(None, schemathesis.Response.from_requests(hello, verify=True), listing)


def test_a_dpop_route_the_document_said_took_bearer_tokens_fails_the_run(target, tmp_path):
    def bearer_route(document: dict[str, Any]) -> None:
        operation = document["paths"]["/hello/dpop"]["get"]
        operation["security"] = [{"oauth2": ["hello"]}]
        del operation["parameters"]

    document = altered_document(tmp_path, bearer_route)

    run = run_one(target, PROFILES["ci"], CI_SEED, "scoped", tmp_path / "reports", document, ("getHelloDpop",))

    assert not run.passed
    assert "Authentication failed: 1 operation returned only 401/403 responses" in run.output
    assert "  - GET /hello/dpop" in run.output


def test_our_dpop_checks_catch_a_proof_accepted_twice_and_a_bearer_token_let_through(target, monkeypatch):
    # Real answers of the stack: a DPoP call of the registered DPoP client passes every check; a bearer route's
    # 200 judged as the DPoP route's is a proof (there: none) accepted twice, and in the bearer run a 200 at all.
    for name, value in target.environment("scoped").items():
        monkeypatch.setenv(name, value)
    hooks = importlib.import_module("api_fuzz.hooks")
    dpop_case = schemathesis.openapi.from_path(str(DOCUMENT))["/hello/dpop"]["GET"].Case()
    assert target.dpop_client is not None
    called = M2MClient(target.dpop_client).request("GET", "/hello/dpop")
    assert called.status_code == 200, called.text
    answer = schemathesis.Response.from_requests(called, verify=True)

    assert hooks.dpop_proofs_are_used_once(None, answer, dpop_case) is None
    assert hooks.dpop_tokens_are_bound().after_response(None, answer, dpop_case) is None
    demo_id, demo_secret = target.clients[target.hello_scope]
    hello = requests.get(
        f"{target.api_url}/hello",
        headers={"Authorization": f"Bearer {hooks.fetch_token(demo_id, demo_secret, target.hello_scope)}"},
        timeout=TIMEOUT,
    )
    assert hello.status_code == 200
    replayable = schemathesis.Response.from_requests(hello, verify=True)
    with pytest.raises(AssertionError, match="used a second time was answered 200"):
        hooks.dpop_proofs_are_used_once(None, replayable, dpop_case)
    monkeypatch.setattr(hooks, "TARGET", dataclasses.replace(hooks.TARGET, auth="bearer"))
    with pytest.raises(AssertionError, match="without a valid token was answered 200"):
        hooks.refused_without_a_valid_token(None, answer, dpop_case)

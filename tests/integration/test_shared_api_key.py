"""PerClientApiKeys=false through the whole local stack: the Okta access policies alone decide who may call. Every
client's Allow names the one shared key (an unlimited plan of its own), so an app made outside the API needs no
adoption, the register function makes no keys, and the access log still names each client.

The default (per-client keys) is the other side: a client with no key of its own is refused 403 "not enrolled"
(tests/integration/test_local_api_usage.py, test_a_valid_token_of_a_client_with_no_api_key_is_refused_403)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from devstack import LocalStack, Ports, free_port
from tests.integration.test_clients_api import Admin, fetch_token, label
from tests.integration.test_local_api_usage import keyless, registered

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    ports = Ports(api=free_port(), okta=free_port(), moto=free_port())
    overrides = {"PerClientApiKeys": "false"}
    with LocalStack(tmp_path_factory.mktemp("shared") / "state", ports=ports, parameter_overrides=overrides) as stack:
        okta = stack.okta
        yield Admin(stack, fetch_token(okta, okta["ADMIN_CLIENT_ID"], okta["ADMIN_CLIENT_SECRET"], "register"))


def hello(admin: Admin, token: str) -> requests.Response:
    return requests.get(f"{admin.stack.api_url}/hello", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def shared_key(admin: Admin) -> dict[str, object]:
    (key,) = admin.stack.aws_client("apigateway").get_api_keys(includeValues=True)["items"]
    return dict(key)


def test_only_the_shared_key_and_its_unlimited_plan_exist(shared):
    plans = shared.stack.aws_client("apigateway").get_usage_plans()["items"]
    assert [(p["name"], p.get("throttle"), p.get("quota")) for p in plans] == [("SharedUsagePlan", None, None)]
    assert shared_key(shared)["value"] == "oktam2mallclients-local"  # !Sub oktam2mallclients-${AWS::StackName}
    assert shared.stack.usage_plan_id == ""  # the register function manages no keys


def test_an_app_made_outside_the_api_is_let_through_by_its_okta_policy_alone(shared):
    client_id, token = keyless(shared)  # made in Okta and enrolled in the clients policy, never adopted

    response = hello(shared, token)

    assert (response.status_code, response.json()) == (200, {"message": "Hello World!", "clientId": client_id})
    last = json.loads((shared.stack.access_log).read_text().splitlines()[-1])
    assert (last["clientId"], last["apiKeyId"]) == (client_id, shared_key(shared)["id"])


def test_a_registered_client_gets_no_key_of_its_own_and_calls(shared):
    client_id, token = registered(shared)

    assert hello(shared, token).status_code == 200
    assert shared.stack.aws_client("apigateway").get_api_keys(nameQuery=client_id)["items"] == []


def test_revocation_stops_new_tokens_but_not_those_held(shared):
    created = shared.register(label())
    held = fetch_token(shared.okta, created["client_id"], created["client_secret"], "hello")

    assert shared.call("DELETE", f"/clients/{created['client_id']}").status_code == 200

    refused = shared.token_answer(created["client_id"], created["client_secret"])
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    # no key to disable: a token already held works until it expires (docs/operating-clients.md says so)
    assert hello(shared, held).status_code == 200

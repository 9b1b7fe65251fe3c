"""okta_local's access policies and rules: the API in Okta's shapes, and how the token endpoint evaluates them."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from okta_local.testing import LocalOkta
from tests.integration.okta_local_fixtures import (
    TIMEOUT,
    create_app,
    oauth_error,
    okta_error,
    request_token,
    ssws,
    verify,
)

pytestmark = pytest.mark.integration

NO_POLICY = "Policy evaluation failed for this request, please check the policy configurations."
NOT_CONFIGURED = "One or more scopes are not configured for the authorization server resource."


@pytest.fixture
def okta(tmp_path: Path) -> Iterator[LocalOkta]:
    """A server per test: these tests change the policies every client depends on."""
    with LocalOkta(tmp_path) as server:
        yield server


def policies_url(okta: LocalOkta, suffix: str = "") -> str:
    return f"{okta.org_url}/api/v1/authorizationServers/default/policies{suffix}"


def policy_body(name: str, clients: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "type": "OAUTH_AUTHORIZATION_POLICY",
        "status": "ACTIVE",
        "name": name,
        "description": f"{name} description",
        "priority": 1,
        "conditions": {"clients": {"include": clients}},
        **extra,
    }


def rule_body(name: str, scopes: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "type": "RESOURCE_ACCESS",
        "name": name,
        "priority": 1,
        "conditions": {"grantTypes": {"include": ["client_credentials"]}, "scopes": {"include": scopes}},
        **extra,
    }


def post(okta: LocalOkta, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(url, json=body, headers=ssws(okta), timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    return dict(response.json())


def get(okta: LocalOkta, url: str) -> requests.Response:
    return requests.get(url, headers=ssws(okta), timeout=TIMEOUT)


def put(okta: LocalOkta, url: str, body: dict[str, Any]) -> requests.Response:
    return requests.put(url, json=body, headers=ssws(okta), timeout=TIMEOUT)


def new_client(okta: LocalOkta, label: str) -> tuple[str, str]:
    oauth = create_app(okta, label)["credentials"]["oauthClient"]
    return str(oauth["client_id"]), str(oauth["client_secret"])


# the API


def test_seeded_policies_are_okta_shaped(okta: LocalOkta) -> None:
    listed = get(okta, policies_url(okta)).json()
    assert [p["id"] for p in listed] == [okta.admin_policy_id, okta.clients_policy_id]  # by priority
    admin, clients = listed
    assert admin["conditions"]["clients"]["include"] == [okta.env["ADMIN_CLIENT_ID"]]
    assert clients["conditions"]["clients"]["include"] == [okta.env["CLIENT_ID"]]
    for policy in listed:
        assert policy["id"].startswith("00p") and len(policy["id"]) == 20
        assert policy["type"] == "OAUTH_AUTHORIZATION_POLICY" and policy["status"] == "ACTIVE"
        assert policy["system"] is False and policy["name"] and isinstance(policy["priority"], int)
        assert policy["created"].endswith("Z") and policy["lastUpdated"].endswith("Z")
        assert policy["_links"]["self"]["href"] == policies_url(okta, f"/{policy['id']}")
        assert policy["_links"]["rules"]["href"] == policies_url(okta, f"/{policy['id']}/rules")
        assert "deactivate" in policy["_links"]
    rules = get(okta, policies_url(okta, f"/{okta.clients_policy_id}/rules")).json()
    assert len(rules) == 1
    rule = rules[0]
    assert rule["id"].startswith("0pr") and rule["type"] == "RESOURCE_ACCESS" and rule["status"] == "ACTIVE"
    assert rule["conditions"] == {
        "people": {"users": {"include": [], "exclude": []}, "groups": {"include": ["EVERYONE"], "exclude": []}},
        "grantTypes": {"include": ["client_credentials"]},
        "scopes": {"include": ["hello"]},
    }
    assert rule["actions"]["token"]["accessTokenLifetimeMinutes"] == 60
    admin_rules = get(okta, policies_url(okta, f"/{okta.admin_policy_id}/rules")).json()
    assert admin_rules[0]["conditions"]["scopes"]["include"] == ["register"]


def test_policy_crud_and_put_replaces_the_whole_policy(okta: LocalOkta) -> None:
    created = post(okta, policies_url(okta), policy_body("crud", ["0oaSomeClient0000000"], priority=3))
    url = policies_url(okta, f"/{created['id']}")
    assert created["name"] == "crud" and created["priority"] == 3 and created["description"] == "crud description"
    assert get(okta, url).json() == created
    # PUT without description or status: they take their defaults, not the old values (no merge)
    replaced = put(
        okta, url, {"name": "renamed", "priority": 4, "conditions": {"clients": {"include": ["ALL_CLIENTS"]}}}
    )
    assert replaced.status_code == 200, replaced.text
    body = replaced.json()
    assert body["id"] == created["id"] and body["created"] == created["created"]
    # An empty description is left out of the answer, as Okta does (its contract: a description is non-empty)
    assert body["name"] == "renamed" and "description" not in body and body["status"] == "ACTIVE"
    assert body["conditions"]["clients"]["include"] == ["ALL_CLIENTS"]
    assert get(okta, url).json() == body
    # delete: 204, then Okta's 404
    assert requests.delete(url, headers=ssws(okta), timeout=TIMEOUT).status_code == 204
    okta_error(get(okta, url), 404, "E0000007")
    okta_error(put(okta, url, policy_body("x", ["a"])), 404, "E0000007")
    okta_error(requests.delete(url, headers=ssws(okta), timeout=TIMEOUT), 404, "E0000007")


def test_rule_crud_and_lifecycle(okta: LocalOkta) -> None:
    policy = post(okta, policies_url(okta), policy_body("rules", ["ALL_CLIENTS"]))
    rules_url = policies_url(okta, f"/{policy['id']}/rules")
    rule = post(okta, rules_url, rule_body("r1", ["hello"], actions={"token": {"accessTokenLifetimeMinutes": 5}}))
    url = f"{rules_url}/{rule['id']}"
    assert rule["actions"]["token"]["accessTokenLifetimeMinutes"] == 5
    assert rule["conditions"]["people"]["groups"]["include"] == ["EVERYONE"]
    assert get(okta, url).json() == rule
    replaced = put(okta, url, rule_body("r1-renamed", ["hello", "register"]))
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["actions"]["token"]["accessTokenLifetimeMinutes"] == 60  # replaced, not merged
    assert replaced.json()["conditions"]["scopes"]["include"] == ["hello", "register"]
    off = requests.post(f"{url}/lifecycle/deactivate", headers=ssws(okta), timeout=TIMEOUT)
    assert off.status_code == 204 and get(okta, url).json()["status"] == "INACTIVE"
    assert "activate" in get(okta, url).json()["_links"]
    on = requests.post(f"{url}/lifecycle/activate", headers=ssws(okta), timeout=TIMEOUT)
    assert on.status_code == 204 and get(okta, url).json()["status"] == "ACTIVE"
    assert [r["id"] for r in get(okta, rules_url).json()] == [rule["id"]]
    assert requests.delete(url, headers=ssws(okta), timeout=TIMEOUT).status_code == 204
    okta_error(get(okta, url), 404, "E0000007")
    # Deleting the policy takes its rules with it
    post(okta, rules_url, rule_body("r2", ["hello"]))
    requests.delete(policies_url(okta, f"/{policy['id']}"), headers=ssws(okta), timeout=TIMEOUT)
    okta_error(get(okta, rules_url), 404, "E0000007")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"type": "OKTA_SIGN_ON"}, "type"),
        ({"status": "SOMETIMES"}, "status"),
        ({"priority": 0}, "priority"),
        ({"priority": "1"}, "priority"),
        ({"system": True}, "system"),
        ({"conditions": {"clients": {"include": []}}}, "conditions.clients.include"),
        ({"conditions": {"clients": {"include": "ALL_CLIENTS"}}}, "conditions.clients.include"),
        ({"conditions": None}, "conditions.clients.include"),
        ({"description": 7}, "description"),
    ],
)
def test_invalid_policies_are_api_validation_failed(okta: LocalOkta, body: dict[str, Any], field: str) -> None:
    full = {**policy_body("invalid", ["ALL_CLIENTS"]), **body}
    response = requests.post(policies_url(okta), json=full, headers=ssws(okta), timeout=TIMEOUT)
    error = okta_error(response, 400, "E0000001")
    assert any(cause["errorSummary"].startswith(field) for cause in error["errorCauses"]), error
    assert len(get(okta, policies_url(okta)).json()) == 2  # nothing created


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": " "}, "name"),
        ({"type": "SIGN_ON"}, "type"),
        ({"conditions": {"grantTypes": {"include": []}, "scopes": {"include": ["hello"]}}}, "conditions.grantTypes"),
        ({"conditions": {"grantTypes": {"include": ["magic"]}, "scopes": {"include": ["hello"]}}}, "conditions.grant"),
        (
            {"conditions": {"grantTypes": {"include": ["client_credentials"]}, "scopes": {"include": []}}},
            "conditions.s",
        ),
        (
            {"conditions": {"grantTypes": {"include": ["client_credentials"]}, "scopes": {"include": ["x"]}}},
            "conditions",
        ),
        ({"actions": {"token": {"accessTokenLifetimeMinutes": 1}}}, "actions.token.accessTokenLifetimeMinutes"),
        ({"actions": {"token": {"accessTokenLifetimeMinutes": 2000}}}, "actions.token.accessTokenLifetimeMinutes"),
    ],
)
def test_invalid_rules_are_api_validation_failed(okta: LocalOkta, change: dict[str, Any], field: str) -> None:
    rules_url = policies_url(okta, f"/{okta.clients_policy_id}/rules")
    response = requests.post(rules_url, json={**rule_body("bad", ["hello"]), **change}, headers=ssws(okta), timeout=5)
    error = okta_error(response, 400, "E0000001")
    assert any(cause["errorSummary"].startswith(field) for cause in error["errorCauses"]), error


@pytest.mark.parametrize(
    ("method", "suffix", "status", "code"),
    [
        ("GET", "/00pDoesNotExist00000", 404, "E0000007"),
        ("GET", "/00pDoesNotExist00000/rules", 404, "E0000007"),
        ("POST", "/00pDoesNotExist00000/rules", 404, "E0000007"),
        ("POST", "/00pDoesNotExist00000/lifecycle/activate", 404, "E0000007"),
        ("PATCH", "", 405, "E0000022"),
        ("POST", "/{clients}", 405, "E0000022"),
        ("GET", "/{clients}/lifecycle/activate", 405, "E0000022"),
        ("GET", "/{clients}/unknown", 404, "E0000007"),
    ],
)
def test_unknown_policies_and_methods_get_okta_errors(
    okta: LocalOkta, method: str, suffix: str, status: int, code: str
) -> None:
    url = policies_url(okta, suffix.format(clients=okta.clients_policy_id))
    okta_error(requests.request(method, url, json={}, headers=ssws(okta), timeout=TIMEOUT), status, code)


def test_other_authorization_servers_are_not_found(okta: LocalOkta) -> None:
    url = f"{okta.org_url}/api/v1/authorizationServers/aus0000000000000000/policies"
    okta_error(get(okta, url), 404, "E0000007")


@pytest.mark.parametrize("body", [b"{not json", b"[]", b""])
def test_malformed_policy_bodies_are_e0000003(okta: LocalOkta, body: bytes) -> None:
    headers = {**ssws(okta), "Content-Type": "application/json"}
    okta_error(requests.post(policies_url(okta), data=body, headers=headers, timeout=TIMEOUT), 400, "E0000003")


def test_policy_answers_carry_rate_limit_headers(okta: LocalOkta) -> None:
    response = get(okta, policies_url(okta))
    assert {"X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"} <= set(response.headers)


def test_concurrent_puts_leave_one_whole_policy(okta: LocalOkta) -> None:
    # Two writers race as on Okta: the last write wins, whole; nothing is merged or torn.
    url = policies_url(okta, f"/{okta.clients_policy_id}")
    base = get(okta, url).json()
    bodies = [
        {**base, "name": f"writer-{n}", "conditions": {"clients": {"include": [f"0oaWriter{n:011d}"]}}}
        for n in range(20)
    ]
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda b: put(okta, url, b), bodies))
    assert all(a.status_code == 200 for a in answers)
    final = get(okta, url).json()
    n = int(final["name"].split("-")[1])
    assert final["conditions"]["clients"]["include"] == [f"0oaWriter{n:011d}"]


# evaluation at the custom authorization server's token endpoint


def test_a_client_in_no_policy_is_access_denied(okta: LocalOkta) -> None:
    client_id, secret = new_client(okta, "outsider")
    body = oauth_error(request_token(okta, client_id, secret, "hello"), 400, "access_denied")
    assert body["error_description"] == NO_POLICY


def test_enrolled_by_put_gets_hello_but_not_register(okta: LocalOkta) -> None:
    client_id, secret = new_client(okta, "newcomer")
    url = policies_url(okta, f"/{okta.clients_policy_id}")
    policy = get(okta, url).json()
    policy["conditions"]["clients"]["include"].append(client_id)
    assert put(okta, url, policy).status_code == 200
    token = request_token(okta, client_id, secret, "hello")
    assert token.status_code == 200, token.text
    assert verify(okta, token.json()["access_token"])["scp"] == ["hello"]
    assert request_token(okta, client_id, secret, None).json()["scope"] == "hello"  # the default scope
    # register is a scope of the server, but no rule of the client's policy grants it: what Okta says then
    body = oauth_error(request_token(okta, client_id, secret, "register"), 400, "access_denied")
    assert body["error_description"] == NO_POLICY
    oauth_error(request_token(okta, client_id, secret, "hello register"), 400, "access_denied")
    # A scope the server does not have at all: "not configured"
    body = oauth_error(request_token(okta, client_id, secret, "orders:read"), 400, "invalid_scope")
    assert body["error_description"] == NOT_CONFIGURED


def test_admin_gets_register_and_demo_does_not(okta: LocalOkta) -> None:
    admin = request_token(okta, okta.env["ADMIN_CLIENT_ID"], okta.env["ADMIN_CLIENT_SECRET"], "register")
    assert admin.status_code == 200 and verify(okta, admin.json()["access_token"])["scp"] == ["register"]
    oauth_error(
        request_token(okta, okta.env["ADMIN_CLIENT_ID"], okta.env["ADMIN_CLIENT_SECRET"], "hello"), 400, "access_denied"
    )
    oauth_error(request_token(okta, okta.env["CLIENT_ID"], okta.env["CLIENT_SECRET"], "register"), 400, "access_denied")
    assert request_token(okta, okta.env["CLIENT_ID"], okta.env["CLIENT_SECRET"], "hello").status_code == 200


def test_unknown_scopes_are_not_configured_whatever_the_policies(okta: LocalOkta) -> None:
    body = oauth_error(
        request_token(okta, okta.env["CLIENT_ID"], okta.env["CLIENT_SECRET"], "openid"), 400, "invalid_scope"
    )
    assert body["error_description"] == NOT_CONFIGURED


def test_removed_from_the_policy_means_no_more_tokens(okta: LocalOkta) -> None:
    url = policies_url(okta, f"/{okta.clients_policy_id}")
    policy = get(okta, url).json()
    policy["conditions"]["clients"]["include"] = ["0oaSomebodyElse00000"]
    put(okta, url, policy)
    oauth_error(request_token(okta, okta.env["CLIENT_ID"], okta.env["CLIENT_SECRET"]), 400, "access_denied")


def test_inactive_policies_and_rules_do_not_count(okta: LocalOkta) -> None:
    policy_url = policies_url(okta, f"/{okta.clients_policy_id}")
    demo = (okta.env["CLIENT_ID"], okta.env["CLIENT_SECRET"])
    requests.post(f"{policy_url}/lifecycle/deactivate", headers=ssws(okta), timeout=TIMEOUT)
    oauth_error(request_token(okta, *demo), 400, "access_denied")
    requests.post(f"{policy_url}/lifecycle/activate", headers=ssws(okta), timeout=TIMEOUT)
    rule_id = get(okta, f"{policy_url}/rules").json()[0]["id"]
    requests.post(f"{policy_url}/rules/{rule_id}/lifecycle/deactivate", headers=ssws(okta), timeout=TIMEOUT)
    oauth_error(request_token(okta, *demo), 400, "access_denied")  # in a policy, but no rule applies
    requests.post(f"{policy_url}/rules/{rule_id}/lifecycle/activate", headers=ssws(okta), timeout=TIMEOUT)
    assert request_token(okta, *demo).status_code == 200


def test_evaluation_falls_through_to_later_rules_and_policies(okta: LocalOkta) -> None:
    # The demo client's own policy covers hello only; a later ALL_CLIENTS policy grants register.
    everyone = post(okta, policies_url(okta), policy_body("everyone", ["ALL_CLIENTS"], priority=5))
    post(okta, policies_url(okta, f"/{everyone['id']}/rules"), rule_body("register for all", ["register"]))
    demo = (okta.env["CLIENT_ID"], okta.env["CLIENT_SECRET"])
    assert request_token(okta, *demo, "register").status_code == 200
    # And a client in no policy of its own falls to ALL_CLIENTS too
    client_id, secret = new_client(okta, "anyone")
    assert request_token(okta, client_id, secret, "register").status_code == 200
    oauth_error(request_token(okta, client_id, secret, "hello"), 400, "access_denied")


def test_star_scopes_and_rule_order(okta: LocalOkta) -> None:
    client_id, secret = new_client(okta, "starry")
    policy = post(okta, policies_url(okta), policy_body("starry", [client_id]))
    rules = policies_url(okta, f"/{policy['id']}/rules")
    post(okta, rules, rule_body("short", ["hello"], priority=1, actions={"token": {"accessTokenLifetimeMinutes": 5}}))
    post(okta, rules, rule_body("any", ["*"], priority=2))
    short = request_token(okta, client_id, secret, "hello").json()
    assert short["expires_in"] == 300  # the first matching rule's lifetime
    both = request_token(okta, client_id, secret, "hello register").json()
    assert both["scope"] == "hello register" and both["expires_in"] == 3600


def test_rules_that_need_a_user_never_match_client_credentials(okta: LocalOkta) -> None:
    client_id, secret = new_client(okta, "userless")
    policy = post(okta, policies_url(okta), policy_body("userless", [client_id]))
    people = {"users": {"include": ["00uSomeUser000000000"], "exclude": []}}
    post(
        okta,
        policies_url(okta, f"/{policy['id']}/rules"),
        rule_body(
            "users",
            ["hello"],
            conditions={
                "people": people,
                "grantTypes": {"include": ["client_credentials"]},
                "scopes": {"include": ["hello"]},
            },
        ),
    )
    oauth_error(request_token(okta, client_id, secret, "hello"), 400, "access_denied")


def test_rules_for_other_grant_types_do_not_match(okta: LocalOkta) -> None:
    client_id, secret = new_client(okta, "codeflow")
    policy = post(okta, policies_url(okta), policy_body("codeflow", [client_id]))
    body = rule_body("code only", ["hello"])
    body["conditions"]["grantTypes"]["include"] = ["authorization_code"]
    post(okta, policies_url(okta, f"/{policy['id']}/rules"), body)
    oauth_error(request_token(okta, client_id, secret, "hello"), 400, "access_denied")


def test_enroll_helper_and_policies_survive_a_restart(tmp_path: Path) -> None:
    with LocalOkta(tmp_path / "state") as first:
        client_id, secret = new_client(first, "durable")
        first.enroll(client_id)
        assert request_token(first, client_id, secret).status_code == 200
        policy_ids = (first.admin_policy_id, first.clients_policy_id)
    with LocalOkta(tmp_path / "state") as second:
        assert (second.admin_policy_id, second.clients_policy_id) == policy_ids
        assert len(get(second, policies_url(second)).json()) == 2  # nothing seeded twice
        assert request_token(second, client_id, secret).status_code == 200

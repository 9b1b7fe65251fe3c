"""okta_local's Apps API: what the register function calls, answered the way Okta answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from okta_local.testing import LocalOkta
from tests.integration.okta_local_fixtures import (
    TIMEOUT,
    create_app,
    okta,
    okta_error,
    request_token,
    service_app,
    ssws,
    verify,
)

pytestmark = pytest.mark.integration
__all__ = ["okta"]  # re-exported fixture: pytest finds it here, and ruff reads it as used


def apps_url(okta: LocalOkta, suffix: str = "") -> str:
    return f"{okta.org_url}/api/v1/apps{suffix}"


def test_created_service_app_answers_like_okta_and_gets_tokens_once_enrolled(okta: LocalOkta) -> None:
    # Given the SSWS token, when a client-credentials service app is created the documented way
    app = create_app(okta, "orders-service")
    # Then the answer holds Okta's fields and the one-time client credentials
    oauth = app["credentials"]["oauthClient"]
    assert app["id"].startswith("0oa") and len(app["id"]) == 20
    assert app["name"] == "oidc_client" and app["label"] == "orders-service" and app["status"] == "ACTIVE"
    assert app["signOnMode"] == "OPENID_CONNECT"
    assert app["settings"]["oauthClient"]["grant_types"] == ["client_credentials"]
    assert app["settings"]["oauthClient"]["application_type"] == "service"
    assert oauth["client_id"] == app["id"]
    assert oauth["token_endpoint_auth_method"] == "client_secret_basic"
    assert len(oauth["client_secret"]) == 40
    assert app["created"].endswith("Z") and app["_links"]["self"]["href"] == apps_url(okta, f"/{app['id']}")
    assert app["settings"]["oauthClient"]["dpop_bound_access_tokens"] is False
    assert "jwks" not in app["settings"]["oauthClient"]
    # And, as with Okta, the new app is in no access policy: no token until it is enrolled in one
    refused = request_token(okta, oauth["client_id"], oauth["client_secret"], "hello")
    assert refused.status_code == 400 and refused.json()["error"] == "access_denied"
    okta.enroll(app["id"])
    # Then it gets a hello token that verifies against the published keys
    response = request_token(okta, oauth["client_id"], oauth["client_secret"], "hello")
    assert response.status_code == 200, response.text
    claims = verify(okta, response.json()["access_token"])
    assert claims["sub"] == claims["cid"] == app["id"] and claims["scp"] == ["hello"]


def test_enrolled_app_may_not_ask_for_register(okta: LocalOkta) -> None:
    oauth = create_app(okta, "no-register")["credentials"]["oauthClient"]
    okta.enroll(oauth["client_id"])
    response = request_token(okta, oauth["client_id"], oauth["client_secret"], "register")
    assert response.status_code == 400 and response.json()["error"] == "access_denied"


def test_app_with_post_auth_method_is_recorded_and_gets_tokens(okta: LocalOkta) -> None:
    app = create_app(okta, "post-client", auth_method="client_secret_post")
    oauth = app["credentials"]["oauthClient"]
    assert oauth["token_endpoint_auth_method"] == "client_secret_post"
    okta.enroll(app["id"])
    response = requests.post(
        okta.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": oauth["client_id"],
            "client_secret": oauth["client_secret"],
        },
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text


def test_get_app_shows_it_without_the_secret(okta: LocalOkta) -> None:
    created = create_app(okta, "lookup")
    response = requests.get(apps_url(okta, f"/{created['id']}"), headers=ssws(okta), timeout=TIMEOUT)
    app = response.json()
    assert response.status_code == 200
    assert app["id"] == created["id"] and app["label"] == "lookup"
    assert "client_secret" not in app["credentials"]["oauthClient"]


def test_list_with_q_matches_label_prefix_case_insensitively(okta: LocalOkta) -> None:
    first = create_app(okta, "Billing-API")
    second = create_app(okta, "billing-worker")
    create_app(okta, "shipping")
    response = requests.get(apps_url(okta), params={"q": "billing"}, headers=ssws(okta), timeout=TIMEOUT)
    assert response.status_code == 200
    assert [a["id"] for a in response.json()] == [first["id"], second["id"]]
    assert all("client_secret" not in a["credentials"]["oauthClient"] for a in response.json())


def test_list_pages_with_limit_and_after_link(okta: LocalOkta) -> None:
    ids = [create_app(okta, f"paged-{n}")["id"] for n in range(3)]
    response = requests.get(apps_url(okta), params={"q": "paged-", "limit": "2"}, headers=ssws(okta), timeout=TIMEOUT)
    assert [a["id"] for a in response.json()] == ids[:2]
    next_url = response.links["next"]["url"]
    assert next_url.startswith(okta.org_url)
    rest = requests.get(next_url, headers=ssws(okta), timeout=TIMEOUT)
    assert [a["id"] for a in rest.json()] == ids[2:]
    assert "next" not in rest.links


def test_list_filters_by_status(okta: LocalOkta) -> None:
    app = create_app(okta, "filtered")
    requests.post(apps_url(okta, f"/{app['id']}/lifecycle/deactivate"), headers=ssws(okta), timeout=TIMEOUT)
    response = requests.get(
        apps_url(okta), params={"q": "filtered", "filter": 'status eq "INACTIVE"'}, headers=ssws(okta), timeout=TIMEOUT
    )
    assert [a["id"] for a in response.json()] == [app["id"]]
    bad = requests.get(apps_url(okta), params={"filter": "name sw 'x'"}, headers=ssws(okta), timeout=TIMEOUT)
    okta_error(bad, 400, "E0000001")


def test_deactivated_app_gets_no_token_and_can_then_be_deleted(okta: LocalOkta) -> None:
    app = create_app(okta, "retired")
    oauth = app["credentials"]["oauthClient"]
    url = apps_url(okta, f"/{app['id']}")
    # Okta deletes only deactivated apps
    okta_error(requests.delete(url, headers=ssws(okta), timeout=TIMEOUT), 403, "E0000056")
    deactivated = requests.post(f"{url}/lifecycle/deactivate", headers=ssws(okta), timeout=TIMEOUT)
    assert deactivated.status_code == 200 and deactivated.json() == {}
    assert requests.get(url, headers=ssws(okta), timeout=TIMEOUT).json()["status"] == "INACTIVE"
    refused = request_token(okta, oauth["client_id"], oauth["client_secret"])
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    deleted = requests.delete(url, headers=ssws(okta), timeout=TIMEOUT)
    assert deleted.status_code == 204 and deleted.content == b""
    okta_error(requests.get(url, headers=ssws(okta), timeout=TIMEOUT), 404, "E0000007")


def test_reactivated_app_gets_tokens_again(okta: LocalOkta) -> None:
    app = create_app(okta, "comeback")
    oauth = app["credentials"]["oauthClient"]
    okta.enroll(app["id"])
    url = apps_url(okta, f"/{app['id']}/lifecycle")
    requests.post(f"{url}/deactivate", headers=ssws(okta), timeout=TIMEOUT)
    requests.post(f"{url}/activate", headers=ssws(okta), timeout=TIMEOUT)
    assert request_token(okta, oauth["client_id"], oauth["client_secret"]).status_code == 200


def test_activate_false_creates_an_inactive_app(okta: LocalOkta) -> None:
    response = requests.post(
        apps_url(okta), params={"activate": "false"}, json=service_app("dormant"), headers=ssws(okta), timeout=TIMEOUT
    )
    assert response.status_code == 200 and response.json()["status"] == "INACTIVE"


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("name",), "bookmark", "name"),
        (("label",), "", "label"),
        (("label",), None, "label"),
        (("label",), "x" * 101, "label"),
        (("signOnMode",), "SAML_2_0", "signOnMode"),
        (("settings", "oauthClient", "application_type"), "web", "application_type"),
        (("settings", "oauthClient", "grant_types"), ["authorization_code"], "grant_types"),
        (("settings", "oauthClient", "grant_types"), "client_credentials", "grant_types"),
        (("settings", "oauthClient", "response_types"), ["code"], "response_types"),
        (("credentials", "oauthClient", "token_endpoint_auth_method"), "private_key_jwt", "jwks"),  # no keys
        (("credentials", "oauthClient", "token_endpoint_auth_method"), "none", "token_endpoint_auth_method"),
        (
            ("credentials", "oauthClient", "token_endpoint_auth_method"),
            "client_secret_jwt",
            "token_endpoint_auth_method",
        ),
        (("settings", "oauthClient", "dpop_bound_access_tokens"), "yes", "dpop_bound_access_tokens"),
        (("settings", "oauthClient", "jwks"), {"keys": []}, "jwks"),  # keys for a client_secret app
        (("settings",), None, "application_type"),
    ],
)
def test_invalid_app_body_is_api_validation_failed(
    okta: LocalOkta, path: tuple[str, ...], value: Any, field: str
) -> None:
    # Given a documented body with one field broken
    body = service_app("broken")
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    # When it is posted, then Okta's E0000001 names the field and nothing is created
    before = requests.get(apps_url(okta), params={"q": "broken"}, headers=ssws(okta), timeout=TIMEOUT).json()
    response = requests.post(apps_url(okta), json=body, headers=ssws(okta), timeout=TIMEOUT)
    error = okta_error(response, 400, "E0000001")
    assert any(field in cause["errorSummary"] for cause in error["errorCauses"])
    after = requests.get(apps_url(okta), params={"q": "broken"}, headers=ssws(okta), timeout=TIMEOUT).json()
    assert after == before


def test_invalid_activate_parameter_is_refused(okta: LocalOkta) -> None:
    response = requests.post(
        apps_url(okta), params={"activate": "maybe"}, json=service_app("x"), headers=ssws(okta), timeout=TIMEOUT
    )
    okta_error(response, 400, "E0000001")


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"", b"\xff"])
def test_malformed_json_is_e0000003(okta: LocalOkta, body: bytes) -> None:
    headers = {**ssws(okta), "Content-Type": "application/json"}
    response = requests.post(apps_url(okta), data=body, headers=headers, timeout=TIMEOUT)
    okta_error(response, 400, "E0000003")


@pytest.mark.parametrize(
    "authorization",
    [None, "SSWS", "SSWS 00wrongtoken", "Bearer {token}", "ssws {token}", "SSWS {token}x"],
)
@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("POST", ""), ("GET", "/0oaAnyId")])
def test_missing_or_wrong_api_token_is_e0000011(
    okta: LocalOkta, authorization: str | None, method: str, suffix: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization.format(token=okta.api_token)}
    response = requests.request(method, apps_url(okta, suffix), json=service_app("x"), headers=headers, timeout=TIMEOUT)
    okta_error(response, 401, "E0000011")
    assert "X-Rate-Limit-Limit" in response.headers


def test_client_secret_is_not_an_api_token(okta: LocalOkta) -> None:
    response = requests.get(apps_url(okta), headers=ssws(okta, okta.env["CLIENT_SECRET"]), timeout=TIMEOUT)
    okta_error(response, 401, "E0000011")


@pytest.mark.parametrize(
    ("method", "suffix", "status", "code"),
    [
        ("GET", "/0oaDoesNotExist00000", 404, "E0000007"),
        ("DELETE", "/0oaDoesNotExist00000", 404, "E0000007"),
        ("POST", "/0oaDoesNotExist00000/lifecycle/deactivate", 404, "E0000007"),
        ("GET", "/{demo}/lifecycle/deactivate", 405, "E0000022"),
        ("PUT", "", 405, "E0000022"),
        ("POST", "/{demo}", 405, "E0000022"),
        ("GET", "/{demo}/users", 404, "E0000007"),
    ],
)
def test_unknown_apps_and_methods_get_okta_errors(
    okta: LocalOkta, method: str, suffix: str, status: int, code: str
) -> None:
    url = apps_url(okta, suffix.format(demo=okta.env["CLIENT_ID"]))
    okta_error(requests.request(method, url, headers=ssws(okta), timeout=TIMEOUT), status, code)


def test_every_apps_answer_carries_rate_limit_headers(okta: LocalOkta) -> None:
    # Two requests in one window (a window that ends between them is seen by its reset, and they are sent again)
    for _ in range(3):
        sent = time.time()
        first = requests.get(apps_url(okta), headers=ssws(okta), timeout=TIMEOUT)
        second = requests.get(apps_url(okta), headers=ssws(okta), timeout=TIMEOUT)
        answered = time.time()
        if first.headers["X-Rate-Limit-Reset"] == second.headers["X-Rate-Limit-Reset"]:
            break
    for response in (first, second):
        assert int(response.headers["X-Rate-Limit-Limit"]) == 10_000
        # the window ends after the request was sent, and at most a minute after it was answered
        assert sent < int(response.headers["X-Rate-Limit-Reset"]) <= answered + 60
    assert int(second.headers["X-Rate-Limit-Remaining"]) == int(first.headers["X-Rate-Limit-Remaining"]) - 1


@pytest.fixture
def limited(tmp_path: Any) -> Iterator[LocalOkta]:
    with LocalOkta(tmp_path, apps_rate_limit=3) as server:
        yield server


def test_requests_past_the_limit_get_429_e0000047(limited: LocalOkta) -> None:
    # Given a limit of 3 a minute, when a 4th request comes in the same minute
    answers = [requests.get(apps_url(limited), headers=ssws(limited), timeout=TIMEOUT) for _ in range(4)]
    # Then the first three pass with a falling remainder and the 4th is Okta's 429
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-Rate-Limit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    okta_error(answers[3], 429, "E0000047")
    assert answers[3].headers["X-Rate-Limit-Limit"] == "3"
    # And the token endpoint is not part of that bucket
    assert limited.token()


def test_an_app_profile_is_kept_and_shown_in_reads_and_searches(okta: LocalOkta) -> None:
    body = {**service_app("profiled-service"), "profile": {"okta_m2m_registration": "r-1"}}
    made = requests.post(apps_url(okta), json=body, headers=ssws(okta), timeout=TIMEOUT)
    assert made.status_code == 200, made.text
    app_id = made.json()["id"]

    read = requests.get(apps_url(okta, f"/{app_id}"), headers=ssws(okta), timeout=TIMEOUT).json()
    found = requests.get(apps_url(okta), params={"q": "profiled"}, headers=ssws(okta), timeout=TIMEOUT).json()

    assert read["profile"] == {"okta_m2m_registration": "r-1"}
    assert [a["profile"] for a in found if a["id"] == app_id] == [{"okta_m2m_registration": "r-1"}]
    assert create_app(okta, "plain-service")["profile"] == {}


def test_a_profile_that_is_not_an_object_is_refused(okta: LocalOkta) -> None:
    body = {**service_app("bad-profile"), "profile": ["not", "an", "object"]}

    refused = requests.post(apps_url(okta), json=body, headers=ssws(okta), timeout=TIMEOUT)

    assert refused.status_code == 400
    assert refused.json()["errorCode"] == "E0000001"

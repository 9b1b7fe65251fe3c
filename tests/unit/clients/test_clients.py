"""What PUT /clients/{clientId} accepts as a client credentials service app (okta_local makes no other kind)."""

from __future__ import annotations

import copy

import pytest

from okta_m2m.clients._operations import _is_service_client, check_id
from okta_m2m.errors import InvalidRequestError

SERVICE_APP = {
    "id": "0oa1service",
    "signOnMode": "OPENID_CONNECT",
    "credentials": {"oauthClient": {"client_id": "0oa1service"}},
    "settings": {"oauthClient": {"grant_types": ["client_credentials"], "application_type": "service"}},
}


def changed(path: tuple[str, ...], value: object) -> dict:
    app = copy.deepcopy(SERVICE_APP)
    target = app
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return app


def test_a_client_credentials_service_app_is_one():
    assert _is_service_client(SERVICE_APP, "0oa1service")


@pytest.mark.parametrize(
    "app",
    [
        changed(("signOnMode",), "SAML_2_0"),
        changed(("credentials", "oauthClient", "client_id"), "custom-client-id"),
        changed(("settings", "oauthClient", "grant_types"), ["authorization_code"]),
        changed(("settings",), None),
        {"id": "0oa1service"},
    ],
    ids=["saml", "client-id-not-the-app-id", "no-client-credentials", "no-settings", "bare"],
)
def test_anything_else_is_not(app):
    assert not _is_service_client(app, "0oa1service")


@pytest.mark.parametrize("value", [None, "", "a/b", "a.b", "x" * 101, "0oa 1", "%2e%2e"])
def test_an_id_that_cannot_name_an_okta_object_is_a_400(value):
    with pytest.raises(InvalidRequestError, match="^clientId is not a valid id$"):
        check_id(value, "clientId")


def test_an_id_with_a_trailing_newline_is_a_400():
    # `^...$` with re.match let "0oa1\n" through: `$` also matches before a final newline.
    with pytest.raises(InvalidRequestError, match="^clientId is not a valid id$"):
        check_id("0oa1service\n", "clientId")

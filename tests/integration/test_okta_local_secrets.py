"""okta_local's client secrets API (/api/v1/apps/{id}/credentials/secrets): rotation with no downtime, as on Okta."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from okta_local.credentials import verify_secret
from okta_local.server import DB_FILE
from okta_local.store import Store
from okta_local.testing import LocalOkta
from tests.integration.okta_local_fixtures import (
    TIMEOUT,
    assertion,
    clean_faults,
    create_app,
    create_key_app,
    oauth_error,
    okta,
    okta_error,
    org_token,
    request_token,
    ssws,
)

pytestmark = pytest.mark.integration
__all__ = ["clean_faults", "okta"]  # re-exported fixtures: pytest finds them here, and ruff reads them as used

MEDIATED = "Api validation failed: OAuth2ClientSecretMediated"


def secrets_url(okta: LocalOkta, app_id: str, suffix: str = "") -> str:
    return f"{okta.org_url}/api/v1/apps/{app_id}/credentials/secrets{suffix}"


def call(okta: LocalOkta, method: str, app_id: str, suffix: str = "", **kwargs: Any) -> requests.Response:
    """Call the secrets API with the SSWS token."""
    headers = kwargs.pop("headers", ssws(okta))
    return requests.request(method, secrets_url(okta, app_id, suffix), headers=headers, timeout=TIMEOUT, **kwargs)


def refused(response: requests.Response, summary: str, cause: str) -> None:
    """Check Okta's 400 E0000001 with its summary and the one cause."""
    body = okta_error(response, 400, "E0000001")
    assert body["errorSummary"] == summary
    assert body["errorCauses"] == [{"errorSummary": cause}]


def enrolled_app(okta: LocalOkta, label: str) -> tuple[str, str]:
    """Create a client secret app in the clients policy; return (client id, first secret)."""
    oauth = create_app(okta, label)["credentials"]["oauthClient"]
    okta.enroll(oauth["client_id"])
    return oauth["client_id"], oauth["client_secret"]


def post_token(okta: LocalOkta, client_id: str, secret: str) -> requests.Response:
    """A token request with client_secret_post."""
    data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": "hello"}
    return requests.post(okta.token_url, data=data, timeout=TIMEOUT)


def gets_token(okta: LocalOkta, client_id: str, secret: str) -> bool:
    """Whether the secret gets a hello token with both client secret methods (and fails with both)."""
    basic, post = request_token(okta, client_id, secret), post_token(okta, client_id, secret)
    assert basic.status_code == post.status_code, (basic.text, post.text)
    if basic.status_code == 200:
        return True
    oauth_error(basic, 401, "invalid_client")
    oauth_error(post, 401, "invalid_client")
    return False


def stored_secret_rows(okta: LocalOkta) -> list[tuple[Any, ...]]:
    with sqlite3.connect(okta.state_dir / DB_FILE) as database:
        return database.execute("SELECT * FROM client_secrets").fetchall()


def legacy_hash(okta: LocalOkta, app_id: str) -> str:
    """Return apps.secret_hash, read through a second Store on the server's database."""
    store = Store(okta.state_dir / DB_FILE)
    try:
        app = store.get_app(app_id)
        assert app is not None
        return app.secret_hash
    finally:
        store.close()


def test_a_new_app_lists_its_one_active_secret_masked(okta: LocalOkta) -> None:
    # Given an app just made with POST /api/v1/apps
    app = create_app(okta, "listed")
    plaintext = app["credentials"]["oauthClient"]["client_secret"]
    # When its secrets are listed
    listed = call(okta, "GET", app["id"])
    # Then there is one ACTIVE OAuth2ClientSecret, shown without its value, with the rate-limit headers
    assert listed.status_code == 200, listed.text
    assert "X-Rate-Limit-Remaining" in listed.headers
    assert plaintext not in listed.text
    [secret] = listed.json()
    assert set(secret) == {"id", "status", "client_secret", "secret_hash", "created", "lastUpdated", "_links"}
    assert secret["id"].startswith("ocs") and len(secret["id"]) == 20
    assert secret["status"] == "ACTIVE" and secret["client_secret"] == "******"
    assert len(secret["secret_hash"]) == 22 and secret["created"].endswith("Z") and secret["lastUpdated"].endswith("Z")
    href = secrets_url(okta, app["id"], f"/{secret['id']}")
    assert secret["_links"] == {
        "deactivate": {"href": f"{href}/lifecycle/deactivate", "hints": {"allow": ["POST"]}},
    }
    # And GET of the one secret shows the same object
    one = call(okta, "GET", app["id"], f"/{secret['id']}")
    assert one.status_code == 200 and one.json() == secret


def test_a_secret_is_rotated_with_no_downtime(okta: LocalOkta) -> None:
    client_id, old = enrolled_app(okta, "rotated")
    [old_record] = call(okta, "GET", client_id).json()
    # When a second secret is made (no body: Okta generates it)
    created = call(okta, "POST", client_id)
    # Then the answer is 201 with the plaintext, once, and both secrets get tokens with either method
    assert created.status_code == 201, created.text
    new_record = created.json()
    new = new_record["client_secret"]
    assert new_record["status"] == "ACTIVE" and len(new) == 40 and new != old
    assert gets_token(okta, client_id, old) and gets_token(okta, client_id, new)
    listed = call(okta, "GET", client_id)
    assert [s["id"] for s in listed.json()] == [old_record["id"], new_record["id"]] and new not in listed.text
    # And a third secret is refused, as Okta refuses it
    refused(
        call(okta, "POST", client_id, json={}),
        MEDIATED,
        "You have reached the maximum number of client secrets per client.",
    )
    # And an ACTIVE secret cannot be deleted
    active_delete = call(okta, "DELETE", client_id, f"/{old_record['id']}")
    refused(
        active_delete, MEDIATED, "You can't delete an active client secret. Deactivate the secret before deleting it."
    )
    # When the old one is deactivated, it no longer authenticates; the new one still does
    off = call(okta, "POST", client_id, f"/{old_record['id']}/lifecycle/deactivate")
    assert off.status_code == 200, off.text
    assert off.json()["status"] == "INACTIVE" and set(off.json()["_links"]) == {"activate", "delete"}
    assert not gets_token(okta, client_id, old) and gets_token(okta, client_id, new)
    # And once deleted it is gone for good
    assert call(okta, "DELETE", client_id, f"/{old_record['id']}").status_code == 204
    assert [s["id"] for s in call(okta, "GET", client_id).json()] == [new_record["id"]]
    okta_error(call(okta, "GET", client_id, f"/{old_record['id']}"), 404, "E0000007")
    assert not gets_token(okta, client_id, old) and gets_token(okta, client_id, new)


def test_the_only_active_secret_cannot_be_deactivated(okta: LocalOkta) -> None:
    client_id, first = enrolled_app(okta, "last-active")
    [record] = call(okta, "GET", client_id).json()
    only = "You can't deactivate the only active client secret."
    refused(call(okta, "POST", client_id, f"/{record['id']}/lifecycle/deactivate"), MEDIATED, only)
    # Not even with a second, INACTIVE, secret beside it
    spare = call(okta, "POST", client_id, json={"status": "INACTIVE"})
    assert spare.status_code == 201 and spare.json()["status"] == "INACTIVE"
    refused(call(okta, "POST", client_id, f"/{record['id']}/lifecycle/deactivate"), MEDIATED, only)
    assert not gets_token(okta, client_id, spare.json()["client_secret"])
    # Once the spare is activated, the first may go; deactivating twice is no error
    activated = call(okta, "POST", client_id, f"/{spare.json()['id']}/lifecycle/activate")
    assert activated.status_code == 200 and activated.json()["status"] == "ACTIVE"
    assert gets_token(okta, client_id, spare.json()["client_secret"])
    for _ in range(2):
        off = call(okta, "POST", client_id, f"/{record['id']}/lifecycle/deactivate")
        assert off.status_code == 200 and off.json()["status"] == "INACTIVE"
    assert not gets_token(okta, client_id, first)


def test_a_caller_may_bring_its_own_secret(okta: LocalOkta) -> None:
    client_id, _ = enrolled_app(okta, "own-secret")
    own = "my-own-secret-of-30-characters"
    created = call(okta, "POST", client_id, json={"client_secret": own})
    assert created.status_code == 201 and created.json()["client_secret"] == own
    assert gets_token(okta, client_id, own)


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        ({"client_secret": "too-short"}, "client_secret: 'client_secret' must be at least '14' characters long."),
        ({"client_secret": "x" * 101}, "client_secret: 'client_secret' cannot be more than '100' characters long."),
        (
            {"client_secret": "secret-with-ümlaut"},
            "client_secret: ''client_secret'' must only contain printable ASCII: [x20-x7E]+",
        ),
        ({"client_secret": 12345678901234567}, "client_secret: 'client_secret' must be a string."),
    ],
)
def test_an_invalid_own_secret_is_refused(okta: LocalOkta, body: dict[str, Any], cause: str) -> None:
    client_id = okta.env["CLIENT_ID"]
    refused(call(okta, "POST", client_id, json=body), "Api validation failed: client_secret", cause)
    assert len(call(okta, "GET", client_id).json()) == 1


def test_a_bad_status_or_body_is_refused(okta: LocalOkta) -> None:
    client_id = okta.env["CLIENT_ID"]
    refused(
        call(okta, "POST", client_id, json={"status": "SUSPENDED"}),
        "Api validation failed: status",
        "status: must be ACTIVE or INACTIVE",
    )
    okta_error(call(okta, "POST", client_id, data=b"{not json"), 400, "E0000003")


def test_a_private_key_jwt_app_has_no_secrets(okta: LocalOkta) -> None:
    app_id, _, _ = create_key_app(okta, "keys-only", scopes=())
    listed = call(okta, "GET", app_id)
    assert listed.status_code == 200 and listed.json() == []
    cause = "'client_secret' cannot be used when 'token_endpoint_auth_method' is 'private_key_jwt'."
    refused(call(okta, "POST", app_id), MEDIATED, cause)


@pytest.mark.parametrize(
    ("method", "suffix", "status", "code", "kind"),
    [
        ("GET", "", 404, "E0000007", "AppInstance"),
        ("POST", "", 404, "E0000007", "AppInstance"),
        ("GET", "/ocsNoSuchSecret00000", 404, "E0000007", "OAuth2ClientSecretMediated"),
        ("DELETE", "/ocsNoSuchSecret00000", 404, "E0000007", "OAuth2ClientSecretMediated"),
        ("POST", "/ocsNoSuchSecret00000/lifecycle/deactivate", 404, "E0000007", "OAuth2ClientSecretMediated"),
        ("POST", "/ocsNoSuchSecret00000/lifecycle/activate", 404, "E0000007", "OAuth2ClientSecretMediated"),
        ("POST", "/ocsNoSuchSecret00000/lifecycle/suspend", 404, "E0000007", "Resource"),
        ("PUT", "", 405, "E0000022", None),
        ("POST", "/ocsNoSuchSecret00000", 405, "E0000022", None),
        ("GET", "/ocsNoSuchSecret00000/lifecycle/activate", 405, "E0000022", None),
    ],
)
def test_unknown_apps_secrets_and_methods_get_okta_errors(
    okta: LocalOkta, method: str, suffix: str, status: int, code: str, kind: str | None
) -> None:
    app_id = "0oaNoSuchApp00000000" if kind == "AppInstance" else okta.env["CLIENT_ID"]
    body = okta_error(call(okta, method, app_id, suffix), status, code)
    if kind:
        assert body["errorSummary"].endswith(f"({kind})")


def test_other_credentials_are_not_found(okta: LocalOkta) -> None:
    url = f"{okta.org_url}/api/v1/apps/{okta.env['CLIENT_ID']}/credentials/jwks"
    okta_error(requests.get(url, headers=ssws(okta), timeout=TIMEOUT), 404, "E0000007")


def bearer(okta: LocalOkta, label: str, scope: str) -> dict[str, str]:
    """Return Bearer headers with an org access token of a new app granted only that scope."""
    app_id, key, kid = create_key_app(okta, label, scopes=(scope,))
    response = org_token(okta, assertion(okta, app_id, key, kid), scope)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Accept": "application/json"}


def test_a_read_scope_lists_secrets_but_cannot_change_them(okta: LocalOkta) -> None:
    reader = bearer(okta, "secrets-reader", "okta.apps.read")
    client_id = create_app(okta, "read-only-target")["id"]
    [record] = call(okta, "GET", client_id, headers=reader).json()
    assert call(okta, "GET", client_id, f"/{record['id']}", headers=reader).status_code == 200
    for method, suffix in [
        ("POST", ""),
        ("POST", f"/{record['id']}/lifecycle/deactivate"),
        ("DELETE", f"/{record['id']}"),
    ]:
        response = call(okta, method, client_id, suffix, headers=reader)
        okta_error(response, 403, "E0000006")
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert len(call(okta, "GET", client_id).json()) == 1
    # And okta.apps.manage may write
    manager = bearer(okta, "secrets-manager", "okta.apps.manage")
    assert call(okta, "POST", client_id, headers=manager).status_code == 201


def test_apps_faults_hit_the_secrets_api(clean_faults: LocalOkta) -> None:
    clean_faults.set_faults(apps=500)
    response = call(clean_faults, "GET", clean_faults.env["CLIENT_ID"])
    okta_error(response, 500, "E0000009")
    assert "X-Rate-Limit-Limit" in response.headers


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[LocalOkta]:
    with LocalOkta(tmp_path, apps_rate_limit=2) as server:
        yield server


def test_secrets_calls_share_the_apps_rate_limit(limited: LocalOkta) -> None:
    apps = requests.get(f"{limited.org_url}/api/v1/apps", headers=ssws(limited), timeout=TIMEOUT)
    secrets = [call(limited, "GET", limited.env["CLIENT_ID"]) for _ in range(2)]
    assert [apps.status_code, *(s.status_code for s in secrets)] == [200, 200, 429]
    okta_error(secrets[1], 429, "E0000047")


def test_secrets_are_stored_hashed_and_go_with_their_app(okta: LocalOkta) -> None:
    app = create_app(okta, "hashed")
    created = call(okta, "POST", app["id"], json={"client_secret": "a-plaintext-never-stored"}).json()
    rows = [r for r in stored_secret_rows(okta) if app["id"] in r]
    assert len(rows) == 2
    for plaintext in (app["credentials"]["oauthClient"]["client_secret"], created["client_secret"]):
        assert not any(plaintext in str(value) for row in rows for value in row)
    assert all(any(str(v).startswith("pbkdf2_sha256$") for v in row) for row in rows)
    # When the app is deleted, its secrets are deleted with it
    url = f"{okta.org_url}/api/v1/apps/{app['id']}"
    assert requests.post(f"{url}/lifecycle/deactivate", headers=ssws(okta), timeout=TIMEOUT).status_code == 200
    assert requests.delete(url, headers=ssws(okta), timeout=TIMEOUT).status_code == 204
    assert not [r for r in stored_secret_rows(okta) if app["id"] in r]


def test_local_okta_rotates_a_client_secret(okta: LocalOkta) -> None:
    client_id, old = enrolled_app(okta, "helper-rotated")
    okta.add_client_secret(client_id, status="INACTIVE")  # an INACTIVE leftover makes room for the new one
    new = okta.rotate_client_secret(client_id)
    assert gets_token(okta, client_id, new) and not gets_token(okta, client_id, old)
    [only] = okta.client_secrets(client_id)
    assert only["status"] == "ACTIVE"
    # And apps.secret_hash, all an older okta_local reads, follows the rotation
    assert verify_secret(new, legacy_hash(okta, client_id)) and not verify_secret(old, legacy_hash(okta, client_id))


def test_apps_secret_hash_is_the_newest_active_secret(okta: LocalOkta) -> None:
    client_id, first = enrolled_app(okta, "legacy-column")
    second = okta.add_client_secret(client_id)
    assert verify_secret(second["client_secret"], legacy_hash(okta, client_id))
    assert call(okta, "POST", client_id, f"/{second['id']}/lifecycle/deactivate").status_code == 200
    assert verify_secret(first, legacy_hash(okta, client_id))


def test_a_state_directory_with_only_secret_hash_gets_its_secret_records(tmp_path: Path) -> None:
    # Given a state directory from before client secrets: apps with secret_hash and no client_secrets table
    with LocalOkta(tmp_path) as first:
        client_id, secret = enrolled_app(first, "from-before")
        demo_secret = first.env["CLIENT_SECRET"]
    with sqlite3.connect(tmp_path / DB_FILE) as database:
        database.execute("DROP TABLE client_secrets")
    # When this version starts on it
    with LocalOkta(tmp_path) as okta:
        # Then each secret app has its hash as its one ACTIVE secret: the old secrets still work unchanged
        assert okta.env["CLIENT_SECRET"] == demo_secret
        assert gets_token(okta, client_id, secret) and okta.token()
        for app_id in (client_id, okta.env["CLIENT_ID"], okta.env["ADMIN_CLIENT_ID"]):
            assert [s["status"] for s in okta.client_secrets(app_id)] == ["ACTIVE"]
        assert okta.client_secrets(okta.service_client_id) == []
        # And they rotate like any other
        new = okta.rotate_client_secret(client_id)
        assert gets_token(okta, client_id, new) and not gets_token(okta, client_id, secret)


def test_the_store_adopts_a_legacy_secret_hash_once(tmp_path: Path) -> None:
    with LocalOkta(tmp_path) as okta:
        client_id, secret = enrolled_app(okta, "adopted")
    with sqlite3.connect(tmp_path / DB_FILE) as database:
        database.execute("DELETE FROM client_secrets WHERE app_id = ?", (client_id,))
    adopted = []
    for _ in range(2):  # every open adopts what is missing, and only that
        store = Store(tmp_path / DB_FILE)
        try:
            adopted.append(store.list_client_secrets(client_id))
        finally:
            store.close()
    [[first], [again]] = adopted
    assert first == again and first.status == "ACTIVE" and verify_secret(secret, first.secret_hash)


def test_a_lost_env_file_reissues_a_seeded_secret_and_drops_the_others(tmp_path: Path) -> None:
    with LocalOkta(tmp_path) as first:
        demo, old = first.env["CLIENT_ID"], first.env["CLIENT_SECRET"]
        added = first.add_client_secret(demo)["client_secret"]
    (tmp_path / "okta.env").unlink()
    with LocalOkta(tmp_path) as second:
        new = second.env["CLIENT_SECRET"]
        assert new not in (old, added) and second.token(demo, new)
        assert not gets_token(second, demo, old) and not gets_token(second, demo, added)
        assert [s["status"] for s in second.client_secrets(demo)] == ["ACTIVE"]


def test_an_inactive_app_gets_no_token_with_an_active_secret(okta: LocalOkta) -> None:
    client_id, secret = enrolled_app(okta, "inactive-app")
    second = okta.add_client_secret(client_id)["client_secret"]
    url = f"{okta.org_url}/api/v1/apps/{client_id}/lifecycle/deactivate"
    assert requests.post(url, headers=ssws(okta), timeout=TIMEOUT).status_code == 200
    assert not gets_token(okta, client_id, secret) and not gets_token(okta, client_id, second)

"""What okta_local seeds on first start (and keeps on restarts), and how it takes over an older state directory."""

from __future__ import annotations

import json
import sqlite3
import stat
import time
from pathlib import Path

import jwt
import pytest
import requests

from okta_local.credentials import hash_secret
from okta_local.envfile import read_env, write_env
from okta_local.testing import LocalOkta
from tests.integration.okta_local_fixtures import (
    TIMEOUT,
    assertion,
    decode_unverified,
    oauth_error,
    org_token,
    request_token,
    ssws,
    thumbprint,
)

pytestmark = pytest.mark.integration


def test_the_service_app_is_seeded_for_the_register_function(tmp_path: Path) -> None:
    with LocalOkta(tmp_path) as okta:
        env = okta.env
        # The private JWK: an absolute path, mode 0600, an RSA 2048 key whose public part is registered
        path = Path(env["OKTA_SERVICE_PRIVATE_JWK_FILE"])
        assert path.is_absolute() and path == (tmp_path / "service-app.jwk.json").resolve()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        private = json.loads(path.read_text())
        assert private["kty"] == "RSA" and private["kid"] and private["d"]
        key = jwt.PyJWK(private).key
        assert key.key_size == 2048
        app = requests.get(
            f"{okta.org_url}/api/v1/apps/{env['OKTA_SERVICE_CLIENT_ID']}", headers=ssws(okta), timeout=TIMEOUT
        ).json()
        assert app["status"] == "ACTIVE"
        assert app["credentials"]["oauthClient"]["token_endpoint_auth_method"] == "private_key_jwt"
        settings = app["settings"]["oauthClient"]
        assert settings["dpop_bound_access_tokens"] is True
        (registered,) = settings["jwks"]["keys"]
        assert registered["kid"] == private["kid"] and thumbprint(registered) == thumbprint(private)
        assert "d" not in registered
        grants = requests.get(
            f"{okta.org_url}/api/v1/apps/{app['id']}/grants", headers=ssws(okta), timeout=TIMEOUT
        ).json()
        assert sorted(g["scopeId"] for g in grants) == ["okta.apps.manage", "okta.authorizationServers.manage"]
        # It gets a DPoP-bound token with both scopes, and no Bearer token without a proof
        client = okta.service_client()
        token = client.token("okta.apps.manage okta.authorizationServers.manage")
        assert client.token_type == "DPoP"
        assert decode_unverified(token)["scp"] == ["okta.apps.manage", "okta.authorizationServers.manage"]
        no_proof = org_token(okta, assertion(okta, app["id"], key, private["kid"]))
        oauth_error(no_proof, 400, "invalid_dpop_proof")
        # The policies okta.env names exist and hold the seeded clients
        for name, client_id in (("OKTA_ADMIN_POLICY_ID", "ADMIN_CLIENT_ID"), ("OKTA_CLIENTS_POLICY_ID", "CLIENT_ID")):
            policy = requests.get(
                f"{okta.org_url}/api/v1/authorizationServers/default/policies/{env[name]}",
                headers=ssws(okta),
                timeout=TIMEOUT,
            ).json()
            assert policy["conditions"]["clients"]["include"] == [env[client_id]]


def test_restarts_keep_the_service_app_and_its_key(tmp_path: Path) -> None:
    with LocalOkta(tmp_path) as first:
        before = dict(first.env), first.service_jwk_path.read_text()
    with LocalOkta(tmp_path) as second:
        assert second.service_client_id == before[0]["OKTA_SERVICE_CLIENT_ID"]
        assert second.service_jwk_path.read_text() == before[1]
        assert second.clients_policy_id == before[0]["OKTA_CLIENTS_POLICY_ID"]
        assert second.admin_policy_id == before[0]["OKTA_ADMIN_POLICY_ID"]
        assert second.service_client().token("okta.apps.manage")


def test_a_lost_key_file_means_a_new_key_and_the_old_one_stops_working(tmp_path: Path) -> None:
    with LocalOkta(tmp_path) as first:
        old = first.service_jwk
        client_id = first.service_client_id
    first.service_jwk_path.unlink()
    with LocalOkta(tmp_path) as second:
        new = second.service_jwk
        assert second.service_client_id == client_id and new["kid"] != old["kid"]
        assert second.service_client().token("okta.apps.manage")
        stale = org_token(second, assertion(second, client_id, jwt.PyJWK(old).key, old["kid"]))
        oauth_error(stale, 401, "invalid_client")


_OLD_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE signing_keys (kid TEXT PRIMARY KEY, private_pem TEXT NOT NULL, created REAL NOT NULL, retire_at REAL);
CREATE TABLE apps (
    id TEXT PRIMARY KEY, label TEXT NOT NULL, status TEXT NOT NULL, secret_hash TEXT NOT NULL,
    auth_method TEXT NOT NULL, scopes TEXT NOT NULL, created REAL NOT NULL, last_updated REAL NOT NULL
);
CREATE TABLE api_tokens (name TEXT PRIMARY KEY, token_hash TEXT NOT NULL, created REAL NOT NULL);
"""


def test_a_state_directory_from_before_policies_is_taken_over(tmp_path: Path) -> None:
    # Given the state an earlier okta_local left: per-app scope lists, no policies, no service app
    now = time.time()
    apps = {
        "0oaOldAdmin000000000": ("okta_local admin", "register", "admin-secret"),
        "0oaOldDemo0000000000": ("okta_local demo", "hello", "demo-secret"),
        "0oaOldRegistered0000": ("registered earlier", "hello", "registered-secret"),
    }
    database = sqlite3.connect(tmp_path / "okta_local.sqlite3")
    database.executescript(_OLD_SCHEMA)
    for app_id, (label, scopes, secret) in apps.items():
        database.execute(
            "INSERT INTO apps VALUES (?, ?, 'ACTIVE', ?, 'client_secret_basic', ?, ?, ?)",
            (app_id, label, hash_secret(secret), scopes, now, now),
        )
    database.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [("admin_client_id", "0oaOldAdmin000000000"), ("demo_client_id", "0oaOldDemo0000000000")],
    )
    database.execute("INSERT INTO api_tokens VALUES ('okta_local', ?, ?)", (hash_secret("00old-api-token"), now))
    database.commit()
    database.close()
    write_env(
        tmp_path / "okta.env",
        {
            "OKTA_API_TOKEN": "00old-api-token",
            "ADMIN_CLIENT_ID": "0oaOldAdmin000000000",
            "ADMIN_CLIENT_SECRET": "admin-secret",
            "CLIENT_ID": "0oaOldDemo0000000000",
            "CLIENT_SECRET": "demo-secret",
        },
    )
    # When this version starts on it
    with LocalOkta(tmp_path) as okta:
        # Then the old credentials still work, and what is new is there
        assert okta.api_token == "00old-api-token" and okta.env["CLIENT_SECRET"] == "demo-secret"
        assert set(read_env(tmp_path / "okta.env")) >= {"OKTA_SERVICE_CLIENT_ID", "OKTA_CLIENTS_POLICY_ID"}
        assert request_token(okta, "0oaOldAdmin000000000", "admin-secret", "register").status_code == 200
        assert request_token(okta, "0oaOldDemo0000000000", "demo-secret", "hello").status_code == 200
        # And the app an earlier version let ask for hello still may: it is in the clients policy
        assert request_token(okta, "0oaOldRegistered0000", "registered-secret", "hello").status_code == 200
        policy = requests.get(
            f"{okta.org_url}/api/v1/authorizationServers/default/policies/{okta.clients_policy_id}",
            headers=ssws(okta),
            timeout=TIMEOUT,
        ).json()
        assert policy["conditions"]["clients"]["include"] == ["0oaOldDemo0000000000", "0oaOldRegistered0000"]
        assert okta.service_client().token("okta.apps.manage")

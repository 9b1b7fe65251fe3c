"""The register function in OAuth 2.0 for Okta mode (private_key_jwt, DPoP) against the local Okta server, with
moto's server as Secrets Manager (the service app's private JWK) and DynamoDB (the enrolment lease)."""

from __future__ import annotations

import contextlib
import importlib
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from okta_m2m.clients import _locks as locks
from okta_m2m.clients import _registration as registration
from okta_m2m.clients._okta_auth import okta_auth
from okta_m2m.clients._okta_client import OktaClient, service_app_body
from okta_m2m.clients._registry import Registry
from okta_m2m.clients._settings import register_settings
from okta_m2m.errors import EnrolmentFailedError
from tests.register_fixtures import all_log_output, fresh_tables, header, message_of, register_env, register_event

okta_testing = pytest.importorskip("okta_local.testing", reason="tools/okta_local is not available")

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    okta: Any
    app: Any
    context: Any

    def register(self, label: str, remaining_ms: int = 10_000) -> dict[str, Any]:
        self.context.remaining_millis = remaining_ms
        return self.app.lambda_handler(register_event({"label": label}), self.context)

    def policy_clients(self) -> list[str]:
        url = f"{self.okta.org_url}/api/v1/authorizationServers/default/policies/{self.okta.clients_policy_id}"
        policy = requests.get(url, headers=self.okta.ssws(), timeout=10).json()
        return policy["conditions"]["clients"]["include"]

    def apps_labelled(self, label: str) -> list[dict[str, Any]]:
        found = requests.get(
            f"{self.okta.org_url}/api/v1/apps", params={"q": label}, headers=self.okta.ssws(), timeout=10
        )
        return [a for a in found.json() if a["label"] == label]


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_endpoint: str, lambda_context: Any) -> Iterator[Stack]:
    with okta_testing.LocalOkta(tmp_path / "okta") as okta:
        register_env(monkeypatch, org_url=okta.org_url, auth_mode="oauth")
        secret_name = f"register-service-app-{uuid.uuid4().hex}"
        for name, value in {
            "ISSUER": okta.issuer,
            "OKTA_API_TOKEN_SECRET": secret_name,
            "OKTA_CLIENT_ID": okta.service_client_id,
            "OKTA_ACCESS_POLICY_ID": okta.clients_policy_id,
            "LOCKS_TABLE": "LocksTable",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB": moto_endpoint,
        }.items():
            monkeypatch.setenv(name, value)
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name=secret_name, SecretString=okta.service_jwk_path.read_text()
        )
        fresh_tables(moto_endpoint)
        clear_oauth_state()
        app = importlib.reload(importlib.import_module("functions.register.app"))
        yield Stack(okta, app, lambda_context)
        clear_oauth_state()


def clear_oauth_state() -> None:
    """A cold container: no cached access token, no nonce, a new DPoP key pair."""
    from okta_m2m.clients import _okta_auth as module

    module._TOKENS.clear()
    module._NONCES.clear()
    module.dpop_key.cache_clear()
    module._dpop_public_jwk.cache_clear()


def test_a_registered_client_is_enrolled_and_gets_only_the_hello_scope(stack):
    response = stack.register("Orders Service")
    assert response["statusCode"] == 201, response["body"]
    created = json.loads(response["body"])
    assert created["client_id"] in stack.policy_clients()
    token = stack.okta.token(created["client_id"], created["client_secret"], "hello")
    assert token.count(".") == 2
    with pytest.raises(Exception):  # noqa: B017, PT011 - the local server's client raises on invalid_scope
        stack.okta.token(created["client_id"], created["client_secret"], "register")


def fetches(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for record in caplog.records if record.getMessage() == "Okta access token fetched")


def test_the_access_token_is_fetched_once_and_reused(stack, caplog):
    caplog.set_level("INFO")
    assert stack.register("First")["statusCode"] == 201
    assert stack.register("Second")["statusCode"] == 201
    assert fetches(caplog) == 1


def test_no_credential_reaches_a_log_line(stack):
    from okta_m2m.clients import _okta_auth as module

    with all_log_output() as logs:
        response = stack.register("Quiet One")
    assert response["statusCode"] == 201
    text = logs.getvalue()
    secret = json.loads(stack.okta.service_jwk_path.read_text())
    (token,) = module._TOKENS.values()
    assert secret["d"] not in text and token.value not in text and "DPoP " not in text and "eyJ" not in text
    assert json.loads(response["body"])["client_secret"] not in text


def test_a_nonce_demanded_again_is_answered_with_one_retry(stack):
    stack.okta.set_faults(dpop_nonce="always")
    assert stack.register("Nonce Again")["statusCode"] == 201


@pytest.mark.parametrize(("fault", "status"), [("429", 429), ("fail", 502)])
def test_token_endpoint_faults_map_as_for_the_apps_api(stack, fault, status):
    stack.okta.set_faults(token=fault)
    response = stack.register(f"Faulty {fault}")
    assert response["statusCode"] == status
    if status == 429:
        assert int(header(response, "Retry-After")) >= 1
    assert stack.apps_labelled(f"Faulty {fault}") == []


def test_a_hanging_token_endpoint_is_a_timeout_within_the_invocation(stack):
    stack.okta.set_faults(token="hang")
    try:
        response = stack.register("Hung", remaining_ms=3_000)
    finally:
        stack.okta.clear_faults()
    assert response["statusCode"] == 504


def service_app_id(stack: Stack) -> str:
    apps = requests.get(f"{stack.okta.org_url}/api/v1/apps", headers=stack.okta.ssws(), timeout=10).json()
    return next(a["id"] for a in apps if a["credentials"]["oauthClient"]["client_id"] == stack.okta.service_client_id)


def test_a_revoked_service_app_cannot_register(stack):
    deactivate = f"{stack.okta.org_url}/api/v1/apps/{service_app_id(stack)}/lifecycle/deactivate"
    requests.post(deactivate, headers=stack.okta.ssws(), timeout=10).raise_for_status()
    response = stack.register("After Revocation")
    assert response["statusCode"] == 500
    assert message_of(response) == "Internal server error"
    assert stack.apps_labelled("After Revocation") == []


def test_a_token_refused_later_is_fetched_again_once(stack, caplog):
    caplog.set_level("INFO")
    assert stack.register("Before")["statusCode"] == 201
    from okta_m2m.clients import _okta_auth as module

    (key,) = module._TOKENS
    module._TOKENS[key] = module._TOKENS[key]._replace(value=module._TOKENS[key].value[:-4] + "AAAA")  # now refused
    caplog.clear()
    assert stack.register("After")["statusCode"] == 201
    assert fetches(caplog) == 1


def test_enrolment_failing_after_creation_removes_the_app(stack, monkeypatch):
    monkeypatch.setenv("OKTA_ACCESS_POLICY_ID", "00pnosuchpolicy")
    register_settings.cache_clear()
    response = stack.register("Never Half Made")
    assert response["statusCode"] == 502
    assert message_of(response) == "Okta did not enrol the new client; nothing was registered"
    assert stack.apps_labelled("Never Half Made") == []


class RacingOkta(OktaClient):
    """Every reader of the policy waits (briefly) for the other before going on: both read the same policy."""

    def __init__(self, *args: Any, barrier: threading.Barrier, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._barrier = barrier

    def get_policy(self, server_id: str, policy_id: str) -> dict[str, Any]:
        policy = super().get_policy(server_id, policy_id)
        try:
            self._barrier.wait(timeout=1)
        except threading.BrokenBarrierError:
            pass  # the other one is not reading now (it waits for the lease): go on
        return policy


def register_two_at_once(stack: Stack) -> list[str]:
    settings = register_settings()
    barrier, created, errors = threading.Barrier(2), [], []

    def one(label: str) -> None:
        try:
            okta = RacingOkta(
                settings.okta_org_url, lambda: 10_000, okta_auth(settings, lambda: 10_000), barrier=barrier
            )
            registry = Registry(settings.clients_table)
            made = registration.register_service_app(label, "0oacaller", settings, okta, registry, lambda: 10_000)
            created.append(made.client_id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(f"Racer {n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return created


def test_two_registrations_at_once_keep_both_enrolments(stack):
    created = register_two_at_once(stack)
    assert len(created) == 2
    assert set(created) <= set(stack.policy_clients())


def test_without_the_lease_the_race_loses_an_enrolment(stack, monkeypatch):
    # The hazard the lease prevents is real: two read-modify-write cycles on the same policy lose one client.
    monkeypatch.setattr(registration, "lease", lambda *args, **kwargs: nullcontext())
    monkeypatch.setattr(registration, "MAX_ENROL_ATTEMPTS", 1)
    settings = register_settings()
    barrier = threading.Barrier(2)
    client_ids: list[str] = []

    def one(label: str) -> None:
        okta = RacingOkta(settings.okta_org_url, lambda: 10_000, okta_auth(settings, lambda: 10_000), barrier=barrier)
        app = okta.create_service_app(label)
        client_ids.append(app.client_id)
        with contextlib.suppress(EnrolmentFailedError):  # the loser may see its loss in its check
            registration.enrol_client(okta, settings, app.client_id, lambda: 10_000)

    threads = [threading.Thread(target=one, args=(f"Unleased {n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(client_ids) == 2
    # Both read the same policy, both PUT it back with their own client added: the last PUT wins.
    assert len(set(client_ids) & set(stack.policy_clients())) == 1


def revoke_policies_grant(stack: Stack) -> None:
    grants_url = f"{stack.okta.org_url}/api/v1/apps/{service_app_id(stack)}/grants"
    grants = requests.get(grants_url, headers=stack.okta.ssws(), timeout=10).json()
    manage = next(g for g in grants if g["scopeId"] == "okta.authorizationServers.manage")
    requests.delete(f"{grants_url}/{manage['id']}", headers=stack.okta.ssws(), timeout=10).raise_for_status()


def test_a_missing_grant_is_a_set_up_error_and_creates_nothing(stack):
    revoke_policies_grant(stack)
    response = stack.register("Without Grant")
    assert response["statusCode"] == 500  # invalid_scope from the token endpoint: fix the service app's grants
    assert stack.apps_labelled("Without Grant") == []


def test_without_enrolment_only_the_apps_scope_is_asked_for(stack, monkeypatch):
    revoke_policies_grant(stack)
    monkeypatch.delenv("OKTA_ACCESS_POLICY_ID")
    register_settings.cache_clear()
    response = stack.register("Apps Scope Only")
    assert response["statusCode"] == 201
    assert json.loads(response["body"])["client_id"] not in stack.policy_clients()


def test_with_dpop_off_a_service_app_that_does_not_require_it_gets_bearer_tokens(stack, monkeypatch, caplog):
    # Given a second service app without DPoP (private_key_jwt, the two grants), its key in the secret
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key)) | {"kid": "no-dpop"}
    public = {k: private[k] for k in ("kty", "n", "e", "kid")}
    body = service_app_body("register without DPoP")
    body["credentials"]["oauthClient"]["token_endpoint_auth_method"] = "private_key_jwt"
    body["settings"]["oauthClient"] |= {"jwks": {"keys": [public]}, "dpop_bound_access_tokens": False}
    apps = f"{stack.okta.org_url}/api/v1/apps"
    created = requests.post(apps, json=body, headers=stack.okta.ssws(), timeout=10).json()
    for scope in ("okta.apps.manage", "okta.authorizationServers.manage"):
        grant = {"issuer": stack.okta.org_url, "scopeId": scope}
        requests.post(
            f"{apps}/{created['id']}/grants", json=grant, headers=stack.okta.ssws(), timeout=10
        ).raise_for_status()
    secret = f"register-no-dpop-{uuid.uuid4().hex}"
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name=secret, SecretString=json.dumps(private))
    for name, value in {
        "OKTA_API_TOKEN_SECRET": secret,
        "OKTA_CLIENT_ID": created["credentials"]["oauthClient"]["client_id"],
        "OKTA_DPOP": "false",
    }.items():
        monkeypatch.setenv(name, value)
    register_settings.cache_clear()
    caplog.set_level("INFO")
    # When it registers a client, Then it works with a Bearer token
    assert stack.register("Registered Without DPoP")["statusCode"] == 201
    (fetched,) = [r for r in caplog.records if r.getMessage() == "Okta access token fetched"]
    assert fetched.token_type == "Bearer"


def test_a_registry_that_cannot_be_reached_is_a_503_and_nothing_is_made_in_okta(stack, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{closed}")
    locks.dynamodb.cache_clear()

    response = stack.register("No Registry")

    assert response["statusCode"] == 503
    assert json.loads(response["body"]) == {"message": "The client registry is temporarily unavailable"}
    assert header(response, "Retry-After") == "2"
    assert stack.apps_labelled("No Registry") == []
    locks.dynamodb.cache_clear()

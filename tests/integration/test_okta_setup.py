"""`python -m okta_setup plan|apply|check` against the local Okta server started as an empty org, and moto.

Each test starts its own empty org (the default authorization server and a super-admin API token, as a new Okta
org) and a copy of samconfig.toml, and runs the tool's command line in this process, as a user runs it.
"""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from okta_local.testing import LocalOkta, OrgClient
from okta_setup.cli import main
from okta_setup.objects import SERVICE_GRANTS, Names
from okta_setup.okta import OktaApi, SswsAuth
from okta_setup.reconcile import Reconciler
from tests.integration.okta_local_fixtures import create_key_app, rsa_key, ssws

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10
NAMES = Names("okta-m2m-api")
SIX = ("Issuer", "OktaOrgUrl", "OktaApiTokenSecretArn", "OktaClientId", "OktaAccessPolicyId", "AdminClientId")


class Setup:
    """One empty org, moto's Secrets Manager, a samconfig.toml copy, and the tool's command line."""

    def __init__(self, okta: LocalOkta, tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.okta, self.tmp, self.capsys = okta, tmp, capsys
        self.config = tmp / "samconfig.toml"
        self.admin_env = tmp / "admin.env"
        shutil.copy(ROOT / "samconfig.toml", self.config)

    def run(self, command: str, *args: str, issuer: str | None = None) -> tuple[int, str, str]:
        """Run one command; return its exit status, stdout and stderr."""
        self.capsys.readouterr()
        argv = [command, "--issuer", issuer or self.okta.issuer, "--config-file", str(self.config)]
        argv += ["--template", str(ROOT / "template.yaml"), "--admin-env", str(self.admin_env), *args]
        status = main(argv)
        out = self.capsys.readouterr()
        return status, out.out, out.err

    def get(self, path: str) -> Any:
        response = requests.get(f"{self.okta.org_url}{path}", headers=ssws(self.okta), timeout=TIMEOUT)
        assert response.status_code == 200, response.text
        return response.json()

    def send(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(
            method, f"{self.okta.org_url}{path}", json=body, headers=ssws(self.okta), timeout=TIMEOUT
        )

    def apps(self, label: str) -> list[dict[str, Any]]:
        return [a for a in self.get(f"/api/v1/apps?q={label}&limit=200") if a["label"] == label]

    def overrides(self) -> dict[str, str]:
        from okta_setup.config import load

        return load(self.config, "default", ROOT / "template.yaml").overrides


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str) -> Iterator[Any]:
    """moto's Secrets Manager through boto3's standard endpoint setting, as the tool finds it."""
    for name, value in {
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("secretsmanager", endpoint_url=moto_endpoint, region_name="us-east-1")
    yield client
    for secret in client.list_secrets().get("SecretList", []):
        client.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)


@pytest.fixture
def setup(
    tmp_path: Path, aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Setup]:
    with LocalOkta(tmp_path / "okta", seed=False, apps_rate_limit=10_000) as okta:
        monkeypatch.setenv("OKTA_SETUP_TOKEN", okta.api_token)
        yield Setup(okta, tmp_path, capsys)


def secret_jwk(aws: Any) -> dict[str, Any]:
    return dict(json.loads(aws.get_secret_value(SecretId=NAMES.secret)["SecretString"]))


def test_apply_from_an_empty_org_then_check_passes_and_a_second_plan_changes_nothing(setup: Setup, aws: Any) -> None:
    # Given an empty org, plan lists what it would make and changes nothing
    status, out, _ = setup.run("plan")
    assert status == 2 and "+ create scope hello" in out and "+ create scope register" in out
    assert setup.get("/api/v1/apps") == [] and setup.get("/api/v1/authorizationServers/default/scopes") == []
    # When apply runs
    status, out, err = setup.run("apply")
    assert status == 0, err
    # Then check passes, and a second plan has nothing to change (exit 0)
    status, out, _ = setup.run("check")
    assert status == 0 and "check passed" in out and "FAIL" not in out, out
    status, out, _ = setup.run("plan")
    assert status == 0 and "plan: nothing to change" in out and "+ " not in out and "~ " not in out
    # And a second apply changes nothing either
    before = (setup.get("/api/v1/apps"), setup.get("/api/v1/authorizationServers/default/policies"))
    assert setup.run("apply")[0] == 0
    assert (setup.get("/api/v1/apps"), setup.get("/api/v1/authorizationServers/default/policies")) == before
    # The admin client's secret is in --admin-env only (0600), and it gets a register token
    admin = dict(
        line.split("=", 1) for line in setup.admin_env.read_text().splitlines() if "=" in line and line[0] != "#"
    )
    assert stat.S_IMODE(setup.admin_env.stat().st_mode) == 0o600
    assert admin["CLIENT_ID"] == setup.overrides()["AdminClientId"] and admin["CLIENT_SECRET"] not in out
    assert setup.okta.token(admin["CLIENT_ID"], admin["CLIENT_SECRET"], "register")
    # The service app acts with the key in the secret, DPoP-bound, with exactly its two grants
    app_id = setup.overrides()["OktaClientId"]
    client = OrgClient(setup.okta.org_url, app_id, secret_jwk(aws))
    client.token(" ".join(SERVICE_GRANTS))
    assert client.token_type == "DPoP"
    assert sorted(g["scopeId"] for g in setup.get(f"/api/v1/apps/{app_id}/grants")) == sorted(SERVICE_GRANTS)
    assert [r["type"] for r in setup.get(f"/oauth2/v1/clients/{app_id}/roles")] == ["CUSTOM"]


def test_apply_writes_the_six_values_and_keeps_everything_else_in_samconfig(setup: Setup) -> None:
    # Given values of the user's own in the default environment, as `sam deploy --guided` saves them
    shipped = setup.config.read_text()
    deploy = "[default.deploy.parameters]\n"
    assert deploy in shipped and "parameter_overrides" not in shipped.split(deploy, 1)[1].split("\n[", 1)[0]
    saved = 'parameter_overrides = ["HelloScope=hello", "StageName=dev", "LogLevel=DEBUG"]\n'
    setup.config.write_text(shipped.replace(deploy, deploy + saved))
    original = setup.config.read_text()
    assert setup.run("apply")[0] == 0
    written = setup.config.read_text()
    # The default environment's six values change; prod, comments and other keys stay as they were
    assert written.splitlines()[0] == original.splitlines()[0]  # the comment
    assert (
        written[written.index("[prod.global.parameters]") :] == original[original.index("[prod.global.parameters]") :]
    )
    values = setup.overrides()
    assert values["Issuer"] == setup.okta.issuer and values["OktaOrgUrl"] == setup.okta.org_url
    assert values["HelloScope"] == "hello" and values["StageName"] == "dev" and values["LogLevel"] == "DEBUG"
    assert all(values[k] and "example" not in values[k] and "AbCdEf" not in values[k] for k in SIX)


def test_an_all_clients_policy_added_by_hand_is_reported_by_check_and_refused_by_apply(setup: Setup) -> None:
    assert setup.run("apply")[0] == 0
    # Given an "All clients" policy added by hand (real Okta's default server ships one)
    made = setup.send(
        "POST",
        "/api/v1/authorizationServers/default/policies",
        {
            "type": "OAUTH_AUTHORIZATION_POLICY",
            "name": "Default Policy",
            "conditions": {"clients": {"include": ["ALL_CLIENTS"]}},
        },
    )
    assert made.status_code == 201
    # Then check reports it with its fix, plan reports it, and apply refuses without changing it
    status, out, _ = setup.run("check")
    assert status == 1 and "FAIL  no active All clients policy: 'Default Policy' covers All clients" in out
    assert "--deactivate-all-clients-policies" in out
    status, out, _ = setup.run("plan")
    assert status == 2 and "! unsafe" in out
    status, _, err = setup.run("apply")
    assert status == 1 and "Default Policy" in err and "--deactivate-all-clients-policies" in err
    assert len(err.strip().splitlines()) == 1
    assert setup.get(f"/api/v1/authorizationServers/default/policies/{made.json()['id']}")["status"] == "ACTIVE"
    # When told to, apply deactivates it, and check passes
    assert setup.run("apply", "--deactivate-all-clients-policies")[0] == 0
    assert setup.get(f"/api/v1/authorizationServers/default/policies/{made.json()['id']}")["status"] == "INACTIVE"
    assert setup.run("check")[0] == 0


# A fresh apply makes 22 management calls: fail at the first, and at each kind of step after it (scopes, the admin
# client, the policies and rules, the service app and its grants, the role, the resource set, the assignment).
@pytest.mark.parametrize("answered", [0, 3, 6, 8, 12, 14, 17, 19, 21])
def test_an_apply_broken_by_an_okta_500_midway_completes_on_the_next_run_with_no_duplicate(
    setup: Setup, answered: int
) -> None:
    # Given Okta answering `answered` management calls, then one 500
    setup.okta.set_faults(api_500_after=answered)
    status, _, err = setup.run("apply")
    # Then apply stops with one line naming the step and Okta's error
    assert status == 1 and "Okta answered 500 E0000009: Internal Server Error" in err
    assert len(err.strip().splitlines()) == 1 and setup.okta.api_token not in err
    # And the next apply completes what is missing, with one of each object
    status, _, err = setup.run("apply")
    assert status == 0, err
    for label in (NAMES.admin_app, NAMES.service_app):
        assert len(setup.apps(label)) == 1
    policies = [p["name"] for p in setup.get("/api/v1/authorizationServers/default/policies")]
    assert sorted(policies) == sorted([NAMES.admin_policy, NAMES.clients_policy])
    scopes = [s["name"] for s in setup.get("/api/v1/authorizationServers/default/scopes")]
    assert sorted(scopes) == ["hello", "register"]
    status, out, _ = setup.run("check")
    assert status == 0, out


def test_a_429_waits_for_the_reset_then_goes_on(setup: Setup, aws: Any) -> None:
    from okta_setup.aws import Secrets
    from okta_setup.cli import build_parser, target

    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        setup.okta.clear_faults()  # the rate-limit window passes

    setup.okta.set_faults(apps=429)
    args = build_parser().parse_args(
        [
            "apply",
            "--issuer",
            setup.okta.issuer,
            "--config-file",
            str(setup.config),
            "--admin-env",
            str(setup.admin_env),
        ]
    )
    api = OktaApi(setup.okta.org_url, SswsAuth(setup.okta.api_token), sleep=sleep, say=lambda _: None)
    outcome = Reconciler(api, Secrets(), target(args), apply=True, say=lambda _: None).run()
    assert len(waits) == 1 and 1 <= waits[0] <= 60  # X-Rate-Limit-Reset, bounded
    assert outcome.values["OktaClientId"] and len(setup.apps(NAMES.service_app)) == 1


def test_the_org_authorization_server_is_refused_with_the_reason(setup: Setup) -> None:
    for issuer in (setup.okta.org_url, f"{setup.okta.org_url}/oauth2/v1"):
        status, _, err = setup.run("apply", issuer=issuer)
        assert status == 1 and "not a custom authorization server" in err and "cannot be verified" in err
    # Plain http only to this machine or a private address (a typo must not send the API token in the clear)
    status, _, err = setup.run("plan", issuer="http://example.okta.com/oauth2/default")
    assert status == 1 and "https only" in err
    assert setup.get("/api/v1/apps") == []


def test_a_lost_secret_gets_a_new_key_and_the_old_one_is_retired(setup: Setup, aws: Any) -> None:
    assert setup.run("apply")[0] == 0
    app_id = setup.overrides()["OktaClientId"]
    old = secret_jwk(aws)
    aws.delete_secret(SecretId=NAMES.secret, ForceDeleteWithoutRecovery=True)
    status, out, _ = setup.run("plan")
    assert status == 2 and "a new key pair" in out
    assert setup.run("apply")[0] == 0
    new = secret_jwk(aws)
    keys = setup.get(f"/api/v1/apps/{app_id}/credentials/jwks")
    assert new["kid"] != old["kid"] and [k["kid"] for k in keys] == [new["kid"]]
    assert len(setup.apps(NAMES.service_app)) == 1 and setup.run("check")[0] == 0


def test_drift_on_our_objects_is_put_right_and_named(setup: Setup) -> None:
    assert setup.run("apply")[0] == 0
    values = setup.overrides()
    app_id, policy_id = values["OktaClientId"], values["OktaAccessPolicyId"]
    server = "/api/v1/authorizationServers/default"
    # Given changes by hand: DPoP off, an extra grant, the clients policy's rule widened, the admin policy off
    app = setup.get(f"/api/v1/apps/{app_id}")
    app["settings"]["oauthClient"]["dpop_bound_access_tokens"] = False
    assert setup.send("PUT", f"/api/v1/apps/{app_id}", app).status_code == 200
    grant = {"issuer": setup.okta.org_url, "scopeId": "okta.apps.read"}
    assert setup.send("POST", f"/api/v1/apps/{app_id}/grants", grant).status_code == 201
    rule = setup.get(f"{server}/policies/{policy_id}/rules")[0]
    rule["conditions"]["scopes"]["include"] = ["hello", "register"]
    assert setup.send("PUT", f"{server}/policies/{policy_id}/rules/{rule['id']}", rule).status_code == 200
    admin_policy = next(p for p in setup.get(f"{server}/policies") if p["name"] == NAMES.admin_policy)
    assert setup.send("POST", f"{server}/policies/{admin_policy['id']}/lifecycle/deactivate").status_code == 204
    # Then check names each problem
    status, out, _ = setup.run("check")
    assert status == 1
    assert "does not require DPoP" in out and "okta.apps.read" in out and "grants hello register, not hello" in out
    assert f"FAIL  policy {NAMES.admin_policy!r}: inactive" in out
    # And plan names each field, apply puts them right, and check passes
    status, out, _ = setup.run("plan")
    assert status == 2
    for field in ("dpop_bound_access_tokens", "conditions.scopes", "status: ACTIVE", "- delete grant okta.apps.read"):
        assert field in out
    assert setup.run("apply")[0] == 0
    assert setup.run("check")[0] == 0


def test_an_object_of_its_name_it_did_not_make_stops_the_run(setup: Setup) -> None:
    body = {
        "name": "oidc_client",
        "label": NAMES.admin_app,
        "signOnMode": "OPENID_CONNECT",
        "credentials": {"oauthClient": {"token_endpoint_auth_method": "client_secret_basic"}},
        "settings": {"oauthClient": {"application_type": "service", "grant_types": ["client_credentials"]}},
    }
    assert setup.send("POST", "/api/v1/apps", body).status_code == 200
    status, _, err = setup.run("apply")
    assert status == 1 and "okta_setup did not make" in err
    assert len(setup.apps(NAMES.admin_app)) == 1  # untouched, not duplicated


def test_an_org_without_custom_roles_gets_the_standard_roles_with_a_warning(
    tmp_path: Path, aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalOkta(tmp_path / "okta", seed=False, custom_roles=False) as okta:
        monkeypatch.setenv("OKTA_SETUP_TOKEN", okta.api_token)
        setup = Setup(okta, tmp_path, capsys)
        status, out, _ = setup.run("apply")
        assert status == 0 and "custom admin roles unavailable" in out and "E0000015" in out
        roles = setup.get(f"/oauth2/v1/clients/{setup.overrides()['OktaClientId']}/roles")
        assert sorted(r["type"] for r in roles) == ["API_ACCESS_MANAGEMENT_ADMIN", "APP_ADMIN"]
        assert setup.run("check")[0] == 0


def test_oauth_for_okta_with_dpop_as_a_service_app(setup: Setup, aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a service app of the org's admins (private_key_jwt, DPoP) with the scopes apply needs, and no SSWS token
    scopes = ("okta.apps.manage", "okta.authorizationServers.manage", "okta.roles.manage")
    scopes += ("okta.apps.read", "okta.authorizationServers.read", "okta.roles.read")  # plan and check read only
    app_id, key, kid = create_key_app(setup.okta, "setup-admin", scopes=scopes, dpop=True)
    _, public = rsa_key(kid)
    from jwt.algorithms import RSAAlgorithm

    private = {**json.loads(RSAAlgorithm.to_jwk(key)), "kid": kid}
    key_file = setup.tmp / "setup-admin.jwk.json"
    key_file.write_text(json.dumps(private))
    monkeypatch.delenv("OKTA_SETUP_TOKEN")
    # When apply runs as that app
    status, _, err = setup.run("apply", "--client-id", app_id, "--private-key", str(key_file))
    # Then it worked, and the key never reached the output
    assert status == 0, err
    assert len(setup.apps(NAMES.service_app)) == 1 and private["d"] not in err
    assert setup.run("check", "--client-id", app_id, "--private-key", str(key_file))[0] == 0
    # And without any credentials the tool says what it needs
    status, _, err = setup.run("plan")
    assert status == 1 and "OKTA_SETUP_TOKEN" in err


def test_a_new_route_scope_needs_only_the_route_recipe(setup: Setup, tmp_path: Path) -> None:
    # Given the route recipe on a copy of the template: a route with a new scope
    template = (ROOT / "template.yaml").read_text()
    template = template.replace(
        "          GET /hello ${HelloScope}\n",
        "          GET /hello ${HelloScope}\n          GET /orders/{id} orders:read\n",
    )
    copy = tmp_path / "template.yaml"
    copy.write_text(template)
    status = main(
        [
            "apply",
            "--issuer",
            setup.okta.issuer,
            "--config-file",
            str(setup.config),
            "--template",
            str(copy),
            "--admin-env",
            str(setup.admin_env),
        ]
    )
    assert status == 0
    # Then the scope exists, the clients policy grants it, and a client of that policy gets a token for it
    assert "orders:read" in [s["name"] for s in setup.get("/api/v1/authorizationServers/default/scopes")]
    admin = dict(
        line.split("=", 1) for line in setup.admin_env.read_text().splitlines() if "=" in line and line[0] != "#"
    )
    token = setup.okta.token(admin["CLIENT_ID"], admin["CLIENT_SECRET"], "orders:read")
    assert token

"""Every management call the project makes to Okta, and every answer the local Okta server gives, against Okta's own
OpenAPI description of its management API (tests/contracts/okta/, parsed once per session).

The local Okta server records each management exchange (credentials left out). Three scenarios feed it:
- the local stack as `make dev` runs it: `okta_setup apply` from an empty org, the register function through the
  local API (registering the demo client, the demo story: register, rotate, remove a secret, revoke; listing and
  adopting clients), then `okta_setup plan` and `okta_setup check --api-url`;
- okta_setup's repairs on an org without custom roles: drift put right, a lost key replaced, an All clients policy
  deactivated, a lost admin secret replaced;
- Okta's own management SDK (`okta` 3.x), as tests/integration/test_okta_sdks.py runs it.
m2m_client calls no management API (only the token endpoint and this API), so it adds nothing here.
The token endpoints and DPoP are outside this contract; they keep their RFC-based tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from devstack import LocalStack, Ports, free_port
from devstack.story import run_story
from m2m_client import ApiError, ClientConfig, M2MClient
from okta_local.recorder import read_records
from okta_local.testing import LocalOkta
from okta_setup.cli import main as okta_setup
from okta_setup.objects import Names
from tests.integration.okta_local_fixtures import ssws
from tests.okta_contract import answer_errors, operation, request_errors, undeclared

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10
# The operations the project uses, by its two clients of Okta's management API. A new call must be added here (the
# test below fails until it is) and so becomes checked against the contract too.
REGISTER_FUNCTION = frozenset(
    {
        "listApplications",
        "getApplication",
        "createApplication",
        "deactivateApplication",
        "deleteApplication",
        "listOAuth2ClientSecrets",
        "createOAuth2ClientSecret",
        "deactivateOAuth2ClientSecret",
        "deleteOAuth2ClientSecret",
        "getAuthorizationServerPolicy",
        "replaceAuthorizationServerPolicy",
    }
)
OKTA_SETUP = frozenset(
    {
        "getAuthorizationServer",
        "listOAuth2Scopes",
        "createOAuth2Scope",
        "listAuthorizationServerPolicies",
        "createAuthorizationServerPolicy",
        "replaceAuthorizationServerPolicy",
        "activateAuthorizationServerPolicy",
        "deactivateAuthorizationServerPolicy",
        "listAuthorizationServerPolicyRules",
        "createAuthorizationServerPolicyRule",
        "replaceAuthorizationServerPolicyRule",
        "activateAuthorizationServerPolicyRule",
        "listApplications",
        "createApplication",
        "replaceApplication",
        "activateApplication",
        "listOAuth2ClientSecrets",
        "createOAuth2ClientSecret",
        "deactivateOAuth2ClientSecret",
        "deleteOAuth2ClientSecret",
        "listJwk",
        "addJwk",
        "deactivateOAuth2ClientJsonWebKey",
        "deletejwk",
        "listScopeConsentGrants",
        "grantConsentToScope",
        "revokeScopeConsentGrant",
        "listRoles",
        "createRole",
        "listRolePermissions",
        "listResourceSets",
        "createResourceSet",
        "listResourceSetResources",
        "listRolesForClient",
        "assignRoleToClient",
    }
)
PROJECT_OPERATIONS = REGISTER_FUNCTION | OKTA_SETUP


def _setup(*args: str) -> int:
    return okta_setup(list(args))


@pytest.fixture(scope="module")
def stack_records(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The local stack's exchanges: okta_setup, the register function through the API, plan and check."""
    state = tmp_path_factory.mktemp("contract-stack")
    record = state / "okta-records.jsonl"
    ports = Ports(api=free_port(), okta=free_port(), moto=free_port())
    with LocalStack(state, ports=ports, okta_record=record) as stack:
        steps = run_story(stack.okta, stack.api_url)
        assert all(s.passed for s in steps), [s.line() for s in steps if not s.passed]
        okta = stack.okta
        admin = M2MClient(
            ClientConfig(
                okta["ISSUER"], okta["ADMIN_CLIENT_ID"], okta["ADMIN_CLIENT_SECRET"], "register", stack.api_url
            )
        )
        listed = admin.list_clients()
        assert listed["clients"]
        # A registration whose enrolment Okta fails (a 500 on the policy's PUT): the register function removes the
        # half-made app again (deactivateApplication, deleteApplication) and answers 502
        faults = f"{okta['OKTA_ORG_URL']}/_local/faults"
        headers = {"Authorization": f"SSWS {okta['OKTA_API_TOKEN']}"}
        assert requests.post(faults, json={"api_500_after": 3}, headers=headers, timeout=TIMEOUT).ok
        with pytest.raises(ApiError) as failed:
            admin.register("contract-half-made")
        assert failed.value.status == 502
        argv = ["--issuer", okta["ISSUER"], "--config-file", str(stack.config_file), "--config-env", "local"]
        argv += ["--admin-env", str(stack.admin_env)]
        env = {**os.environ, **stack.function_env(), "OKTA_SETUP_TOKEN": okta["OKTA_API_TOKEN"]}
        for command in (["plan"], ["check", "--api-url", stack.api_url]):
            done = subprocess.run(
                [sys.executable, "-m", "okta_setup", *command, *argv], env=env, cwd=ROOT, capture_output=True, text=True
            )
            assert done.returncode == 0, done.stdout + done.stderr
    return read_records(record)


@pytest.fixture(scope="module")
def repair_records(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[list[dict[str, Any]]]:
    """okta_setup's repairs, on an org without custom roles (the standard roles instead)."""
    tmp = tmp_path_factory.mktemp("contract-repairs")
    config, admin_env = tmp / "samconfig.toml", tmp / "admin.env"
    shutil.copy(ROOT / "samconfig.toml", config)
    saved = dict(os.environ)
    os.environ.update(
        AWS_ENDPOINT_URL_SECRETS_MANAGER=moto_endpoint,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    try:
        with LocalOkta(tmp / "okta", seed=False, custom_roles=False, record=True) as okta:
            os.environ["OKTA_SETUP_TOKEN"] = okta.api_token
            args = ["--issuer", okta.issuer, "--config-file", str(config), "--admin-env", str(admin_env)]
            assert _setup("apply", *args) == 0
            by_hand_from = len(okta.records())
            _drift(okta, config)
            by_hand_to = len(okta.records())  # the test's own calls, made by hand: not the project's
            admin_env.unlink()  # a lost admin secret: a new one, the old retired
            assert _setup("apply", "--deactivate-all-clients-policies", *args) == 0
            assert _setup("check", *args) == 0
            records = okta.records()
            yield records[:by_hand_from] + records[by_hand_to:]
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _drift(okta: LocalOkta, config: Path) -> None:
    """Changes by hand that apply must put right: each takes an operation apply otherwise never needs."""
    from okta_setup.config import load

    def send(method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, okta.org_url + path, json=body, headers=ssws(okta), timeout=TIMEOUT)
        assert response.ok, response.text
        return response.json() if response.content else None

    values = load(config, "default", ROOT / "template.yaml").overrides
    app_id, policy_id = values["OktaClientId"], values["OktaAccessPolicyId"]
    server = "/api/v1/authorizationServers/default"
    app = send("GET", f"/api/v1/apps/{app_id}")
    app["settings"]["oauthClient"]["dpop_bound_access_tokens"] = False
    send("PUT", f"/api/v1/apps/{app_id}", app)  # DPoP off: replaceApplication
    send("POST", f"/api/v1/apps/{app_id}/grants", {"issuer": okta.org_url, "scopeId": "okta.apps.read"})  # revoke
    rule = send("GET", f"{server}/policies/{policy_id}/rules")[0]
    rule["conditions"]["scopes"]["include"] = ["hello", "register"]
    send("PUT", f"{server}/policies/{policy_id}/rules/{rule['id']}", rule)  # replace the rule
    send("POST", f"{server}/policies/{policy_id}/rules/{rule['id']}/lifecycle/deactivate")  # activate the rule
    send("POST", f"{server}/policies/{policy_id}/lifecycle/deactivate")  # activate the policy
    body = {"type": "OAUTH_AUTHORIZATION_POLICY", "name": "Default Policy"}
    send("POST", f"{server}/policies", {**body, "conditions": {"clients": {"include": ["ALL_CLIENTS"]}}})  # deactivate
    boto3.client("secretsmanager").delete_secret(SecretId=Names("okta-m2m-api").secret, ForceDeleteWithoutRecovery=True)
    admin = send("GET", f"/api/v1/apps/{values['AdminClientId']}")
    send("POST", f"/api/v1/apps/{admin['id']}/lifecycle/deactivate")  # activate the admin client
    key = {"kty": "RSA", "alg": "RS256", "use": "sig", "status": "ACTIVE"}
    from tests.integration.okta_local_fixtures import rsa_key

    _, extra = rsa_key("by-hand")
    send("POST", f"/api/v1/apps/{app_id}/credentials/jwks", {**key, **extra})  # a key not in the secret: retire it
    # and the secret lost above: a new key pair (addJwk), then every other key retired


@pytest.fixture(scope="module")
def sdk_records(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Okta's own management SDK in its SSWS and PrivateKey + DPoP modes (tests/okta_sdks)."""
    from tests.integration.test_okta_sdks import HTTPS_CHECK_OFF, SDK_PYTHON, management, private_key_args

    if not SDK_PYTHON.exists():
        pytest.fail("the Okta SDK venv is missing: run `make okta-sdks-venv`")
    tmp = tmp_path_factory.mktemp("contract-sdk")
    with LocalOkta(tmp / "okta", record=True) as okta:
        token = {"SDK_CHECK_API_TOKEN": okta.api_token, **HTTPS_CHECK_OFF}
        for args, env in (
            (["lifecycle", "--mode=ssws", f"--org-url={okta.org_url}"], token),
            (["lifecycle", *private_key_args(okta)], HTTPS_CHECK_OFF),
        ):
            report = management(SDK_PYTHON, tmp, *args, env=env)
            assert all(step["ok"] for step in report["steps"] if step["step"] != "get_deleted"), report
        return okta.records()


def _problems(records: list[dict[str, Any]]) -> list[str]:
    problems = []
    for record in records:
        where = f"{record['method']} {record['path']} -> {record['status']}"
        found = operation(record)
        if found is None:
            problems.append(f"{where}: no operation of the contract")
            continue
        problems += [f"{where} ({found}) request: {e}" for e in request_errors(record)]
        problems += [f"{where} ({found}) answer: {e}" for e in answer_errors(record)]
    return problems


def test_the_stack_setup_and_register_function_exchanges_match_the_contract(stack_records):
    assert len(stack_records) > 40
    problems = _problems(stack_records)
    assert problems == [], "\n".join(problems)


def test_okta_setup_repairs_match_the_contract(repair_records):
    problems = _problems(repair_records)
    assert problems == [], "\n".join(problems)


def test_okta_sdk_exchanges_match_the_contract(sdk_records):
    problems = _problems(sdk_records)
    assert sdk_records and problems == [], "\n".join(problems)


def test_every_operation_the_project_uses_is_checked_and_none_other_is_used(stack_records, repair_records):
    used = {operation(r) for r in [*stack_records, *repair_records]}
    assert used <= PROJECT_OPERATIONS, f"calls not in PROJECT_OPERATIONS: {sorted(used - PROJECT_OPERATIONS)}"
    assert PROJECT_OPERATIONS <= used, f"operations no scenario exercised: {sorted(PROJECT_OPERATIONS - used)}"


def test_the_contract_check_catches_a_field_the_contract_does_not_have():
    # A request body with a field no schema declares, and an answer of the wrong type: both are caught
    record = {
        "method": "POST",
        "path": "/api/v1/authorizationServers/default/scopes",
        "query": "",
        "headers": {"content-type": "application/json", "authorization": "SSWS <redacted>"},
        "body": {"name": "orders:read", "scopeColour": "blue"},
        "status": 201,
        "answer_headers": {"content-type": "application/json"},
        "answer": {"id": "scp1", "name": 42},
    }
    assert request_errors(record) == ["a field the contract does not have: scopeColour"]
    assert any("name" in e for e in answer_errors(record))
    assert undeclared({"$ref": "#/components/schemas/OAuth2Scope"}, {"name": "x"}) == []

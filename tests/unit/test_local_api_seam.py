"""Guard: the private SAM CLI API that local_api builds on. If an upgrade changes it, these fail loudly.

local_api subclasses LocalApigwService and LocalLambdaRunner and overrides a few private methods; SAM CLI may
rename, inline or re-sign them in any release. Offline: requests go through Flask's test client, not sockets (the
authorizer runs in a worker process, on pipes).
"""

from __future__ import annotations

import inspect
import os
import re
from importlib.metadata import version
from io import StringIO
from pathlib import Path

import pytest
from flask import Flask
from samcli.cli.types import CfnParameterOverridesType
from samcli.commands._utils.options import parameter_override_click_option
from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.api_provider import ApiProvider
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from samcli.lib.utils.stream_writer import StreamWriter
from samcli.local.apigw.authorizers.lambda_authorizer import LambdaAuthorizer
from samcli.local.apigw.local_apigw_service import LocalApigwService
from samcli.local.apigw.service_error_responses import ServiceErrorResponses
from samcli.local.services.base_local_service import LambdaOutputParser

from local_api.gateway import AuthorizerCache, GatewayApigwService, GatewaySettings
from local_api.runner import WorkerRunner

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
PARAMS = {
    "Issuer": "http://127.0.0.1:9/oauth2/default",
    "OktaOrgUrl": "http://127.0.0.1:9",
    "OktaApiTokenSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:okta-api-token-AbCdEf",
    "AuthorizerCacheTtl": "7",
}
# Passes the template's ValidationExpression, fails the authorizer's parsing: no key fetch, no network.
MALFORMED = {"Authorization": "Bearer a.b.c"}


def params(func: object) -> list[str]:
    return list(inspect.signature(func).parameters)  # type: ignore[arg-type]


def source(func: object) -> str:
    return inspect.getsource(func)  # type: ignore[arg-type]


def test_installed_sam_cli_is_the_pinned_one():
    pin = re.search(r'"aws-sam-cli==([^"]+)"', (ROOT / "pyproject.toml").read_text())

    assert pin is not None, "pyproject.toml must pin aws-sam-cli exactly"
    assert version("aws-sam-cli") == pin.group(1)


def test_apigw_service_methods_we_override_keep_their_signatures():
    assert {"api", "lambda_runner", "static_dir", "port", "host", "stderr", "ssl_context"} <= set(
        params(LocalApigwService.__init__)
    )
    assert params(LocalApigwService.create) == ["self"]
    assert params(LocalApigwService._valid_identity_sources) == ["self", "request", "route"]
    assert params(LocalApigwService._invoke_parse_lambda_authorizer) == [
        "self",
        "lambda_authorizer",
        "auth_lambda_event",
        "route_lambda_event",
        "route",
    ]
    assert params(LocalApigwService._invoke_lambda_function) == ["self", "lambda_function_name", "event", "tenant_id"]
    assert params(LocalApigwService._get_current_route) == ["self", "flask_request"]


def test_apigw_service_still_calls_them_where_we_hook_in():
    handler = source(LocalApigwService._request_handler)
    assert "self._valid_identity_sources(request, route)" in handler
    assert "self._invoke_parse_lambda_authorizer(" in handler
    assert "except AuthorizerUnauthorizedRequest" in handler
    assert "except InvalidLambdaAuthorizerResponse" in handler
    authorizer = source(LocalApigwService._invoke_parse_lambda_authorizer)
    assert "self._invoke_lambda_function(lambda_authorizer.lambda_name, auth_lambda_event)" in authorizer
    assert "is_valid_response(" in authorizer
    invoke = source(LocalApigwService._invoke_lambda_function)
    assert "self.lambda_runner.invoke(" in invoke
    assert "stdout=" in invoke and "stderr=" in invoke
    # An error payload is LambdaResponseParseException, answered 500; we answer API Gateway's 502 instead.
    assert "raise LambdaResponseParseException" in invoke
    assert "except LambdaResponseParseException:" in handler


def test_sams_lambda_failure_response_is_api_gateways_502():
    with Flask(__name__).app_context():  # what a function's error payload is answered with
        response = ServiceErrorResponses.lambda_failure_response()

    assert response.status_code == 502
    assert response.get_json() == {"message": "Internal server error"}


def test_lambda_authorizer_and_runner_api():
    assert LambdaAuthorizer.TOKEN == "token"
    assert params(LambdaAuthorizer.is_valid_response) == ["self", "response", "method_arn"]
    assert {"local_runtime", "function_provider", "cwd", "real_path", "aws_region", "env_vars_values"} <= set(
        params(LocalLambdaRunner.__init__)
    )
    assert params(LocalLambdaRunner.get_function)[:3] == ["self", "function_identifier", "tenant_id"]
    assert params(LocalLambdaRunner.get_invoke_config)[:2] == ["self", "function"]
    # We replace its credential lookup (it would ask the EC2 metadata service); it must still be the one used.
    assert params(LocalLambdaRunner.get_aws_creds) == ["self"]
    assert "self.get_aws_creds()" in source(LocalLambdaRunner._make_env_vars)
    invoke = ["self", "function_identifier", "event", "tenant_id", "stdout", "stderr"]
    assert params(LocalLambdaRunner.invoke)[:6] == invoke


def test_output_parser_stream_writer_and_parameter_parsing():
    with StringIO() as out:
        StreamWriter(out, auto_flush=True).write_str('{"errorMessage": "Unauthorized", "errorType": "Exception"}')
        assert LambdaOutputParser.get_lambda_output(out) == (
            '{"errorMessage": "Unauthorized", "errorType": "Exception"}',
            True,
        )
    assert CfnParameterOverridesType().convert(("A=1 B=x=y",), None, None) == {"A": "1", "B": "x=y"}
    assert parameter_override_click_option() is not None


@pytest.fixture(scope="module")
def stacks():
    found, _ = SamLocalStackProvider.get_stacks(str(TEMPLATE), parameter_overrides=PARAMS)
    return found


def test_runner_resolves_env_as_sam_local_does(stacks, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    runner = WorkerRunner(SamFunctionProvider(stacks), str(ROOT), {"Parameters": {"CLOCK_LEEWAY_SECONDS": "7"}})

    container = runner._containers["AuthorizerFunction"]
    env, worker_env = container.env, container.worker_environ()

    assert env["ISSUER"] == PARAMS["Issuer"]  # parameter override through Globals
    assert env["POWERTOOLS_SERVICE_NAME"] == "authorizer"  # function's own variable
    assert env["CLOCK_LEEWAY_SECONDS"] == "7"  # --env-vars "Parameters" win over the template
    assert env["AWS_SAM_LOCAL"] == "true"
    assert env["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "10"
    # No credentials here: SAM CLI's placeholders, found without the network (sockets are blocked in unit tests).
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_REGION"]) == ("defaultkey", "eu-west-3")
    # A worker gets all that on top of this process's env, with what the Lambda runtime adds (SAM's values win).
    assert worker_env.items() >= env.items()
    assert worker_env["_HANDLER"] == "app.lambda_handler"
    assert worker_env["LAMBDA_TASK_ROOT"] == str(ROOT / "functions" / "authorizer")
    assert worker_env["PATH"] == os.environ["PATH"]
    runner.close()  # no worker ever started: invoke starts them
    assert runner.worker_pids() == {name: [] for name in runner.worker_pids()}


def test_gateway_settings_come_from_the_resolved_template(stacks):
    settings = GatewaySettings.from_stacks(stacks)

    assert settings.ttl("OktaTokenAuthorizer") == 7
    unauthorized = settings.response("UNAUTHORIZED")
    assert unauthorized.status == 401
    assert unauthorized.headers["WWW-Authenticate"] == "Bearer"
    assert settings.response("AUTHORIZER_CONFIGURATION_ERROR").status == 503


@pytest.fixture
def runner(stacks):
    built = WorkerRunner(SamFunctionProvider(stacks), str(ROOT))
    yield built
    built.close()  # the authorizer's worker


def service(stacks, cls, runner):
    api = ApiProvider(stacks, cwd=str(ROOT)).api
    extra = {"gateway": GatewaySettings.from_stacks(stacks)} if cls is GatewayApigwService else {}
    built = cls(api=api, lambda_runner=runner, port=3000, host="127.0.0.1", **extra)
    built.create()
    return built._app.test_client()


def test_stock_sam_cli_still_answers_an_unauthorized_authorizer_502(stacks, runner):
    # What GatewayApigwService corrects; if this starts failing, SAM CLI changed and our override may be moot.
    response = service(stacks, LocalApigwService, runner).get("/hello", headers=MALFORMED)

    assert response.status_code == 502


def test_our_service_answers_it_401_with_the_gateway_response(stacks, runner):
    response = service(stacks, GatewayApigwService, runner).get("/hello", headers=MALFORMED)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.get_json() == {"message": "Unauthorized"}


def test_authorizer_cache_expires_and_never_keys_on_the_token():
    now = [100.0]
    cache = AuthorizerCache(clock=lambda: now[0])
    key = AuthorizerCache.key("Auth", "secret-token")
    cache.put(key, "policy", ttl=5)

    assert "secret-token" not in repr(key)
    assert cache.get(key) == "policy"
    now[0] += 5
    assert cache.get(key) is None
    cache.put(key, "policy", ttl=0)
    assert cache.get(key) is None

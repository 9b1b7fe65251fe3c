"""How the local API runs functions: warm, isolated per function, with SAM's env vars and API Gateway's answers.

A template in a temporary folder wires the real authorizer (and core layer) next to two echo functions that share
one source file `app.py`, and a tiny authorizer that misbehaves on demand. tests/integration/test_local_api_workers.py
covers the worker processes themselves: concurrency, the pool limit, timeouts, exits, stop.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from local_api import LocalApi
from tests.jwks_server import JwksServer
from tests.jwt_factory import CLIENT_ID, access_claims, mint, signing_key

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KEY = signing_key("runtime-key")

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Issuer: {{Type: String}}
  Greeting: {{Type: String, Default: hello}}
Globals:
  Function:
    Runtime: python3.13
    Timeout: 7
    Layers: [!Ref CoreLayer, !Ref StateLayer]
    Environment:
      Variables:
        GREETING: !Ref Greeting
        SETTING: template
        ISSUER: !Ref Issuer
        AUDIENCE: api://default
        ROUTE_SCOPES: |
          GET / hello
          GET /hello hello
          GET /fake hello
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      Auth:
        DefaultAuthorizer: Real
        Authorizers:
          Real:
            FunctionArn: !GetAtt RealAuthorizer.Arn
            Identity: {{Header: Authorization}}
          Fake:
            FunctionArn: !GetAtt FakeAuthorizer.Arn
            Identity: {{Header: Authorization, ReauthorizeEvery: 1}}
  CoreLayer:
    Type: AWS::Serverless::LayerVersion
    Properties: {{ContentUri: {core}}}
  StateLayer:
    Type: AWS::Serverless::LayerVersion
    Properties: {{ContentUri: state/}}
  RealAuthorizer:
    Type: AWS::Serverless::Function
    Properties: {{CodeUri: {authorizer}, Handler: app.lambda_handler}}
  FakeAuthorizer:
    Type: AWS::Serverless::Function
    Properties: {{CodeUri: fake/, Handler: app.handler}}
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: app.handler
      Environment: {{Variables: {{ROLE: echo}}}}
      Events:
        Hello: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: /hello, Method: GET}}}}
        Fake:
          Type: Api
          Properties: {{RestApiId: !Ref Api, Path: /fake, Method: GET, Auth: {{Authorizer: Fake}}}}
  OtherFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: other/
      Handler: app.handler
      Environment: {{Variables: {{ROLE: other}}}}
      Events:
        Root: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: /, Method: GET}}}}
"""

ECHO = """\
import json
import os
from concurrent.futures import ThreadPoolExecutor

import state

WARM = {"calls": 0}


def handler(event, context):
    if (event.get("queryStringParameters") or {}).get("fail"):
        raise ValueError("internal detail that must not reach clients")
    WARM["calls"] += 1
    state.SEEN.append(os.environ["ROLE"])
    body = {
        "module": __name__,
        "role": os.environ["ROLE"],
        "greeting": os.environ["GREETING"],
        "setting": os.environ["SETTING"],
        "passthrough": os.environ.get("LOCAL_API_TEST_PASSTHROUGH"),
        "sam_local": os.environ.get("AWS_SAM_LOCAL"),
        "calls": WARM["calls"],
        "layer_seen": state.SEEN,
        "authorizer": event["requestContext"].get("authorizer"),
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "pid": os.getpid(),
    }
    return {"statusCode": 200, "body": json.dumps(body)}
"""

FAKE_AUTHORIZER = """\
def handler(event, context):
    token = event["authorizationToken"].removeprefix("Bearer ")
    if token == "boom":
        raise RuntimeError("authorizer bug")
    if token == "garbage":
        return {"no": "policy"}
    if token in ("allow", "deny"):
        statement = {"Action": "execute-api:Invoke", "Effect": token.title(), "Resource": event["methodArn"]}
        return {"principalId": "fake", "policyDocument": {"Version": "2012-10-17", "Statement": [statement]}}
    raise Exception("Unauthorized")
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runtime")
    write(root / "echo" / "app.py", ECHO)
    write(root / "other" / "app.py", ECHO)
    write(root / "fake" / "app.py", FAKE_AUTHORIZER)
    write(root / "state" / "state.py", "SEEN = []\n")
    path = root / "template.yaml"
    path.write_text(TEMPLATE.format(core=ROOT / "layers" / "core", authorizer=ROOT / "functions" / "authorizer"))
    return path


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    with JwksServer([KEY.jwk()]) as server:
        yield server


@pytest.fixture(scope="module")
def api(template: Path, jwks: JwksServer) -> Iterator[LocalApi]:
    os.environ["LOCAL_API_TEST_PASSTHROUGH"] = "from-process"
    env_vars = {"EchoFunction": {"SETTING": "file"}}
    params = {"Issuer": jwks.issuer, "Greeting": "overridden"}
    try:
        with LocalApi(template, port=0, env_vars=env_vars, parameter_overrides=params) as local_api:
            yield local_api
    finally:
        del os.environ["LOCAL_API_TEST_PASSTHROUGH"]


def call(api: LocalApi, path: str, bearer: str) -> requests.Response:
    return requests.get(f"{api.url}{path}", headers={"Authorization": f"Bearer {bearer}"}, timeout=10)


def hello_token(jwks: JwksServer) -> str:
    return mint(KEY, access_claims(jwks.issuer))


def test_authorizer_context_reaches_the_function(api, jwks):
    token = hello_token(jwks)

    response = call(api, "/hello", token)

    assert response.status_code == 200
    claims = jwt.decode(token, options={"verify_signature": False})
    assert response.json()["authorizer"] == {
        "clientId": CLIENT_ID,
        "scopes": "hello",
        "sub": CLIENT_ID,
        "jti": claims["jti"],
        "principalId": CLIENT_ID,
    }


def test_each_function_is_a_warm_container_with_its_own_modules_and_env(api, jwks):
    token = hello_token(jwks)

    first, second, other = (call(api, path, token).json() for path in ("/hello", "/hello", "/"))

    assert second["calls"] == first["calls"] + 1  # module state lives on between requests
    assert other["calls"] == 1  # the other app.py is another module, with its own state
    assert set(second["layer_seen"]) == {"echo"}  # and its own copy of the layer
    assert other["layer_seen"] == ["other"]
    assert (first["module"], other["module"]) == ("app", "app")  # imported as the Lambda runtime does
    assert (first["role"], other["role"]) == ("echo", "other")
    assert (first["setting"], other["setting"]) == ("file", "template")  # --env-vars reach only their function
    assert first["greeting"] == other["greeting"] == "overridden"  # parameter overrides, through Globals
    assert first["passthrough"] == "from-process"  # e.g. AWS_ENDPOINT_URL_SECRETS_MANAGER from the environment
    assert first["sam_local"] == "true"
    assert first["function_name"] == "EchoFunction"
    assert 0 < first["remaining_ms"] <= 7000


def test_functions_run_in_workers_and_leave_this_process_as_it_was(api, jwks):
    environ, path = dict(os.environ), list(sys.path)

    response = call(api, "/hello", hello_token(jwks))

    assert response.status_code == 200
    assert response.json()["pid"] != os.getpid()  # a worker process of the function's own
    assert dict(os.environ) == environ  # nothing of the function's env (ROLE, SETTING, ...) leaks here
    assert "ROLE" not in os.environ
    assert sys.path == path
    assert "app" not in sys.modules
    assert "state" not in sys.modules


def test_function_error_is_api_gateways_502_without_details(api, jwks):
    response = requests.get(
        f"{api.url}/hello?fail=1", headers={"Authorization": f"Bearer {hello_token(jwks)}"}, timeout=10
    )

    assert response.status_code == 502  # API Gateway's status (SAM CLI answers 500)
    assert response.json() == {"message": "Internal server error"}
    assert "internal detail" not in response.text


def test_a_function_error_keeps_its_worker_warm(api, jwks):
    token = hello_token(jwks)
    before = call(api, "/hello", token).json()

    assert call(api, "/hello?fail=1", token).status_code == 502
    after = call(api, "/hello", token).json()

    assert after["pid"] == before["pid"]  # an exception is an answer: the execution environment lives on
    assert after["calls"] == before["calls"] + 1


@pytest.mark.parametrize(
    ("token", "status", "body"),
    [
        ("nobody", 401, {"message": "Unauthorized"}),
        ("deny", 403, {"Message": "User is not authorized to access this resource with an explicit deny"}),
        ("boom", 500, {"message": None}),
        ("garbage", 500, {"message": None}),
    ],
)
def test_without_gateway_responses_the_gateway_defaults_apply(api, token, status, body):
    response = call(api, "/fake", token)

    assert response.status_code == status
    assert response.json() == body
    assert "WWW-Authenticate" not in response.headers


def test_authorizer_result_expires_after_reauthorize_every(api, monkeypatch):
    # The cache's clock, moved by the test: however long a request takes here, the TTL is what decides.
    now = [1000.0]
    monkeypatch.setattr(api.service.authorizer_cache, "_clock", lambda: now[0])
    api.service.authorizer_cache.clear()
    before = api.invocations["FakeAuthorizer"]
    statuses: list[Any] = [call(api, "/fake", "allow").status_code]
    now[0] += 0.9  # within ReauthorizeEvery (1 s): the cached result answers
    statuses.append(call(api, "/fake", "allow").status_code)
    assert api.invocations["FakeAuthorizer"] == before + 1

    now[0] += 0.1  # the result is 1 s old: the authorizer is asked again
    statuses.append(call(api, "/fake", "allow").status_code)

    assert statuses == [200, 200, 200]
    assert api.invocations["FakeAuthorizer"] == before + 2


def test_concurrent_requests_each_run_in_their_own_function(api, jwks):
    token = hello_token(jwks)
    paths = ["/hello", "/"] * 20

    with ThreadPoolExecutor(max_workers=8) as pool:
        roles = list(pool.map(lambda path: call(api, path, token).json()["role"], paths))

    assert roles == ["echo" if path == "/hello" else "other" for path in paths]

"""The README's recipe, done by a test: a team's own routes (path parameters, ANY, a greedy path) protected by
editing a template only, run through the local API with the real authorizer, real keys and minted tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local_api import LocalApi
from tests.jwks_server import JwksServer
from tests.jwt_factory import access_claims, mint, signing_key

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KEY = signing_key("orders-key")

# Step 1 and 2 of the recipe: the events, and their lines in ROUTE_SCOPES.
TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Issuer: {{Type: String}}
  ReadScope: {{Type: String, Default: orders:read}}
Globals:
  Function:
    Runtime: python3.13
    Layers: [!Ref CoreLayer]
    Environment:
      Variables:
        ISSUER: !Ref Issuer
        AUDIENCE: api://default
        ROUTE_SCOPES: !Sub |
          GET    /orders/{{id}}         ${{ReadScope}} orders:admin
          GET    /orders/{{id}}/audit   orders:audit
          ANY    /files/{{proxy+}}      files
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      Auth:
        DefaultAuthorizer: Okta
        Authorizers:
          Okta:
            FunctionArn: !GetAtt AuthorizerFunction.Arn
            Identity: {{Header: Authorization}}
      GatewayResponses:
        AUTHORIZER_CONFIGURATION_ERROR:
          StatusCode: 503
          ResponseTemplates: {{application/json: '{{"message": "Authorization is temporarily unavailable"}}'}}
  CoreLayer:
    Type: AWS::Serverless::LayerVersion
    Properties: {{ContentUri: {core}}}
  AuthorizerFunction:
    Type: AWS::Serverless::Function
    Properties: {{CodeUri: {authorizer}, Handler: app.lambda_handler}}
  OrdersFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: orders/
      Handler: app.lambda_handler
      Events:
        Read: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: "/orders/{{id}}", Method: GET}}}}
        Audit: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: "/orders/{{id}}/audit", Method: GET}}}}
        Files: {{Type: Api, Properties: {{RestApiId: !Ref Api, Path: "/files/{{proxy+}}", Method: ANY}}}}
"""

# Step 3: the function, with the route scope check every proxy function gets from the layer.
ORDERS = """\
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from okta_m2m.http_errors import register_error_handlers
from okta_m2m.tokens._scopes import check_route_scope

logger = Logger(service="orders")
app = APIGatewayRestResolver()
app.use(middlewares=[check_route_scope])
register_error_handlers(app, logger)


@app.get("/orders/<order_id>")
def get_order(order_id):
    return {"order": order_id}


@app.get("/orders/<order_id>/audit")
def get_audit(order_id):
    return {"audit": order_id}


@app.route("/files/.+", method=["GET", "PUT", "DELETE"])  # Powertools' catch-all for {proxy+}
def files():
    event = app.current_event
    return {"file": event.path_parameters["proxy"], "method": event.http_method}


def lambda_handler(event, context):
    return app.resolve(event, context)
"""


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalApi, JwksServer]]:
    root = tmp_path_factory.mktemp("orders-api")
    (root / "orders").mkdir()
    (root / "orders" / "app.py").write_text(ORDERS)
    template = root / "template.yaml"
    template.write_text(TEMPLATE.format(core=ROOT / "layers" / "core", authorizer=ROOT / "functions" / "authorizer"))
    with (
        JwksServer([KEY.jwk()]) as keys,
        LocalApi(template, port=0, parameter_overrides={"Issuer": keys.issuer}) as local,
    ):
        yield local, keys


def call(api: tuple[LocalApi, JwksServer], method: str, path: str, *scopes: str) -> requests.Response:
    local, keys = api
    token = mint(KEY, access_claims(keys.issuer, scopes=scopes))
    return requests.request(method, local.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_a_path_parameter_route_opens_with_any_of_its_scopes(api):
    assert call(api, "GET", "/orders/42", "orders:read").json() == {"order": "42"}
    assert call(api, "GET", "/orders/42", "orders:admin").json() == {"order": "42"}
    assert call(api, "GET", "/orders/42", "files").status_code == 403


def test_the_wildcard_of_a_route_does_not_open_the_deeper_route(api):
    # GET/orders/* matches GET/orders/42/audit too: the policy denies it explicitly, and the Deny wins.
    denied = call(api, "GET", "/orders/42/audit", "orders:read")
    assert denied.status_code == 403
    assert denied.json() == {"Message": "User is not authorized to access this resource with an explicit deny"}
    assert call(api, "GET", "/orders/42/audit", "orders:audit").json() == {"audit": "42"}
    assert call(api, "GET", "/orders/42", "orders:audit").status_code == 403


def test_an_any_route_with_a_greedy_path_takes_every_verb_and_depth(api):
    assert call(api, "PUT", "/files/a/b/c.txt", "files").json() == {"file": "a/b/c.txt", "method": "PUT"}
    assert call(api, "DELETE", "/files/x", "files").json() == {"file": "x", "method": "DELETE"}
    assert call(api, "GET", "/files/x", "orders:read").status_code == 403


def test_the_function_checks_its_route_scope_itself_behind_a_too_broad_policy(api, tmp_path):
    # What `sam local start-api` does (it ignores Deny statements): the function refuses on its own.
    from okta_m2m.tokens import _settings as config

    event = {
        "resource": "/orders/{id}/audit",
        "path": "/orders/42/audit",
        "httpMethod": "GET",
        "headers": {},
        "requestContext": {"authorizer": {"scopes": "orders:read", "clientId": "c"}, "requestId": "r"},
        "pathParameters": {"id": "42"},
    }
    local, _ = api
    container = local.runner._containers["OrdersFunction"]
    with container.activated():
        config.route_table.cache_clear()
        handler = container.load_handler()
        refused = handler(event, None)
        event["requestContext"]["authorizer"]["scopes"] = "orders:audit"
        allowed = handler(event, None)
    assert refused["statusCode"] == 403
    assert allowed["statusCode"] == 200


def test_the_template_has_no_drift_and_the_local_api_serves_each_route(api):
    local, _ = api
    assert sorted(path for path, _ in local.routes) == ["/files/{proxy+}", "/orders/{id}", "/orders/{id}/audit"]


def test_the_local_api_warns_of_drift_at_start(tmp_path, caplog):
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "app.py").write_text(ORDERS)
    drifted = TEMPLATE.replace("          ANY    /files/{{proxy+}}      files\n", "          DELETE /gone  files\n")
    template = tmp_path / "template.yaml"
    template.write_text(drifted.format(core=ROOT / "layers" / "core", authorizer=ROOT / "functions" / "authorizer"))
    caplog.set_level("WARNING", logger="local_api")
    LocalApi(template, port=0, parameter_overrides={"Issuer": "http://127.0.0.1:9/oauth2/default"}).stop()
    assert [r.getMessage() for r in caplog.records if r.name == "local_api"] == [
        "route table drift: ANY /files/{proxy+} (OrdersFunction.Files) has no line in ROUTE_SCOPES",
        "route table drift: ROUTE_SCOPES line 3: DELETE /gone is not an Api event of the template",
    ]


def test_a_malformed_table_answers_503_through_the_gateway_never_allow(tmp_path):
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "app.py").write_text(ORDERS)
    broken = TEMPLATE.replace("          GET    /orders/{{id}}/audit   orders:audit\n", "          GET /orders/x\n")
    template = tmp_path / "template.yaml"
    template.write_text(broken.format(core=ROOT / "layers" / "core", authorizer=ROOT / "functions" / "authorizer"))
    with (
        JwksServer([KEY.jwk()]) as keys,
        LocalApi(template, port=0, parameter_overrides={"Issuer": keys.issuer}) as local,
    ):
        token = mint(KEY, access_claims(keys.issuer, scopes=("orders:read",)))
        answer = requests.get(f"{local.url}/orders/1", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 503  # the gateway response template.yaml sets too
    assert answer.json() == {"message": "Authorization is temporarily unavailable"}

"""The README's "Add a route" recipe, followed as a user would on a copy of the repository's template, functions and
layer: `GET /orders/{id}` with the scope `orders:read`, nothing else edited, then the whole local stack (`make dev`'s)
started on it, a token for the new scope from its local Okta, and the new function's own answers through the API."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

from devstack import LocalStack, Ports, free_port
from local_api.drift import route_drift
from m2m_client import ClientConfig, M2MClient, TokenRequestError
from tests.shipped_template import api_events, route_scopes

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
ROUTE_LINE = "GET /orders/{id} orders:read orders:admin"  # step 2, as the README writes it

# Step 1: the Api event, on a function of the team's own.
FUNCTION = """\
  OrdersFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/orders/
      Handler: app.lambda_handler
      Events:
        GetOrder:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /orders/{id}
            Method: GET

"""

# Step 3: the function routes with APIGatewayRestResolver, with the layer's check and error handlers.
ORDERS_APP = """\
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from okta_m2m.http_errors import register_error_handlers
from okta_m2m.tokens import check_route_scope

ORDERS = {"7": {"id": "7", "item": "tea"}}
logger = Logger()
app = APIGatewayRestResolver()
app.use(middlewares=[check_route_scope])
register_error_handlers(app, logger)


@app.get("/orders/<order_id>")
def get_order(order_id: str) -> dict[str, str]:
    if order_id not in ORDERS:
        raise NotFoundError(f"Order {order_id} not found")
    return ORDERS[order_id]


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
"""


def add_route_line(template: str, line: str) -> str:
    """Append a line to the ROUTE_SCOPES block, at its indentation."""
    lines = template.splitlines(keepends=True)
    start = next(i for i, text in enumerate(lines) if "ROUTE_SCOPES:" in text)
    indent = len(lines[start + 1]) - len(lines[start + 1].lstrip())
    end = start + 1
    while end < len(lines) and lines[end].strip() and len(lines[end]) - len(lines[end].lstrip()) >= indent:
        end += 1
    return "".join([*lines[:end], " " * indent + line + "\n", *lines[end:]])


@pytest.fixture(scope="module")
def users_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's checkout after the recipe: template.yaml edited, functions/orders written; nothing else."""
    assert "`Path: /orders/{id}`, `Method: GET`" in README and f"`{ROUTE_LINE}`" in README
    assert "app.use(middlewares=[check_route_scope])" in README and "register_error_handlers" in README
    repo = tmp_path_factory.mktemp("users-checkout")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("functions", "layers"):
        shutil.copytree(ROOT / folder, repo / folder, ignore=ignore)
    template = (ROOT / "template.yaml").read_text(encoding="utf-8")
    template = add_route_line(template, ROUTE_LINE)
    template = template.replace("\nOutputs:\n", "\n" + FUNCTION + "Outputs:\n", 1)
    (repo / "template.yaml").write_text(template, encoding="utf-8")
    (repo / "functions" / "orders").mkdir()
    (repo / "functions" / "orders" / "__init__.py").write_text("")
    (repo / "functions" / "orders" / "app.py").write_text(ORDERS_APP)
    return repo / "template.yaml"


@pytest.fixture(scope="module")
def stack(users_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    ports = Ports(api=free_port(), okta=free_port(), moto=free_port())
    with LocalStack(tmp_path_factory.mktemp("recipe") / "state", ports=ports, template=users_copy) as running:
        yield running


def demo_client(stack: LocalStack, scope: str) -> M2MClient:
    okta = stack.okta
    return M2MClient(ClientConfig(okta["ISSUER"], okta["CLIENT_ID"], okta["CLIENT_SECRET"], scope, stack.api_url))


def test_the_edited_template_has_no_drift(users_copy):
    params = {"Issuer": "https://example.okta.com/oauth2/default", "OktaOrgUrl": "https://example.okta.com"}
    stacks, _ = SamLocalStackProvider.get_stacks(str(users_copy), parameter_overrides=params)
    assert route_drift(stacks) == []
    # and what the tests read from a template follows the edit
    assert ("GET", "/orders/{id}") in api_events(users_copy)
    assert {"orders:read", "orders:admin"} <= route_scopes(users_copy)


def test_the_local_okta_grants_a_token_for_the_new_scope(stack):
    token = demo_client(stack, "orders:read").token()
    assert token.count(".") == 2


def test_the_new_route_answers_a_token_with_its_scope(stack):
    assert demo_client(stack, "orders:read").call("GET", "/orders/7") == {"id": "7", "item": "tea"}


def test_the_functions_own_404_reaches_the_caller(stack):
    response = demo_client(stack, "orders:read").request("GET", "/orders/8")
    assert (response.status_code, response.json()) == (404, {"message": "Order 8 not found"})


def test_a_token_without_the_scope_is_refused_and_other_routes_keep_theirs(stack):
    hello_only = demo_client(stack, "hello")
    assert hello_only.request("GET", "/orders/7").status_code == 403
    assert hello_only.call("GET", "/hello")["clientId"] == stack.okta["CLIENT_ID"]
    assert demo_client(stack, "orders:read").request("GET", "/hello").status_code == 403


def test_the_register_scope_stays_the_admins(stack):
    with pytest.raises(TokenRequestError, match="access_denied"):
        demo_client(stack, "register").token()
    assert requests.get(f"{stack.api_url}/orders/7", timeout=30).status_code == 401

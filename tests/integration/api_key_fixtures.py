"""moto's API Gateway holding a template's usage plans and some clients' API keys, for local APIs run on a template
whose routes require a key from the authorizer (template.yaml: the local API will not start without them)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack.usage_plans import create_usage_plans
from okta_m2m.tokens._authorization import usage_key

# Parameters template.yaml requires; the usage plan does not depend on them.
REQUIRED = {
    "Issuer": "http://127.0.0.1:9/oauth2/default",
    "OktaOrgUrl": "http://127.0.0.1:9",
    "OktaApiTokenSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:okta-api-token-AbCdEf",
}


def api_gateway(endpoint: str) -> Any:
    """A boto3 client of moto's API Gateway."""
    return boto3.client(
        "apigateway",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@contextmanager
def keys_in_moto(endpoint: str, template: Path, client_ids: Sequence[str]) -> Iterator[None]:
    """The template's usage plans in moto with the clients' keys (in the first plan made for them), and
    AWS_ENDPOINT_URL_API_GATEWAY pointing this process (and what it starts) at moto for as long as the block runs."""
    client = api_gateway(endpoint)
    # moto's state is per process, not per server: keys made by another module's server may be there already.
    have = {key["name"] for key in client.get_api_keys(limit=500)["items"]}
    for plan_id in create_usage_plans(client, template, REQUIRED).values():
        for client_id in client_ids:
            if client_id not in have:  # each client's key, as the register function makes it
                key = client.create_api_key(name=client_id, value=usage_key(client_id), enabled=True)
                client.create_usage_plan_key(usagePlanId=plan_id, keyId=key["id"], keyType="API_KEY")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL_API_GATEWAY", endpoint)
        yield

"""The DPoP route of the real template.yaml through the local API: REQUEST authorizer events as API Gateway sends them,
identity sources checked before the authorizer runs, never cached, proofs used once across authorizer workers (the
replay table in moto's DynamoDB), and every refusal a 401 with the template's challenge."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from devstack.tables import create_tables
from local_api import LocalApi
from tests.dpop_factory import ClientKey, ec_key, rsa_key
from tests.integration.api_key_fixtures import REQUIRED, keys_in_moto
from tests.jwks_server import JwksServer
from tests.jwt_factory import CLIENT_ID, access_claims, mint, signing_key
from tests.route_tables import UNAUTHORIZED_CHALLENGE

pytestmark = pytest.mark.integration

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
KEY = signing_key("local-api-dpop")
CLIENT = ec_key("local-api-dpop")
AUTHORIZER = "AuthorizerFunction"
UNAUTHORIZED = {"message": "Unauthorized"}
UNAVAILABLE = {"message": "Authorization is temporarily unavailable"}
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    with JwksServer([KEY.jwk()]) as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def aws(moto_endpoint: str) -> Iterator[None]:
    """The template's tables (the replay table among them) and usage plan in moto; credentials for the workers."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in AWS.items():
            env.setenv(name, value)
        dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
        create_tables(dynamodb, TEMPLATE, REQUIRED)
        with keys_in_moto(moto_endpoint, TEMPLATE, [CLIENT_ID]):
            yield


def start(jwks: JwksServer, dynamodb_endpoint: str, **options: Any) -> LocalApi:
    return LocalApi(
        TEMPLATE,
        port=0,
        parameter_overrides={**REQUIRED, "Issuer": jwks.issuer},
        env_vars={AUTHORIZER: {"AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint}},
        **options,
    )


@pytest.fixture(scope="module")
def api(jwks: JwksServer, moto_endpoint: str) -> Iterator[LocalApi]:
    with start(jwks, moto_endpoint, max_workers=4) as local_api:
        yield local_api


def bound_token(jwks: JwksServer, key: ClientKey = CLIENT, scopes: tuple[str, ...] = ("hello",)) -> str:
    return mint(KEY, access_claims(jwks.issuer, scopes=scopes, cnf={"jkt": key.jkt}))


def call(api: LocalApi, token: str | None, proof: str | None, scheme: str = "DPoP", path: str = "/hello/dpop"):
    headers = {}
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    if proof is not None:
        headers["DPoP"] = proof
    return requests.get(f"{api.url}{path}", headers=headers, timeout=30)


def refused(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == UNAUTHORIZED
    assert response.headers["WWW-Authenticate"] == UNAUTHORIZED_CHALLENGE


@pytest.mark.parametrize("key", [CLIENT, rsa_key("local-api-dpop")], ids=["ES256", "RS256"])
def test_a_bound_token_with_a_proof_for_this_request_reaches_the_function(api, jwks, key):
    token = bound_token(jwks, key)
    response = call(api, token, key.proof("GET", f"{api.url}/hello/dpop", token))
    assert response.status_code == 200, response.text
    assert response.json() == {"message": "Hello World!", "clientId": CLIENT_ID}


def test_every_request_runs_the_authorizer_nothing_is_cached(api, jwks):
    token = bound_token(jwks)
    before = api.invocations[AUTHORIZER]
    for _ in range(3):
        assert call(api, token, CLIENT.proof("GET", f"{api.url}/hello/dpop", token)).status_code == 200
    assert api.invocations[AUTHORIZER] == before + 3


@pytest.mark.parametrize("missing", ["Authorization", "DPoP"])
def test_a_missing_identity_source_is_401_without_invoking_the_authorizer(api, jwks, missing):
    token = bound_token(jwks)
    proof = CLIENT.proof("GET", f"{api.url}/hello/dpop", token)
    before = api.invocations[AUTHORIZER]
    refused(call(api, None if missing == "Authorization" else token, None if missing == "DPoP" else proof))
    assert api.invocations[AUTHORIZER] == before


def test_a_replayed_token_and_proof_are_refused(api, jwks):
    token = bound_token(jwks)
    proof = CLIENT.proof("GET", f"{api.url}/hello/dpop", token)
    assert call(api, token, proof).status_code == 200
    refused(call(api, token, proof))


def test_replays_across_two_authorizer_workers_at_once_let_exactly_one_through(api, jwks):
    token = bound_token(jwks)
    # Two workers, warm: each has verified the token already (its own cache), so only the store tells them apart.
    for _ in range(2):
        assert call(api, token, CLIENT.proof("GET", f"{api.url}/hello/dpop", token)).status_code == 200
    for _ in range(5):
        proof = CLIENT.proof("GET", f"{api.url}/hello/dpop", token)
        statuses: list[int] = []
        barrier = threading.Barrier(2)

        def send(proof: str, barrier: threading.Barrier, statuses: list[int]) -> None:
            barrier.wait()
            statuses.append(call(api, token, proof).status_code)

        threads = [threading.Thread(target=send, args=(proof, barrier, statuses)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [200, 401]
    assert len(api.runner.worker_pids()[AUTHORIZER]) >= 2


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda api, token: CLIENT.proof("GET", f"{api.url}/hello", token), "a proof for another URL"),
        (lambda api, token: CLIENT.proof("POST", f"{api.url}/hello/dpop", token), "a proof for another method"),
        (lambda api, token: CLIENT.proof("GET", f"{api.url}/hello/dpop", "another token"), "a proof for another token"),
        (lambda api, token: ec_key("thief").proof("GET", f"{api.url}/hello/dpop", token), "the thief's own key"),
        (lambda api, token: CLIENT.proof("GET", f"{api.url}/hello/dpop", token, iat=1), "an old proof"),
        (lambda api, token: CLIENT.proof("GET", f"{api.url}/hello/dpop", token, headers={"typ": "JWT"}), "typ JWT"),
    ],
)
def test_a_proof_that_does_not_fit_is_refused(api, jwks, make, what):
    token = bound_token(jwks)
    refused(call(api, token, make(api, token)))


def test_a_bearer_token_on_the_dpop_route_and_a_bound_token_as_bearer_are_refused(api, jwks):
    unbound = mint(KEY, access_claims(jwks.issuer))
    refused(call(api, unbound, CLIENT.proof("GET", f"{api.url}/hello/dpop", unbound)))
    bound = bound_token(jwks)
    refused(call(api, bound, CLIENT.proof("GET", f"{api.url}/hello/dpop", bound), scheme="Bearer"))
    # A downgrade on a bearer route: the TOKEN authorizer refuses any token bound to a key.
    refused(requests.get(f"{api.url}/hello", headers={"Authorization": f"Bearer {bound}"}, timeout=30))


def test_a_token_whose_scopes_do_not_open_the_route_is_403(api, jwks):
    token = bound_token(jwks, scopes=("register",))
    response = call(api, token, CLIENT.proof("GET", f"{api.url}/hello/dpop", token))
    assert response.status_code == 403, response.text


def test_an_unreachable_replay_store_fails_closed_with_503(jwks):
    with start(jwks, "http://127.0.0.1:9", max_workers=1) as api:
        token = bound_token(jwks)
        response = call(api, token, CLIENT.proof("GET", f"{api.url}/hello/dpop", token))
    assert response.status_code == 503, response.text
    assert response.json() == UNAVAILABLE

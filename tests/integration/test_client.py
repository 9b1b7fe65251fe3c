"""m2m_client against the local Okta server on 127.0.0.1: real tokens, real refusals, real timeouts."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from devstack import free_port
from m2m_client import ClientConfig, IssuerUnreachableError, M2MClient, TokenRequestError
from okta_local.testing import LocalOkta
from tests.integration.client_cli import run_m2m_client
from tests.integration.okta_local_fixtures import clean_faults

pytestmark = pytest.mark.integration

__all__ = ["clean_faults"]  # re-exported fixture: it clears the faults of this module's own `okta` (short token life)


@pytest.fixture(scope="module")
def okta(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalOkta]:
    with LocalOkta(tmp_path_factory.mktemp("okta"), token_ttl=2) as server:
        yield server


def client(okta: LocalOkta, secret: str | None = None, scope: str = "hello", timeout: float = 10) -> M2MClient:
    config = ClientConfig(okta.issuer, okta.env["CLIENT_ID"], secret or okta.env["CLIENT_SECRET"], scope=scope)
    return M2MClient(config, timeout=timeout)


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_token_is_issued_for_the_client_and_scope(okta):
    token = client(okta).token()
    issued = claims(token)
    assert (issued["cid"], issued["scp"], issued["iss"]) == (okta.env["CLIENT_ID"], ["hello"], okta.issuer)


class Clock:
    """The client's monotonic clock, moved by the test: a slow machine cannot age a token behind its back."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_is_cached_then_renewed_before_it_expires(okta):
    # Given tokens that live 2 seconds (refreshed 0.2 s early: a tenth of their life, at most 30 s)
    clock = Clock()
    config = ClientConfig(okta.issuer, okta.env["CLIENT_ID"], okta.env["CLIENT_SECRET"], scope="hello")
    c = M2MClient(config, clock=clock)
    first = c.token()
    # When asked again within its life, then it is reused
    clock.now += 1.7
    assert c.token() == first
    assert c.tokens_fetched == 1
    # When asked again once it is within its refresh margin, then a new one is fetched from the issuer
    clock.now += 0.1
    assert c.token() != first
    assert c.tokens_fetched == 2


def test_wrong_secret_is_a_one_line_refusal(okta):
    with pytest.raises(TokenRequestError) as raised:
        client(okta, secret="not-the-secret").token()
    message = str(raised.value)
    assert message.startswith(f"the issuer refused the client credentials of {okta.env['CLIENT_ID']} (invalid_client")
    assert "not-the-secret" not in message


def test_scope_the_client_may_not_request_is_named(okta):
    client_id = okta.env["CLIENT_ID"]
    expected = rf"^the issuer's access policies do not grant {client_id} the scope 'register' \(access_denied"
    with pytest.raises(TokenRequestError, match=expected):
        client(okta, scope="register").token()


def test_scope_the_issuer_does_not_have_is_named(okta):
    with pytest.raises(TokenRequestError, match=r"^the issuer refused the scope 'no-such-scope' \(invalid_scope"):
        client(okta, scope="no-such-scope").token()


def test_token_endpoint_failure_is_reported(clean_faults):
    clean_faults.set_faults(token="fail")
    with pytest.raises(TokenRequestError, match=r"^the issuer answered 5\d\d to the token request"):
        client(clean_faults).token()


def test_slow_issuer_times_out(clean_faults):
    clean_faults.set_faults(token="slow", delay_seconds=3)
    with pytest.raises(IssuerUnreachableError, match=r"^cannot reach the issuer at .*/v1/token: timed out$"):
        client(clean_faults, timeout=0.5).token()


def test_unreachable_issuer_is_named():
    config = ClientConfig(f"http://127.0.0.1:{free_port()}/oauth2/default", "id", "secret")
    with pytest.raises(IssuerUnreachableError, match=r"connection refused or host unknown$"):
        M2MClient(config, timeout=2).token()


def test_cli_prints_the_token_and_nothing_else(okta, tmp_path):
    settings = {
        "ISSUER": okta.issuer,
        "CLIENT_ID": okta.env["CLIENT_ID"],
        "CLIENT_SECRET": okta.env["CLIENT_SECRET"],
        "DEFAULT_SCOPE": "hello",
    }
    result = run_m2m_client(tmp_path / "demo.env", settings, "token")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert claims(result.stdout.strip())["cid"] == okta.env["CLIENT_ID"]


def test_cli_unreachable_issuer_is_one_line(tmp_path):
    settings = {"ISSUER": f"http://127.0.0.1:{free_port()}/oauth2/default", "CLIENT_ID": "a", "CLIENT_SECRET": "b"}
    result = run_m2m_client(tmp_path / "c.env", settings, "token")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: cannot reach the issuer at http://127.0.0.1:")
    assert result.stderr.count("\n") == 1

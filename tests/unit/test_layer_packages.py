"""The layer's two subpackages: okta_m2m.tokens' lazy public face, and the import contracts that keep the sides
apart (.importlinter, run by `make lint`), shown to fail on a deliberate violation."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import okta_m2m.clients
import okta_m2m.tokens

ROOT = Path(__file__).resolve().parents[2]
TOKENS_INIT = ROOT / "layers/core/okta_m2m/tokens/__init__.py"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _type_checking_names() -> dict[str, str]:
    """Name -> private module, from the `if TYPE_CHECKING:` block of okta_m2m/tokens/__init__.py."""
    tree = ast.parse(TOKENS_INIT.read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    return {
        alias.name: node.module.rsplit(".", 1)[1]
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }


def test_the_lazy_table_and_the_type_checkers_view_name_the_same_things():
    assert okta_m2m.tokens._WHERE == _type_checking_names()
    assert set(okta_m2m.tokens.__all__) == set(okta_m2m.tokens._WHERE)


@pytest.mark.parametrize("name", sorted(okta_m2m.tokens.__all__))
def test_every_public_token_name_resolves_to_its_private_module(name):
    value = getattr(okta_m2m.tokens, name)
    module = sys.modules[f"okta_m2m.tokens.{okta_m2m.tokens._WHERE[name]}"]
    assert getattr(module, name) is value
    assert name in dir(okta_m2m.tokens)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'jws'"):
        _ = okta_m2m.tokens.jws


@pytest.mark.parametrize("name", okta_m2m.clients.__all__)
def test_every_public_client_name_is_there(name):
    assert getattr(okta_m2m.clients, name) is not None


def _loaded_after(statement: str, *args: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules a fresh interpreter has loaded after running statement (with args as sys.argv[1:])."""
    code = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT / "layers/core")}
    run = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True)
    return set(run.stdout.split())


def test_the_authorizers_first_imports_load_no_crypto_and_no_client_side():
    # The key prefetch starts after these names load and before everything else (functions/authorizer/app.py).
    loaded = _loaded_after("from okta_m2m.tokens import TIMEOUT_SECONDS, Prefetched, issuer_settings")
    ours = {name for name in loaded if name.startswith("okta_m2m")}
    assert ours == {
        "okta_m2m",
        "okta_m2m.errors",
        "okta_m2m.tokens",
        "okta_m2m.tokens._fetch",
        "okta_m2m.tokens._issuers",
    }
    assert not {"cryptography", "typing", "json"} & loaded


# A DPoP route's first request, in a fresh interpreter: the bound token verified (its keys given), the proof checked,
# and its claim signed and sent to a store that is not there: the claim fails closed, and anything else (a refused
# token or proof) fails the child.
REQUEST_COLD_START = """
import json
from okta_m2m.errors import ReplayStoreUnavailableError
from okta_m2m.tokens import KeyCache, TokenAuthorizer, authorizer_settings
jwks, event = json.loads(sys.argv[1]), json.loads(sys.argv[2])
settings = authorizer_settings()
keys = {i.issuer: KeyCache(i.issuer, i.jwks_uri, fetch=lambda uri, timeout: jwks) for i in settings.issuers}
authorizer = TokenAuthorizer(settings, keys)
if len(sys.argv) > 3:  # a bearer token (argv[3]) first, on the bearer route beside the DPoP one
    assert authorizer.authorize("Bearer " + sys.argv[3], event["methodArn"].removesuffix("/dpop"))["principalId"]
try:
    authorizer.authorize_request(event)
except ReplayStoreUnavailableError:
    pass
else:
    sys.exit("the claim went through: no store was there to take it")
"""


def _dpop_cold_start(name: str) -> tuple[dict[str, Any], str, dict[str, Any], dict[str, str]]:
    """Keys, a bearer token, a DPoP route's REQUEST event (a bound token and its proof) and the settings for both."""
    from tests.dpop_factory import ec_key
    from tests.jwt_factory import access_claims, mint, signing_key

    issuer, key, client = "https://issuer.example/oauth2/default", signing_key(name), ec_key(name)
    token = mint(key, access_claims(issuer, ("hello",), cnf={"jkt": client.jkt}))
    url = "https://abcdef1234.execute-api.us-east-1.amazonaws.com/v1/hello/dpop"
    headers = {"Authorization": [f"DPoP {token}"], "DPoP": [client.proof("GET", url, token)]}
    event = {"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1/GET/hello/dpop"}
    event |= {"multiValueHeaders": headers, "headers": {name: values[0] for name, values in headers.items()}}
    env = {
        "ISSUER": issuer,
        "AUDIENCE": "api://default",
        "ROUTE_SCOPES": "GET /hello hello\nDPoP GET /hello/dpop hello",
    }
    env |= {"DPOP_REPLAY_TABLE": "replay", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9"}
    env |= {"AWS_ACCESS_KEY_ID": "cold", "AWS_SECRET_ACCESS_KEY": "cold"}
    return {"keys": [key.jwk()]}, mint(key, access_claims(issuer, ("hello",))), event, env


def test_a_dpop_requests_cold_path_loads_neither_cryptographys_openssl_backend_module_nor_hashlib():
    # Each costs milliseconds of a DPoP route's cold start (make bench): cryptography's backend module, which
    # ECDSA() imports for a signing option (_dpop makes its verifier without it), and hashlib and hmac, which load a
    # second OpenSSL, the system's libcrypto (SHA-256 and HMAC come from cryptography's: tokens._digest).
    jwks, _, event, env = _dpop_cold_start("cold-dpop")
    loaded = _loaded_after(REQUEST_COLD_START, json.dumps(jwks), json.dumps(event), env=env)
    assert {"okta_m2m.tokens._dpop", "okta_m2m.tokens._replay", "okta_m2m.tokens._sigv4"} <= loaded
    assert not {"cryptography.hazmat.backends.openssl.backend", "hashlib", "_hashlib", "hmac"} & loaded


# Both cold paths in a fresh interpreter (REQUEST_COLD_START with a bearer token first), every compile() counted but
# a module's own (a test child compiles the sources it loads). typing compiles string annotations, and a process's
# first compile() costs about 1.3 ms (okta_m2m/tokens/__init__.py).
COUNTING_COMPILES = """
import builtins, sys
_compile, compiled = builtins.compile, []
def _spy(source, *args, **kwargs):
    if not sys._getframe(1).f_code.co_filename.startswith("<frozen importlib"):
        compiled.append(str(source)[:80])
    return _compile(source, *args, **kwargs)
builtins.compile = _spy
"""


def test_neither_cold_path_compiles_anything():
    jwks, bearer, event, env = _dpop_cold_start("cold-compile")
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            COUNTING_COMPILES + REQUEST_COLD_START + "print(json.dumps(compiled))",
            json.dumps(jwks),
            json.dumps(event),
            bearer,
        ],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT / "layers/core")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(run.stdout.splitlines()[-1]) == []


def test_the_whole_token_side_loads_without_the_client_side_or_its_libraries():
    loaded = _loaded_after("from okta_m2m.tokens import TokenAuthorizer, KeyCache, check_route_scope")
    assert not {name for name in loaded if name.startswith("okta_m2m.clients")}
    assert not {"boto3", "botocore", "requests", "jwt", "aws_lambda_powertools"} & loaded


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / ".importlinter"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A copy of the packages the contracts name, to break on purpose."""
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: make venv installs import-linter")
    root = tmp_path_factory.mktemp("layout")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "layers/core/okta_m2m", root / "okta_m2m", ignore=ignore)
    shutil.copytree(ROOT / "functions", root / "functions", ignore=ignore)
    for package in ("local_api", "devstack", "benchmarks", "okta_local", "sam_local"):
        shutil.copytree(ROOT / "tools" / package, root / package, ignore=ignore)
    shutil.copytree(ROOT / "clients/python/src/m2m_client", root / "m2m_client", ignore=ignore)
    return root


def test_the_contracts_hold_on_the_copy(tree):
    result = _lint_imports(tree)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "okta_m2m/tokens/_jws.py",
            "from okta_m2m.clients import Registry",
            "The token side never imports the client side",
        ),
        (
            "functions/hello/app.py",
            "from okta_m2m.tokens._scopes import check_route_scope",
            "Functions import the layer's public names only",
        ),
        (
            "local_api/drift.py",
            "from okta_m2m.tokens._routes import path_shape",
            "Tools import the layer's public names only",
        ),
        ("functions/authorizer/app.py", "import requests", "The authorizer's cold path"),
        ("okta_m2m/errors.py", "from okta_m2m.tokens import Route", "The shared modules import neither side"),
        ("m2m_client/client.py", "import boto3", "The client library (its own distribution) imports nothing"),
        ("m2m_client/config.py", "from okta_local.envfile import read_env", "The client library"),
    ],
)
def test_a_deliberate_violation_breaks_its_contract(tree, module, line, contract):
    path = tree / module
    original = path.read_text()
    path.write_text(original + f"\n{line}  # noqa\n")
    try:
        result = _lint_imports(tree)
    finally:
        path.write_text(original)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert contract in broken

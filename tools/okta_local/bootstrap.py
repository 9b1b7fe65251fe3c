"""First start and every restart: the org's signing key, its SSWS API token and okta.env; with `seed` (the test
harness LocalOkta only), also the fixtures below.

An org started by `serve` is empty, as a new Okta org is: the default authorization server without scopes or
policies, and a super-admin API token. `python -m okta_setup apply` makes the rest, as it does in a real org.

Seeded for tests: the scopes hello (the default scope) and register, the admin client (in the admin policy, whose
rule grants register), the demo client (in the clients policy, whose rule grants hello) and the register
function's service app (private_key_jwt, DPoP-bound tokens, grants okta.apps.manage and
okta.authorizationServers.manage, its private JWK in DIR/service-app.jwk.json). A state directory from an earlier
version gets whatever is missing; its apps that could get hello by the old per-app scope lists are enrolled in the
clients policy.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from okta_local.app_keys import active_keys, key_record
from okta_local.apps import PRIVATE_KEY_JWT, create_app
from okta_local.authservers import create_scope, scope_names
from okta_local.client_secrets import secret_matches
from okta_local.context import APPS_MANAGE, AUTH_SERVERS_MANAGE, HELLO_SCOPE, REGISTER_SCOPE, Context
from okta_local.credentials import hash_secret, new_api_token, new_client_secret, verify_secret
from okta_local.dpop import jwk_thumbprint
from okta_local.envfile import ENV_FILE, read_env, write_env, write_private
from okta_local.grants import add_grant
from okta_local.keys import new_client_jwk_pair
from okta_local.policies import client_credentials_rule, create_policy, create_rule

API_TOKEN_NAME = "okta_local"  # noqa: S105 (the token's name, not the token)
SERVICE_JWK_FILE = "service-app.jwk.json"
SERVICE_SCOPES = (APPS_MANAGE, AUTH_SERVERS_MANAGE)
_SEEDED = (
    # (meta key, label, env id key, env secret key)
    ("admin_client_id", "okta_local admin", "ADMIN_CLIENT_ID", "ADMIN_CLIENT_SECRET"),
    ("demo_client_id", "okta_local demo", "CLIENT_ID", "CLIENT_SECRET"),
)


def _seeded_client(ctx: Context, old: dict[str, str], spec: tuple[str, str, str, str]) -> tuple[str, str, bool]:
    """Return (client id, secret, newly issued) for a seeded client, reissuing what okta.env no longer proves."""
    meta_key, label, id_key, secret_key = spec
    client_id = ctx.store.get_meta(meta_key)
    app = ctx.store.get_app(client_id) if client_id else None
    if app is None:
        app, secret = create_app(ctx, label, "client_secret_basic")
        ctx.store.set_meta(meta_key, app.id)
        return app.id, str(secret), True
    secret = old.get(secret_key, "")
    if old.get(id_key) == app.id and secret and secret_matches(ctx.store, app.id, secret):
        return app.id, secret, False
    # The secret exists only as a hash, so a lost okta.env (or a secret rotated away from the one in it)
    # means a new secret, which replaces all of the app's secrets.
    secret = new_client_secret()
    ctx.store.set_app_secret(app.id, hash_secret(secret), time.time())
    return app.id, secret, True


def _read_jwk(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _key_id(jwk: dict[str, Any] | None) -> tuple[object, str] | None:
    try:
        return None if jwk is None else (jwk.get("kid"), jwk_thumbprint(jwk))
    except ValueError:
        return None


def _service_app(ctx: Context, state_dir: Path) -> tuple[str, Path, bool]:
    """Return (client id, private JWK file, new key issued) of the register function's service app."""
    path = (state_dir / SERVICE_JWK_FILE).resolve()
    client_id = ctx.store.get_meta("service_client_id")
    app = ctx.store.get_app(client_id) if client_id else None
    private_id = _key_id(_read_jwk(path))
    fresh = False
    if app is None or private_id is None or private_id not in {_key_id(k) for k in active_keys(app)}:
        private, public = new_client_jwk_pair()
        write_private(path, json.dumps(private, indent=2) + "\n")
        fresh = True
        if app is None:
            app, _ = create_app(ctx, "okta_local register service", PRIVATE_KEY_JWT, jwks=[public], dpop_bound=True)
            ctx.store.set_meta("service_client_id", app.id)
        else:
            ctx.store.set_app_jwks(app.id, [key_record(public)], time.time())
    for scope in SERVICE_SCOPES:
        add_grant(ctx, app.id, scope)  # None when the grant is already there
    return app.id, path, fresh


def _legacy_hello_clients(ctx: Context, skip: set[str]) -> list[str]:
    """Return the apps an earlier version let ask for hello by their own scope list."""
    found, after = [], None
    while True:
        page = ctx.store.list_apps(None, None, after, 200)
        found += [a.id for a in page if HELLO_SCOPE in a.legacy_scopes and a.id not in skip]
        if len(page) < 200:
            return found
        after = page[-1].id


def _policy(ctx: Context, meta_key: str, name: str, clients: Callable[[], list[str]], priority: int, scope: str) -> str:
    """Return the id of a seeded policy with one rule granting scope, creating it if it is missing."""
    policy_id = ctx.store.get_meta(meta_key)
    if policy_id and ctx.store.get_document("policies", policy_id):
        return policy_id
    policy = create_policy(
        ctx,
        {
            "name": name,
            "description": f"okta_local: clients in this policy may get {scope} tokens",
            "priority": priority,
            "conditions": {"clients": {"include": clients()}},
        },
    )
    create_rule(ctx, policy.id, client_credentials_rule(f"{scope} for client credentials", [scope]))
    ctx.store.set_meta(meta_key, policy.id)
    return policy.id


def _api_token(ctx: Context, old: dict[str, str]) -> tuple[str, bool]:
    stored = ctx.store.get_api_token_hash(API_TOKEN_NAME)
    token = old.get("OKTA_API_TOKEN", "")
    if stored and token and verify_secret(token, stored):
        return token, False
    token = new_api_token()
    ctx.store.put_api_token(API_TOKEN_NAME, hash_secret(token), time.time())
    return token, True


def _seed_scopes(ctx: Context) -> None:
    held = scope_names(ctx.store)
    for name, default in ((HELLO_SCOPE, True), (REGISTER_SCOPE, False)):
        if name not in held:
            create_scope(ctx, {"name": name, "default": default, "metadataPublish": "ALL_CLIENTS"})


def prepare(ctx: Context, state_dir: Path, seed: bool = False) -> tuple[dict[str, str], list[str]]:
    """Write okta.env for the current URL; return its values and the names of newly issued credentials."""
    ctx.keyring.signing_key()  # creates the first key on first start
    if ctx.store.get_meta("created") is None:
        ctx.store.set_meta("created", str(time.time()))
    path = state_dir / ENV_FILE
    old = read_env(path)
    issued: list[str] = []
    token, fresh = _api_token(ctx, old)
    if fresh:
        issued.append("OKTA_API_TOKEN")
    env = {"ISSUER": ctx.issuer, "OKTA_ORG_URL": ctx.base_url, "OKTA_API_TOKEN": token}
    if seed:
        _seed(ctx, state_dir, old, env, issued)
    write_env(path, env)
    return env, issued


def _seed(ctx: Context, state_dir: Path, old: dict[str, str], env: dict[str, str], issued: list[str]) -> None:
    """The test harness's fixtures: scopes, the admin and demo clients, the service app, the two policies."""
    _seed_scopes(ctx)
    env.update(HELLO_SCOPE=HELLO_SCOPE, REGISTER_SCOPE=REGISTER_SCOPE, DEFAULT_SCOPE=HELLO_SCOPE)
    for spec in _SEEDED:
        client_id, secret, fresh = _seeded_client(ctx, old, spec)
        env[spec[2]], env[spec[3]] = client_id, secret
        if fresh:
            issued.append(spec[3])
    admin, demo = env["ADMIN_CLIENT_ID"], env["CLIENT_ID"]
    service_id, jwk_file, fresh = _service_app(ctx, state_dir)
    env["OKTA_SERVICE_CLIENT_ID"], env["OKTA_SERVICE_PRIVATE_JWK_FILE"] = service_id, str(jwk_file)
    if fresh:
        issued.append("OKTA_SERVICE_PRIVATE_JWK_FILE")
    env["OKTA_ADMIN_POLICY_ID"] = _policy(
        ctx, "admin_policy_id", "okta_local admin", lambda: [admin], 1, REGISTER_SCOPE
    )
    env["OKTA_CLIENTS_POLICY_ID"] = _policy(
        ctx,
        "clients_policy_id",
        "okta_local clients",
        lambda: [demo, *_legacy_hello_clients(ctx, {admin, demo, service_id})],
        2,
        HELLO_SCOPE,
    )

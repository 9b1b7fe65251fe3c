"""First start and every restart: make sure the seeded clients, API token and okta.env are in place."""

from __future__ import annotations

import time
from pathlib import Path

from okta_local.apps import create_app
from okta_local.context import DEFAULT_SCOPES, HELLO_SCOPE, REGISTER_SCOPE, Context
from okta_local.credentials import hash_secret, new_api_token, new_client_secret, verify_secret
from okta_local.envfile import ENV_FILE, read_env, write_env

API_TOKEN_NAME = "okta_local"  # noqa: S105 (the token's name, not the token)
_SEEDED = (
    # (meta key, label, scopes, env id key, env secret key)
    ("admin_client_id", "okta_local admin", (REGISTER_SCOPE,), "ADMIN_CLIENT_ID", "ADMIN_CLIENT_SECRET"),
    ("demo_client_id", "okta_local demo", (HELLO_SCOPE,), "CLIENT_ID", "CLIENT_SECRET"),
)


_Seed = tuple[str, str, tuple[str, ...], str, str]


def _seeded_client(ctx: Context, old: dict[str, str], spec: _Seed) -> tuple[str, str, bool]:
    """Return (client id, secret, newly issued) for a seeded client, reissuing what okta.env no longer proves."""
    meta_key, label, scopes, id_key, secret_key = spec
    client_id = ctx.store.get_meta(meta_key)
    app = ctx.store.get_app(client_id) if client_id else None
    if app is None:
        app, secret = create_app(ctx, label, "client_secret_basic", scopes)
        ctx.store.set_meta(meta_key, app.id)
        return app.id, secret, True
    secret = old.get(secret_key, "")
    if old.get(id_key) == app.id and secret and verify_secret(secret, app.secret_hash):
        return app.id, secret, False
    # The secret exists only as a hash, so a lost okta.env means a new secret.
    secret = new_client_secret()
    ctx.store.set_app_secret(app.id, hash_secret(secret), time.time())
    return app.id, secret, True


def _api_token(ctx: Context, old: dict[str, str]) -> tuple[str, bool]:
    stored = ctx.store.get_api_token_hash(API_TOKEN_NAME)
    token = old.get("OKTA_API_TOKEN", "")
    if stored and token and verify_secret(token, stored):
        return token, False
    token = new_api_token()
    ctx.store.put_api_token(API_TOKEN_NAME, hash_secret(token), time.time())
    return token, True


def prepare(ctx: Context, state_dir: Path) -> tuple[dict[str, str], list[str]]:
    """Write okta.env for the current URL; return its values and the names of newly issued secrets."""
    ctx.keyring.signing_key()  # creates the first key on first start
    path = state_dir / ENV_FILE
    old = read_env(path)
    issued: list[str] = []
    token, fresh = _api_token(ctx, old)
    if fresh:
        issued.append("OKTA_API_TOKEN")
    env = {
        "ISSUER": ctx.issuer,
        "OKTA_ORG_URL": ctx.base_url,
        "OKTA_API_TOKEN": token,
        "HELLO_SCOPE": HELLO_SCOPE,
        "REGISTER_SCOPE": REGISTER_SCOPE,
        "DEFAULT_SCOPE": " ".join(DEFAULT_SCOPES),
    }
    for spec in _SEEDED:
        client_id, secret, fresh = _seeded_client(ctx, old, spec)
        env[spec[3]], env[spec[4]] = client_id, secret
        if fresh:
            issued.append(spec[4])
    write_env(path, env)
    return env, issued

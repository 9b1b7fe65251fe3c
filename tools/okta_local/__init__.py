"""okta_local: a local Okta-compatible authorization server for development and tests.

A development tool, never a production authorization server: it binds 127.0.0.1 unless told otherwise,
keeps its signing keys unencrypted in SQLite, and has no admin UI or access policies.

What it serves (Okta's paths and wire formats; issuer http://HOST:PORT/oauth2/default, audience api://default):
- GET  /oauth2/default/.well-known/oauth-authorization-server and .../openid-configuration
- GET  /oauth2/default/v1/keys     RS256 keys (kid, use sig); the old key stays listed after a rotation
- POST /oauth2/default/v1/token    client_credentials, client_secret_basic or client_secret_post (every
  client may use either; Okta enforces the app's token_endpoint_auth_method); RFC 6749 errors
- /api/v1/apps (SSWS API token): POST (oidc_client service apps; answers 200 like Okta), GET with q, filter
  and limit/after, GET /{id}, POST /{id}/lifecycle/deactivate|activate, DELETE /{id} (inactive apps only);
  Okta error objects and X-Rate-Limit-* headers on every answer, 429 past the per-minute limit
- GET/POST /_local/faults (SSWS API token): fault injection, see below
- GET /_local/keys-log (SSWS API token): the last answers of /v1/keys (received, answered, status, fault)

Scopes: hello and register. Okta grants scopes by the authorization server's access policy; here the
seeded demo client and every app created through the Apps API may request hello, the seeded admin client
register. A token request without scope gets the default scope (hello) if the client may have it.

Run: `.venv/bin/python -m okta_local serve --host 127.0.0.1 --port 9000 --state-dir DIR` (port 0 picks a
free port). The first start creates the admin client, the demo client and an SSWS API token, prints their
secrets once, and writes DIR/okta.env (mode 0600): ISSUER, OKTA_ORG_URL, OKTA_API_TOKEN, HELLO_SCOPE,
REGISTER_SCOPE, DEFAULT_SCOPE, ADMIN_CLIENT_ID, ADMIN_CLIENT_SECRET, CLIENT_ID, CLIENT_SECRET. Every start
rewrites okta.env with the current URL; secrets are stored hashed, so if okta.env is lost the seeded
secrets are reissued. The last line printed at start is `okta_local: listening on URL issuer ISSUER`.

Key rotation: `python -m okta_local rotate-keys --state-dir DIR [--grace-seconds S]`. A running server
reads keys from SQLite on every request, so it signs with the new key at once and keeps publishing the
old one for the grace period (default one day; 0 is an emergency rotation).

Faults on a running server: `python -m okta_local faults --state-dir DIR --keys fail|hang|slow
--token fail|slow --apps 429|500 --delay-seconds S --apps-rate-limit N` (or `--show`), or
POST /_local/faults with JSON {"keys": ..., "token": ..., "apps": ..., "delay_seconds": ..., "apps_rate_limit": ...}.
Each POST replaces all faults; {} clears them. "hang" holds /v1/keys until the fault is cleared.

In Python tests:

    from okta_local.testing import LocalOkta

    with LocalOkta(tmp_path) as okta:          # 127.0.0.1, free port, state in tmp_path
        okta.issuer, okta.org_url, okta.env    # env: the okta.env values
        token = okta.token()                   # demo client, scope hello; token(client_id, secret, scope)
        okta.set_faults(keys="fail")           # clear_faults() to undo
        okta.rotate_keys(grace_seconds=60)
"""

"""okta_local: a local Okta-compatible authorization server for development and tests.

A development tool, never a production authorization server: it binds 127.0.0.1 unless told otherwise
and keeps its signing keys unencrypted in SQLite.

What it serves (Okta's paths and wire formats; ORG = http://HOST:PORT):

Custom authorization server `default` (issuer ORG/oauth2/default, audience api://default):
- GET  /oauth2/default/.well-known/oauth-authorization-server and .../openid-configuration
- GET  /oauth2/default/v1/keys     RS256 keys (kid, use sig); the old key stays listed after a rotation
- POST /oauth2/default/v1/token    client_credentials, client_secret_basic or client_secret_post (every
  client may use either; Okta enforces the app's token_endpoint_auth_method) with any ACTIVE client secret
  of the ACTIVE app (an INACTIVE or deleted secret: 401 invalid_client); RFC 6749 errors. The scopes
  (those of the authorization server's scope objects; the default scope is the one marked default) are granted by
  the access policies, evaluated as Okta does: ACTIVE policies by priority whose conditions.clients.include names
  the client or ALL_CLIENTS, in each the ACTIVE rules by priority; the first rule with grantTypes
  client_credentials and scopes covering every requested scope ("*" covers all) decides, otherwise evaluation goes
  on to the next rule and policy. No policy and rule that grant the client every requested scope (the client in no
  policy, or its policies' rules grant other scopes): 400 access_denied "Policy evaluation failed for this request,
  please check the policy configurations."; a scope the server does not have: 400 invalid_scope "One or more
  scopes are not configured for the authorization server resource."
  expires_in is the rule's accessTokenLifetimeMinutes, capped by --token-ttl.

Org authorization server (issuer and access token audience ORG; tokens for Okta's own API):
- GET  /.well-known/oauth-authorization-server (and openid-configuration), GET /oauth2/v1/keys (same keys)
- POST /oauth2/v1/token  client_credentials with private_key_jwt only: client_assertion_type
  urn:ietf:params:oauth:client-assertion-type:jwt-bearer and a client_assertion signed (RS256/384/512,
  ES256/384/512) with a key registered on the app (kid; may be left out if the app has one key), iss = sub =
  client_id, aud = exactly ORG/oauth2/v1/token, exp at most an hour ahead, a jti used only once (also when
  the answer is an error such as use_dpop_nonce). Anything else: 401 invalid_client. Parameters may also
  come in the query string (older Okta SDKs). The scope must be okta.* scopes the app holds grants for
  (400 invalid_scope otherwise; there are no default scopes). Answer {"token_type", "expires_in": 3600,
  "access_token", "scope"}; token claims ver, jti, iss, aud, iat, exp, cid, scp (array), sub, cnf if bound.
- DPoP (RFC 9449): an app with settings.oauthClient.dpop_bound_access_tokens must send a `DPoP` proof
  (typ dpop+jwt, alg RS*/ES*, public jwk; htm POST, htu the token URL, iat within 5 minutes, unused jti);
  any app may. A proof without a valid nonce: 400 {"error": "use_dpop_nonce", "error_description":
  "Authorization server requires nonce in DPoP proof."} with header DPoP-Nonce; nonces change every
  minute and are accepted for five. Bad proofs: 400 invalid_dpop_proof. A bound token has token_type DPoP
  and cnf.jkt (RFC 7638 thumbprint of the proof's key); successful DPoP answers carry DPoP-Nonce too.

Management API (Okta error objects; X-Rate-Limit-* headers on every answer, 429 past the per-minute limit):
- /api/v1/apps: POST (oidc_client service apps, client_secret_basic/_post or private_key_jwt with
  settings.oauthClient.jwks.keys and dpop_bound_access_tokens; answers 200 like Okta), GET with q, filter
  and limit/after, GET /{id}, POST /{id}/lifecycle/deactivate|activate, DELETE /{id} (inactive apps only).
  A new app is in no access policy: it gets no custom-server token until it is enrolled in one.
- /api/v1/apps/{id}/grants: GET (expand=scope), POST {"issuer": ORG, "scopeId": "okta.apps.manage"} (201),
  GET|DELETE /{grantId} (204).
- /api/v1/apps/{id}/credentials/secrets (Okta's client secret management, for rotation with no downtime):
  GET (200, list), POST with no body or {"client_secret": 14-100 printable ASCII, "status": "ACTIVE"|"INACTIVE"}
  (201; a generated 40-character secret if none is given), GET /{secretId}, POST /{secretId}/lifecycle/
  activate|deactivate (200), DELETE /{secretId} (204). OAuth2ClientSecret: id (ocs...), status,
  client_secret (plaintext only in the POST answer, "******" elsewhere), secret_hash (22 characters derived
  from the stored hash), created, lastUpdated, _links (ACTIVE: deactivate; INACTIVE: activate, delete).
  A new app has its first secret there, ACTIVE. Refusals, all 400 E0000001 "Api validation failed:
  OAuth2ClientSecretMediated" with one cause, as Okta documents them: a third secret ("You have reached the
  maximum number of client secrets per client."), deactivating the only ACTIVE secret ("You can't deactivate
  the only active client secret."), deleting an ACTIVE one ("You can't delete an active client secret.
  Deactivate the secret before deleting it.") and any secret of a private_key_jwt app; a bad client_secret
  or status is "Api validation failed: client_secret" (or status). Unknown secret: 404 E0000007
  (OAuth2ClientSecretMediated). Reads need okta.apps.read or .manage, writes .manage, like the rest of Apps.
- /api/v1/authorizationServers/default/policies[/{id}[/rules[/{ruleId}]]]: GET, POST (201), PUT (replaces
  the whole object, last write wins), DELETE (204), POST .../lifecycle/activate|deactivate (204).
- Authentication: `SSWS <API token>` (every right), or an org access token as `Bearer <token>` or, for
  DPoP-bound tokens (only), `DPoP <token>` with a DPoP proof for the request (htm, htu without query, ath =
  base64url(SHA-256(token)), the bound key, fresh iat, unused jti). Reads of apps and grants need
  okta.apps.read or okta.apps.manage, other app calls okta.apps.manage; policy reads need
  okta.authorizationServers.read or .manage, writes .manage. A token whose app was deactivated or deleted
  no longer works, and it carries only the scopes the app is still granted. 401 E0000011 "Invalid token
  provided" and 403 E0000006 "You do not have permission to perform the requested action", both with a
  WWW-Authenticate challenge (Bearer or DPoP; error="invalid_token", "invalid_dpop_proof" or
  "insufficient_scope").
- GET/POST /_local/faults and GET /_local/keys-log (SSWS only): fault injection (below) and the last answers
  of /oauth2/default/v1/keys (received, answered, status, fault).

Run: `.venv/bin/python -m okta_local serve --host 127.0.0.1 --port 9000 --state-dir DIR` (port 0 picks a
free port). It starts as an empty org: the default authorization server (GET /api/v1/authorizationServers[/default])
with no scope and no policy, and an SSWS API token; `python -m okta_setup apply` makes the rest. Scopes:
/api/v1/authorizationServers/default/scopes (GET, POST 201, GET|PUT|DELETE /{scopeId}); app keys:
/api/v1/apps/{id}/credentials/jwks; custom roles, resource sets, bindings and client role assignments: okta_local.iam.
`--record FILE` keeps each management exchange for the contract tests; `--no-custom-roles` acts as an org without
them. The test harness (LocalOkta, seed=True) seeds: the scopes hello (default) and register, the admin client (in
the admin policy, its rule grants register), the demo client (in the clients policy, its rule grants hello),
the register function's service app (private_key_jwt, DPoP-bound tokens, an RSA 2048 key, grants okta.apps.manage and
okta.authorizationServers.manage; its private JWK in DIR/service-app.jwk.json, mode 0600) and an SSWS API
token. It prints the secrets (and the key file's path) once and writes DIR/okta.env (mode 0600): ISSUER,
OKTA_ORG_URL, OKTA_API_TOKEN, HELLO_SCOPE, REGISTER_SCOPE, DEFAULT_SCOPE, ADMIN_CLIENT_ID,
ADMIN_CLIENT_SECRET, CLIENT_ID, CLIENT_SECRET, OKTA_SERVICE_CLIENT_ID, OKTA_SERVICE_PRIVATE_JWK_FILE
(absolute), OKTA_CLIENTS_POLICY_ID (enrol new clients here), OKTA_ADMIN_POLICY_ID. Every start rewrites
okta.env with the current URL and seeds whatever is missing; secrets are stored hashed, so if okta.env is
lost the seeded secrets are reissued, and a lost key file means a new service app key. A state directory
from before access policies keeps working: its apps that could get hello are put in the clients policy.
The last line printed at start is `okta_local: listening on URL issuer ISSUER`.

Key rotation: `python -m okta_local rotate-keys --state-dir DIR [--grace-seconds S]`. A running server
reads keys from SQLite on every request, so it signs with the new key at once and keeps publishing the
old one for the grace period (default one day; 0 is an emergency rotation).

Faults on a running server: `python -m okta_local faults --state-dir DIR --keys fail|hang|slow
--token fail|slow|hang|429 --apps 429|500 --dpop-nonce always --delay-seconds S --apps-rate-limit N`
(or `--show`), or POST /_local/faults with JSON {"keys": ..., "token": ..., "apps": ..., "dpop_nonce": ...,
"delay_seconds": ..., "apps_rate_limit": ...}. Each POST replaces all faults; {} clears them. "hang" holds
the request until the fault is cleared. The token faults hit both token endpoints (fail: 500 server_error,
429: Okta's E0000047 with X-Rate-Limit-*); dpop_nonce "always" refuses every org token request once with
use_dpop_nonce and a fresh nonce, even one whose proof holds a valid nonce, so clients must retry.

In Python tests:

    from okta_local.testing import LocalOkta

    with LocalOkta(tmp_path) as okta:          # 127.0.0.1, free port, state in tmp_path
        okta.issuer, okta.org_url, okta.env    # env: the okta.env values
        token = okta.token()                   # demo client, scope hello; token(client_id, secret, scope)
        okta.enroll(client_id)                 # into the clients policy (or enroll(client_id, policy_id))
        client = okta.service_client()         # OrgClient: private_key_jwt + DPoP, as Okta's SDKs do it
        client.token("okta.apps.manage")       # then client.request("GET", f"{okta.org_url}/api/v1/apps")
        okta.service_client_id, okta.service_jwk, okta.service_jwk_path, okta.org_token_url
        okta.clients_policy_id, okta.admin_policy_id, okta.ssws()
        okta.client_secrets(client_id)         # add_client_secret(client_id, **body), retire_client_secret(id, sid)
        okta.rotate_client_secret(client_id)   # add one, deactivate and delete the others; returns the new secret
        okta.set_faults(keys="fail")           # clear_faults() to undo
        okta.rotate_keys(grace_seconds=60)
"""

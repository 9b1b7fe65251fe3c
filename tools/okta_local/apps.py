"""The part of Okta's Apps API this project uses: service apps (create, read, replace), their lifecycle, grants,
client secrets and public keys.

Callers authenticate with the SSWS API token or an org access token (apiauth): reads need okta.apps.read
or okta.apps.manage, everything else okta.apps.manage. Every answer carries X-Rate-Limit-* headers.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlencode

from okta_local import apiauth
from okta_local.app_keys import app_keys, handle_jwks, key_json, key_record
from okta_local.client_secrets import handle_secrets
from okta_local.context import (
    APPS_MANAGE,
    APPS_READ,
    PRIVATE_KEY_JWT,
    SECRET_METHODS,
    Answer,
    Context,
    Request,
    iso,
)
from okta_local.credentials import hash_secret, new_app_id, new_client_secret
from okta_local.dpop import ProofError, default_algorithm, public_key
from okta_local.errors import (
    OktaApiError,
    internal_error,
    json_body,
    method_not_allowed,
    not_found,
    rate_limited,
    validation_failed,
)
from okta_local.grants import handle_grants
from okta_local.store import App

PREFIX = "/api/v1/apps"
AUTH_METHODS = (*SECRET_METHODS, PRIVATE_KEY_JWT)
MAX_LABEL = 100
MAX_KEYS = 50
DEFAULT_LIMIT = 20
MAX_LIMIT = 200
MAX_PROFILE_CHARS = 4096
_STATUS_FILTER = re.compile(r'^\s*status\s+eq\s+"(ACTIVE|INACTIVE)"\s*$')


def app_json(ctx: Context, app: App, client_secret: str | None = None) -> dict[str, Any]:
    """Return the app the way Okta shows an OIDC service app; the secret only when it was just made."""
    href = f"{ctx.base_url}{PREFIX}/{app.id}"
    oauth_client: dict[str, Any] = {
        "autoKeyRotation": True,
        "client_id": app.id,
        "token_endpoint_auth_method": app.auth_method,
    }
    if client_secret is not None:
        oauth_client["client_secret"] = client_secret
    settings: dict[str, Any] = {
        # null as Okta answers them (its contract's own OpenIdConnectApplication examples), though its schema says
        # string: tests/okta_contract.py KNOWN_GAPS.
        "client_uri": None,
        "logo_uri": None,
        "redirect_uris": [],
        "response_types": ["token"],
        "grant_types": ["client_credentials"],
        "application_type": "service",
        "issuer_mode": "ORG_URL",
        "dpop_bound_access_tokens": app.dpop_bound,
    }
    if app.auth_method == PRIVATE_KEY_JWT:
        settings["jwks"] = {"keys": [key_json(ctx, app, k) for k in app_keys(app)]}
    lifecycle = "deactivate" if app.status == "ACTIVE" else "activate"
    return {
        "id": app.id,
        "name": "oidc_client",
        "label": app.label,
        "status": app.status,
        "lastUpdated": iso(app.last_updated),
        "created": iso(app.created),
        "accessibility": {"selfService": False, "errorRedirectUrl": None, "loginRedirectUrl": None},
        "visibility": {"autoLaunch": False, "autoSubmitToolbar": False, "hide": {"iOS": True, "web": True}},
        "features": [],
        "signOnMode": "OPENID_CONNECT",
        "profile": app.profile,
        "credentials": {
            "userNameTemplate": {"template": "${source.login}", "type": "BUILT_IN"},
            "signing": {},
            "oauthClient": oauth_client,
        },
        "settings": {"app": {}, "oauthClient": settings},
        "_links": {
            "self": {"href": href},
            lifecycle: {"href": f"{href}/lifecycle/{lifecycle}", "hints": {"allow": ["POST"]}},
        },
    }


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def validate_jwks(value: object, causes: list[str]) -> list[dict[str, Any]]:
    """Return the public keys of settings.oauthClient.jwks, adding a cause for each problem."""
    keys = _object(value).get("keys")
    where = "settings.oauthClient.jwks.keys"
    if not isinstance(keys, list) or not keys:
        causes.append(f"{where}: private_key_jwt needs at least one public key")
        return []
    if len(keys) > MAX_KEYS:
        causes.append(f"{where}: at most {MAX_KEYS} keys")
        return []
    kids: set[str] = set()
    for index, key in enumerate(keys):
        kid = _object(key).get("kid")
        if not isinstance(kid, str) or not kid.strip() or kid in kids:
            causes.append(f"{where}[{index}].kid: every key needs its own kid")
            continue
        kids.add(kid)
        try:
            public_key(key, default_algorithm(_object(key)))
        except ProofError as exc:
            causes.append(f"{where}[{index}]: {exc}")
    return [dict(k) for k in keys] if not causes else []


def _validate_new_app(body: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]], bool, dict[str, Any]]:
    """Return (label, auth method, public keys, DPoP-bound, profile) of a valid service app, or raise E0000001."""
    causes: list[str] = []
    label = body.get("label")
    if body.get("name") != "oidc_client":
        causes.append("name: only 'oidc_client' (OAuth service) apps are supported")
    if not isinstance(label, str) or not label.strip():
        causes.append("label: The field cannot be left blank")
    elif len(label) > MAX_LABEL:
        causes.append(f"label: The field is too long (at most {MAX_LABEL} characters)")
    if body.get("signOnMode") != "OPENID_CONNECT":
        causes.append("signOnMode: must be OPENID_CONNECT")
    settings = _object(_object(body.get("settings")).get("oauthClient"))
    if settings.get("application_type") != "service":
        causes.append("settings.oauthClient.application_type: must be service")
    if settings.get("grant_types") != ["client_credentials"]:
        causes.append("settings.oauthClient.grant_types: must be [client_credentials]")
    if settings.get("response_types", ["token"]) != ["token"]:
        causes.append("settings.oauthClient.response_types: must be [token]")
    dpop = settings.get("dpop_bound_access_tokens", False)
    if not isinstance(dpop, bool):
        causes.append("settings.oauthClient.dpop_bound_access_tokens: must be true or false")
    if settings.get("jwks_uri") is not None:
        causes.append("settings.oauthClient.jwks_uri: not supported; register the keys in jwks")
    credentials = _object(_object(body.get("credentials")).get("oauthClient"))
    auth_method = credentials.get("token_endpoint_auth_method", "client_secret_basic")
    jwks: list[dict[str, Any]] = []
    if auth_method not in AUTH_METHODS:
        causes.append(f"credentials.oauthClient.token_endpoint_auth_method: must be one of {', '.join(AUTH_METHODS)}")
    elif auth_method == PRIVATE_KEY_JWT:
        jwks = validate_jwks(settings.get("jwks"), causes)
    elif settings.get("jwks") is not None:
        causes.append("settings.oauthClient.jwks: only for token_endpoint_auth_method private_key_jwt")
    profile = body.get("profile", {})
    if not isinstance(profile, dict) or len(json.dumps(profile)) > MAX_PROFILE_CHARS:
        causes.append(f"profile: must be a JSON object of at most {MAX_PROFILE_CHARS} characters")
    if causes:
        raise validation_failed(*causes)
    return str(label).strip(), str(auth_method), jwks, bool(dpop), profile


def create_app(
    ctx: Context,
    label: str,
    auth_method: str,
    active: bool = True,
    jwks: list[dict[str, Any]] | None = None,
    dpop_bound: bool = False,
    profile: dict[str, Any] | None = None,
) -> tuple[App, str | None]:
    """Store a new service app; return it with its client secret (None for private_key_jwt apps), which is
    also the app's first (ACTIVE) record in /credentials/secrets.

    A new app is in no access policy, so it gets no token from the custom authorization server until
    it is enrolled in one (as with Okta).
    """
    secret = None if auth_method == PRIVATE_KEY_JWT else new_client_secret()
    now = time.time()
    status = "ACTIVE" if active else "INACTIVE"
    secret_hash = "" if secret is None else hash_secret(secret)
    keys = [key_record(k, now=now) for k in jwks or []]
    app = App(new_app_id(), label, status, secret_hash, auth_method, now, now, keys, dpop_bound, profile=profile or {})
    ctx.store.insert_app(app)
    return app, secret


def _query(raw: str) -> dict[str, str]:
    try:
        return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    except ValueError:
        raise validation_failed("query: not a valid query string") from None


def _post_app(ctx: Context, query: dict[str, str], body: bytes) -> Answer:
    data = json_body(body)
    label, auth_method, jwks, dpop_bound, profile = _validate_new_app(data)
    activate = query.get("activate", "true").lower()
    if activate not in ("true", "false"):
        raise validation_failed("activate: must be true or false")
    app, secret = create_app(ctx, label, auth_method, activate == "true", jwks, dpop_bound, profile)
    # Okta answers 200 (not 201) with the created app (Okta management OpenAPI: createApplication).
    return Answer(200, app_json(ctx, app, secret))


def _put_app(ctx: Context, app: App, body: bytes) -> Answer:
    """Replace what an app's PUT may change here: label, profile, DPoP and (private_key_jwt) its public keys."""
    label, auth_method, jwks, dpop_bound, profile = _validate_new_app(json_body(body))
    if auth_method != app.auth_method:
        raise validation_failed("credentials.oauthClient.token_endpoint_auth_method: cannot be changed here")
    now = time.time()
    held = {str(k.get("kid")): k for k in app_keys(app)}
    keys = [held.get(str(k.get("kid"))) or key_record(k, now=now) for k in jwks] if jwks else app_keys(app)
    ctx.store.update_app(app.id, label, dpop_bound, profile, keys, now)
    return Answer(200, app_json(ctx, _existing(ctx, app.id)))


def _list_apps(ctx: Context, query: dict[str, str]) -> Answer:
    status = None
    if query.get("filter"):
        match = _STATUS_FILTER.match(query["filter"])
        if not match:
            raise validation_failed('filter: only status eq "ACTIVE" or status eq "INACTIVE" is supported')
        status = match.group(1)
    try:
        limit = int(query.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise validation_failed("limit: must be a whole number") from None
    limit = min(max(limit, 1), MAX_LIMIT)
    # One extra row tells whether a next page exists.
    apps = ctx.store.list_apps(query.get("q") or None, status, query.get("after") or None, limit + 1)
    page = apps[:limit]
    links = [f'<{ctx.base_url}{PREFIX}?{urlencode({**query})}>; rel="self"']
    if len(apps) > limit:
        links.append(f'<{ctx.base_url}{PREFIX}?{urlencode({**query, "after": page[-1].id})}>; rel="next"')
    return Answer(200, [app_json(ctx, app) for app in page], {"Link": ", ".join(links)})


def _existing(ctx: Context, app_id: str) -> App:
    app = ctx.store.get_app(app_id)
    if app is None:
        raise not_found(app_id, "AppInstance")
    return app


def _route(ctx: Context, method: str, path: str, query: dict[str, str], body: bytes) -> Answer:
    parts = path[len(PREFIX) :].strip("/").split("/") if path != PREFIX else []
    if not parts:
        if method == "GET":
            return _list_apps(ctx, query)
        if method == "POST":
            return _post_app(ctx, query, body)
        raise method_not_allowed()
    app_id = parts[0]
    if len(parts) == 1:
        if method == "GET":
            return Answer(200, app_json(ctx, _existing(ctx, app_id)))
        if method == "PUT":
            return _put_app(ctx, _existing(ctx, app_id), body)
        if method == "DELETE":
            _existing(ctx, app_id)
            if not ctx.store.delete_app(app_id):
                # Okta deletes only deactivated apps.
                raise OktaApiError(403, "E0000056", "Delete application forbidden.", ["Deactivate the app first"])
            return Answer(204)
        raise method_not_allowed()
    if parts[1] == "grants":
        return handle_grants(ctx, method, _existing(ctx, app_id), parts[2:], body, query.get("expand") == "scope")
    if parts[1:3] == ["credentials", "jwks"]:
        return handle_jwks(ctx, method, _existing(ctx, app_id), parts[3:], body)
    if parts[1:3] == ["credentials", "secrets"]:
        return handle_secrets(ctx, method, _existing(ctx, app_id), parts[3:], body)
    if len(parts) == 3 and parts[1] == "lifecycle" and parts[2] in ("activate", "deactivate"):
        if method != "POST":
            raise method_not_allowed()
        _existing(ctx, app_id)
        ctx.store.set_app_status(app_id, "ACTIVE" if parts[2] == "activate" else "INACTIVE", time.time())
        return Answer(200, {})
    raise not_found(path, "Resource")


def handle_apps(ctx: Context, req: Request) -> Answer:
    """Rate-limit, inject faults, authenticate and route one /api/v1/apps* request; headers on every answer."""
    fault = ctx.faults.spec
    limit = fault.apps_rate_limit or ctx.apps_rate_limit
    decision = ctx.limiter.exhausted(limit) if fault.apps == 429 else ctx.limiter.check(limit)
    try:
        if not decision.allowed:
            raise rate_limited()
        if fault.apps == 500:
            raise internal_error()
        apiauth.authorize(ctx, req, (APPS_READ, APPS_MANAGE), (APPS_MANAGE,))
        answer = _route(ctx, req.method, req.path, _query(req.query), req.body)
    except OktaApiError as exc:
        return Answer(exc.status, exc.body(), {**exc.headers, **decision.headers()})
    return Answer(answer.status, answer.body, {**answer.headers, **decision.headers()})

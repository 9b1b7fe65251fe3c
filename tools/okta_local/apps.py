"""The part of Okta's Apps API that the register function uses, behind SSWS API token auth."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from okta_local.context import NEW_APP_SCOPES, Answer, Context
from okta_local.credentials import hash_secret, new_app_id, new_client_secret, verify_secret
from okta_local.errors import (
    OktaApiError,
    internal_error,
    invalid_token,
    malformed_body,
    method_not_allowed,
    not_found,
    rate_limited,
    validation_failed,
)
from okta_local.store import App

PREFIX = "/api/v1/apps"
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
MAX_LABEL = 100
DEFAULT_LIMIT = 20
MAX_LIMIT = 200
_STATUS_FILTER = re.compile(r'^\s*status\s+eq\s+"(ACTIVE|INACTIVE)"\s*$')


def authenticate(ctx: Context, authorization: str | None) -> None:
    """Accept only `SSWS <token>` with a known API token (Okta's E0000011 otherwise)."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme != "SSWS" or not token:
        raise invalid_token()
    if not any(verify_secret(token, stored) for stored in ctx.store.api_token_hashes()):
        raise invalid_token()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    lifecycle = "deactivate" if app.status == "ACTIVE" else "activate"
    return {
        "id": app.id,
        "name": "oidc_client",
        "label": app.label,
        "status": app.status,
        "lastUpdated": _iso(app.last_updated),
        "created": _iso(app.created),
        "accessibility": {"selfService": False, "errorRedirectUrl": None, "loginRedirectUrl": None},
        "visibility": {"autoLaunch": False, "autoSubmitToolbar": False, "hide": {"iOS": True, "web": True}},
        "features": [],
        "signOnMode": "OPENID_CONNECT",
        "credentials": {
            "userNameTemplate": {"template": "${source.login}", "type": "BUILT_IN"},
            "signing": {},
            "oauthClient": oauth_client,
        },
        "settings": {
            "app": {},
            "oauthClient": {
                "client_uri": None,
                "logo_uri": None,
                "redirect_uris": [],
                "response_types": ["token"],
                "grant_types": ["client_credentials"],
                "application_type": "service",
                "issuer_mode": "ORG_URL",
            },
        },
        "_links": {
            "self": {"href": href},
            lifecycle: {"href": f"{href}/lifecycle/{lifecycle}", "hints": {"allow": ["POST"]}},
        },
    }


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _validate_new_app(body: dict[str, Any]) -> tuple[str, str]:
    """Return (label, auth method) of a valid oidc_client service app, or raise E0000001 with every cause."""
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
    credentials = _object(_object(body.get("credentials")).get("oauthClient"))
    auth_method = credentials.get("token_endpoint_auth_method", "client_secret_basic")
    if auth_method not in AUTH_METHODS:
        causes.append(f"credentials.oauthClient.token_endpoint_auth_method: must be one of {', '.join(AUTH_METHODS)}")
    if causes:
        raise validation_failed(*causes)
    return str(label).strip(), str(auth_method)


def create_app(
    ctx: Context, label: str, auth_method: str, scopes: tuple[str, ...], active: bool = True
) -> tuple[App, str]:
    """Store a new service app and return it with its client secret (the only time it is visible)."""
    secret = new_client_secret()
    now = time.time()
    status = "ACTIVE" if active else "INACTIVE"
    app = App(new_app_id(), label, status, hash_secret(secret), auth_method, scopes, now, now)
    ctx.store.insert_app(app)
    return app, secret


def _query(raw: str) -> dict[str, str]:
    try:
        return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    except ValueError:
        raise validation_failed("query: not a valid query string") from None


def _post_app(ctx: Context, query: dict[str, str], body: bytes) -> Answer:
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise malformed_body() from None
    if not isinstance(data, dict):
        raise malformed_body()
    label, auth_method = _validate_new_app(data)
    activate = query.get("activate", "true").lower()
    if activate not in ("true", "false"):
        raise validation_failed("activate: must be true or false")
    app, secret = create_app(ctx, label, auth_method, NEW_APP_SCOPES, active=activate == "true")
    # Okta answers 200 (not 201) with the created app (Okta management OpenAPI: createApplication).
    return Answer(200, app_json(ctx, app, secret))


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
        if method == "DELETE":
            _existing(ctx, app_id)
            if not ctx.store.delete_app(app_id):
                # Okta deletes only deactivated apps.
                raise OktaApiError(403, "E0000056", "Delete application forbidden.", ["Deactivate the app first"])
            return Answer(204)
        raise method_not_allowed()
    if len(parts) == 3 and parts[1] == "lifecycle" and parts[2] in ("activate", "deactivate"):
        if method != "POST":
            raise method_not_allowed()
        _existing(ctx, app_id)
        ctx.store.set_app_status(app_id, "ACTIVE" if parts[2] == "activate" else "INACTIVE", time.time())
        return Answer(200, {})
    raise not_found(path, "Resource")


def handle_apps(ctx: Context, method: str, path: str, raw_query: str, authorization: str | None, body: bytes) -> Answer:
    """Rate-limit, inject faults, authenticate and route one /api/v1/apps* request; headers on every answer."""
    fault = ctx.faults.spec
    limit = fault.apps_rate_limit or ctx.apps_rate_limit
    decision = ctx.limiter.exhausted(limit) if fault.apps == 429 else ctx.limiter.check(limit)
    try:
        if not decision.allowed:
            raise rate_limited()
        if fault.apps == 500:
            raise internal_error()
        authenticate(ctx, authorization)
        answer = _route(ctx, method, path, _query(raw_query), body)
    except OktaApiError as exc:
        return Answer(exc.status, exc.body(), decision.headers())
    return Answer(answer.status, answer.body, {**answer.headers, **decision.headers()})

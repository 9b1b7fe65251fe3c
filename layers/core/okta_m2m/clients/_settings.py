"""The register function's settings from the environment (with okta_m2m.tokens' settings, the only modules that
read os.environ)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import NamedTuple

from okta_m2m.errors import ConfigError
from okta_m2m.tokens import required, secure_url, split_url


class RegisterSettings(NamedTuple):
    """What the register function needs to create Okta service apps and enrol them in an access policy."""

    issuer: str
    okta_org_url: str
    api_token_secret: str  # the SSWS API token (ssws), or the service app's private JWK (oauth)
    auth_mode: str  # "oauth" (OAuth 2.0 for Okta) or "ssws"
    client_id: str  # the register function's own service app (oauth)
    dpop: bool
    authorization_server_id: str  # from the issuer's path, /oauth2/{id}
    access_policy_id: str  # the policy new clients join; empty: no enrolment
    locks_table: str  # DynamoDB table of leases: the access policy's, and each client's for its secrets
    clients_table: str  # DynamoDB table of registered clients (okta_m2m.clients._registry)
    usage_plan_id: str  # the API's usage plan each client's API key joins; empty: no per-client keys


AUTH_MODES = ("oauth", "ssws")


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false"):
        raise ConfigError(f"setting {name} must be true or false")
    return raw == "true"


@lru_cache(maxsize=1)
def register_settings() -> RegisterSettings:
    """Read and check the register function's settings once per container."""
    issuer = secure_url("ISSUER", required("ISSUER"))
    mode = os.environ.get("OKTA_AUTH_MODE", "").strip().lower() or "oauth"
    if mode not in AUTH_MODES:
        raise ConfigError("setting OKTA_AUTH_MODE must be oauth or ssws")
    policy = os.environ.get("OKTA_ACCESS_POLICY_ID", "").strip()
    # Okta's custom authorization servers issue as {org}/oauth2/{authServerId}: the policy belongs to that server.
    url = split_url(issuer)
    path = url.path.rstrip("/").split("/") if url else []
    server = path[2] if len(path) == 3 and path[1] == "oauth2" and path[2] else ""
    if policy and not server:
        raise ConfigError("setting ISSUER is not an Okta custom authorization server (/oauth2/{id}) to enrol in")
    return RegisterSettings(
        issuer=issuer,
        okta_org_url=secure_url("OKTA_ORG_URL", required("OKTA_ORG_URL")).rstrip("/"),
        api_token_secret=required("OKTA_API_TOKEN_SECRET"),
        auth_mode=mode,
        client_id=required("OKTA_CLIENT_ID") if mode == "oauth" else "",
        dpop=_flag("OKTA_DPOP", True),
        authorization_server_id=server,
        access_policy_id=policy,
        locks_table=required("LOCKS_TABLE"),
        clients_table=required("CLIENTS_TABLE"),
        usage_plan_id=os.environ.get("USAGE_PLAN_ID", "").strip(),
    )

"""The names, markers and bodies of what the tool makes, so that plan, apply and check agree on them."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CLIENT_CREDENTIALS = "client_credentials"
ALL_CLIENTS = "ALL_CLIENTS"
EVERYONE = "EVERYONE"
POLICY_TYPE = "OAUTH_AUTHORIZATION_POLICY"
RULE_TYPE = "RESOURCE_ACCESS"
RULE_NAME = "client credentials"
# What the register function does in Okta, and nothing more (okta_m2m.clients asks for exactly these scopes).
SERVICE_GRANTS = ("okta.apps.manage", "okta.authorizationServers.manage")
# The custom admin role's permissions, the same two rights, and where they apply.
ROLE_PERMISSIONS = ("okta.apps.manage", "okta.authzServers.manage")
# Without custom roles: the two standard roles that hold those rights (broader: every app, every server).
STANDARD_ROLES = ("APP_ADMIN", "API_ACCESS_MANAGEMENT_ADMIN")
KEY_BITS = 2048
PROFILE_MARKER = "okta_setup"  # the app profile property that marks an app the tool made


@dataclass(frozen=True)
class Names:
    """Every name the tool gives, from the stack name, so that two environments on one org do not collide."""

    stack: str

    @property
    def marker(self) -> str:
        """Put in the description of every object the tool makes; only objects with it are ever changed."""
        return f"[okta_setup:{self.stack}]"

    def description(self, what: str) -> str:
        """The description of an object the tool makes."""
        return f"{what}. Made and kept by okta_setup {self.marker}"

    @property
    def admin_policy(self) -> str:
        """The access policy of the admin client(s): the register scope only."""
        return f"{self.stack} admin"

    @property
    def clients_policy(self) -> str:
        """The access policy new clients join (OktaAccessPolicyId): the route table's other scopes."""
        return f"{self.stack} clients"

    @property
    def service_app(self) -> str:
        """The register function's own service app."""
        return f"{self.stack} register function"

    @property
    def admin_app(self) -> str:
        """The admin client that calls POST /register and /clients."""
        return f"{self.stack} admin"

    @property
    def role(self) -> str:
        """The custom admin role (and its resource set) of the register function's service app."""
        return f"{self.stack} register function"

    @property
    def secret(self) -> str:
        """The Secrets Manager secret holding the service app's private JWK."""
        return f"{self.stack}/okta-service-app-jwk"

    def app_marker(self, role: str) -> str:
        """The profile value that marks one of the tool's apps."""
        return f"{self.stack}/{role}"


def ours(obj: dict[str, Any], names: Names) -> bool:
    """Whether the tool made this scope, policy, role or resource set."""
    return names.marker in str(obj.get("description") or "")


def app_is_ours(app: dict[str, Any], names: Names, role: str) -> bool:
    """Whether the tool made this app (its profile holds the marker)."""
    profile = app.get("profile")
    return isinstance(profile, dict) and profile.get(PROFILE_MARKER) == names.app_marker(role)


def service_app_body(
    names: Names, label: str, role: str, auth: str, jwks: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """An API Services app (client credentials): a client secret, or private_key_jwt with DPoP-bound tokens."""
    settings: dict[str, Any] = {
        "application_type": "service",
        "grant_types": [CLIENT_CREDENTIALS],
        "response_types": ["token"],
    }
    if jwks is not None:
        settings["jwks"] = {"keys": jwks}
        settings["dpop_bound_access_tokens"] = True
    return {
        "name": "oidc_client",
        "label": label,
        "signOnMode": "OPENID_CONNECT",
        "credentials": {"oauthClient": {"token_endpoint_auth_method": auth}},
        "settings": {"oauthClient": settings},
        "profile": {PROFILE_MARKER: names.app_marker(role)},
    }


def policy_body(names: Names, name: str, what: str, priority: int, include: list[str]) -> dict[str, Any]:
    """An access policy assigned to these clients."""
    return {
        "type": POLICY_TYPE,
        "name": name,
        "description": names.description(what),
        "priority": priority,
        "status": "ACTIVE",
        "conditions": {"clients": {"include": include}},
    }


def rule_body(scopes: list[str], lifetime_minutes: int) -> dict[str, Any]:
    """The one rule of each policy: client credentials only, these scopes only, this token lifetime."""
    return {
        "type": RULE_TYPE,
        "name": RULE_NAME,
        "priority": 1,
        "status": "ACTIVE",
        "conditions": {
            "people": {"groups": {"include": [EVERYONE]}},
            "grantTypes": {"include": [CLIENT_CREDENTIALS]},
            "scopes": {"include": scopes},
        },
        "actions": {
            "token": {
                "accessTokenLifetimeMinutes": lifetime_minutes,
                "refreshTokenLifetimeMinutes": 0,
                "refreshTokenWindowMinutes": 10080,
            }
        },
    }


def rule_differences(rule: dict[str, Any], scopes: list[str], lifetime_minutes: int) -> list[str]:
    """The fields of an existing rule that differ from what it should be."""
    conditions = rule.get("conditions") or {}
    token = (rule.get("actions") or {}).get("token") or {}
    fields = []
    if rule.get("status") != "ACTIVE":
        fields.append("status")
    if ((conditions.get("grantTypes") or {}).get("include") or []) != [CLIENT_CREDENTIALS]:
        fields.append("conditions.grantTypes")
    if sorted((conditions.get("scopes") or {}).get("include") or []) != sorted(scopes):
        fields.append("conditions.scopes")
    if token.get("accessTokenLifetimeMinutes") != lifetime_minutes:
        fields.append("actions.token.accessTokenLifetimeMinutes")
    return fields


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def public_half(private: dict[str, Any]) -> dict[str, Any]:
    """The public JWK of a private RSA JWK (what the app registers)."""
    return {k: private[k] for k in ("kty", "kid", "e", "n", "alg", "use") if k in private}


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of an RSA JWK."""
    canonical = json.dumps({m: jwk[m] for m in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def new_key_pair() -> dict[str, Any]:
    """A new RSA 2048 private JWK for private_key_jwt; kid is its RFC 7638 thumbprint."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private = {k: v for k, v in RSAAlgorithm.to_jwk(key, as_dict=True).items() if k != "key_ops"}
    private.update(kid=thumbprint(private), alg="RS256", use="sig")
    return private


def same_key(public: dict[str, Any], private: dict[str, Any]) -> bool:
    """Whether a registered public key is the public half of this private key."""
    return public.get("kty") == "RSA" and public.get("n") == private.get("n") and public.get("e") == private.get("e")

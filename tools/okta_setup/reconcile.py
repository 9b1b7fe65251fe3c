"""`plan` and `apply`: read what the org holds, say per object create / update (with the fields) / keep, and with
`apply` make it so, in an order that a failure at any step leaves for the next `apply` to finish.

Objects are found by name and the tool's marker (a description, or an app profile property); an object of the
tool's name without the marker stops the run: the tool never changes or deletes what it did not make, except an
active "All clients" policy, which it deactivates only when told to (`--deactivate-all-clients-policies`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from okta_setup.aws import Secret, Secrets
from okta_setup.config import Environment, write_overrides
from okta_setup.errors import SetupError
from okta_setup.objects import (
    ALL_CLIENTS,
    ROLE_PERMISSIONS,
    RULE_NAME,
    SERVICE_GRANTS,
    STANDARD_ROLES,
    Names,
    app_is_ours,
    new_key_pair,
    ours,
    policy_body,
    public_half,
    rule_body,
    rule_differences,
    same_key,
    service_app_body,
)
from okta_setup.okta import OktaApi, okta_error

NEW = "(new)"  # an id `plan` cannot know yet
ADMIN_ROLE, SERVICE_ROLE = "admin", "register-function"
_READ_ONLY = ("id", "created", "lastUpdated", "_links", "_embedded")


@dataclass(frozen=True)
class Target:
    """Where and what to set up (from the command line, the template and samconfig.toml)."""

    issuer: str
    org_url: str
    server_id: str
    env: Environment
    config_file: Path
    register_scope: str
    client_scopes: list[str]
    token_lifetime: int
    admin_env: Path | None = None
    deactivate_all_clients: bool = False

    @property
    def names(self) -> Names:
        """The names of the tool's objects for this stack."""
        return Names(self.env.stack_name)


@dataclass(frozen=True)
class Change:
    """One line of the plan: what happens to one object."""

    action: str  # create, update, delete, keep, unsafe, warn
    what: str
    fields: tuple[str, ...] = ()

    def line(self) -> str:
        """How the plan shows it."""
        sign = {"create": "+", "update": "~", "delete": "-", "keep": " ", "unsafe": "!", "warn": "!"}[self.action]
        detail = f": {', '.join(self.fields)}" if self.fields else ""
        return f"  {sign} {self.action:<6} {self.what}{detail}"


@dataclass
class Outcome:
    """What a run found and did: its changes, and the ids samconfig.toml gets."""

    changes: list[Change] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    admin_secret: str | None = field(default=None, repr=False)

    @property
    def changed(self) -> bool:
        """Whether anything was (or would be) made, changed or removed, or is unsafe."""
        return any(c.action in ("create", "update", "delete", "unsafe") for c in self.changes)


def server_path(target: Target, rest: str = "") -> str:
    """A path under the authorization server of the issuer."""
    return f"/api/v1/authorizationServers/{quote(target.server_id, safe='')}{rest}"


def all_clients_policies(policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The active policies that any client of the org falls under."""
    return [
        p
        for p in policies
        if p.get("status") == "ACTIVE"
        and ALL_CLIENTS in (((p.get("conditions") or {}).get("clients") or {}).get("include") or [])
    ]


def find_apps(api: OktaApi, label: str) -> list[dict[str, Any]]:
    """Every app whose label is exactly this one (Okta's q matches by prefix)."""
    return [
        a
        for a in api.pages(f"finding app {label!r}", "/api/v1/apps", {"q": label, "limit": "200"})
        if a.get("label") == label
    ]


def write_admin_env(path: Path, values: dict[str, str]) -> None:
    """Write the admin client's settings (a client secret among them) to a file only its owner may read."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("# Written by okta_setup: the admin client's credentials. Keep it private.\n")
        out.writelines(f"{k}={v}\n" for k, v in values.items())
    os.replace(tmp, path)


def read_env_file(path: Path | None) -> dict[str, str]:
    """KEY=VALUE lines of an env file ({} if there is none)."""
    if path is None or not path.exists():
        return {}
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            pairs[key.strip()] = value.strip()
    return pairs


class Reconciler:
    """One plan (apply=False: GET only) or apply run."""

    def __init__(
        self, api: OktaApi, secrets: Secrets, target: Target, apply: bool, say: Callable[[str], None] = print
    ) -> None:
        self.api, self.secrets, self.target, self.apply, self.say = api, secrets, target, apply, say
        self.names = target.names
        self.out = Outcome()

    def note(self, action: str, what: str, *fields: str) -> None:
        """Record one change and, while applying, say it as it happens."""
        change = Change(action, what, tuple(fields))
        self.out.changes.append(change)
        if self.apply and action != "keep":
            self.say(change.line())

    # --- the run ----------------------------------------------------------------------------------------

    def run(self) -> Outcome:
        """Every object in dependency order; ids flow from one step to the next."""
        t = self.target
        if self.api.get_or_none("reading the authorization server", server_path(t)) is None:
            raise SetupError(
                f"reading the authorization server: {t.issuer} has no authorization server {t.server_id!r}"
            )
        policies = list(self.api.pages("reading access policies", server_path(t, "/policies")))
        self.unsafe_policies(policies)
        self.scopes()
        admin_id = self.admin_app()
        self.policy(policies, self.names.admin_policy, "Admin clients", 1, admin_id, [t.register_scope])
        clients_policy = self.policy(policies, self.names.clients_policy, "API clients", 2, admin_id, t.client_scopes)
        service_id, secret_arn = self.service_app()
        self.grants(service_id)
        self.roles(service_id)
        self.out.values = {
            "Issuer": t.issuer,
            "OktaOrgUrl": t.org_url,
            "OktaApiTokenSecretArn": secret_arn,
            "OktaClientId": service_id,
            "OktaAccessPolicyId": clients_policy,
            "AdminClientId": admin_id,
        }
        self.samconfig()
        return self.out

    # --- authorization server -----------------------------------------------------------------------------

    def unsafe_policies(self, policies: list[dict[str, Any]]) -> None:
        """An active "All clients" policy defeats least privilege: refuse, or deactivate it when told to."""
        for policy in all_clients_policies(policies):
            what = f"policy {policy.get('name')!r} ({policy.get('id')}) covers All clients"
            if not self.apply:
                self.note("unsafe", what, "apply refuses unless --deactivate-all-clients-policies")
                continue
            if not self.target.deactivate_all_clients:
                raise SetupError(
                    f"checking access policies: active {what}, so every client of the org may get this server's tokens;"
                    " deactivate it, or pass --deactivate-all-clients-policies"
                )
            self.api.call(
                "deactivating an All clients policy",
                "POST",
                server_path(self.target, f"/policies/{policy['id']}/lifecycle/deactivate"),
            )
            self.note("update", f"policy {policy.get('name')!r} (All clients)", "status: INACTIVE")

    def scopes(self) -> None:
        """Every scope of the route table (existing scopes, whoever made them, are kept as they are)."""
        held = {s.get("name") for s in self.api.pages("reading scopes", server_path(self.target, "/scopes"))}
        for scope in self.target.env.route_scopes():
            if scope in held:
                self.note("keep", f"scope {scope}")
                continue
            self.note("create", f"scope {scope}")
            if self.apply:
                body = {
                    "name": scope,
                    "description": self.names.description(f"Opens routes of {self.names.stack}"),
                    "consent": "IMPLICIT",
                    "metadataPublish": "NO_CLIENTS",
                    "default": False,
                }
                self.api.call(f"creating scope {scope}", "POST", server_path(self.target, "/scopes"), json=body)

    def policy(
        self, policies: list[dict[str, Any]], name: str, what: str, priority: int, admin_id: str, scopes: list[str]
    ) -> str:
        """A policy assigned to the admin client (and, for the clients policy, the clients the API enrols), with
        its one client-credentials rule for these scopes; returns its id."""
        t = self.target
        found = [p for p in policies if p.get("name") == name]
        include = [admin_id] if admin_id != NEW else []
        if found and not ours(found[0], self.names):
            raise SetupError(
                f"checking policy {name!r}: it exists but okta_setup did not make it; rename it or remove it"
            )
        if not found:
            self.note("create", f"policy {name!r} and its rule", f"clients: admin client; scopes: {' '.join(scopes)}")
            if not self.apply:
                return NEW
            made = self.api.call(
                f"creating policy {name!r}",
                "POST",
                server_path(t, "/policies"),
                json=policy_body(self.names, name, what, priority, include),
            )
            policy_id = str(made["id"])
            self.api.call(
                f"creating the rule of policy {name!r}",
                "POST",
                server_path(t, f"/policies/{policy_id}/rules"),
                json=rule_body(scopes, t.token_lifetime),
            )
            return policy_id
        policy = found[0]
        policy_id = str(policy["id"])
        self.update_policy(policy, name, include)
        self.rule(policy_id, name, scopes)
        return policy_id

    def update_policy(self, policy: dict[str, Any], name: str, include: list[str]) -> None:
        """Bring an existing policy of ours in line: active, the admin client included (other clients kept)."""
        clients = list(((policy.get("conditions") or {}).get("clients") or {}).get("include") or [])
        missing = [c for c in include if c not in clients]
        if policy.get("status") != "ACTIVE":
            self.note("update", f"policy {name!r}", "status: ACTIVE")
            if self.apply:
                path = server_path(self.target, f"/policies/{policy['id']}/lifecycle/activate")
                self.api.call(f"activating policy {name!r}", "POST", path)
        if missing:
            self.note("update", f"policy {name!r}", "conditions.clients.include: + admin client")
            if self.apply:
                body = {k: v for k, v in policy.items() if k not in _READ_ONLY}
                body["conditions"] = {**(policy.get("conditions") or {}), "clients": {"include": clients + missing}}
                path = server_path(self.target, f"/policies/{policy['id']}")
                self.api.call(f"updating policy {name!r}", "PUT", path, json=body)
        if policy.get("status") == "ACTIVE" and not missing:
            self.note("keep", f"policy {name!r}")

    def rule(self, policy_id: str, name: str, scopes: list[str]) -> None:
        """The policy's client-credentials rule, made or brought in line."""
        t = self.target
        path = server_path(t, f"/policies/{policy_id}/rules")
        rules = self.api.call(f"reading the rules of policy {name!r}", "GET", path)
        found = next((r for r in rules or [] if r.get("name") == RULE_NAME), None)
        if found is None:
            self.note("create", f"rule of policy {name!r}", f"scopes: {' '.join(scopes)}")
            if self.apply:
                self.api.call(
                    f"creating the rule of policy {name!r}", "POST", path, json=rule_body(scopes, t.token_lifetime)
                )
            return
        fields = rule_differences(found, scopes, t.token_lifetime)
        if not fields:
            self.note("keep", f"rule of policy {name!r}")
            return
        self.note("update", f"rule of policy {name!r}", *fields)
        if self.apply:
            if found.get("status") != "ACTIVE":
                self.api.call(
                    f"activating the rule of policy {name!r}", "POST", f"{path}/{found['id']}/lifecycle/activate"
                )
            self.api.call(
                f"updating the rule of policy {name!r}",
                "PUT",
                f"{path}/{found['id']}",
                json=rule_body(scopes, t.token_lifetime),
            )

    # --- apps ---------------------------------------------------------------------------------------------

    def our_app(self, label: str, role: str) -> dict[str, Any] | None:
        """The tool's app of this label, or None; an app of that label the tool did not make stops the run."""
        found = find_apps(self.api, label)
        mine = [a for a in found if app_is_ours(a, self.names, role)]
        if found and not mine:
            raise SetupError(
                f"checking app {label!r}: an app of that label exists that okta_setup did not make; rename it"
            )
        return mine[0] if mine else None

    def activate(self, app: dict[str, Any], what: str) -> None:
        """Our app, deactivated by hand or left so: activate it."""
        if app.get("status") != "ACTIVE":
            self.note("update", what, "status: ACTIVE")
            if self.apply:
                self.api.call(f"activating {what}", "POST", f"/api/v1/apps/{app['id']}/lifecycle/activate")

    def admin_app(self) -> str:
        """The admin client (client secret, in the admin policy); its secret shown once or written to --admin-env."""
        label = self.names.admin_app
        app = self.our_app(label, ADMIN_ROLE)
        what = f"app {label!r} (admin client)"
        if app is None:
            self.note("create", what, "client secret")
            if not self.apply:
                return NEW
            body = service_app_body(self.names, label, ADMIN_ROLE, "client_secret_basic")
            made = self.api.call(f"creating {what}", "POST", "/api/v1/apps", json=body)
            client_id = str(made["credentials"]["oauthClient"]["client_id"])
            self.hand_over_admin_secret(client_id, str(made["credentials"]["oauthClient"]["client_secret"]))
            return client_id
        client_id = str(app["id"])
        self.activate(app, what)
        known = read_env_file(self.target.admin_env)
        if self.target.admin_env is not None and (
            known.get("CLIENT_ID") != client_id or not known.get("CLIENT_SECRET")
        ):
            # Okta shows a secret once: a lost --admin-env file gets a new secret (the old ones are retired).
            self.note("update", what, f"client secret (not in {self.target.admin_env}): a new one")
            if self.apply:
                self.new_admin_secret(client_id)
        elif app.get("status") == "ACTIVE":
            self.note("keep", what)
        return client_id

    def new_admin_secret(self, client_id: str) -> None:
        """Add a client secret, retire the others (Okta keeps at most two), hand the new one over."""
        path = f"/api/v1/apps/{client_id}/credentials/secrets"
        old = self.api.call("reading the admin client's secrets", "GET", path) or []
        for secret in old:
            if secret.get("status") == "INACTIVE":
                self.api.call("removing an inactive admin client secret", "DELETE", f"{path}/{secret['id']}")
        made = self.api.call("adding an admin client secret", "POST", path, json={})
        self.hand_over_admin_secret(client_id, str(made["client_secret"]))
        for secret in old:
            if secret.get("status") == "ACTIVE":
                self.api.call(
                    "retiring an old admin client secret", "POST", f"{path}/{secret['id']}/lifecycle/deactivate"
                )
                self.api.call("retiring an old admin client secret", "DELETE", f"{path}/{secret['id']}")

    def hand_over_admin_secret(self, client_id: str, secret: str) -> None:
        """Write the admin client's settings to --admin-env (0600), or keep the secret to show once."""
        values = {
            "ISSUER": self.target.issuer,
            "CLIENT_ID": client_id,
            "CLIENT_SECRET": secret,
            "DEFAULT_SCOPE": self.target.register_scope,
        }
        if self.target.admin_env is not None:
            write_admin_env(self.target.admin_env, values)
        else:
            self.out.admin_secret = secret

    def service_app(self) -> tuple[str, str]:
        """The register function's service app (private_key_jwt, DPoP) and the secret with its private JWK.

        Order: a new key goes to the secret before a new app is made with it (a run cut short in between leaves
        the key in the secret, and the next run makes the app with it); for an existing app, the new public key
        is added, then the secret updated, then the app's other keys retired."""
        label = self.names.service_app
        what = f"app {label!r} (register function)"
        app = self.our_app(label, SERVICE_ROLE)
        secret = self.secrets.find(self.names.secret, self.names.stack)
        if secret is not None and not secret.ours:
            raise SetupError(f"checking secret {self.names.secret}: it exists but okta_setup did not make it")
        if app is None:
            self.note(
                "create",
                what,
                "private_key_jwt, DPoP, a new key pair"
                if secret is None or secret.jwk is None
                else "private_key_jwt, DPoP, the key in its secret",
            )
            if secret is None or secret.jwk is None:
                self.note("create" if secret is None else "update", f"secret {self.names.secret}", "private JWK")
            if not self.apply:
                return NEW, secret.arn if secret else NEW
            jwk = secret.jwk if secret is not None and secret.jwk is not None else new_key_pair()
            arn = (
                secret.arn
                if secret is not None and secret.jwk is not None
                else self.secrets.store(self.names.secret, self.names.stack, jwk, secret)
            )
            body = service_app_body(self.names, label, SERVICE_ROLE, "private_key_jwt", [public_half(jwk)])
            made = self.api.call(f"creating {what}", "POST", "/api/v1/apps", json=body)
            return str(made["id"]), arn
        app_id = str(app["id"])
        self.activate(app, what)
        oauth = (app.get("settings") or {}).get("oauthClient") or {}
        if oauth.get("dpop_bound_access_tokens") is not True:
            self.note("update", what, "settings.oauthClient.dpop_bound_access_tokens: true")
            if self.apply:
                # The app as the tool makes it, with its current public keys (never the read-only fields of a GET).
                keys = [public_half(k) for k in (oauth.get("jwks") or {}).get("keys") or []]
                body = service_app_body(self.names, label, SERVICE_ROLE, "private_key_jwt", keys)
                self.api.call(f"requiring DPoP for {what}", "PUT", f"/api/v1/apps/{app_id}", json=body)
        arn = self.key(app_id, what, secret)
        return app_id, arn

    def key(self, app_id: str, what: str, secret: Secret | None) -> str:
        """The app's key pair: its private half in the secret, its public half the app's only active key."""
        path = f"/api/v1/apps/{app_id}/credentials/jwks"
        keys = self.api.call(f"reading the keys of {what}", "GET", path) or []
        active = [k for k in keys if k.get("status", "ACTIVE") == "ACTIVE"]
        current = secret.jwk if secret is not None else None
        if current is not None and any(same_key(k, current) for k in active):
            others = [k for k in keys if not same_key(k, current)]
            if others:
                self.note("update", f"keys of {what}", f"retire {len(others)} key(s) not in the secret")
                if self.apply:
                    self.retire_keys(path, others)
            else:
                self.note("keep", f"secret {self.names.secret} and the key of {what}")
            return secret.arn if secret is not None else NEW
        self.note("update", f"keys of {what}", "a new key pair (the secret holds none of the app's keys)")
        self.note("create" if secret is None else "update", f"secret {self.names.secret}", "private JWK")
        if not self.apply:
            return secret.arn if secret is not None else NEW
        jwk = new_key_pair()
        self.api.call(f"adding a key to {what}", "POST", path, json={**public_half(jwk), "status": "ACTIVE"})
        arn = self.secrets.store(self.names.secret, self.names.stack, jwk, secret)
        self.retire_keys(path, [k for k in keys if not same_key(k, jwk)])
        return arn

    def retire_keys(self, path: str, keys: list[dict[str, Any]]) -> None:
        """Deactivate and delete these keys of the app."""
        for key in keys:
            if key.get("status", "ACTIVE") == "ACTIVE":
                self.api.call("retiring an old app key", "POST", f"{path}/{key['id']}/lifecycle/deactivate")
            self.api.call("retiring an old app key", "DELETE", f"{path}/{key['id']}")

    def grants(self, app_id: str) -> None:
        """Exactly the two okta.* grants the register function uses."""
        if app_id == NEW:
            for scope in SERVICE_GRANTS:
                self.note("create", f"grant {scope} to the register function's app")
            return
        path = f"/api/v1/apps/{app_id}/grants"
        held = self.api.call("reading the service app's grants", "GET", path) or []
        scopes = {g.get("scopeId") for g in held}
        for scope in SERVICE_GRANTS:
            if scope in scopes:
                self.note("keep", f"grant {scope} to the register function's app")
                continue
            self.note("create", f"grant {scope} to the register function's app")
            if self.apply:
                self.api.call(f"granting {scope}", "POST", path, json={"issuer": self.target.org_url, "scopeId": scope})
        for grant in held:
            if grant.get("scopeId") not in SERVICE_GRANTS:
                self.note("delete", f"grant {grant.get('scopeId')} of the register function's app")
                if self.apply:
                    self.api.call(f"revoking {grant.get('scopeId')}", "DELETE", f"{path}/{grant['id']}")

    # --- admin role ---------------------------------------------------------------------------------------

    def roles(self, app_id: str) -> None:
        """A custom role with the two permissions over a resource set of the apps and this server, assigned to the
        service app; the two standard roles where the org has no custom roles."""
        probe = self.api.response("reading custom admin roles", "GET", "/api/v1/iam/roles")
        if probe.status_code in (401, 403):
            self.note(
                "warn",
                "custom admin roles unavailable in this org",
                f"{okta_error(probe)}; the standard roles {' and '.join(STANDARD_ROLES)} instead (broader)",
            )
            self.standard_roles(app_id)
            return
        if probe.status_code != 200:
            raise SetupError(f"reading custom admin roles: Okta answered {okta_error(probe)}")
        role_id = self.custom_role((probe.json() or {}).get("roles") or [])
        set_id = self.resource_set()
        what = f"admin role {self.names.role!r} of the register function's app"
        if NEW in (app_id, role_id, set_id):
            self.note("create", what, "custom role over the resource set")
            return
        held = self.api.call("reading the service app's admin roles", "GET", f"/oauth2/v1/clients/{app_id}/roles") or []
        if any(
            r.get("type") == "CUSTOM" and r.get("role") == role_id and r.get("resource-set") == set_id for r in held
        ):
            self.note("keep", what)
            return
        self.note("create", what, "custom role over the resource set")
        if self.apply:
            body = {"type": "CUSTOM", "role": role_id, "resource-set": set_id}
            self.api.call("assigning the admin role", "POST", f"/oauth2/v1/clients/{app_id}/roles", json=body)

    def standard_roles(self, app_id: str) -> None:
        """APP_ADMIN and API_ACCESS_MANAGEMENT_ADMIN, for orgs without custom roles."""
        held = set()
        if app_id != NEW:
            held = {
                r.get("type")
                for r in self.api.call(
                    "reading the service app's admin roles", "GET", f"/oauth2/v1/clients/{app_id}/roles"
                )
                or []
            }
        for role in STANDARD_ROLES:
            what = f"standard admin role {role} of the register function's app"
            if role in held:
                self.note("keep", what)
                continue
            self.note("create", what)
            if self.apply:
                self.api.call(f"assigning {role}", "POST", f"/oauth2/v1/clients/{app_id}/roles", json={"type": role})

    def custom_role(self, roles: list[dict[str, Any]]) -> str:
        """The custom role with exactly the permissions the register function needs."""
        label = self.names.role
        found = next((r for r in roles if r.get("label") == label), None)
        what = f"custom admin role {label!r}"
        if found is not None and not ours(found, self.names):
            raise SetupError(f"checking {what}: it exists but okta_setup did not make it; rename it")
        if found is None:
            self.note("create", what, f"permissions: {' '.join(ROLE_PERMISSIONS)}")
            if not self.apply:
                return NEW
            body = {
                "label": label,
                "description": self.names.description("The register function's rights"),
                "permissions": list(ROLE_PERMISSIONS),
            }
            return str(self.api.call(f"creating {what}", "POST", "/api/v1/iam/roles", json=body)["id"])
        role_id = str(found["id"])
        path = f"/api/v1/iam/roles/{role_id}/permissions"
        held = [p.get("label") for p in (self.api.call(f"reading {what}", "GET", path) or {}).get("permissions") or []]
        missing = [p for p in ROLE_PERMISSIONS if p not in held]
        extra = [str(p) for p in held if p not in ROLE_PERMISSIONS]
        if not missing and not extra:
            self.note("keep", what)
            return role_id
        self.note("update", what, *(f"+ {p}" for p in missing), *(f"- {p}" for p in extra))
        if self.apply:
            for permission in missing:
                self.api.call(f"adding {permission} to {what}", "POST", f"{path}/{permission}")
            for permission in extra:
                self.api.call(f"removing {permission} from {what}", "DELETE", f"{path}/{permission}")
        return role_id

    def resources(self) -> list[str]:
        """The resource set's resources: the org's apps and this authorization server (REST URLs)."""
        return [f"{self.target.org_url}/api/v1/apps", f"{self.target.org_url}{server_path(self.target)}"]

    def resource_set(self) -> str:
        """The resource set the custom role is bound over."""
        label = self.names.role
        what = f"resource set {label!r}"
        listed = self.api.call("reading resource sets", "GET", "/api/v1/iam/resource-sets") or {}
        found = next((s for s in listed.get("resource-sets") or [] if s.get("label") == label), None)
        if found is not None and not ours(found, self.names):
            raise SetupError(f"checking {what}: it exists but okta_setup did not make it; rename it")
        wanted = self.resources()
        if found is None:
            self.note("create", what, "the apps, this authorization server")
            if not self.apply:
                return NEW
            body = {
                "label": label,
                "description": self.names.description("What the register function acts on"),
                "resources": wanted,
            }
            return str(self.api.call(f"creating {what}", "POST", "/api/v1/iam/resource-sets", json=body)["id"])
        set_id = str(found["id"])
        path = f"/api/v1/iam/resource-sets/{set_id}/resources"
        held = (self.api.call(f"reading {what}", "GET", path) or {}).get("resources") or []
        by_value = {str(r.get("orn") or ((r.get("_links") or {}).get("self") or {}).get("href")): r for r in held}
        missing = [w for w in wanted if w not in by_value]
        extra = [r for v, r in by_value.items() if v not in wanted]
        if not missing and not extra:
            self.note("keep", what)
            return set_id
        self.note("update", what, *(f"+ {m}" for m in missing), *(f"- {r.get('id')}" for r in extra))
        if self.apply:
            if missing:
                self.api.call(f"adding resources to {what}", "PATCH", path, json={"additions": missing})
            for resource in extra:
                self.api.call(f"removing a resource from {what}", "DELETE", f"{path}/{resource['id']}")
        return set_id

    # --- samconfig.toml ----------------------------------------------------------------------------------

    def samconfig(self) -> None:
        """The environment's parameter_overrides: the six values the deploy needs."""
        current = self.target.env.overrides
        changed = [k for k, v in self.out.values.items() if current.get(k) != v]
        what = f"samconfig.toml [{self.target.env.name}] parameter_overrides"
        if not changed:
            self.note("keep", what)
            return
        self.note("update", what, *changed)
        if self.apply:
            write_overrides(self.target.config_file, self.target.env.name, self.out.values)

"""`check`: changes nothing; one line per item, ok or the problem and its fix; any problem makes the exit status 1.

With `--api-url` it also calls the API: no token is 401, the admin client's token on GET /clients is 200, and a
clients-policy token (the admin client asking for the clients' scopes) on a register route is 403.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from m2m_client import ClientConfig, ClientError, M2MClient
from okta_setup.aws import Secrets
from okta_setup.errors import SetupError
from okta_setup.objects import (
    CLIENT_CREDENTIALS,
    ROLE_PERMISSIONS,
    SERVICE_GRANTS,
    STANDARD_ROLES,
    Names,
    app_is_ours,
    ours,
    same_key,
)
from okta_setup.okta import OktaApi
from okta_setup.reconcile import (
    ADMIN_ROLE,
    SERVICE_ROLE,
    Target,
    all_clients_policies,
    find_apps,
    read_env_file,
    server_path,
)

MIN_RSA_BITS = 2048
TIMEOUT = 10


@dataclass(frozen=True)
class Item:
    """One line of the checklist."""

    ok: bool
    what: str
    problem: str = ""
    fix: str = ""

    def line(self) -> str:
        """How the checklist shows it."""
        if self.ok:
            return f"  ok    {self.what}"
        return f"  FAIL  {self.what}: {self.problem}" + (f"\n        fix: {self.fix}" if self.fix else "")


def _bits(n: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)), "big").bit_length()


class Checker:
    """Reads the org, the secret and samconfig.toml; never writes."""

    def __init__(self, api: OktaApi, secrets: Secrets, target: Target, say: Callable[[str], None] = print) -> None:
        self.api, self.secrets, self.target, self.say = api, secrets, target, say
        self.names: Names = target.names
        self.items: list[Item] = []
        self.found: dict[str, str] = {}  # ids found, to compare with samconfig.toml
        self.policies_found: list[dict[str, Any]] | None = None
        self.app: dict[str, Any] | None = None

    def add(self, ok: bool, what: str, problem: str = "", fix: str = "") -> None:
        """Record and print one item."""
        item = Item(ok, what, problem, fix)
        self.items.append(item)
        self.say(item.line())

    def guard(self, what: str, step: Callable[[], None], fix: str = "") -> None:
        """Run one check; an Okta or AWS failure becomes that item's problem, and the checklist goes on."""
        try:
            step()
        except SetupError as exc:
            self.add(False, what, str(exc), fix)

    def run(self, api_url: str | None) -> bool:
        """Every check; True if all passed."""
        apply_fix = "run `python -m okta_setup apply` with the same options"
        self.guard("issuer discovery and signing keys", self.discovery)
        self.add(True, "a custom authorization server, not the org authorization server")
        self.guard("route scopes", self.scopes, apply_fix)
        self.guard("no active All clients policy", self.all_clients)
        self.guard("admin client", self.admin_app, apply_fix)
        self.guard("policies", self.policies, apply_fix)
        self.guard("register function's service app", self.service_app, apply_fix)
        self.guard("secret", self.secret, apply_fix)
        self.samconfig()
        if api_url:
            self.api_calls(api_url.rstrip("/"))
        return all(item.ok for item in self.items)

    # --- Okta -----------------------------------------------------------------------------------------------

    def discovery(self) -> None:
        """The issuer's metadata names it, and its keys are RSA of 2048 bits or more, for RS256."""
        t = self.target
        try:
            meta = requests.get(f"{t.issuer}/.well-known/oauth-authorization-server", timeout=TIMEOUT).json()
            keys = requests.get(str(meta["jwks_uri"]), timeout=TIMEOUT).json()["keys"]
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            self.add(
                False, "issuer discovery and signing keys", f"not readable ({type(exc).__name__})", "check --issuer"
            )
            return
        if meta.get("issuer") != t.issuer:
            self.add(False, "issuer discovery", f"the metadata names issuer {meta.get('issuer')}", "check --issuer")
            return
        weak = [
            str(k.get("kid"))
            for k in keys
            if k.get("kty") != "RSA" or k.get("alg", "RS256") != "RS256" or _bits(str(k.get("n", ""))) < MIN_RSA_BITS
        ]
        if not keys or weak:
            self.add(False, "signing keys", f"not all RS256 with RSA of {MIN_RSA_BITS} bits or more: {', '.join(weak)}")
            return
        self.add(True, f"issuer discovery and {len(keys)} signing key(s): RS256, RSA {MIN_RSA_BITS}+ bits")

    def scopes(self) -> None:
        """Every scope of the route table exists."""
        held = {s.get("name") for s in self.api.pages("reading scopes", server_path(self.target, "/scopes"))}
        missing = [s for s in self.target.env.route_scopes() if s not in held]
        if missing:
            self.add(False, "route scopes", f"missing: {' '.join(missing)}", "run `python -m okta_setup apply`")
        else:
            self.add(True, f"route scopes present: {' '.join(self.target.env.route_scopes())}")

    def all_clients(self) -> None:
        """No active policy covers every client of the org."""
        policies = list(self.api.pages("reading access policies", server_path(self.target, "/policies")))
        self.policies_found = policies
        unsafe = all_clients_policies(policies)
        if unsafe:
            names = ", ".join(repr(p.get("name")) for p in unsafe)
            fix = "deactivate it, or run `python -m okta_setup apply --deactivate-all-clients-policies`"
            self.add(False, "no active All clients policy", f"{names} covers All clients: any app may get tokens", fix)
        else:
            self.add(True, "no active All clients policy")

    def admin_app(self) -> None:
        """The admin client exists and is active."""
        app = next(
            (a for a in find_apps(self.api, self.names.admin_app) if app_is_ours(a, self.names, ADMIN_ROLE)), None
        )
        if app is None or app.get("status") != "ACTIVE":
            self.add(
                False, "admin client", "missing" if app is None else "inactive", "run `python -m okta_setup apply`"
            )
            return
        self.found["AdminClientId"] = str(app["id"])
        self.add(True, f"admin client {app['id']}")

    def policies(self) -> None:
        """Both policies: ours, active, their active rules client credentials only and their scopes only."""
        policies = self.policies_found or list(
            self.api.pages("reading access policies", server_path(self.target, "/policies"))
        )
        wanted = (
            (self.names.admin_policy, [self.target.register_scope], None),
            (self.names.clients_policy, self.target.client_scopes, "OktaAccessPolicyId"),
        )
        for name, scopes, key in wanted:
            policy = next((p for p in policies if p.get("name") == name and ours(p, self.names)), None)
            what = f"policy {name!r}"
            if policy is None or policy.get("status") != "ACTIVE":
                self.add(False, what, "missing" if policy is None else "inactive", "run `python -m okta_setup apply`")
                continue
            if key:
                self.found[key] = str(policy["id"])
            path = server_path(self.target, f"/policies/{policy['id']}/rules")
            rules = [
                r
                for r in self.api.call(f"reading the rules of {what}", "GET", path) or []
                if r.get("status") == "ACTIVE"
            ]
            problems = []
            for rule in rules:
                conditions = rule.get("conditions") or {}
                grants = (conditions.get("grantTypes") or {}).get("include") or []
                granted = (conditions.get("scopes") or {}).get("include") or []
                if grants != [CLIENT_CREDENTIALS]:
                    problems.append(f"rule {rule.get('name')!r} allows {', '.join(grants)}")
                if sorted(granted) != sorted(scopes):
                    problems.append(f"rule {rule.get('name')!r} grants {' '.join(granted)}, not {' '.join(scopes)}")
            if not rules:
                problems.append("no active rule")
            if problems:
                self.add(False, what, "; ".join(problems), "run `python -m okta_setup apply`, remove other rules")
            else:
                self.add(True, f"{what}: client credentials only, scopes {' '.join(scopes)}")

    def service_app(self) -> None:
        """The service app: active, private_key_jwt, DPoP required, exactly its two grants, its admin role."""
        label = self.names.service_app
        app = next((a for a in find_apps(self.api, label) if app_is_ours(a, self.names, SERVICE_ROLE)), None)
        if app is None or app.get("status") != "ACTIVE":
            self.add(False, "register function's service app", "missing" if app is None else "inactive")
            return
        self.app = app
        self.found["OktaClientId"] = str(app["id"])
        oauth = (app.get("settings") or {}).get("oauthClient") or {}
        method = ((app.get("credentials") or {}).get("oauthClient") or {}).get("token_endpoint_auth_method")
        problems = []
        if method != "private_key_jwt":
            problems.append(f"authenticates with {method}, not private_key_jwt")
        if oauth.get("dpop_bound_access_tokens") is not True:
            problems.append("does not require DPoP")
        grants = sorted(
            str(g.get("scopeId"))
            for g in self.api.call("reading grants", "GET", f"/api/v1/apps/{app['id']}/grants") or []
        )
        if grants != sorted(SERVICE_GRANTS):
            problems.append(f"grants are {' '.join(grants) or 'none'}, not exactly {' '.join(SERVICE_GRANTS)}")
        roles = self.api.call("reading admin roles", "GET", f"/oauth2/v1/clients/{app['id']}/roles") or []
        custom = [r for r in roles if r.get("type") == "CUSTOM"]
        standard = {str(r.get("type")) for r in roles if r.get("type") != "CUSTOM"}
        if not custom and not set(STANDARD_ROLES) <= standard:
            problems.append("has no admin role for its grants to act within")
        extra = standard - set(STANDARD_ROLES)
        if extra or (custom and standard):
            problems.append(f"holds more admin roles than it needs: {', '.join(sorted(extra or standard))}")
        for role in custom:
            held = (
                self.api.call(
                    "reading the role's permissions", "GET", f"/api/v1/iam/roles/{role.get('role')}/permissions"
                )
                or {}
            )
            labels = sorted(str(p.get("label")) for p in held.get("permissions") or [])
            if labels != sorted(ROLE_PERMISSIONS):
                problems.append(f"its custom role grants {' '.join(labels)}, not {' '.join(ROLE_PERMISSIONS)}")
        what = f"register function's service app {app['id']}"
        if problems:
            self.add(False, what, "; ".join(problems), "run `python -m okta_setup apply`; remove extra roles by hand")
        else:
            kind = "custom role" if custom else "standard roles"
            self.add(True, f"{what}: private_key_jwt, DPoP, grants {' '.join(SERVICE_GRANTS)}, {kind}")

    def secret(self) -> None:
        """The secret holds a private JWK whose public half is an active key of the app."""
        found = self.secrets.find(self.names.secret, self.names.stack)
        what = f"secret {self.names.secret}"
        if found is None or found.jwk is None:
            self.add(
                False, what, "missing" if found is None else "holds no private JWK", "run `python -m okta_setup apply`"
            )
            return
        self.found["OktaApiTokenSecretArn"] = found.arn
        app = self.app
        if app is None:
            self.add(False, what, "no service app to compare its key with")
            return
        keys = self.api.call("reading the app's keys", "GET", f"/api/v1/apps/{app['id']}/credentials/jwks") or []
        if not any(k.get("status", "ACTIVE") == "ACTIVE" and same_key(k, found.jwk) for k in keys):
            self.add(False, what, "its key is not an active key of the service app", "run `python -m okta_setup apply`")
            return
        self.add(True, f"{what}: a private JWK whose public half the service app has")

    # --- samconfig.toml and the API ---------------------------------------------------------------------------

    def samconfig(self) -> None:
        """The environment's values match what was found."""
        t = self.target
        expected = {"Issuer": t.issuer, "OktaOrgUrl": t.org_url, **self.found}
        wrong = [k for k, v in expected.items() if t.env.overrides.get(k) != v]
        what = f"samconfig.toml [{t.env.name}] parameter_overrides"
        mode = t.env.parameters.get("OktaAuthMode", "oauth")
        if mode != "oauth":
            wrong.append(f"OktaAuthMode ({mode}, not oauth)")
        if wrong:
            self.add(False, what, f"differ from Okta: {', '.join(wrong)}", "run `python -m okta_setup apply`")
        else:
            self.add(True, f"{what} match Okta")

    def api_calls(self, api_url: str) -> None:
        """No token: 401; the admin's token on GET /clients: 200; a clients-policy token on POST /register: 403."""
        try:
            status = requests.get(f"{api_url}/clients", timeout=TIMEOUT).status_code
            self.add(status == 401, "API without a token: 401", f"answered {status}")
        except requests.RequestException as exc:
            self.add(False, "API without a token: 401", f"unreachable ({type(exc).__name__})", "check --api-url")
            return
        admin = read_env_file(self.target.admin_env)
        if not admin.get("CLIENT_ID") or not admin.get("CLIENT_SECRET"):
            self.add(
                False,
                "API calls with tokens",
                "no admin client credentials",
                "pass --admin-env FILE (what apply wrote)",
            )
            return
        t = self.target
        for scopes, method, route, expected, what in (
            ([t.register_scope], "GET", "/clients", 200, "admin client's token on GET /clients: 200"),
            (t.client_scopes, "POST", "/register", 403, "a clients-policy token on POST /register: 403"),
        ):
            config = ClientConfig(t.issuer, admin["CLIENT_ID"], admin["CLIENT_SECRET"], " ".join(scopes), api_url)
            try:
                got = M2MClient(config, timeout=30).request(method, route, json={} if method == "POST" else None)
            except ClientError as exc:
                self.add(False, what, str(exc))
                continue
            self.add(got.status_code == expected, what, f"answered {got.status_code}")

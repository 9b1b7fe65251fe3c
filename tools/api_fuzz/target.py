"""Where the fuzzed stack is and how to reach it: the environment api_fuzz.run gives the Schemathesis CLI (and
so its hooks), built from a running LocalStack, and the DPoP client the runs call DPoP routes with."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from m2m_client import ClientConfig, M2MClient, load_config, parse_env_file

# scoped: real tokens for each operation's scopes; none, wrong-scope, malformed: refused tokens on every operation;
# bearer: a real bearer (unbound) token on each operation that takes DPoP-bound tokens.
AUTH_MODES = ("scoped", "none", "wrong-scope", "malformed", "bearer")
ENV_API_URL = "API_FUZZ_API_URL"
ENV_OKTA_ENV = "API_FUZZ_OKTA_ENV"  # the stack's settings: the local Okta server's and its clients'
ENV_DPOP_ENV = "API_FUZZ_DPOP_ENV"  # the DPoP client's settings (m2m_client's .env), as register_dpop_client wrote
ENV_AUTH = "API_FUZZ_AUTH"
ENV_MOTO_URL = "API_FUZZ_MOTO_URL"
ENV_USAGE_PLAN_ID = "API_FUZZ_USAGE_PLAN_ID"
ENV_CLIENTS_TABLE = "API_FUZZ_CLIENTS_TABLE"
CLIENTS_TABLE = "ClientsTable"  # the registry's name in a local stack (`!Ref` gives the logical id)
DPOP_CLIENT_LABEL = "api-fuzz dpop client"
TIMEOUT = 30.0


@dataclass(frozen=True)
class FuzzTarget:
    """The stack under test: the API, the local Okta server's settings and clients, moto, and the auth mode."""

    api_url: str
    okta_env: Path
    auth: str = "scoped"
    moto_url: str = ""
    usage_plan_id: str = ""
    clients_table: str = CLIENTS_TABLE
    dpop_env: Path | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> FuzzTarget:
        """Read the API_FUZZ_* variables; ValueError naming the one that is missing or wrong."""
        env = os.environ if environ is None else environ
        missing = [name for name in (ENV_API_URL, ENV_OKTA_ENV) if not env.get(name)]
        if missing:
            raise ValueError(f"api_fuzz.hooks needs {', '.join(missing)} (run it through `python -m api_fuzz`)")
        auth = env.get(ENV_AUTH, "scoped")
        if auth not in AUTH_MODES:
            raise ValueError(f"{ENV_AUTH} must be one of {', '.join(AUTH_MODES)}, not {auth!r}")
        return cls(
            api_url=env[ENV_API_URL].rstrip("/"),
            okta_env=Path(env[ENV_OKTA_ENV]),
            auth=auth,
            moto_url=env.get(ENV_MOTO_URL, ""),
            usage_plan_id=env.get(ENV_USAGE_PLAN_ID, ""),
            clients_table=env.get(ENV_CLIENTS_TABLE, CLIENTS_TABLE),
            dpop_env=Path(env[ENV_DPOP_ENV]) if env.get(ENV_DPOP_ENV) else None,
        )

    def environment(self, auth: str) -> dict[str, str]:
        """The variables that describe this target with this auth mode (for the CLI's environment)."""
        return {
            ENV_API_URL: self.api_url,
            ENV_OKTA_ENV: str(self.okta_env),
            ENV_AUTH: auth,
            ENV_MOTO_URL: self.moto_url,
            ENV_USAGE_PLAN_ID: self.usage_plan_id,
            ENV_CLIENTS_TABLE: self.clients_table,
            ENV_DPOP_ENV: str(self.dpop_env or ""),
        }

    @cached_property
    def okta(self) -> dict[str, str]:
        """The local Okta server's settings and the stack's clients (api_fuzz.run.target_of writes them)."""
        return parse_env_file(self.okta_env)

    @cached_property
    def private_jwk(self) -> dict[str, Any]:
        """The register function's private key (its secret), to make sure no answer shows it."""
        jwk_file = self.okta.get("OKTA_SERVICE_PRIVATE_JWK_FILE")
        return dict(json.loads(Path(jwk_file).read_text(encoding="utf-8"))) if jwk_file else {}

    @property
    def token_url(self) -> str:
        return f"{self.okta['ISSUER']}/v1/token"

    @property
    def hello_scope(self) -> str:
        return self.okta.get("HELLO_SCOPE", "hello")

    @property
    def admin_scope(self) -> str:
        return self.okta.get("REGISTER_SCOPE", "register")

    @property
    def clients(self) -> dict[str, tuple[str, str]]:
        """The seeded clients by the scope each is used for: the demo client (hello), the admin client (register)."""
        return {
            self.hello_scope: (self.okta["CLIENT_ID"], self.okta["CLIENT_SECRET"]),
            self.admin_scope: (self.okta["ADMIN_CLIENT_ID"], self.okta["ADMIN_CLIENT_SECRET"]),
        }

    @cached_property
    def dpop_client(self) -> ClientConfig | None:
        """The client whose Okta app requires DPoP, registered for the runs (None if there is none)."""
        return load_config(self.dpop_env, dpop=True) if self.dpop_env else None

    @property
    def dpop_clients(self) -> dict[str, tuple[str, str]]:
        """Clients that get DPoP-bound tokens, by scope: the DPoP client (its scope), and the admin client (register),
        whose tokens Okta binds to a key when its token request carries a proof (RFC 9449 section 5) though its app
        does not require it: a bound token without a DPoP route's scope."""
        found = {self.admin_scope: self.clients[self.admin_scope]}
        if self.dpop_client is not None:
            found[self.dpop_client.scope] = (self.dpop_client.client_id, self.dpop_client.client_secret)
        return found

    @property
    def seeded_clients(self) -> frozenset[str]:
        """The clients the runs authenticate with (the admin and demo clients, and the DPoP client)."""
        return frozenset(client_id for client_id, _ in (*self.clients.values(), *self.dpop_clients.values()))

    @property
    def seeded_apps(self) -> frozenset[str]:
        """The local Okta's own apps no registration made: the admin client and the register function's app."""
        return frozenset(filter(None, (self.okta.get("ADMIN_CLIENT_ID"), self.okta.get("OKTA_SERVICE_CLIENT_ID"))))

    def stack_secrets(self) -> set[str]:
        """Secrets the stack holds that no answer may show: client secrets, the API token, the private key."""
        names = ("ADMIN_CLIENT_SECRET", "CLIENT_SECRET", "OKTA_API_TOKEN")
        values = {self.okta[name] for name in names if self.okta.get(name)}
        if self.dpop_client is not None:
            values.add(self.dpop_client.client_secret)
        values |= {str(v) for k, v in self.private_jwk.items() if k in ("d", "p", "q", "dp", "dq", "qi")}
        return values


def register_dpop_client(target: FuzzTarget, env_file: Path) -> FuzzTarget:
    """Register a client that must use DPoP as a user would (the admin client's POST /register with "dpop": true),
    write its settings to env_file (m2m_client's format, readable by its owner only), and return the target with it."""
    admin_id, admin_secret = target.clients[target.admin_scope]
    admin = M2MClient(
        ClientConfig(target.okta["ISSUER"], admin_id, admin_secret, scope=target.admin_scope, api_url=target.api_url),
        timeout=TIMEOUT,
    )
    created = admin.register(DPOP_CLIENT_LABEL, dpop=True)
    if created.get("dpop") is not True:
        raise RuntimeError(f"POST /register with dpop true answered dpop {created.get('dpop')!r}")
    settings = {
        "ISSUER": target.okta["ISSUER"],
        "CLIENT_ID": created["client_id"],
        "CLIENT_SECRET": created["client_secret"],
        "DEFAULT_SCOPE": target.hello_scope,
        "API_URL": target.api_url,
        "DPOP": "true",
    }
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.touch(mode=0o600)
    env_file.write_text("".join(f"{name}={value}\n" for name, value in settings.items()), encoding="utf-8")
    return replace(target, dpop_env=env_file)

"""The local stack: local Okta server, moto (Secrets Manager, DynamoDB) and the local API, started and stopped
together. The register function runs in OAuth 2.0 for Okta mode with DPoP (auth_mode="ssws" for the API token).

Every start is fresh: moto keeps its state in memory only (moto 5 has no persistence), so the local Okta server's
state is dropped too, and the Okta apps, the client registry and the API keys always agree. The seeded clients get
new credentials, written to STATE_DIR/demo.env and admin.env at each start."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import requests

from devstack.processes import ManagedProcess, StackError, port_in_use, wait_until
from devstack.scopes import grant_in_clients_policy, route_scopes
from devstack.tables import create_tables, template_resources
from devstack.usage_plans import create_usage_plans
from m2m_client import ClientConfig, ClientError, M2MClient, parse_env_file

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
REGION = "us-east-1"
SECRET_NAME = "okta-api-token"  # noqa: S105 - a name, not a value
# moto accepts any credentials; these only keep boto3 from looking for real ones.
DUMMY_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
START_TIMEOUT = 60.0
HELLO_SCOPE, REGISTER_SCOPE = "hello", "register"  # the local Okta server's own scopes (okta.env says so too)
DEFAULT_PORTS = {"api": 3000, "okta": 9000, "moto": 5050}


def env_port(name: str, default: int) -> int:
    """The port in env var name, or default; StackError if it is not a port number."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise StackError(f"{name} must be a port number, not {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Ports:
    """Where each server listens; defaults from API_PORT, OKTA_PORT and MOTO_PORT, else 3000, 9000 and 5050."""

    api: int = field(default_factory=lambda: env_port("API_PORT", DEFAULT_PORTS["api"]))
    okta: int = field(default_factory=lambda: env_port("OKTA_PORT", DEFAULT_PORTS["okta"]))
    moto: int = field(default_factory=lambda: env_port("MOTO_PORT", DEFAULT_PORTS["moto"]))


class LocalStack:
    """Starts the three servers in order (Okta, moto, API), each in its own process group; stop() undoes it all."""

    def __init__(
        self,
        state_dir: Path,
        *,
        ports: Ports | None = None,
        template: Path = REPO_ROOT / "template.yaml",
        parameter_overrides: dict[str, str] | None = None,
        api_output_to_terminal: bool = False,
        host: str = HOST,
        auth_mode: str = "oauth",
        api_env: dict[str, str] | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.host = host  # 127.0.0.1; the Docker check binds the bridge address so containers can reach it
        self.ports = ports or Ports()
        self.template = template
        self.extra_overrides = parameter_overrides or {}
        self.api_output_to_terminal = api_output_to_terminal
        self.auth_mode = auth_mode
        self.api_env = api_env or {}  # extra environment of the local API process (e.g. LOCAL_API_MAX_WORKERS)
        self.okta_dir = state_dir / "okta"
        self.run_dir = state_dir / "devstack"
        self.processes: list[ManagedProcess] = []
        self.okta: dict[str, str] = {}
        self.secret_arn = ""
        self.usage_plan_id = ""
        self.api_started_at = 0.0

    @property
    def api_url(self) -> str:
        """Base URL of the local API (no stage prefix, as with sam local start-api)."""
        return f"http://{self.host}:{self.ports.api}"

    @property
    def access_log(self) -> Path:
        """The local API's access log (JSON lines, as the stage's access log on AWS)."""
        return self.state_dir / "access.log"

    @property
    def okta_url(self) -> str:
        """Base URL of the local Okta server."""
        return f"http://{self.host}:{self.ports.okta}"

    @property
    def moto_url(self) -> str:
        """Endpoint of the local Secrets Manager."""
        return f"http://{self.host}:{self.ports.moto}"

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, *, to_terminal: bool = False
    ) -> ManagedProcess:
        log_path = None if to_terminal else self.run_dir / f"{name}.log"
        process = ManagedProcess(name, argv, log_path=log_path, env=env, cwd=REPO_ROOT)
        self.processes.append(process)
        return process

    def start(self) -> None:
        """Start everything on fresh state (none of an earlier run is kept), or stop what was started and raise
        StackError."""
        for name, port in (("API", self.ports.api), ("Okta", self.ports.okta), ("moto", self.ports.moto)):
            if port_in_use(self.host, port):
                raise StackError(f"port {port} for the {name} server is already in use (choose another with a flag)")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for log in self.run_dir.glob("*.log"):
            log.unlink()
        # moto starts empty: so does the local Okta server, or its apps would outlive their registry and keys.
        shutil.rmtree(self.okta_dir, ignore_errors=True)
        try:
            self.start_okta()
            self.start_moto()
            self.start_api()
            self.adopt_demo_client()
            self.write_client_envs()
        except BaseException:
            self.stop()
            raise

    def client_env_file(self, name: str) -> Path:
        """STATE_DIR/demo.env or admin.env: a seeded client's settings for m2m_client --env-file."""
        return self.state_dir / f"{name}.env"

    def write_client_envs(self) -> None:
        """Write the demo and admin clients' settings (this run's credentials), readable by the owner only."""
        okta = self.okta
        clients = {
            "demo": (okta["CLIENT_ID"], okta["CLIENT_SECRET"], okta["HELLO_SCOPE"]),
            "admin": (okta["ADMIN_CLIENT_ID"], okta["ADMIN_CLIENT_SECRET"], okta["REGISTER_SCOPE"]),
        }
        for name, (client_id, secret, scope) in clients.items():
            values = {"ISSUER": okta["ISSUER"], "DEFAULT_SCOPE": scope, "CLIENT_ID": client_id}
            values |= {"CLIENT_SECRET": secret, "API_URL": self.api_url}
            fd = os.open(self.client_env_file(name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.writelines(f"{key}={value}\n" for key, value in values.items())

    def start_okta(self) -> None:
        """Start the local Okta server with every scope of the template's route table, read the credentials it
        writes to okta.env, and have its clients policy grant the route scopes (but the register scope)."""
        self.okta_dir.mkdir(parents=True, exist_ok=True)
        env_file = self.okta_dir / "okta.env"
        scopes = route_scopes(self.template, self.scope_overrides())
        argv = [sys.executable, "-m", "okta_local", "serve", "--host", self.host, "--port", str(self.ports.okta)]
        argv += ["--state-dir", str(self.okta_dir), "--scopes", " ".join(scopes)]
        process = self._spawn("okta", argv)

        def ready() -> bool:
            values = parse_env_file(env_file)
            # okta.env may be left from a run on another port: wait for this run's issuer to answer.
            if not values.get("ISSUER", "").startswith(self.okta_url):
                return False
            keys = requests.get(f"{values['ISSUER']}/v1/keys", timeout=2)
            self.okta = values
            return keys.status_code == 200

        wait_until(f"the local Okta server on {self.okta_url}", ready, timeout=START_TIMEOUT, process=process)
        register_scope = self.scope_overrides()["RegisterScope"]
        grant_in_clients_policy(self.okta, [scope for scope in scopes if scope != register_scope])

    def scope_overrides(self) -> dict[str, str]:
        """The scope parameters of the template as this stack sets them (the local Okta's hello and register)."""
        return {"HelloScope": HELLO_SCOPE, "RegisterScope": REGISTER_SCOPE, **self.extra_overrides}

    def start_moto(self) -> None:
        """Start moto's server and store the local Okta API token as the secret the register function reads."""
        argv = [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.ports.moto)]
        process = self._spawn("moto", argv)
        wait_until(
            f"moto on {self.moto_url}",
            lambda: requests.get(f"{self.moto_url}/moto-api/", timeout=2).ok,
            timeout=START_TIMEOUT,
            process=process,
        )
        client = self.aws_client("secretsmanager")
        created = client.create_secret(Name=SECRET_NAME, SecretString=self.register_credentials())
        self.secret_arn = created["ARN"]
        create_tables(self.aws_client("dynamodb"), self.template, self.parameter_overrides())
        self.enrol_seeded_clients()

    def enrol_seeded_clients(self) -> None:
        """The template's usage plans and API keys in moto's API Gateway, as on AWS (the admin client's key, or the
        one shared key when PerClientApiKeys is false); remember moto's id of the plan the register function uses."""
        overrides = self.parameter_overrides()
        plans = create_usage_plans(self.aws_client("apigateway"), self.template, overrides)
        functions = template_resources(self.template, "AWS::Serverless::Function", overrides)
        named = {
            str(((props.get("Environment") or {}).get("Variables") or {}).get("USAGE_PLAN_ID") or "")
            for props in functions.values()
        }
        # `!Ref ClientUsagePlan` is the plan's logical id locally; empty when clients have no keys of their own.
        self.usage_plan_id = next((plans[name] for name in sorted(named) if name in plans), "")

    def adopt_demo_client(self) -> None:
        """Bring the seeded demo client under the API's management as an operator would: PUT /clients/{clientId}
        with the admin client's token (the register function gives it its API key and a registry entry)."""
        if not self.usage_plan_id:
            return
        okta = self.okta
        config = ClientConfig(
            okta["ISSUER"],
            okta["ADMIN_CLIENT_ID"],
            okta["ADMIN_CLIENT_SECRET"],
            scope=okta.get("REGISTER_SCOPE", "register"),
            api_url=self.api_url,
        )
        try:
            M2MClient(config, timeout=30).client_call("PUT", okta["CLIENT_ID"])
        except ClientError as exc:
            raise StackError(f"adopting the demo client failed: {exc} (see {self.run_dir}/api.log)") from None

    def aws_client(self, service: str) -> Any:
        """A boto3 client of moto's server."""
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.moto_url,
            region_name=REGION,
            aws_access_key_id=DUMMY_AWS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_AWS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=DUMMY_AWS["AWS_SESSION_TOKEN"],
        )

    def register_credentials(self) -> str:
        """What the register function's secret holds: its service app's private JWK (oauth), or the API token."""
        if self.auth_mode == "ssws":
            return self.okta["OKTA_API_TOKEN"]
        return Path(self.okta["OKTA_SERVICE_PRIVATE_JWK_FILE"]).read_text(encoding="utf-8")

    def function_env(self) -> dict[str, str]:
        """What the functions need beyond the template: the local Secrets Manager, a region and dummy credentials."""
        return {
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.moto_url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.moto_url,
            "AWS_ENDPOINT_URL_API_GATEWAY": self.moto_url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            **DUMMY_AWS,
        }

    def parameter_overrides(self) -> dict[str, str]:
        """Template parameters pointing the functions at the local Okta server and the moto secret."""
        return {
            "Issuer": self.okta["ISSUER"],
            "OktaOrgUrl": self.okta["OKTA_ORG_URL"],
            "OktaApiTokenSecretArn": self.secret_arn or "arn:aws:secretsmanager:us-east-1:123456789012:secret:none",
            "HelloScope": self.okta.get("HELLO_SCOPE", HELLO_SCOPE),
            "RegisterScope": self.okta.get("REGISTER_SCOPE", REGISTER_SCOPE),
            "OktaAuthMode": self.auth_mode,
            "OktaClientId": self.okta.get("OKTA_SERVICE_CLIENT_ID", "") if self.auth_mode == "oauth" else "",
            "OktaDpop": "true",
            "OktaAccessPolicyId": self.okta.get("OKTA_CLIENTS_POLICY_ID", ""),
            "AdminClientId": self.okta.get("ADMIN_CLIENT_ID", ""),
            **self.extra_overrides,
        }

    def start_api(self) -> None:
        """Start the local API on the template, with the local endpoints as env vars and parameters."""
        self.api_started_at = time.time()  # what the functions do from here on is the API's (the soak's oracle)
        env_vars = self.run_dir / "env-vars.json"
        function_env = self.function_env()
        # The usage plan's id is moto's, not the template's logical id that `!Ref` gives locally.
        register_env = {**function_env, "USAGE_PLAN_ID": self.usage_plan_id}
        env_vars.write_text(json.dumps({"Parameters": function_env, "RegisterFunction": register_env}, indent=2))
        overrides = " ".join(f"{key}={value}" for key, value in self.parameter_overrides().items())
        argv = [sys.executable, "-m", "local_api", "--host", self.host, "--port", str(self.ports.api)]
        argv += ["--template", str(self.template), "--env-vars", str(env_vars), "--parameter-overrides", overrides]
        argv += ["--access-log", str(self.access_log)]
        # The functions' worker processes start from the local API's environment, so it is theirs too.
        env = {**os.environ, **function_env, **self.api_env}
        process = self._spawn("api", argv, env, to_terminal=self.api_output_to_terminal)
        wait_until(
            f"the local API on {self.api_url}",
            lambda: requests.get(f"{self.api_url}/hello", timeout=2).status_code == 401,
            timeout=START_TIMEOUT,
            process=process,
        )

    def stop(self) -> None:
        """Stop every server, last started first."""
        while self.processes:
            self.processes.pop().stop()

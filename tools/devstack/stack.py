"""The local stack: local Okta server, moto (Secrets Manager, DynamoDB) and the local API, started and stopped
together.

The local Okta server starts as an empty org (its default authorization server and a super-admin API token);
`python -m okta_setup apply` then makes everything else, as it does in a real org: the route table's scopes, the two
access policies, the register function's service app (OAuth 2.0 for Okta with DPoP) and its key in moto's Secrets
Manager, the admin client (STATE/admin.env) and the six parameter values (STATE/samconfig.toml, environment
`local`). Once the API runs, the demo client is registered through it (POST /register), as an operator would; its
credentials are in STATE/demo.env.

Every start is fresh: moto keeps its state in memory only (moto 5 has no persistence), so the local Okta server's
state is dropped too, and the Okta apps, the client registry and the API keys always agree. The admin and demo
clients get new credentials at each start, written to STATE/admin.env and demo.env."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import requests

from devstack.processes import ManagedProcess, StackError, port_in_use, wait_until, write_client_env
from devstack.tables import create_tables, template_resources
from devstack.usage_plans import create_usage_plans
from m2m_client import ClientConfig, ClientError, M2MClient, parse_env_file
from okta_setup.config import parse_overrides, template_parameters, write_overrides

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
REGION = "us-east-1"
CONFIG_ENV = "local"  # the samconfig.toml environment okta_setup writes for the local stack
DEMO_LABEL = "local demo"
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
        api_env: dict[str, str] | None = None,
        okta_apps_rate_limit: int | None = None,
        okta_record: Path | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.host = host  # 127.0.0.1; the Docker check binds the bridge address so containers can reach it
        self.ports = ports or Ports()
        self.template = template
        self.extra_overrides = parameter_overrides or {}
        self.api_output_to_terminal = api_output_to_terminal
        self.api_env = api_env or {}  # extra environment of the local API process (e.g. LOCAL_API_MAX_WORKERS)
        self.okta_apps_rate_limit = okta_apps_rate_limit  # requests a minute on /api/v1/apps* (None: okta_local's)
        self.okta_record = okta_record  # where the local Okta server records its management exchanges (contract tests)
        self.okta_dir = state_dir / "okta"
        self.run_dir = state_dir / "devstack"
        self.processes: list[ManagedProcess] = []
        self.okta: dict[str, str] = {}
        self.setup: dict[str, str] = {}  # the parameter values okta_setup wrote
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
            self.setup_okta()
            self.start_api()
            self.demo_client()
            self.write_client_envs()
        except BaseException:
            self.stop()
            raise

    def client_env_file(self, name: str) -> Path:
        """STATE_DIR/demo.env or admin.env: a seeded client's settings for m2m_client --env-file."""
        return self.state_dir / f"{name}.env"

    def start_okta(self) -> None:
        """Start the local Okta server (an empty org) and read the credentials it writes to okta.env."""
        self.okta_dir.mkdir(parents=True, exist_ok=True)
        env_file = self.okta_dir / "okta.env"
        argv = [sys.executable, "-m", "okta_local", "serve", "--host", self.host, "--port", str(self.ports.okta)]
        if self.okta_apps_rate_limit is not None:
            argv += ["--apps-rate-limit", str(self.okta_apps_rate_limit)]
        argv += ["--state-dir", str(self.okta_dir)]
        if self.okta_record is not None:
            argv += ["--record", str(self.okta_record)]
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

    def start_moto(self) -> None:
        """Start moto's server (Secrets Manager, DynamoDB, API Gateway)."""
        argv = [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.ports.moto)]
        process = self._spawn("moto", argv)
        wait_until(
            f"moto on {self.moto_url}",
            lambda: requests.get(f"{self.moto_url}/moto-api/", timeout=2).ok,
            timeout=START_TIMEOUT,
            process=process,
        )

    @property
    def config_file(self) -> Path:
        """The samconfig.toml okta_setup writes the local stack's parameter values to."""
        return self.state_dir / "samconfig.toml"

    @property
    def admin_env(self) -> Path:
        """The admin client's settings, as okta_setup writes them."""
        return self.state_dir / "admin.env"

    @property
    def demo_env(self) -> Path:
        """The demo client's settings."""
        return self.state_dir / "demo.env"

    def setup_okta(self) -> None:
        """Run `okta_setup apply` against the local Okta server and moto, as against a real org and AWS; then the
        tables and usage plans the template defines (the admin client's API key needs its id)."""
        self._write_local_config()
        argv = [sys.executable, "-m", "okta_setup", "apply", "--issuer", self.okta["ISSUER"]]
        argv += ["--config-file", str(self.config_file), "--config-env", CONFIG_ENV, "--template", str(self.template)]
        argv += ["--admin-env", str(self.admin_env)]
        env = {**os.environ, **self.function_env(), "OKTA_SETUP_TOKEN": self.okta["OKTA_API_TOKEN"]}
        log = self.run_dir / "okta_setup.log"
        with log.open("ab") as out:
            done = subprocess.run(argv, env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-5:])
            raise StackError(f"okta_setup apply failed (exit {done.returncode}); end of {log}:\n{tail}")
        self.setup = parse_overrides(
            tomllib.loads(self.config_file.read_text(encoding="utf-8"))[CONFIG_ENV]["deploy"]["parameters"][
                "parameter_overrides"
            ]
        )
        self.secret_arn = self.setup["OktaApiTokenSecretArn"]
        admin = parse_env_file(self.admin_env)
        params = {**template_parameters(self.template), **self.extra_overrides}
        self.okta.update(
            ADMIN_CLIENT_ID=admin["CLIENT_ID"],
            ADMIN_CLIENT_SECRET=admin["CLIENT_SECRET"],
            HELLO_SCOPE=params.get("HelloScope", "hello"),
            REGISTER_SCOPE=params.get("RegisterScope", "register"),
            OKTA_CLIENTS_POLICY_ID=self.setup["OktaAccessPolicyId"],
            OKTA_SERVICE_CLIENT_ID=self.setup["OktaClientId"],
        )
        create_tables(self.aws_client("dynamodb"), self.template, self.parameter_overrides())
        self.enrol_seeded_clients()

    def _write_local_config(self) -> None:
        """The `local` environment: this stack's own parameter values (okta_setup reads the scopes with them)."""
        if not self.config_file.exists():
            self.config_file.write_text("# The local stack's parameter values, written by okta_setup.\nversion = 0.1\n")
        if self.extra_overrides:
            write_overrides(self.config_file, CONFIG_ENV, self.extra_overrides)

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

    def demo_client(self) -> None:
        """The demo client (the hello scope), registered through the API with the admin client's token, as an
        operator does (the register function enrols it)."""
        okta = self.okta
        admin = M2MClient(
            ClientConfig(
                okta["ISSUER"],
                okta["ADMIN_CLIENT_ID"],
                okta["ADMIN_CLIENT_SECRET"],
                okta["REGISTER_SCOPE"],
                self.api_url,
            ),
            timeout=30,
        )
        try:
            created = admin.register(f"{DEMO_LABEL} {uuid.uuid4().hex[:8]}")
        except ClientError as exc:
            raise StackError(f"registering the demo client failed: {exc} (see {self.run_dir}/api.log)") from None
        okta["CLIENT_ID"], okta["CLIENT_SECRET"] = str(created["client_id"]), str(created["client_secret"])

    def write_client_envs(self) -> None:
        """This run's demo and admin clients' settings, for m2m_client --env-file (readable by the owner only)."""
        okta = self.okta
        clients = {
            self.demo_env: (okta["CLIENT_ID"], okta["CLIENT_SECRET"], okta["HELLO_SCOPE"]),
            self.admin_env: (okta["ADMIN_CLIENT_ID"], okta["ADMIN_CLIENT_SECRET"], okta["REGISTER_SCOPE"]),
        }
        for env_file, (client_id, secret, scope) in clients.items():
            write_client_env(
                env_file,
                {"ISSUER": okta["ISSUER"], "DEFAULT_SCOPE": scope, "CLIENT_ID": client_id, "CLIENT_SECRET": secret}
                | {"API_URL": self.api_url},
            )

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
        """Template parameters: what okta_setup wrote (the local Okta server, the moto secret, the ids), this stack's
        own values, and the register function in OAuth for Okta mode with DPoP."""
        return {"OktaAuthMode": "oauth", "OktaDpop": "true", **self.setup, **self.extra_overrides}

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

"""`python -m sam_local`: the Docker half of `make sam-local-check` (the shell script readies Docker and builds).

Starts the local Okta server and moto on the Docker bridge address (containers reach the host there, and nothing
outside this machine can), runs `sam local invoke` for every sample event plus fresh authorizer events, then
`sam local start-api` and the HTTP matrix. Prints one PASS/FAIL line per check and a closing count.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import requests
from samcli.yamlhelper import yaml_parse

from devstack.events import METHOD_ARN, token_event
from devstack.processes import ManagedProcess, StackError, free_port, wait_until
from devstack.stack import DUMMY_AWS, REGION, REPO_ROOT, LocalStack, Ports
from devstack.story import Step, client_for, tamper
from m2m_client import ClientError
from m2m_client.client import CachedToken, DpopKey
from sam_local.expectations import (
    BodyCheck,
    Expectation,
    answered,
    expectation_for,
    greeting,
    has_message,
    message_is,
    new_credentials,
    policy,
    unauthorized,
)

SAM = str(Path(sys.executable).with_name("sam"))
START_TIMEOUT = 60.0
INVOKE_TIMEOUT = 300.0
# EAGER warm containers: every function's container starts before the API answers.
API_START_TIMEOUT = 300.0
# SAM CLI waits up to a second per invoke for log lines; container starts add more.
HTTP_TIMEOUT = 60.0
REGISTER_ARN = METHOD_ARN.replace("/GET/hello", "/POST/register")
# SAM CLI's own answers where API Gateway would use the template's gateway responses.
SAM_DENIED = "User is not authorized to access this resource"
SAM_AUTHORIZER_ERROR = "Internal server error"
# The authorizer's log line for a refused token (Powertools JSON, as the container prints it).
UNAUTHORIZED_LINE = re.compile(r'"decision"\s*:\s*"unauthorized"')


def declared_env_names(template: Path) -> frozenset[str]:
    """Every environment variable name the template declares, in Globals or on a function."""
    document = yaml_parse(template.read_text(encoding="utf-8"))
    blocks = [document.get("Globals", {}).get("Function", {})]
    blocks += [r.get("Properties", {}) for r in document.get("Resources", {}).values() if isinstance(r, dict)]
    return frozenset(name for b in blocks for name in (b.get("Environment") or {}).get("Variables") or {})


def sam_env(template: Path) -> dict[str, str]:
    """SAM CLI's environment: dummy credentials and a region (SAM hands both to the containers), no telemetry."""
    # SAM CLI lets the shell override any variable the template declares: an ISSUER exported for m2m_client
    # would silently replace the local one. Drop those, and every real AWS setting.
    declared = declared_env_names(template)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in declared}
    return {**env, **DUMMY_AWS, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "SAM_CLI_TELEMETRY": "0"}


def write_env_vars(path: Path, host: str, moto_url: str, usage_plan_id: str, api_url: str) -> None:
    """The `--env-vars` file: the local-only settings, which the template declares fixed empty."""
    # Plain http to the bridge address is allowed only because SAM CLI sets AWS_SAM_LOCAL=true in its containers.
    local = {"SAM_LOCAL_HTTP_ISSUER_HOSTS": host}
    document = {
        # A DPoP route's proofs name start-api's URL (the stage URL's stand-in), and are claimed in moto's table.
        "AuthorizerFunction": {**local, "AWS_ENDPOINT_URL_DYNAMODB": moto_url, "API_BASE_URLS": api_url},
        "HelloFunction": local,
        "RegisterFunction": {
            **local,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_url,
            "AWS_ENDPOINT_URL_DYNAMODB": moto_url,
            "AWS_ENDPOINT_URL_API_GATEWAY": moto_url,
            "USAGE_PLAN_ID": usage_plan_id,  # moto's id of the plan (the template's `!Ref` gives its logical id)
        },
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def hello_client(okta: dict[str, str]) -> tuple[str, str]:
    """A client with the hello scope before the API runs: the admin client, which okta_setup puts in the clients
    policy too (the demo client is registered through the API, which this check starts last)."""
    return okta["ADMIN_CLIENT_ID"], okta["ADMIN_CLIENT_SECRET"]


def fresh_events(okta: dict[str, str], out_dir: Path) -> dict[Path, Expectation]:
    """Authorizer events holding a fresh token of the local Okta server (hello scope), with what each must give."""
    client_id, secret = hello_client(okta)
    token = client_for(okta, "", client_id, secret, okta.get("HELLO_SCOPE", "hello")).token()
    cases = {
        "authorizer-valid": (METHOD_ARN, token, policy(True, METHOD_ARN, client_id)),
        "authorizer-wrong-scope": (REGISTER_ARN, token, policy(False, REGISTER_ARN, client_id)),
        "authorizer-tampered": (METHOD_ARN, tamper(token), unauthorized),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    events: dict[Path, Expectation] = {}
    for name, (arn, event_token, check) in cases.items():
        path = out_dir / f"{name}.fresh.json"
        path.write_text(json.dumps({**token_event(event_token), "methodArn": arn}, indent=2), encoding="utf-8")
        events[path] = Expectation("AuthorizerFunction", check)
    return events


def sample_events(events_dir: Path) -> list[Path]:
    """Committed sample events (a developer's *.fresh.json files are local and skipped)."""
    return sorted(p for p in events_dir.glob("*.json") if not p.name.endswith(".fresh.json"))


def invoke(
    event: Path, expectation: Expectation | None, sam_args: list[str], env: dict[str, str], log_dir: Path
) -> Step:
    """Run `sam local invoke` for one event and check its result."""
    name = f"sam local invoke {event.name}"
    if expectation is None:
        return Step(name, False, "no expectation for this event: add one to tools/sam_local/expectations.py")
    log = log_dir / f"invoke-{event.stem}.log"
    argv = [SAM, "local", "invoke", expectation.function, "--event", str(event), *sam_args]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=INVOKE_TIMEOUT, env=env, check=False)
    except subprocess.TimeoutExpired:
        return Step(name, False, f"timed out after {INVOKE_TIMEOUT:.0f}s")
    log.write_text(done.stderr, encoding="utf-8")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        return Step(name, False, f"exit {done.returncode}, no JSON result (see {log.name} below)")
    passed, detail = expectation.check(result)
    return Step(name, passed, detail if passed else f"{detail} (see {log.name} below)")


def call(api_url: str, method: str, route: str, token: str | None, body: str | None = None) -> requests.Response:
    """One request to the local API, with the bearer token if given, and no retry."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return requests.request(method, f"{api_url}{route}", headers=headers, data=body, timeout=HTTP_TIMEOUT)


def refusals_logged(log: Path) -> int:
    """How many refused-token decisions the authorizer has logged so far under `sam local start-api`."""
    return len(UNAUTHORIZED_LINE.findall(log.read_text(encoding="utf-8", errors="replace"))) if log.exists() else 0


def api_matrix(api_url: str, okta: dict[str, str], api_log: Path) -> list[Step]:
    """The HTTP matrix against `sam local start-api`, asserting SAM CLI's answers where they differ from API Gateway."""
    hello_scope, register_scope = okta.get("HELLO_SCOPE", "hello"), okta.get("REGISTER_SCOPE", "register")
    hello_id, hello_secret = hello_client(okta)
    hello = client_for(okta, api_url, hello_id, hello_secret, hello_scope)
    admin = client_for(okta, api_url, okta["ADMIN_CLIENT_ID"], okta["ADMIN_CLIENT_SECRET"], register_scope)
    token, admin_token = hello.token(), admin.token()
    label = json.dumps({"label": f"sam-local-{uuid.uuid4().hex[:8]}"})
    created: dict[str, Any] = {}

    def get(route: str, bearer: str | None) -> Callable[[], requests.Response]:
        return lambda: call(api_url, "GET", route, bearer)

    def register(bearer: str, body: str) -> Callable[[], requests.Response]:
        return lambda: call(api_url, "POST", "/register", bearer, body)

    def remember(body: Any) -> bool:
        created.update(body if new_credentials(body) else {})
        return bool(created)

    refusals = {"before": 0}

    def refused_later(send: Callable[[], requests.Response]) -> Callable[[], requests.Response]:
        def counted() -> requests.Response:
            refusals["before"] = refusals_logged(api_log)
            return send()

        return counted

    tampered = refused_later(lambda: call(api_url, "GET", "/hello", tamper(token)))
    dpop_url = f"{api_url}/hello/dpop"
    bound: dict[str, Any] = {}

    def dpop_register() -> requests.Response:
        body = {"label": f"sam-local-dpop-{uuid.uuid4().hex[:8]}", "dpop": True}
        answer = call(api_url, "POST", "/register", admin_token, json.dumps(body))
        if answer.status_code == 201:
            created_dpop = answer.json()
            client = client_for(
                okta, api_url, created_dpop["client_id"], created_dpop["client_secret"], hello_scope, dpop=True
            )
            cached = CachedToken(client.token(), 0, "DPoP")
            bound.update(id=created_dpop["client_id"], captured=client.headers("GET", dpop_url, cached))
            bound["unproved"] = {"Authorization": bound["captured"]["Authorization"]}
            # A bearer token (the hello client's) with a proof of a key of its own: the scheme is refused.
            bound["bearer"] = {
                "Authorization": f"Bearer {token}",
                "DPoP": DpopKey().proof("GET", dpop_url, access_token=token),
            }
        return answer

    def dpop_get(headers: str) -> Callable[[], requests.Response]:
        return lambda: requests.get(dpop_url, headers=bound[headers], timeout=HTTP_TIMEOUT)

    def refused_by_authorizer(body: Any) -> bool:
        # SAM CLI also answers 502 when the authorizer crashes: only its own refusal line tells the two apart.
        deadline = time.monotonic() + 5
        while refusals_logged(api_log) <= refusals["before"] and time.monotonic() < deadline:
            time.sleep(0.2)
        return bool(message_is(SAM_AUTHORIZER_ERROR)(body)) and refusals_logged(api_log) > refusals["before"]

    def names_the_holder(body: Any) -> bool:
        return bool(
            body == {"message": "A client with this label is already registered", "client_id": created["client_id"]}
        )

    def newcomer_hello() -> requests.Response:
        client = client_for(okta, api_url, created["client_id"], created["client_secret"], hello_scope)
        return call(api_url, "GET", "/hello", client.token())

    rows: list[tuple[str, Callable[[], requests.Response], int, BodyCheck]] = [
        ("GET /hello, no token", get("/hello", None), 401, message_is("Unauthorized")),
        ("GET /hello, malformed token", get("/hello", "not-a-jwt"), 401, message_is("Unauthorized")),
        # API Gateway: 401. SAM CLI reads the authorizer's "Unauthorized" error as a malformed policy.
        ("GET /hello, tampered token (API Gateway: 401)", tampered, 502, refused_by_authorizer),
        ("GET /hello, valid token", get("/hello", token), 200, greeting(hello_id)),
        ("GET /, valid token", get("/", token), 200, greeting(hello_id)),
        # API Gateway: 403 {"message": "Forbidden"} from the template's ACCESS_DENIED gateway response.
        ("GET /hello, register scope only", get("/hello", admin_token), 403, message_is(SAM_DENIED)),
        ("POST /register, hello scope only", register(token, label), 403, message_is(SAM_DENIED)),
        ("POST /register, register scope", register(admin_token, label), 201, remember),
        ("GET /hello, the new client's token", newcomer_hello, 200, lambda b: greeting(created["client_id"])(b)),
        ("POST /register, same label again", register(admin_token, label), 409, names_the_holder),
        ("POST /register, bad JSON", register(admin_token, "{"), 400, has_message),
        ("POST /register, a client that must use DPoP", dpop_register, 201, lambda b: b.get("dpop") is True),
        (
            "GET /hello/dpop, bound token and a fresh proof",
            dpop_get("captured"),
            200,
            lambda b: greeting(bound["id"])(b),
        ),
        # API Gateway: 401. The replay store (moto's DynamoDB) refuses the proof's second use.
        (
            "GET /hello/dpop, the same proof again (API Gateway: 401)",
            refused_later(dpop_get("captured")),
            502,
            refused_by_authorizer,
        ),
        # A missing identity source: SAM CLI answers 401 without invoking the authorizer, as API Gateway does.
        ("GET /hello/dpop, no DPoP header", dpop_get("unproved"), 401, message_is("Unauthorized")),
        (
            "GET /hello/dpop, a bearer token (API Gateway: 401)",
            refused_later(dpop_get("bearer")),
            502,
            refused_by_authorizer,
        ),
    ]
    steps = []
    for name, send, status, check in rows:
        try:
            steps.append(Step(name, *answered(send(), status, check)))
        except (requests.RequestException, ClientError, KeyError) as exc:
            steps.append(Step(name, False, f"{type(exc).__name__}: {str(exc)[:100]}"))
    return steps


def start_api(
    url: str, sam_args: list[str], env: dict[str, str], log_dir: Path, processes: list[ManagedProcess]
) -> None:
    """Start `sam local start-api` at url (http://127.0.0.1:PORT) with warm containers; return once it answers."""
    port = url.rsplit(":", 1)[1]
    argv = [SAM, "local", "start-api", "--host", "127.0.0.1", "--port", port, "--warm-containers", "EAGER"]
    process = ManagedProcess("sam local start-api", [*argv, *sam_args], log_path=log_dir / "start-api.log", env=env)
    processes.append(process)
    wait_until(
        f"sam local start-api on {url}",
        lambda: requests.get(f"{url}/hello", timeout=5).status_code == 401,
        timeout=API_START_TIMEOUT,
        process=process,
    )


def run(args: argparse.Namespace, processes: list[ManagedProcess], steps: list[Step]) -> None:
    """Start the local servers, then every invoke and the HTTP matrix; each check's step goes to steps as it ends."""
    work: Path = args.work_dir
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    # The local Okta server, moto and okta_setup as `make dev` runs them, on the address containers reach the host at.
    stack = LocalStack(work, host=args.host, ports=Ports(api=0, okta=free_port(args.host), moto=free_port(args.host)))
    stack.processes = processes  # one list: main() stops them with the rest
    stack.start_okta()
    stack.start_moto()
    stack.setup_okta()  # python -m okta_setup apply, from the empty org, as `make dev` does
    okta = stack.okta
    env_vars = work / "env-vars.json"
    api_url = f"http://127.0.0.1:{free_port()}"
    write_env_vars(env_vars, args.host, stack.moto_url, stack.usage_plan_id, api_url)
    env = sam_env(args.template)
    sam_args = ["--template", str(args.template), "--skip-pull-image", "--env-vars", str(env_vars)]
    overrides = " ".join(f"{key}={value}" for key, value in stack.parameter_overrides().items())
    sam_args += ["--parameter-overrides", overrides]

    planned: dict[Path, Expectation | None] = {p: expectation_for(p.name) for p in sample_events(args.events_dir)}
    planned.update(fresh_events(okta, work / "events"))
    for event, expectation in planned.items():
        steps.append(invoke(event, expectation, sam_args, env, logs))
        print(steps[-1].line(), flush=True)

    start_api(api_url, sam_args, env, logs, processes)
    for step in api_matrix(api_url, okta, logs / "start-api.log"):
        steps.append(step)
        print(step.line(), flush=True)


def build_parser() -> argparse.ArgumentParser:
    """Where the built template is, the address the containers reach the host on, and a scratch folder."""
    parser = argparse.ArgumentParser(prog="python -m sam_local", description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="address for the local servers, reachable from containers")
    parser.add_argument("--template", type=Path, required=True, help="the template `sam build` wrote")
    parser.add_argument("--work-dir", type=Path, required=True, help="scratch folder (state, logs, env-vars)")
    parser.add_argument("--events-dir", type=Path, default=REPO_ROOT / "events")
    return parser


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (CI timeout, the shell script's trap) unwinds like Ctrl-C, so every server and container is stopped.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every check; exit 0 only if all passed."""
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    processes: list[ManagedProcess] = []
    steps: list[Step] = []
    try:
        run(args, processes, steps)
    except (StackError, ClientError, requests.RequestException, OSError) as exc:
        steps.append(Step("local servers", False, str(exc)))
        print(steps[-1].line(), flush=True)
    finally:
        while processes:
            processes.pop().stop()
    failed = sum(not step.passed for step in steps)
    print(f"sam-local-check: {len(steps) - failed} passed, {failed} failed", flush=True)
    return 1 if failed or not steps else 0


if __name__ == "__main__":
    sys.exit(main())

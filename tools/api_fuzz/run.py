"""Run Schemathesis (its CLI, with api_fuzz.hooks) against a running stack: once with real tokens for each
operation's scopes (every phase: examples, coverage, fuzzing, and stateful sequences through the document's
links; DPoP-bound tokens and a fresh proof per request where the operation's security is the DPoP scheme), then
once each with no token, a token without the operation's scopes, a malformed Authorization header, and a real
bearer token on the operations that take DPoP-bound ones. A profile bounds it: `ci` (fixed seed, minutes at most
on a loaded 2-core machine) or `deep`."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import yaml

from api_fuzz.target import FuzzTarget, register_dpop_client
from devstack import LocalStack, Ports, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
# Limits far above what one worker sends, so that runs exercise the routes, not the throttle (it has tests of its
# own): the usage plan's rate and burst, and the local Okta's Apps API (requests a minute).
STACK_LIMITS = {"ClientRateLimit": "1000", "ClientBurstLimit": "1000"}
OKTA_APPS_RATE_LIMIT = 100_000
DOCUMENT = REPO_ROOT / "openapi.yaml"
DPOP_SCHEME = "oauth2Dpop"  # the document's security scheme of DPoP-bound tokens
# The refused-token runs, in order, before the one with real tokens ("scoped"); "bearer" runs on the operations
# that take DPoP-bound tokens only.
REFUSED_RUNS = ("none", "wrong-scope", "malformed", "bearer")
CI_SEED = 22  # issue 22; fixed, so that a CI failure replays
# Schemathesis's warnings shown: all but base_url_mismatch (operations with a clientId find clients only through
# links, so their fuzzed calls are 404s: not the sign of a wrong base URL it takes them for).
WARNINGS = (
    "missing_auth",
    "missing_test_data",
    "validation_mismatch",
    "missing_deserializer",
    "unused_openapi_auth",
    "unsupported_regex",
    "unresolvable_reference",
    "rate_limited",
)
# Built-in checks left out, each for a reason of API Gateway's or of the API's design, not of a bug:
EXCLUDED_CHECKS = (
    # API Gateway answers a method a path does not have like an unknown path (403 Missing Authentication Token,
    # before any authorizer), never 405 with Allow.
    "unsupported_method",
    "allow_header_conformance",
    # DELETE /clients/{clientId} revokes: the client stays in the registry, shown as revoked (the audit trail).
    "use_after_free",
    # One admin client: there is no second tenant whose objects it could reach.
    "object_level_authorization",
)


@dataclass(frozen=True)
class Profile:
    """How much a run does: test cases per operation, stateful steps, and the same for the refused-token runs."""

    name: str
    max_examples: int
    stateful_steps: int
    refused_examples: int


PROFILES = {
    "ci": Profile("ci", max_examples=12, stateful_steps=20, refused_examples=3),
    "deep": Profile("deep", max_examples=150, stateful_steps=100, refused_examples=30),
}


@dataclass(frozen=True)
class Run:
    """One Schemathesis run: its auth mode, exit code and output (the CLI's report)."""

    auth: str
    returncode: int
    output: str

    @property
    def passed(self) -> bool:
        return self.returncode == 0


def config(profile: Profile, auth: str) -> str:
    """The schemathesis.toml of a run."""
    # With real tokens, a warning that the run did not exercise what it should fails it (401s everywhere, patterns
    # it cannot generate, references it cannot follow, 429s).
    fail_on = (
        '["missing_auth", "unsupported_regex", "unresolvable_reference", "rate_limited"]'
        if auth == "scoped"
        else "false"
    )
    return f"""\
# No crash cache: each run starts from its seed alone (and writes nothing into the repository).
[cache]
enabled = false

[warnings]
display = {list(WARNINGS)!r}
fail-on = {fail_on}

# Stateful sequences follow the document's links only: inferred ones could reach clients the run did not make
# (the seeded demo client, whose token the runs need).
[phases.stateful]
max-steps = {profile.stateful_steps}
inference.algorithms = []

# `next` is a page token this API gave out: a well-formed one it did not give out is a 400.
[[operations]]
include-operation-id = "listClients"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429"]
"""


def fuzz_stack(state_dir: Path, ports: Ports | None = None) -> LocalStack:
    """A local stack for fuzzing (not started): free ports unless given, and limits no run reaches."""
    ports = ports or Ports(api=free_port(), okta=free_port(), moto=free_port())
    return LocalStack(
        state_dir, ports=ports, parameter_overrides=STACK_LIMITS, okta_apps_rate_limit=OKTA_APPS_RATE_LIMIT
    )


def target_of(stack: LocalStack) -> FuzzTarget:
    """What the hooks need to know of a running stack: its settings (the local Okta server's, the clients okta_setup
    and the stack made, the register function's private JWK from moto's Secrets Manager) in a file of the run's own,
    readable by the owner only; and a client that must use DPoP, registered on it (through POST /register, as a user
    would) for the DPoP routes."""
    private_jwk = stack.run_dir / "service-app.jwk.json"
    secret = stack.aws_client("secretsmanager").get_secret_value(SecretId=stack.secret_arn)["SecretString"]
    settings = stack.run_dir / "api_fuzz.env"
    for path, text in (
        (private_jwk, secret),
        (
            settings,
            "".join(f"{k}={v}\n" for k, v in {**stack.okta, "OKTA_SERVICE_PRIVATE_JWK_FILE": private_jwk}.items()),
        ),
    ):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    target = FuzzTarget(
        api_url=stack.api_url,
        okta_env=settings,
        moto_url=stack.moto_url,
        usage_plan_id=stack.usage_plan_id,
    )
    return register_dpop_client(target, stack.state_dir / "dpop-client.env")


def dpop_operations(document: Path = DOCUMENT) -> tuple[str, ...]:
    """The operationIds of the document's operations whose security is the DPoP scheme."""
    paths = (yaml.safe_load(document.read_text(encoding="utf-8")) or {}).get("paths") or {}
    return tuple(
        str(operation["operationId"])
        for item in paths.values()
        for operation in (item or {}).values()
        if isinstance(operation, dict)
        and any(DPOP_SCHEME in requirement for requirement in operation.get("security") or [])
    )


def command(  # noqa: PLR0913 - one run's every setting
    target: FuzzTarget,
    profile: Profile,
    seed: int,
    auth: str,
    report_dir: Path,
    document: Path = DOCUMENT,
    operations: tuple[str, ...] = (),
) -> list[str]:
    """The CLI's argv for one run (of the operations with these operationIds, if any are named)."""
    scoped = auth == "scoped"
    settings = report_dir / f"{auth}.toml"
    argv = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(settings), "run", str(document)]
    argv += ["--url", target.api_url]
    argv += ["--checks", "all", "--exclude-checks", ",".join(EXCLUDED_CHECKS)]
    argv += [
        "--seed",
        str(seed),
        "--workers",
        "1",
        "--max-examples",
        str(profile.max_examples if scoped else profile.refused_examples),
    ]
    argv += ["--phases", "examples,coverage,fuzzing,stateful" if scoped else "examples,fuzzing"]
    argv += ["--mode", "all", "--generation-database", "none", "--request-timeout", "30", "--no-color"]
    argv += ["--suppress-health-check", "too_slow", "--continue-on-failure"]
    argv += ["--report", "junit", "--report-junit-path", str(report_dir / f"{auth}.xml")]
    for operation in operations:
        argv += ["--include-operation-id", operation]
    return argv


def run_one(  # noqa: PLR0913 - one run's every setting
    target: FuzzTarget,
    profile: Profile,
    seed: int,
    auth: str,
    report_dir: Path,
    document: Path = DOCUMENT,
    operations: tuple[str, ...] = (),
    echo: TextIO | None = None,
) -> Run:
    """One Schemathesis run (the CLI, in a process of its own, with api_fuzz.hooks); echo shows its output live."""
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / f"{auth}.toml").write_text(config(profile, auth), encoding="utf-8")
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "api_fuzz.hooks",
        "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / p) for p in ("layers/core", "tools", ".")),
        "NO_COLOR": "1",
        **target.environment(auth),
    }
    argv = command(target, profile, seed, auth, report_dir, document, operations)
    lines = []
    with subprocess.Popen(
        argv, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        for line in process.stdout or ():
            lines.append(line)
            if echo is not None:
                echo.write(line)
                echo.flush()
    return Run(auth, process.returncode, "".join(lines))


def run_schemathesis(
    target: FuzzTarget, profile: Profile, seed: int, report_dir: Path, echo: TextIO | None = None
) -> list[Run]:
    """Every run of the profile against the target: the refused-token runs first (they need the seeded clients as
    the stack made them; the bearer run only if some operation takes DPoP-bound tokens), then the one with real
    tokens; each one's exit code and output."""
    dpop = dpop_operations()
    runs = [
        run_one(target, profile, seed, auth, report_dir, operations=dpop if auth == "bearer" else (), echo=echo)
        for auth in REFUSED_RUNS
        if dpop or auth != "bearer"
    ]
    return [*runs, run_one(target, profile, seed, "scoped", report_dir, echo=echo)]

"""`make bench-api`: concurrent clients through the local API, GET /hello against a baseline without the authorizer.

The baseline is the same hello code behind a route without the authorizer, in the same local API process and
run. It comes from a generated temporary template (template.yaml is not touched): a second function whose
handler fills in the authorizer context API Gateway would pass on, then calls the hello handler unchanged.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from samcli.yamlhelper import yaml_dump, yaml_parse

from devstack import LocalStack, Ports, StackError, free_port
from devstack.stack import REPO_ROOT
from devstack.story import client_for
from m2m_client import ClientError

BASELINE_ROUTE = "/hello-baseline"
# The shim: what API Gateway adds after an Allow (the authorizer's context), and the hello route's own path.
BASELINE_SHIM = '''"""Benchmark baseline: the hello handler, called as if the authorizer had allowed the request."""

import app


def lambda_handler(event, context):
    event["path"] = event["resource"] = "/hello"
    event["requestContext"]["authorizer"] = {"clientId": "bench-baseline", "scopes": "hello"}
    return app.lambda_handler(event, context)
'''


@dataclass(frozen=True)
class Result:
    """Latencies of one route's run."""

    label: str
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rps(self) -> float:
        """Requests per second over the whole run."""
        return len(self.latencies) / self.seconds

    def percentile(self, p: float) -> float:
        """The p-th percentile latency in milliseconds."""
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(p) - 1] * 1000

    def row(self) -> str:
        """One table row."""
        return (
            f"{self.label:<38}{self.rps:>9.1f}{self.percentile(50):>10.2f}{self.percentile(99):>10.2f}{self.errors:>8}"
        )


def _absolute(uri: Any) -> Any:
    return str((REPO_ROOT / uri).resolve()) if isinstance(uri, str) else uri


def write_bench_template(workdir: Path) -> Path:
    """Write template.yaml plus the baseline function and route (no authorizer) to workdir; return its path."""
    template = yaml_parse((REPO_ROOT / "template.yaml").read_text())
    resources = template["Resources"]
    # The template will live elsewhere, so code paths must not stay relative to the repository.
    for resource in resources.values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in properties:
                properties[key] = _absolute(properties[key])
    code = workdir / "baseline"
    code.mkdir()
    shutil.copy(REPO_ROOT / "functions" / "hello" / "app.py", code / "app.py")
    (code / "baseline.py").write_text(BASELINE_SHIM)
    baseline = copy.deepcopy(resources["HelloFunction"])
    baseline["Properties"]["CodeUri"] = str(code)
    baseline["Properties"]["Handler"] = "baseline.lambda_handler"
    baseline["Properties"]["Events"] = {
        "Baseline": {
            "Type": "Api",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "Path": BASELINE_ROUTE,
                "Method": "GET",
                "Auth": {"Authorizer": "NONE", "ApiKeyRequired": False},
            },
        }
    }
    resources["HelloBaselineFunction"] = baseline
    path = workdir / "template.yaml"
    path.write_text(yaml_dump(template))
    return path


def run_route(label: str, url: str, token: str, clients: int, requests_per_client: int) -> Result:
    """clients threads, each with its own connection, send requests_per_client GETs; a non-200 is an error."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)

    def worker(index: int) -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            start.wait()
            for _ in range(requests_per_client):
                began = time.perf_counter()
                try:
                    ok = session.get(url, timeout=30).status_code == 200
                except requests.RequestException:
                    ok = False
                latencies[index].append(time.perf_counter() - began)
                errors[index] += not ok

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return Result(label, time.perf_counter() - began, [x for xs in latencies for x in xs], sum(errors))


def merge(results: Sequence[Result]) -> Result:
    """One result from several rounds of the same route."""
    return Result(
        results[0].label,
        sum(r.seconds for r in results),
        [x for r in results for x in r.latencies],
        sum(r.errors for r in results),
    )


def bench(stack: LocalStack, clients: int, requests_per_client: int, warmup: int, rounds: int) -> list[Result]:
    """Warm both routes, then alternate baseline and authorized runs for some rounds (so drift hits both alike)."""
    okta = stack.okta
    token = client_for(okta, stack.api_url, okta["CLIENT_ID"], okta["CLIENT_SECRET"], okta["HELLO_SCOPE"]).token()
    routes = [
        (f"GET {BASELINE_ROUTE} (no authorizer)", f"{stack.api_url}{BASELINE_ROUTE}"),
        ("GET /hello (authorizer)", f"{stack.api_url}/hello"),
    ]
    for label, url in routes:
        run_route(label, url, token, 1, warmup)
    per_round = [
        [run_route(label, url, token, clients, requests_per_client) for label, url in routes] for _ in range(rounds)
    ]
    return [merge(runs) for runs in zip(*per_round, strict=True)]


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (threads), default 8")
    parser.add_argument("--requests", type=int, default=250, help="requests per client, route and round, default 250")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs per route, default 2")
    parser.add_argument("--warmup", type=int, default=20, help="requests per route before measuring, default 20")
    parser.add_argument(
        "--authorizer-cache-ttl", type=int, help="override AuthorizerCacheTtl (0 runs the authorizer on every call)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Start a private stack on free ports, benchmark, print the table and ratios; exit 1 on any error."""
    args = build_parser().parse_args(argv)
    # The bench measures the authorizer's path, not the per-client limits: they are set far above its load.
    overrides = {"ClientRateLimit": "100000", "ClientBurstLimit": "100000", "ClientDailyQuota": "100000000"}
    if args.authorizer_cache_ttl is not None:
        overrides["AuthorizerCacheTtl"] = str(args.authorizer_cache_ttl)
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        workdir = Path(tmp)
        stack = LocalStack(
            workdir / "state",
            ports=Ports(api=free_port(), okta=free_port(), moto=free_port()),
            template=write_bench_template(workdir),
            parameter_overrides=overrides,
        )
        try:
            with stack:
                results = bench(stack, args.clients, args.requests, args.warmup, args.rounds)
        except (StackError, ClientError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    total = args.clients * args.requests * args.rounds
    ttl = "template default" if args.authorizer_cache_ttl is None else f"{args.authorizer_cache_ttl} s"
    print(f"bench-api: {args.clients} clients x {args.requests} requests x {args.rounds} rounds = {total} per route")
    print("both routes in the same local API process, alternating")
    print(f"authorizer cache TTL: {ttl} (one token for all requests)")
    print(f"{'route':<38}{'rps':>9}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for result in results:
        print(result.row())
    base, auth = results
    print(
        f"authorizer/baseline: rps {auth.rps / base.rps:.2f}x, p50 {auth.percentile(50) / base.percentile(50):.2f}x, "
        f"p99 {auth.percentile(99) / base.percentile(99):.2f}x"
    )
    errors = sum(r.errors for r in results)
    if errors:
        print(f"FAIL: {errors} requests did not answer 200", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

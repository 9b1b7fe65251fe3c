"""`make usage`: each client's requests by route and status, from the local API's access log.

    python -m local_api.usage [--log .local/access.log] [--since 1h]

Reads the JSON lines the local API writes (template.yaml's access log format, whose fields the default format
shares: clientId, method, route, status, epochMs), keeps those of the period (--since 90s, 30m, 1h, 2d, or all;
default 24h), and prints a table per client: a row per route (method and route; "-" for a path that is no route)
with a column per status, and totals. Clients come in id order, "-" (requests with no authorizer's client id: no
or bad token, unknown route) last; routes in method and route order. Lines that are not such JSON are skipped and
counted. Plain text; the log holds no token or secret.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LOG = Path(".local/access.log")
DEFAULT_SINCE = "24h"
NO_CLIENT = "-"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+)([smhd])")


@dataclass(frozen=True, order=True)
class Request:
    """One access log line, as far as the report needs it."""

    client: str
    route: str  # "METHOD /route"
    status: int


def since_seconds(text: str) -> float | None:
    """Seconds in a duration such as 90s, 30m, 1h or 2d; None for `all`; ValueError otherwise."""
    if text == "all":
        return None
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"--since must be a number with s, m, h or d (e.g. 1h), or all; not {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _request(line: str, since_ms: float) -> Request | None:
    """The line's request if it is an access log line of the period; None if it is older; ValueError if no such line."""
    entry = json.loads(line)
    if not isinstance(entry, dict) or not isinstance(entry.get("status"), int):
        raise ValueError("not an access log line")
    if float(entry.get("epochMs") or 0) < since_ms:
        return None
    method, route = str(entry.get("method") or "-"), str(entry.get("route") or "-")
    return Request(str(entry.get("clientId") or NO_CLIENT), f"{method} {route}", entry["status"])


def read_log(lines: Iterable[str], since_ms: float) -> tuple[list[Request], int]:
    """The requests of the period, and how many lines were not access log lines."""
    requests, skipped = [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            found = _request(line, since_ms)
        except ValueError:
            skipped += 1
            continue
        if found is not None:
            requests.append(found)
    return requests, skipped


def _client_order(client: str) -> tuple[bool, str]:
    return client == NO_CLIENT, client


def client_table(client: str, requests: Sequence[Request]) -> Iterator[str]:
    """One client's table: a row per route, a column per status, totals; requests are that client's."""
    counts = Counter((r.route, r.status) for r in requests)
    statuses = sorted({r.status for r in requests})
    routes = sorted({r.route for r in requests})
    first = max(len(name) for name in ["route", "total", *routes])
    widths = [max(len(str(status)), len(str(max(counts[(r, status)] for r in routes))), 3) for status in statuses]
    total_width = max(len("total"), len(str(len(requests))))

    def row(label: str, cells: Sequence[int | str], total: int | str) -> str:
        text = "".join(f"  {cell:>{width}}" for cell, width in zip(cells, widths, strict=True))
        return f"  {label:<{first}}{text}  {total:>{total_width}}"

    yield f"client {client}: {len(requests)} request{'' if len(requests) == 1 else 's'}"
    yield row("route", statuses, "total")
    for route in routes:
        yield row(route, [counts[(route, s)] for s in statuses], sum(counts[(route, s)] for s in statuses))
    yield row("total", [sum(counts[(r, s)] for r in routes) for s in statuses], len(requests))


def report(requests: Sequence[Request]) -> Iterator[str]:
    """Every client's table, in client order, each after a blank line."""
    by_client: dict[str, list[Request]] = {}
    for request in requests:
        by_client.setdefault(request.client, []).append(request)
    for client in sorted(by_client, key=_client_order):
        yield ""
        yield from client_table(client, by_client[client])


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m local_api.usage", description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, default=DEFAULT_LOG, help=f"the access log (default {DEFAULT_LOG})")
    parser.add_argument(
        "--since", default=DEFAULT_SINCE, help=f"the period: 90s, 30m, 1h, 2d, or all (default {DEFAULT_SINCE})"
    )
    return parser


def main(argv: Sequence[str] | None = None, now: float | None = None) -> int:
    """Print the report; exit 1 (one line on stderr) if the log cannot be read or --since is not a duration."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        seconds = since_seconds(args.since)
    except ValueError as exc:
        parser.error(str(exc))
    now = time.time() if now is None else now
    since_ms = 0.0 if seconds is None else (now - seconds) * 1000
    try:
        with args.log.open(encoding="utf-8", errors="replace") as lines:
            requests, skipped = read_log(lines, since_ms)
    except OSError as exc:
        print(
            f"error: cannot read the access log {args.log}: {exc.strerror} (make dev writes .local/access.log)",
            file=sys.stderr,
        )
        return 1
    period = "the whole log" if seconds is None else f"the last {args.since}"
    clients = len({r.client for r in requests})
    print(f"{args.log}, {period}: {len(requests)} requests, {clients} clients")
    for line in report(requests):
        print(line)
    if skipped:
        print(f"({skipped} lines skipped: not access log lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""CLI: `python -m m2m_client token|call|register|clients ...`; errors are one line on stderr, exit status 1."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from m2m_client.client import M2MClient
from m2m_client.config import load_config
from m2m_client.errors import ClientError


def build_parser() -> argparse.ArgumentParser:
    """The command line: global options, then one subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m m2m_client",
        description="Get an Okta access token with client credentials and call the API with it. "
        "Settings: ISSUER, DEFAULT_SCOPE, CLIENT_ID, CLIENT_SECRET, API_URL, DPOP (environment or .env).",
    )
    parser.add_argument("--env-file", type=Path, help="read settings from this file (wins over the environment)")
    parser.add_argument("--scope", help="request this scope instead of DEFAULT_SCOPE")
    parser.add_argument(
        "--dpop",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="ask for a DPoP-bound token and send a DPoP proof with every call (default: the DPOP setting)",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each answer (default 10)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("token", help="print an access token (treat it as a secret)")
    call = commands.add_parser("call", help="call a route with a token and print the JSON answer")
    call.add_argument("route", help="route such as /hello")
    call.add_argument("-X", "--method", default="GET", help="HTTP method (default GET)")
    call.add_argument("-d", "--data", help="JSON request body")
    register = commands.add_parser("register", help="register a new client app; prints its credentials once")
    register.add_argument("label", help="a name for the new client app")
    register.add_argument(
        "--require-dpop", action="store_true", help="the new client must use DPoP-bound tokens (RFC 9449)"
    )
    _add_clients_commands(commands.add_parser("clients", help="manage registered clients (needs the register scope)"))
    return parser


def _add_clients_commands(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="one line per client: CLIENT_ID STATUS CREATED_AT LABEL")
    listing.add_argument("--limit", type=int, help="print one page of this many (with --next: the page after)")
    listing.add_argument("--next", dest="next_token", help="the page token a previous --limit run printed")
    listing.add_argument("--json", action="store_true", help="print the API's JSON pages instead")
    for name, text in (
        ("show", "print one client with its Okta status and secret ids"),
        ("rotate", "create a second client secret; prints it once (the old one keeps working)"),
        ("revoke", "revoke a client: no new tokens, out of the access policy (idempotent)"),
        ("adopt", "bring an active Okta service app this API did not register into the registry"),
    ):
        actions.add_parser(name, help=text).add_argument("client_id", help="the client id")
    remove = actions.add_parser("remove-secret", help="deactivate and delete one secret (never the last active)")
    remove.add_argument("client_id", help="the client id")
    remove.add_argument("secret_id", help="the secret id (see `clients show`)")


# Each single-client action: the HTTP method and the path segments after /clients/{clientId}.
CLIENT_ACTIONS = {
    "show": ("GET", ()),
    "rotate": ("POST", ("secrets",)),
    "revoke": ("DELETE", ()),
    "adopt": ("PUT", ()),
}


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2))


def _client_line(client: dict[str, object]) -> str:
    return "\t".join(str(client.get(name, "")) for name in ("client_id", "status", "created_at", "label"))


def run_clients(client: M2MClient, args: argparse.Namespace) -> None:
    """Carry out one `clients` action."""
    if args.action == "list":
        if args.limit is None and args.next_token is None:
            page: dict[str, Any] = {"clients": list(client.all_clients()), "next": None}
        else:
            page = client.list_clients(args.limit, args.next_token)
        if args.json:
            _print_json(page)
        else:
            for entry in page["clients"]:
                print(_client_line(entry))
        if page.get("next"):
            print(f"more: --next {page['next']}", file=sys.stderr)
    elif args.action == "remove-secret":
        _print_json(client.client_call("DELETE", args.client_id, "secrets", args.secret_id))
    else:
        method, rest = CLIENT_ACTIONS[args.action]
        _print_json(client.client_call(method, args.client_id, *rest))
        if args.action == "rotate":
            print("Store client_secret now: it is shown only this once.", file=sys.stderr)


def run(args: argparse.Namespace) -> None:
    """Carry out one subcommand; raise ClientError on any expected failure."""
    config = load_config(args.env_file, need_api=args.command != "token", scope=args.scope, dpop=args.dpop)
    client = M2MClient(config, timeout=args.timeout)
    if args.command == "token":
        print(client.token())
    elif args.command == "clients":
        run_clients(client, args)
    elif args.command == "call":
        try:
            body = json.loads(args.data) if args.data is not None else None
        except json.JSONDecodeError as exc:
            raise ClientError(f"--data is not valid JSON ({exc.msg})") from None
        print(json.dumps(client.call(args.method.upper(), args.route, body), indent=2))
    else:
        print(json.dumps(client.register(args.label, dpop=args.require_dpop), indent=2))
        print("Store client_secret now: it is shown only this once.", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # A bug of ours: still one line, and only the type, since the text could quote a header or a secret.
        print(f"error: unexpected {type(exc).__name__}; please report it", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

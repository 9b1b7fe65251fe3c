"""Command line: serve, rotate-keys, faults."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

import requests

from okta_local.context import DEFAULT_APPS_RATE_LIMIT, DEFAULT_TOKEN_TTL
from okta_local.envfile import ENV_FILE, read_env
from okta_local.faults import APPS_FAULTS, DPOP_NONCE_FAULTS, KEYS_FAULTS, TOKEN_FAULTS
from okta_local.keys import DEFAULT_GRACE_SECONDS, rotate_keys
from okta_local.server import DB_FILE, FAULTS_PATH, build_server
from okta_local.store import Store

DEFAULT_STATE_DIR = ".local/okta"
READY_PREFIX = "okta_local: listening on "
# What `serve` prints once when it is new: secrets, and the private key's file (its path, never its contents).
_SECRET_IDS = {
    "ADMIN_CLIENT_SECRET": "ADMIN_CLIENT_ID",
    "CLIENT_SECRET": "CLIENT_ID",
    "OKTA_API_TOKEN": None,
    "OKTA_SERVICE_PRIVATE_JWK_FILE": "OKTA_SERVICE_CLIENT_ID",
}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m okta_local", description="Local Okta-compatible authorization server (development only)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    state = argparse.ArgumentParser(add_help=False)
    default_dir = Path(os.environ.get("OKTA_LOCAL_STATE_DIR", DEFAULT_STATE_DIR))
    state.add_argument("--state-dir", type=Path, default=default_dir, help=f"state directory (default {default_dir})")

    serve = sub.add_parser("serve", parents=[state], help="run the server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; keep it local)")
    serve.add_argument("--port", type=int, default=9000, help="port to bind; 0 picks a free one")
    serve.add_argument("--public-url", help="base URL in the issuer and okta.env, if not http://HOST:PORT")
    serve.add_argument(
        "--apps-rate-limit",
        type=_positive_int,
        default=int(os.environ.get("OKTA_LOCAL_APPS_RATE_LIMIT", DEFAULT_APPS_RATE_LIMIT)),
        help="requests per minute on /api/v1/apps* (env OKTA_LOCAL_APPS_RATE_LIMIT, default 100)",
    )
    serve.add_argument("--token-ttl", type=_positive_int, default=DEFAULT_TOKEN_TTL, help="access token lifetime (s)")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    rotate = sub.add_parser("rotate-keys", parents=[state], help="add a signing key; a running server uses it at once")
    rotate.add_argument(
        "--grace-seconds",
        type=float,
        default=DEFAULT_GRACE_SECONDS,
        help="how long the old key stays published (default one day; 0 drops it now: emergency rotation)",
    )

    faults = sub.add_parser("faults", parents=[state], help="set or show the faults of a running server")
    faults.add_argument("--keys", choices=[*KEYS_FAULTS, "none"], default="none")
    faults.add_argument("--token", choices=[*(str(f) for f in TOKEN_FAULTS), "none"], default="none")
    faults.add_argument("--apps", choices=[*(str(code) for code in APPS_FAULTS), "none"], default="none")
    faults.add_argument(
        "--dpop-nonce",
        choices=[*DPOP_NONCE_FAULTS, "none"],
        default="none",
        help="always: every org token request is first refused with a fresh DPoP nonce",
    )
    faults.add_argument("--delay-seconds", type=float, default=2.0, help="how long 'slow' waits")
    faults.add_argument("--apps-rate-limit", type=_positive_int, help="override the Apps API limit per minute")
    faults.add_argument("--show", action="store_true", help="only print the current faults")
    return parser


def _serve(args: argparse.Namespace) -> int:
    log_format = "%(asctime)s %(levelname)s %(name)s %(message)s"
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format=log_format)
    server, env, issued = build_server(
        args.state_dir, args.host, args.port, args.public_url, args.apps_rate_limit, args.token_ttl
    )
    print("okta_local: a development tool, never a production authorization server.")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"okta_local: WARNING: bound to {args.host}, reachable beyond this machine.", file=sys.stderr)
    if issued:
        print(f"okta_local: new credentials, printed this once (also in {args.state_dir / ENV_FILE}):")
        for name in issued:
            id_name = _SECRET_IDS.get(name)
            if id_name:
                print(f"  {id_name}={env[id_name]}")
            print(f"  {name}={env[name]}")

    def _stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Before the ready line, and inside the try: whoever waits for it may send SIGTERM at once (a KeyboardInterrupt
    # raised between the line and the try ended the process with -2).
    signal.signal(signal.SIGTERM, _stop)
    try:
        print(f"okta_local: settings in {args.state_dir / ENV_FILE}")
        print(f"{READY_PREFIX}{env['OKTA_ORG_URL']} issuer {env['ISSUER']}", flush=True)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _rotate(args: argparse.Namespace) -> int:
    store = Store(args.state_dir / DB_FILE)
    try:
        kid = rotate_keys(store, args.grace_seconds)
    finally:
        store.close()
    print(f"okta_local: new signing key {kid}; old keys published for {args.grace_seconds:g} s more")
    return 0


def _token_fault(value: str) -> str | int | None:
    if value == "none":
        return None
    return int(value) if value.isdigit() else value


def _faults(args: argparse.Namespace) -> int:
    env = read_env(args.state_dir / ENV_FILE)
    if not env.get("OKTA_ORG_URL") or not env.get("OKTA_API_TOKEN"):
        print(f"okta_local: no server settings in {args.state_dir / ENV_FILE}; start the server first", file=sys.stderr)
        return 2
    headers = {"Authorization": f"SSWS {env['OKTA_API_TOKEN']}", "Accept": "application/json"}
    url = env["OKTA_ORG_URL"] + FAULTS_PATH
    if args.show:
        response = requests.get(url, headers=headers, timeout=10)
    else:
        spec = {
            "keys": None if args.keys == "none" else args.keys,
            "token": _token_fault(args.token),
            "apps": None if args.apps == "none" else int(args.apps),
            "delay_seconds": args.delay_seconds,
            "apps_rate_limit": args.apps_rate_limit,
            "dpop_nonce": None if args.dpop_nonce == "none" else args.dpop_nonce,
        }
        response = requests.post(url, headers=headers, json=spec, timeout=10)
    print(json.dumps(response.json()))
    return 0 if response.ok else 1


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the exit status."""
    args = _parser().parse_args(argv)
    commands = {"serve": _serve, "rotate-keys": _rotate, "faults": _faults}
    try:
        return commands[args.command](args)
    except OSError as exc:
        print(f"okta_local: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except requests.RequestException:
        print("okta_local: the server did not answer; is it running?", file=sys.stderr)
        return 1

"""`python -m devstack dev|demo|fresh-event`: the one-command local stack (Make targets dev, demo, events)."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from devstack.events import write_fresh_event
from devstack.processes import StackError
from devstack.stack import REPO_ROOT, LocalStack, Ports
from devstack.story import STORY_STEPS, run_story
from local_api.usage import main as usage
from m2m_client import ClientError

FRESH_STATE = (
    "Local state starts fresh at every start: Okta apps, registered clients and API keys of an earlier run are gone, "
    "and the demo and admin clients get new credentials (the access log is kept)."
)


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    # SIGTERM and SIGHUP take the same clean path as Ctrl-C: unwind, stop every child, exit.
    raise SystemExit(128 + signum)


def build_parser() -> argparse.ArgumentParser:
    """Subcommands with the same stack options."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", type=Path, default=REPO_ROOT / ".local", help="state folder (default .local)")
    common.add_argument("--api-port", type=int, help="local API port (env API_PORT, default 3000)")
    common.add_argument("--okta-port", type=int, help="local Okta server port (env OKTA_PORT, default 9000)")
    common.add_argument("--moto-port", type=int, help="moto (Secrets Manager) port (env MOTO_PORT, default 5050)")
    parser = argparse.ArgumentParser(prog="python -m devstack", description="Run the API locally, with no Docker.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("dev", parents=[common], help="start the stack and serve until Ctrl-C")
    commands.add_parser("demo", parents=[common], help="start the stack, play the story, stop; exit 0 if all passed")
    commands.add_parser("fresh-event", parents=[common], help="write events/authorizer-valid.fresh.json")
    return parser


def _ports(args: argparse.Namespace) -> Ports:
    # A flag wins; Ports falls back to API_PORT, OKTA_PORT, MOTO_PORT, then the defaults.
    flags = {"api": args.api_port, "okta": args.okta_port, "moto": args.moto_port}
    return Ports(**{name: port for name, port in flags.items() if port})


def shown(path: Path) -> str:
    """A path as the user would type it: relative below the current folder, absolute elsewhere."""
    # abspath, not resolve: .venv/bin/python is a symlink out of the repository, yet typed as .venv/bin/python.
    return os.path.relpath(path) if Path(os.path.abspath(path)).is_relative_to(Path.cwd()) else str(path)


def print_welcome(stack: LocalStack) -> None:
    """The API URL, both clients' credentials, and commands to paste (dev mode prints secrets on purpose)."""
    okta, python = stack.okta, shlex.quote(shown(Path(sys.executable)))
    clients = {
        "demo": (okta["CLIENT_ID"], okta["CLIENT_SECRET"], okta["HELLO_SCOPE"]),
        "admin": (okta["ADMIN_CLIENT_ID"], okta["ADMIN_CLIENT_SECRET"], okta["REGISTER_SCOPE"]),
    }
    print(f"\nLocal API      {stack.api_url}   (GET /hello, GET /hello/dpop, POST /register, /clients)")
    print(f"Okta issuer    {okta['ISSUER']}")
    print(f"AWS (moto)     {stack.moto_url}   (secret {stack.secret_arn}, tables, usage plan {stack.usage_plan_id})")
    print(f"Access log     {shown(stack.access_log)}   (make usage)")
    for name, (client_id, secret, scope) in clients.items():
        print(f"\n{name.capitalize()} client (scope {scope}), settings in {shown(stack.client_env_file(name))}:")
        print(f"  CLIENT_ID={client_id}\n  CLIENT_SECRET={secret}")
    demo_env, admin_env = (shlex.quote(shown(stack.client_env_file(n))) for n in clients)
    print("\nTry:")
    print(f"  {python} -m m2m_client --env-file {demo_env} call /hello")
    print(f"  {python} -m m2m_client --env-file {admin_env} register my-service")
    print(f"  {python} -m m2m_client --env-file {admin_env} register my-dpop-service --require-dpop")
    print("    (then, with its CLIENT_ID and CLIENT_SECRET: m2m_client --dpop call /hello/dpop; see docs/dpop.md)")
    print(f"  {python} -m m2m_client --env-file {admin_env} clients list")
    print(f"  {python} -m m2m_client --env-file {demo_env} token")
    print(f"  curl -i {stack.api_url}/hello")
    print("\nServing. Ctrl-C stops everything.", flush=True)


def serve(stack: LocalStack) -> int:
    """Wait until Ctrl-C, or until a server dies (then say which and fail)."""
    while True:
        for process in stack.processes:
            if not process.alive():
                print(f"error: {process.name} server exited with status {process.popen.returncode}", file=sys.stderr)
                return 1
        time.sleep(0.5)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; every child is stopped before we return, however we got here."""
    args = build_parser().parse_args(argv)
    # A shell starting us in the background ignores SIGINT for us; Ctrl-C and `kill -INT` must still stop us cleanly.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGHUP, _stop_on_signal)
    try:
        stack = LocalStack(args.state_dir, ports=_ports(args), api_output_to_terminal=args.command == "dev")
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "fresh-event":
            print(f"wrote {shown(write_fresh_event(stack))}")
            return 0
        ports = stack.ports
        print(
            f"Starting the local Okta server (:{ports.okta}), moto (:{ports.moto}) and the local API (:{ports.api});"
            f" logs in {shown(stack.run_dir)}/"
        )
        print(FRESH_STATE)
        stack.start()
        if args.command == "dev":
            print_welcome(stack)
            return serve(stack)
        started = time.time()
        steps = run_story(stack.okta, stack.api_url)
        for step in steps:
            print(step.line())
        passed = len(steps) == STORY_STEPS and all(step.passed for step in steps)
        print(f"demo {'passed' if passed else 'FAILED'}: {sum(s.passed for s in steps)}/{STORY_STEPS} steps")
        print(f"\nWho called what in this demo ({shown(stack.access_log)}; any period: make usage):", flush=True)
        usage(["--log", str(stack.access_log), "--since", f"{int(time.time() - started) + 1}s"])
        return 0 if passed else 1
    except (StackError, ClientError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping...", file=sys.stderr)
        # Ctrl-C is how `dev` is meant to end; an interrupted demo or event did not do its job.
        return 0 if args.command == "dev" else 130
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())

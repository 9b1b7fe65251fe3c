"""Command line: `python -m okta_setup plan|apply|check`, its options, credentials and exit statuses."""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from okta_m2m.clients import APPS_SCOPE, POLICIES_SCOPE, OAuthForOkta, OktaAuth
from okta_setup.aws import Secrets, private_jwk
from okta_setup.check import Checker
from okta_setup.config import Environment, load
from okta_setup.errors import SetupError
from okta_setup.okta import CALL_BUDGET_MS, OktaApi, SswsAuth
from okta_setup.reconcile import Reconciler, Target

TOKEN_ENV = "OKTA_SETUP_TOKEN"  # noqa: S105 (the variable's name)
ROLES_SCOPE = "okta.roles.manage"
READ_SCOPES = ("okta.apps.read", "okta.authorizationServers.read", "okta.roles.read")
MIN_LIFETIME, MAX_LIFETIME = 5, 1440  # Okta: an access token lives five minutes to one day
EXIT_OK, EXIT_FAILED, EXIT_CHANGES = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The three commands and their options."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--issuer", help="the custom authorization server, https://ORG/oauth2/ID (default: samconfig's Issuer)"
    )
    common.add_argument("--org-url", help="the Okta org's URL for its management API (default: the issuer's origin)")
    common.add_argument("--config-env", default="default", help="samconfig.toml environment (default: default)")
    common.add_argument("--config-file", type=Path, default=Path("samconfig.toml"), help="default: samconfig.toml")
    common.add_argument("--template", type=Path, default=Path("template.yaml"), help="default: template.yaml")
    common.add_argument(
        "--client-scopes",
        help="the clients policy's scopes, space separated (default: the route table's scopes but the register scope)",
    )
    common.add_argument(
        "--token-lifetime", type=int, default=60, help="access token lifetime in minutes, 5 to 1440 (default 60)"
    )
    common.add_argument(
        "--admin-env", type=Path, help="where the admin client's credentials go (mode 0600), and where check reads them"
    )
    common.add_argument(
        "--client-id", help=f"a service app to act as (OAuth for Okta, DPoP); else ${TOKEN_ENV} holds an SSWS token"
    )
    common.add_argument("--private-key", type=Path, help="that service app's private JWK (a JSON file with its kid)")
    parser = argparse.ArgumentParser(
        prog="python -m okta_setup",
        description="Set up an Okta org for the API: scopes, policies, the register function's service app, its "
        "secret, the admin client and samconfig.toml.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("plan", parents=[common], help="show what apply would do; exit 0 if nothing, 2 if something")
    apply = commands.add_parser("apply", parents=[common], help="make it so (idempotent)")
    apply.add_argument(
        "--deactivate-all-clients-policies", action="store_true", help="deactivate active All clients policies"
    )
    check = commands.add_parser("check", parents=[common], help="verify everything; exit 1 on any problem")
    check.add_argument("--api-url", help="also call the deployed API (or the local one) with real tokens")
    return parser


def _local_host(host: str) -> bool:
    """A loopback or private address (the local server, or the Docker bridge address sam-local-check uses)."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def custom_server(issuer: str) -> tuple[str, str]:
    """(origin, server id) of a custom authorization server's issuer; SetupError for anything else."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/").split("/")
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise SetupError(f"--issuer {issuer!r} is not a URL")
    if len(path) != 3 or path[1] != "oauth2" or not path[2] or path[2] == "v1":
        raise SetupError(
            f"--issuer {issuer!r} is not a custom authorization server (https://ORG/oauth2/ID): the org authorization "
            "server's access tokens are for Okta's own API and cannot be verified by the authorizer (Okta does not "
            "publish their keys for that); use a custom one, e.g. https://ORG/oauth2/default"
        )
    if parts.scheme != "https" and not _local_host(parts.hostname or ""):
        raise SetupError(f"--issuer {issuer!r}: Okta is https only (plain http is for a local server on this machine)")
    return f"{parts.scheme}://{parts.netloc}", path[2]


def auth(args: argparse.Namespace, org_url: str) -> OktaAuth:
    """SSWS from OKTA_SETUP_TOKEN, or OAuth for Okta with DPoP as the service app of --client-id/--private-key."""
    if args.client_id or args.private_key:
        if not (args.client_id and args.private_key):
            raise SetupError("--client-id and --private-key go together")
        try:
            jwk = private_jwk(args.private_key.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SetupError(f"reading --private-key: {exc.strerror or exc}") from None
        if jwk is None:
            raise SetupError("--private-key holds no private RSA JWK with a kid")
        key: dict[str, Any] = jwk
        scopes = READ_SCOPES if args.command != "apply" else (APPS_SCOPE, POLICIES_SCOPE, ROLES_SCOPE)
        return OAuthForOkta(org_url, args.client_id, lambda refresh: key, lambda: CALL_BUDGET_MS, scopes=scopes)
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise SetupError(
            f"no Okta credentials: export {TOKEN_ENV} (an SSWS API token), or pass --client-id and --private-key"
        )
    return SswsAuth(token)


def target(args: argparse.Namespace) -> Target:
    """Where and what to set up, from the options, the template and samconfig.toml."""
    env: Environment = load(args.config_file, args.config_env, args.template)
    issuer = (args.issuer or env.overrides.get("Issuer") or "").rstrip("/")
    if not issuer:
        raise SetupError("--issuer is required (samconfig.toml's environment has no Issuer)")
    origin, server_id = custom_server(issuer)
    register_scope = env.parameters.get("RegisterScope", "register")
    route_scopes = env.route_scopes()
    if register_scope not in route_scopes:
        raise SetupError(f"the route table has no route for the register scope {register_scope!r}")
    client_scopes = (
        args.client_scopes.split() if args.client_scopes else [s for s in route_scopes if s != register_scope]
    )
    unknown = [s for s in client_scopes if s not in route_scopes or s == register_scope]
    if unknown or not client_scopes:
        raise SetupError(
            f"--client-scopes must be scopes of the route table other than {register_scope}: {' '.join(unknown)}"
        )
    if not MIN_LIFETIME <= args.token_lifetime <= MAX_LIFETIME:
        raise SetupError(f"--token-lifetime must be {MIN_LIFETIME} to {MAX_LIFETIME} minutes")
    return Target(
        issuer=issuer,
        org_url=(args.org_url or origin).rstrip("/"),
        server_id=server_id,
        env=env,
        config_file=args.config_file,
        register_scope=register_scope,
        client_scopes=client_scopes,
        token_lifetime=args.token_lifetime,
        admin_env=args.admin_env,
        deactivate_all_clients=getattr(args, "deactivate_all_clients_policies", False),
    )


def run(args: argparse.Namespace) -> int:
    """One command; SetupError goes up to main."""
    where = target(args)
    api = OktaApi(where.org_url, auth(args, where.org_url))
    secrets = Secrets(where.env.region)
    print(f"okta_setup {args.command}: {where.issuer}, samconfig [{where.env.name}] (stack {where.env.stack_name})")
    if args.command == "check":
        passed = Checker(api, secrets, where).run(args.api_url)
        print("check passed" if passed else "check FAILED")
        return EXIT_OK if passed else EXIT_FAILED
    outcome = Reconciler(api, secrets, where, apply=args.command == "apply").run()
    if args.command == "plan":
        for change in outcome.changes:
            print(change.line())
        print("plan: changes to make" if outcome.changed else "plan: nothing to change")
        return EXIT_CHANGES if outcome.changed else EXIT_OK
    if outcome.admin_secret is not None:
        print("The admin client's secret, shown this once (pass --admin-env FILE to write it to a file instead):")
        print(f"  CLIENT_ID={outcome.values['AdminClientId']}\n  CLIENT_SECRET={outcome.admin_secret}")
    print(f"apply: done ({sum(c.action != 'keep' for c in outcome.changes)} change(s))")
    print(json.dumps(outcome.values, indent=2))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run, and turn every expected failure into one line and exit status 1."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except SetupError as exc:
        print(f"okta_setup: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("okta_setup: interrupted; the next apply completes what is missing", file=sys.stderr)
        return 130

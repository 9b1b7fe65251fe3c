"""Drive Okta's management SDK (the `okta` package, 3.x) through a service app's lifecycle.

Runs in .venv-okta-sdks (`make okta-sdks-venv`), never in .venv; tests/integration/test_okta_sdks.py starts
okta_local and runs it as

    .venv-okta-sdks/bin/python tests/okta_sdks/management_sdk.py lifecycle --mode ssws --org-url URL
    .venv-okta-sdks/bin/python tests/okta_sdks/management_sdk.py lifecycle --mode private-key --org-url URL \
        --client-id ID --private-jwk-file FILE
    .venv-okta-sdks/bin/python tests/okta_sdks/management_sdk.py create --mode private-key ... --credentials-file F

The SDK is configured as Okta's README shows: SSWS mode {"orgUrl", "token"}; PrivateKey mode {"orgUrl",
"authorizationMode": "PrivateKey", "clientId", "scopes", "privateKey" (the private JWK as JSON text),
"dpopEnabled": True}. `lifecycle` creates an OIDC service app (client_credentials, client_secret_basic), gets
it, lists apps (q=label) and finds it, deactivates it (and gets it: INACTIVE), deletes it, then gets it once
more (Okta's 404 expected).
`create` only creates one and writes its client_id and client_secret to --credentials-file (mode 0600).

For an http:// org URL the caller sets OKTA_TESTING_TESTINGDISABLEHTTPSCHECK=true (the SDK's own testing
switch, okta/config/config_validator.py); the SDK reads no other OKTA_* variable the caller did not mean.

Prints one JSON object on stdout: the SDK versions and each step's outcome (ids, status, HTTP status,
the SDK's error message). Never a secret: the SSWS token comes from SDK_CHECK_API_TOKEN in the environment,
the key from a file, and the new app's client secret is only written to --credentials-file.
Exit status 0 when every step went as expected, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

from okta.client import Client
from okta.models import OpenIdConnectApplication

TOKEN_ENV = "SDK_CHECK_API_TOKEN"
SCOPES = ["okta.apps.manage"]


def service_app(label: str) -> OpenIdConnectApplication:
    """Return the client-credentials service app Okta's docs create (client_secret_basic)."""
    return OpenIdConnectApplication.from_dict(
        {
            "name": "oidc_client",
            "label": label,
            "signOnMode": "OPENID_CONNECT",
            "credentials": {"oauthClient": {"token_endpoint_auth_method": "client_secret_basic"}},
            "settings": {
                "oauthClient": {
                    "application_type": "service",
                    "grant_types": ["client_credentials"],
                    "response_types": ["token"],
                }
            },
        }
    )


def sdk_config(args: argparse.Namespace) -> dict[str, Any]:
    """Return the Client configuration for the mode."""
    if args.mode == "ssws":
        return {"orgUrl": args.org_url, "token": os.environ[TOKEN_ENV]}
    return {
        "orgUrl": args.org_url,
        "authorizationMode": "PrivateKey",
        "clientId": args.client_id,
        "scopes": SCOPES,
        "privateKey": Path(args.private_jwk_file).read_text(encoding="utf-8"),
        "dpopEnabled": True,
    }


def value(item: Any) -> Any:
    """Return an enum's value, anything else as it is."""
    return getattr(item, "value", item)


def unpack(result: Any) -> tuple[Any, Any, Any]:
    """Return (data, response, error) from an SDK call: (data, response, error), or (response, error) on errors."""
    *rest, error = result
    data = rest[0] if len(rest) == 2 else None
    return data, (rest[-1] if rest else None), error


def http_status(response: Any) -> int | None:
    """Return the HTTP status of an ApiResponse (status_code) or of an aiohttp response (status)."""
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return int(status) if status is not None else None


def outcome(step: str, result: Any, **fields: Any) -> tuple[dict[str, Any], Any]:
    """Return the JSON record of one SDK call (ok when it raised no error) and its data."""
    data, response, error = unpack(result)
    record = {"step": step, "ok": error is None, "http_status": http_status(response), **fields}
    if error is not None:
        record["error"] = str(error)
    return record, data


def describe(app: Any) -> dict[str, Any]:
    """Return the app's non-secret fields as the SDK parsed them."""
    oauth = app.credentials.oauth_client
    settings = app.settings.oauth_client
    return {
        "model": type(app).__name__,
        "id": app.id,
        "label": app.label,
        "status": value(app.status),
        "client_id": oauth.client_id,
        "client_secret_issued": bool(oauth.client_secret),
        "token_endpoint_auth_method": value(oauth.token_endpoint_auth_method),
        "grant_types": [value(grant) for grant in settings.grant_types],
        "application_type": value(settings.application_type),
    }


def authorization_shape(client: Client, args: argparse.Namespace) -> str | None:
    """Return the Authorization header the SDK puts on API calls in SSWS mode, the token shown as <token>."""
    if args.mode != "ssws":
        return None
    setting = client.configuration.auth_settings().get("oauth2") or {}
    return str(setting.get("value", "")).replace(os.environ[TOKEN_ENV], "<token>")


def token_type(client: Client) -> str | None:
    """Return the type of the org access token the SDK got in PrivateKey mode (DPoP or Bearer)."""
    oauth = getattr(client.get_request_executor(), "_oauth", None)
    return oauth.get_current_token()[1] if oauth is not None and oauth.get_current_token()[0] else None


async def lifecycle(client: Client, label: str, steps: list[dict[str, Any]]) -> bool:
    """Create, get, list, deactivate, delete and get again; append each step; return whether all went right."""
    api: Any = client  # its methods are annotated `-> Application` etc. but return (data, response, error)
    record, created = outcome("create", await api.create_application(service_app(label)))
    steps.append(record)
    if created is None:
        return False
    record.update(describe(created))
    app_id = created.id

    record, got = outcome("get", await api.get_application(app_id))
    steps.append(record | (describe(got) if got is not None else {}))

    record, listed = outcome("list", await api.list_applications(q=label))
    record["ids"] = [app.id for app in listed or []]
    steps.append(record)

    record, _ = outcome("deactivate", await api.deactivate_application(app_id))
    steps.append(record)

    record, inactive = outcome("get_deactivated", await api.get_application(app_id))
    steps.append(record | (describe(inactive) if inactive is not None else {}))

    record, _ = outcome("delete", await api.delete_application(app_id))
    steps.append(record)

    record, gone = outcome("get_deleted", await api.get_application(app_id))
    record["ok"] = gone is None and record["http_status"] == 404  # the expected answer is Okta's 404
    steps.append(record)

    return all(step["ok"] for step in steps) and app_id in steps[2]["ids"]


async def create(client: Client, label: str, credentials_file: Path, steps: list[dict[str, Any]]) -> bool:
    """Create one app and write its client credentials to credentials_file (mode 0600)."""
    api: Any = client  # as in lifecycle()
    record, created = outcome("create", await api.create_application(service_app(label)))
    steps.append(record)
    if created is None:
        return False
    record.update(describe(created))
    oauth = created.credentials.oauth_client
    secret = {"client_id": oauth.client_id, "client_secret": oauth.client_secret}
    descriptor = os.open(credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(secret, handle)
    return True


async def run(args: argparse.Namespace) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    report: dict[str, Any] = {
        "versions": {name: version(name) for name in ("okta", "okta-jwt-verifier")},
        "mode": args.mode,
        "action": args.action,
        "steps": steps,
    }
    async with Client(sdk_config(args)) as client:
        report["authorization_header"] = authorization_shape(client, args)
        if args.action == "lifecycle":
            report["ok"] = await lifecycle(client, args.label, steps)
        else:
            report["ok"] = await create(client, args.label, Path(args.credentials_file), steps)
        report["token_type"] = token_type(client)
    return report


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["lifecycle", "create"])
    parser.add_argument("--mode", choices=["ssws", "private-key"], required=True)
    parser.add_argument("--org-url", required=True)
    parser.add_argument("--client-id", help="private-key mode: the service app's client id")
    parser.add_argument("--private-jwk-file", help="private-key mode: the service app's private JWK (JSON)")
    parser.add_argument("--label", default="okta-sdk-check")
    parser.add_argument("--credentials-file", help="create: where to write the new app's client credentials")
    args = parser.parse_args(argv)
    if args.mode == "private-key" and not (args.client_id and args.private_jwk_file):
        parser.error("private-key mode needs --client-id and --private-jwk-file")
    if args.mode == "ssws" and not os.environ.get(TOKEN_ENV):
        parser.error(f"ssws mode reads the API token from {TOKEN_ENV}")
    if args.action == "create" and not args.credentials_file:
        parser.error("create needs --credentials-file")
    return args


def main(argv: list[str]) -> int:
    report = asyncio.run(run(parse_args(argv)))
    print(json.dumps(report, sort_keys=True))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

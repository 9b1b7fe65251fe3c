"""A Docker-free `sam local start-api`: SAM CLI's API Gateway emulator with the handlers run in-process.

Command line (flags as `sam local start-api`)::

    .venv/bin/python -m local_api --host 127.0.0.1 --port 3000 --template template.yaml \
        --env-vars env.json --parameter-overrides 'Issuer=http://127.0.0.1:9000/oauth2/default Audience=api://default'

It prints ``Local API: http://HOST:PORT`` on stdout once it accepts connections (``--port 0`` picks a free port),
logs one line per request and per function run on stderr (method, path, status; never headers or tokens), and
stops cleanly on SIGINT or SIGTERM.

Python::

    from local_api import LocalApi

    with LocalApi("template.yaml", port=0, parameter_overrides={"Issuer": ...}, env_vars={...}) as api:
        requests.get(f"{api.url}/hello", headers=...)
        api.invocations["AuthorizerFunction"]   # how many times the authorizer ran

Each function runs as a warm Lambda container would: its own env vars (template, Globals, parameter overrides,
--env-vars, as SAM CLI resolves them, on top of this process's environment, e.g. AWS_ENDPOINT_URL_SECRETS_MANAGER),
its own copy of its code and layer modules, and module-level state that lives on between requests. Handlers run one
at a time. Where SAM CLI's emulator differs from API Gateway, this follows API Gateway: see local_api.gateway.
"""

import os

os.environ.setdefault("SAM_CLI_TELEMETRY", "0")

from local_api.server import LocalApi, serve  # noqa: E402  (telemetry must be off before samcli loads)

__all__ = ["LocalApi", "serve"]

"""A Docker-free `sam local start-api`: SAM CLI's API Gateway emulator with the handlers run in worker processes.

Command line (flags as `sam local start-api`)::

    .venv/bin/python -m local_api --host 127.0.0.1 --port 3000 --template template.yaml \
        --env-vars env.json --parameter-overrides 'Issuer=http://127.0.0.1:9000/oauth2/default Audience=api://default'

It prints ``Local API: http://HOST:PORT`` on stdout once it accepts connections (``--port 0`` picks a free port),
logs one line per request and per function run on stderr (method, path, status; never headers or tokens), with
``--access-log PATH`` appends one JSON line per request to PATH (local_api.access_log), and stops cleanly on SIGINT
or SIGTERM.

Python::

    from local_api import LocalApi

    with LocalApi("template.yaml", port=0, parameter_overrides={"Issuer": ...}, env_vars={...}) as api:
        requests.get(f"{api.url}/hello", headers=...)
        api.invocations["AuthorizerFunction"]   # how many times the authorizer ran

Routes that require an API key from the authorizer get their usage plan's key check, throttle and quota, with the
keys and plans of the API Gateway in AWS_ENDPOINT_URL_API_GATEWAY (moto's server; local_api.usage_plans): a
template with such routes does not start without it. ``python -m local_api.usage`` reports an access log per client.

Each function runs as Lambda runs it: in worker processes of its own (local_api.pool, local_api.worker), each one
an execution environment taking one request at a time, started on demand up to ``max_workers`` per function
(``--max-workers`` or LOCAL_API_MAX_WORKERS; beyond that a request waits for a worker, where Lambda would scale
further or throttle), and kept warm, so module-level state lives on between its requests. A worker sees this
process's environment (e.g. AWS_ENDPOINT_URL_SECRETS_MANAGER) plus the function's env vars (template, Globals,
parameter overrides, --env-vars, as SAM CLI resolves them) and the Lambda runtime's (AWS_LAMBDA_FUNCTION_NAME,
_HANDLER, LAMBDA_TASK_ROOT...), and imports the function's code and layers first. A handler still running at the
function's Timeout is killed with its worker and answers Lambda's Sandbox.Timedout error; a worker that dies answers
Runtime.ExitError; both are replaced. Handlers' output goes to stderr. Where SAM CLI's emulator differs from API
Gateway, this follows API Gateway: see local_api.gateway.
"""

import os

os.environ.setdefault("SAM_CLI_TELEMETRY", "0")

from local_api.server import LocalApi, serve  # noqa: E402  (telemetry must be off before samcli loads)

__all__ = ["LocalApi", "serve"]

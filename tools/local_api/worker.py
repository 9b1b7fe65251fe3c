"""A worker of the local API: one function's Lambda execution environment, running one invocation at a time.

local_api.pool starts it as ``python -P worker.py CODE_DIR [LAYER_DIR...]`` with the function's environment
(_HANDLER, AWS_LAMBDA_FUNCTION_NAME, ... as the Lambda runtime sets them). It imports neither local_api nor SAM CLI,
so it starts fast; the handler is imported on the first invocation (the cold start) and stays, with its modules'
state, for the next ones.

Protocol: one JSON object per line. The local API writes a request to the worker's stdin::

    {"event": {...}, "request_id": "...", "deadline_ms": 1700000000000, "tenant_id": null}

and the worker answers on the stdout it was started with::

    {"result": ...}                                                           the handler's return value
    {"error": {"errorMessage": ..., "errorType": ...}, "traceback": "...", "retire": false}

``retire`` is true when the handler could not be imported: the worker exits after answering. The handler's own
stdout (print, Powertools' JSON log lines) and stderr go to the worker's stderr, never into the protocol. The worker
exits when its stdin closes, at once even while a handler runs, so it never outlives the local API.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import select
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any, BinaryIO

ACCOUNT_ID = "123456789012"  # the account SAM CLI puts in its events and method ARNs

Handler = Callable[[Any, Any], Any]


def error_payload(error_type: str, message: str) -> dict[str, str]:
    """The shape the Lambda runtime returns for an unhandled error (SAM CLI recognises it)."""
    return {"errorMessage": message, "errorType": error_type}


class LambdaContext:
    """The parts of the Lambda context object that handlers and Powertools read."""

    def __init__(
        self,
        function_name: str,
        memory_mb: int,
        region: str,
        *,
        request_id: str | None = None,
        deadline_ms: int,
        tenant_id: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "$LATEST"
        self.identity = None
        self.client_context = None
        self.tenant_id = tenant_id
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the invocation's deadline (its Timeout, which the local API enforces)."""
        return max(0, self._deadline_ms - int(time.time() * 1000))


def load_handler(name: str) -> Handler:
    """Import the handler as the Lambda runtime does ('app.lambda_handler': module app, attribute lambda_handler)."""
    module_name, _, attr = name.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module_name.replace("/", ".")), attr)
    return handler


class Runtime:
    """This worker's function: its handler, imported on the first invocation, and the context it is called with."""

    def __init__(self, environ: dict[str, str]) -> None:
        self.handler_name = environ["_HANDLER"]
        self.function_name = environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.memory_mb = int(environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.region = environ.get("AWS_REGION", "us-east-1")
        self.handler: Handler | None = None

    def context(self, request: dict[str, Any]) -> LambdaContext:
        """The context object of one invocation."""
        return LambdaContext(
            self.function_name,
            self.memory_mb,
            self.region,
            request_id=request.get("request_id"),
            deadline_ms=int(request["deadline_ms"]),
            tenant_id=request.get("tenant_id"),
        )

    def invoke(self, request: dict[str, Any]) -> bytes:
        """Run one invocation; the answer line, its result or its error."""
        try:
            if self.handler is None:
                self.handler = load_handler(self.handler_name)
        except Exception as exc:
            return _error_answer(exc, retire=True)  # a failed init: this worker is replaced, the next call is cold
        try:
            return _encode({"result": self.handler(request["event"], self.context(request))})
        except Exception as exc:
            return _error_answer(exc, retire=False)


def _encode(answer: dict[str, Any]) -> bytes:
    return json.dumps(answer).encode() + b"\n"  # ASCII, so the line has no newline of its own


def _error_answer(exc: Exception, *, retire: bool) -> bytes:
    error = error_payload(type(exc).__name__, str(exc))
    return _encode({"error": error, "traceback": traceback.format_exc(), "retire": retire})


def claim_stdio() -> tuple[BinaryIO, BinaryIO]:
    """Keep stdin and stdout for the protocol; the handler gets /dev/null as stdin and stderr as stdout."""
    requests = os.fdopen(os.dup(0), "rb")  # dup: not inherited by anything the handler starts
    answers = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # log lines show as they are written
    return requests, answers


def exit_with_parent(requests: BinaryIO) -> None:
    """End this worker's process group, the worker and what its handler started, as soon as the request pipe
    closes (the local API stopped or died), even in the middle of a handler."""
    poller = select.poll()
    poller.register(requests.fileno(), 0)  # no events asked for: poll returns on hang-up only

    def watch() -> None:
        poller.poll()
        if os.getpgrp() == os.getpid():  # the group is this worker's own (local_api.pool starts it so)
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def serve(runtime: Runtime, requests: BinaryIO, answers: BinaryIO) -> None:
    """Answer requests one at a time until stdin closes or the handler cannot be imported."""
    for line in requests:
        answer = runtime.invoke(json.loads(line))
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        answers.write(answer)
        answers.flush()
        if runtime.handler is None:
            return


def main(roots: list[str]) -> None:
    """Run as a worker: the function's code and layer dirs first on sys.path, then this interpreter's own."""
    requests, answers = claim_stdio()
    exit_with_parent(requests)
    sys.path[:0] = roots
    serve(Runtime(dict(os.environ)), requests, answers)


if __name__ == "__main__":
    main(sys.argv[1:])

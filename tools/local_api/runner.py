"""In-process Lambda runner: each Python function of the template runs in this process as a warm 'container'."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.sam_function_provider import SamFunctionProvider

LOG = logging.getLogger("local_api.runner")

ACCOUNT_ID = "123456789012"  # the account SAM CLI puts in its events and method ARNs

# One lock for every invocation: env vars, sys.path and sys.modules are process-wide.
_INVOKE_LOCK = threading.Lock()


class LambdaContext:
    """The parts of the Lambda context object that handlers and Powertools read."""

    def __init__(self, function_name: str, memory_mb: int, timeout_s: int, region: str, tenant_id: str | None) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "$LATEST"
        self.identity = None
        self.client_context = None
        self.tenant_id = tenant_id
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's Timeout (not enforced in-process)."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _top_level_names(root: Path) -> frozenset[str]:
    """Module names a directory provides at top level: app.py -> 'app', okta_m2m/ -> 'okta_m2m'."""
    names = set()
    for entry in root.iterdir():
        if entry.suffix == ".py" and entry.stem.isidentifier() and entry.stem != "__init__":
            names.add(entry.stem)
        elif entry.is_dir() and entry.name.isidentifier() and not entry.name.startswith("__"):
            names.add(entry.name)
    return frozenset(names)


class FunctionContainer:
    """One function's warm state: its resolved env vars, its own copies of its code and layer modules, its handler."""

    def __init__(self, name: str, handler: str, roots: list[Path], env: Mapping[str, str], memory: int, timeout: int):
        self.name = name
        self.handler_name = handler
        self.roots = [str(r) for r in roots]
        self.env = dict(env)
        self.memory = memory
        self.timeout = timeout
        # Names our code and layers provide; third-party packages stay shared, as the runtime's boto3 is.
        self.owned = frozenset().union(*(_top_level_names(r) for r in roots))
        self.modules: dict[str, ModuleType] = {}
        self.handler: Callable[[Any, Any], Any] | None = None

    def _is_owned(self, module_name: str) -> bool:
        return module_name.partition(".")[0] in self.owned

    @contextmanager
    def activated(self) -> Iterator[None]:
        """Make this function's env vars, sys.path and modules the process's own for the duration (hold the lock)."""
        saved_env = dict(os.environ)
        saved_path = list(sys.path)
        displaced = {name: sys.modules.pop(name) for name in [n for n in sys.modules if self._is_owned(n)]}
        sys.modules.update(self.modules)
        sys.path[:0] = self.roots
        os.environ.update(self.env)
        try:
            yield
        finally:
            for key in [k for k in os.environ if k not in saved_env]:
                del os.environ[key]
            for key, value in saved_env.items():
                if os.environ.get(key) != value:
                    os.environ[key] = value
            sys.path[:] = saved_path
            self.modules = {name: sys.modules.pop(name) for name in [n for n in sys.modules if self._is_owned(n)]}
            sys.modules.update(displaced)

    def load_handler(self) -> Callable[[Any, Any], Any]:
        """Import the handler as the Lambda runtime does ('app.lambda_handler': module app); call when activated."""
        if self.handler is None:
            module_name, _, attr = self.handler_name.rpartition(".")
            try:
                module = importlib.import_module(module_name.replace("/", "."))
                handler = getattr(module, attr)
            except BaseException:
                # A failed init leaves no half-imported state behind: the next call starts cold again.
                self.modules = {}
                for name in [n for n in sys.modules if self._is_owned(n)]:
                    del sys.modules[name]
                raise
            self.handler = handler
        return self.handler


def _error_payload(exc: BaseException) -> str:
    """The shape the Lambda runtime returns for an unhandled error (SAM CLI recognises it)."""
    return json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__})


class InProcessRunner(LocalLambdaRunner):
    """The runner LocalApigwService needs (is_debugging, invoke), running Python handlers in this process.

    It reuses SAM CLI's own function lookup and env var resolution (template, Globals, --env-vars, shell), so each
    function sees what `sam local` would give its container. Handlers run one at a time under a process-wide lock.
    """

    def __init__(
        self,
        function_provider: SamFunctionProvider,
        cwd: str,
        env_vars_values: Mapping[str, Any] | None = None,
        aws_region: str | None = None,
    ) -> None:
        super().__init__(
            local_runtime=None,
            function_provider=function_provider,
            cwd=cwd,
            real_path=cwd,
            aws_region=aws_region,
            env_vars_values=dict(env_vars_values or {}),
        )
        self.invocations: Counter[str] = Counter()
        self._containers: dict[str, FunctionContainer] = {}
        # Resolve every function's env now: it reads os.environ, which is swapped while a handler runs.
        for function in function_provider.get_all():
            self._containers[function.full_path] = self._make_container(function)

    def containers(self) -> list[FunctionContainer]:
        """Every function's container, in template order."""
        return list(self._containers.values())

    def _make_container(self, function: Any) -> FunctionContainer:
        config = self.get_invoke_config(function)
        runtime = str(function.runtime or "")
        if not runtime.startswith("python") or not config.code_abs_path:
            raise ValueError(f"{function.name}: only Python zip functions run in-process (runtime {runtime!r})")
        roots = [Path(config.code_abs_path)]
        for layer in function.layers:
            if not layer.codeuri:
                raise ValueError(f"{function.name}: layer {layer.name} is not defined in the template")
            layer_dir = Path(self.cwd, layer.codeuri).resolve()
            # A built layer has its packages under python/ (Lambda mounts it at /opt/python), a source one at the top.
            roots.append(layer_dir / "python" if (layer_dir / "python").is_dir() else layer_dir)
        return FunctionContainer(
            name=function.name,
            handler=function.handler,
            roots=roots,
            env=config.env_vars.resolve(),
            memory=int(config.memory),
            timeout=int(config.timeout),
        )

    def get_aws_creds(self) -> dict[str, str]:
        """Credentials and region from this process's env only (SAM CLI's chain would ask the EC2 metadata service)."""
        found = {
            "region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
            "key": os.environ.get("AWS_ACCESS_KEY_ID"),
            "secret": os.environ.get("AWS_SECRET_ACCESS_KEY"),
            "sessiontoken": os.environ.get("AWS_SESSION_TOKEN"),
        }
        return {name: value for name, value in found.items() if value}

    def is_debugging(self) -> bool:
        """No debugger attaches to in-process handlers."""
        return False

    def invoke(
        self,
        function_identifier: str,
        event: str,
        tenant_id: str | None = None,
        stdout: Any = None,
        stderr: Any = None,
        **kwargs: Any,
    ) -> None:
        """Run the function with the event (a JSON string) and write its JSON result, or error payload, to stdout."""
        function = self.get_function(function_identifier, tenant_id)
        container = self._containers[function.full_path]
        started = time.perf_counter()
        with _INVOKE_LOCK, container.activated():
            self.invocations[function.name] += 1
            context = LambdaContext(
                container.name,
                container.memory,
                container.timeout,
                container.env.get("AWS_REGION", "us-east-1"),
                tenant_id,
            )
            try:
                result = json.dumps(container.load_handler()(json.loads(event), context))
            except Exception as exc:
                result = _error_payload(exc)
                # As the Lambda runtime logs it; an authorizer's Unauthorized is an answer, not a fault.
                if str(exc) == "Unauthorized":
                    LOG.info("function=%s raised Unauthorized", container.name)
                else:
                    LOG.exception("function=%s raised %s", container.name, type(exc).__name__)
        LOG.info("function=%s ms=%.1f", container.name, (time.perf_counter() - started) * 1000)
        if stdout is not None:
            stdout.write_str(result)

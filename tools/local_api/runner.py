"""The local API's Lambda runner: each Python function of the template runs in worker processes of its own
(local_api.pool), with the env vars, code and layers SAM CLI resolves for its container."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.sam_function_provider import SamFunctionProvider

from local_api.pool import DEFAULT_MAX_WORKERS, EXITED, TIMED_OUT, Outcome, WorkerPool, WorkerSpec
from local_api.worker import load_handler

LOG = logging.getLogger("local_api.runner")

# Held while a function is activated in this process: env vars, sys.path and sys.modules are process-wide.
_ACTIVATE_LOCK = threading.RLock()


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
    """One function as SAM CLI would run its container: handler, code and layer dirs, resolved env vars, limits.

    Its workers get `worker_environ()`. `activated()` also lets this process import the function's code and layers
    for checks (the route table drift at start), with copies of its modules of its own.
    """

    def __init__(
        self,
        name: str,
        handler: str,
        roots: list[Path],
        env: Mapping[str, str],
        memory: int,
        timeout: int,
        runtime: str = "python3.13",
    ) -> None:
        self.name = name
        self.handler_name = handler
        self.roots = [str(r) for r in roots]
        self.env = dict(env)
        self.memory = memory
        self.timeout = timeout
        self.runtime = runtime
        # Names our code and layers provide; third-party packages stay shared, as the runtime's boto3 is.
        self.owned = frozenset().union(*(_top_level_names(r) for r in roots))
        self.modules: dict[str, ModuleType] = {}
        self.handler: Callable[[Any, Any], Any] | None = None

    def runtime_env(self) -> dict[str, str]:
        """What the Lambda runtime sets in its execution environment; SAM CLI's values of the same names win."""
        return {
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(self.timeout),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_REGION": "us-east-1",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{self.runtime}",
            "_HANDLER": self.handler_name,
            "LAMBDA_TASK_ROOT": self.roots[0],
        }

    def worker_environ(self) -> dict[str, str]:
        """A new worker's environment: this process's, then the runtime's variables, then the function's own."""
        with _ACTIVATE_LOCK:  # not while another function's env is swapped in
            return {**os.environ, **self.runtime_env(), **self.env}

    def worker_spec(self) -> WorkerSpec:
        """How to start this function's workers."""
        return WorkerSpec(self.name, tuple(self.roots), self.worker_environ, float(self.timeout))

    def _is_owned(self, module_name: str) -> bool:
        return module_name.partition(".")[0] in self.owned

    @contextmanager
    def activated(self) -> Iterator[None]:
        """Make this function's env vars, sys.path and modules this process's own for the duration."""
        with _ACTIVATE_LOCK:
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
        """Import the handler in this process as a worker does; call when activated."""
        if self.handler is None:
            try:
                handler = load_handler(self.handler_name)
            except BaseException:
                # A failed init leaves no half-imported state behind: the next call starts cold again.
                self.modules = {}
                for name in [n for n in sys.modules if self._is_owned(n)]:
                    del sys.modules[name]
                raise
            self.handler = handler
        return self.handler


def _log_outcome(name: str, outcome: Outcome) -> None:
    """Log a failed invocation as the Lambda runtime would; an authorizer's Unauthorized is an answer, not a fault."""
    error = outcome.error
    if error is None:
        return
    if error["errorMessage"] == "Unauthorized":
        LOG.info("function=%s raised Unauthorized", name)
    elif error["errorType"] in (TIMED_OUT, EXITED):
        LOG.error("function=%s %s; its worker is replaced", name, error["errorMessage"].partition(" Error: ")[2])
    else:
        LOG.error("function=%s raised %s\n%s", name, error["errorType"], outcome.traceback.rstrip())


class WorkerRunner(LocalLambdaRunner):
    """The runner LocalApigwService needs (is_debugging, invoke), running Python handlers in worker processes.

    It reuses SAM CLI's own function lookup and env var resolution (template, Globals, --env-vars, shell), so each
    function sees what `sam local` would give its container. Requests run concurrently, each function on up to
    max_workers workers of its own; close() ends them all.
    """

    def __init__(
        self,
        function_provider: SamFunctionProvider,
        cwd: str,
        env_vars_values: Mapping[str, Any] | None = None,
        aws_region: str | None = None,
        *,
        max_workers: int = DEFAULT_MAX_WORKERS,
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
        self._counting = threading.Lock()
        # Resolve every function's env now: it reads os.environ, which is swapped while a function is activated.
        self._containers = {f.full_path: self._make_container(f) for f in function_provider.get_all()}
        self.pools = {key: WorkerPool(c.worker_spec(), max_workers) for key, c in self._containers.items()}

    def containers(self) -> list[FunctionContainer]:
        """Every function's container, in template order."""
        return list(self._containers.values())

    def add_base_url(self, setting: str, url: str) -> None:
        """Add this API's own URL to the setting (a space-separated list) of every function that declares it, before
        any worker starts: the local API is served at its root, and its URL is what the stage URL is on AWS, a base
        URL that DPoP proofs may name (okta_m2m.tokens derives the stage's execute-api URL itself)."""
        for container in self._containers.values():
            if setting in container.env:
                container.env[setting] = " ".join(filter(None, [*container.env[setting].split(), url]))

    def _make_container(self, function: Any) -> FunctionContainer:
        config = self.get_invoke_config(function)
        runtime = str(function.runtime or "")
        if not runtime.startswith("python") or not config.code_abs_path:
            raise ValueError(f"{function.name}: only Python zip functions run locally (runtime {runtime!r})")
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
            runtime=runtime,
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
        """No debugger attaches to the workers."""
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
        with self._counting:
            self.invocations[function.name] += 1
        started = time.perf_counter()
        outcome = self.pools[function.full_path].invoke(json.loads(event), tenant_id)
        _log_outcome(function.name, outcome)
        LOG.info("function=%s ms=%.1f", function.name, (time.perf_counter() - started) * 1000)
        if stdout is not None:
            stdout.write_str(outcome.payload)

    def worker_pids(self) -> dict[str, list[int]]:
        """The pids of each function's running workers, by function name."""
        return {self._containers[key].name: pool.pids() for key, pool in self.pools.items()}

    def close(self) -> None:
        """End every worker of every function."""
        for pool in self.pools.values():
            pool.close()

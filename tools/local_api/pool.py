"""Worker processes per function, as Lambda's execution environments: started on demand, kept warm, one invocation
at a time each, killed at the function's Timeout.

A pool grows up to max_workers workers; when all are busy a request waits for one (Lambda would start more, up to
the account's concurrency, then throttle with 429). An invocation's outcome is what Lambda would answer: the
handler's result, its error payload, or Lambda's own payload for a timed-out or exited runtime, after which the
worker is replaced.
"""

from __future__ import annotations

import json
import math
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_api.worker import error_payload

WORKER_SCRIPT = str(Path(__file__).with_name("worker.py"))
DEFAULT_MAX_WORKERS = 10
TIMED_OUT = "Sandbox.Timedout"
EXITED = "Runtime.ExitError"


@dataclass(frozen=True)
class WorkerSpec:
    """How to start a function's worker: its code and layer dirs, its environment (read at each start), its Timeout."""

    name: str
    roots: tuple[str, ...]
    environ: Callable[[], Mapping[str, str]]
    timeout: float


@dataclass(frozen=True)
class Outcome:
    """One invocation's answer: `payload` is the JSON the function returned, or Lambda's error payload."""

    payload: str
    error: Mapping[str, str] | None = None
    traceback: str = ""
    reusable: bool = True


def _failure(error_type: str, request_id: str, detail: str) -> Outcome:
    error = error_payload(error_type, f"RequestId: {request_id} Error: {detail}")
    return Outcome(json.dumps(error), error, reusable=False)


def _exit_detail(returncode: int) -> str:
    """How the runtime ended, as Lambda words it."""
    if returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode > 0:
        return f"Runtime exited with error: exit status {returncode}"
    name = signal.strsignal(-returncode) or f"signal {-returncode}"
    return f"Runtime exited with error: signal: {name.lower()}"


class Worker:
    """One worker process and its protocol pipes; used by one invocation at a time."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        # A session of its own: a timeout kills the group, with anything the handler started.
        self.process = subprocess.Popen(
            [sys.executable, "-P", WORKER_SCRIPT, *spec.roots],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=dict(spec.environ()),
            cwd=spec.roots[0],
            start_new_session=True,
        )
        if self.process.stdin is None or self.process.stdout is None:
            raise RuntimeError("a worker needs its stdin and stdout pipes")
        self._requests, self._answers_pipe = self.process.stdin, self.process.stdout
        self._answers = self._answers_pipe.fileno()
        self._poller = select.poll()
        self._poller.register(self._answers, select.POLLIN)
        self._buffer = bytearray()
        self._stop_lock = threading.Lock()

    @property
    def pid(self) -> int:
        """The worker's pid, which is also its process group id."""
        return self.process.pid

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process.poll() is None

    def invoke(self, event: Any, tenant_id: str | None) -> Outcome:
        """Send one event and wait for the answer until the function's Timeout; kill the worker if it does not come."""
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        deadline_ms = int(time.time() * 1000 + self.spec.timeout * 1000)
        request = {"event": event, "request_id": request_id, "deadline_ms": deadline_ms, "tenant_id": tenant_id}
        try:
            self._requests.write(json.dumps(request).encode() + b"\n")
            self._requests.flush()
            line = self._receive(started + self.spec.timeout)
        except (OSError, EOFError):  # the worker is gone: a broken pipe, or the end of its answers
            self.kill()
            return _failure(EXITED, request_id, _exit_detail(self.process.returncode))
        if line is None:
            self.kill()
            return _failure(TIMED_OUT, request_id, f"Task timed out after {time.monotonic() - started:.2f} seconds")
        answer = json.loads(line)
        if "error" in answer:
            error = answer["error"]
            return Outcome(json.dumps(error), error, answer.get("traceback", ""), not answer.get("retire"))
        return Outcome(json.dumps(answer["result"]))

    def _receive(self, deadline: float) -> bytes | None:
        """The worker's next line, or None if it has not come by the deadline (time.monotonic)."""
        while (end := self._buffer.find(b"\n")) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._poller.poll(math.ceil(remaining * 1000)):
                return None
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                raise EOFError("the worker closed its answers")
            self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line

    def kill(self) -> None:
        """SIGKILL the worker's process group and reap it; safe to call twice and from another thread."""
        with self._stop_lock:
            if self.process.returncode is None:  # not reaped yet, so the group id is still this worker's
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """Kill the worker and close its pipes (call once no invocation uses it)."""
        self.kill()
        for pipe in (self._requests, self._answers_pipe):
            with suppress(OSError):
                pipe.close()


class PoolClosedError(RuntimeError):
    """The local API is stopping: no worker takes new invocations."""


class WorkerPool:
    """A function's workers: the warmest idle one takes an invocation, a new one starts while under max_workers."""

    def __init__(self, spec: WorkerSpec, max_workers: int = DEFAULT_MAX_WORKERS) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.spec = spec
        self.max_workers = max_workers
        self._changed = threading.Condition()
        self._idle: list[Worker] = []
        self._workers: set[Worker] = set()
        self._closed = False

    def pids(self) -> list[int]:
        """The pids of the running workers, idle or busy."""
        with self._changed:
            return sorted(worker.pid for worker in self._workers)

    def invoke(self, event: Any, tenant_id: str | None = None) -> Outcome:
        """Run one invocation on a worker of this function, waiting for one if all max_workers are busy."""
        worker = self._acquire()
        outcome = None
        try:
            outcome = worker.invoke(event, tenant_id)
            return outcome
        finally:
            self._release(worker, reusable=outcome is not None and outcome.reusable)

    def _acquire(self) -> Worker:
        with self._changed:
            while True:
                if self._closed:
                    raise PoolClosedError(self.spec.name)
                while self._idle:
                    worker = self._idle.pop()  # the last one back is the warmest
                    if worker.alive():
                        return worker
                    self._workers.discard(worker)
                    worker.stop()
                if len(self._workers) < self.max_workers:
                    worker = Worker(self.spec)  # only a fork and exec: the worker imports on its own time
                    self._workers.add(worker)
                    return worker
                self._changed.wait()

    def _release(self, worker: Worker, *, reusable: bool) -> None:
        with self._changed:
            keep = reusable and not self._closed and worker in self._workers
            if keep:
                self._idle.append(worker)
            else:
                self._workers.discard(worker)
            self._changed.notify()
        if not keep:
            worker.stop()

    def close(self) -> None:
        """Kill every worker; invocations under way answer as exited, waiting ones raise PoolClosedError."""
        with self._changed:
            self._closed = True
            idle, busy = list(self._idle), self._workers - set(self._idle)
            self._idle.clear()
            self._workers.clear()
            self._changed.notify_all()
        for worker in idle:
            worker.stop()
        for worker in busy:
            worker.kill()  # its invocation's thread closes its pipes

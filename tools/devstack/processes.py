"""Child processes in their own process group, stopped (group and all) with terminate, wait, then kill."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

STOP_GRACE_SECONDS = 8.0
PR_SET_PDEATHSIG = 1


class StackError(Exception):
    """The local stack could not start; the message is one line that is safe to print."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """True if something already accepts connections on host:port."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _die_with_parent() -> None:
    # Linux only: if we are SIGKILLed and cannot clean up, the kernel still stops the child.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class ManagedProcess:
    """One long-running child (a server) with its output in a log file or on our terminal."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path | None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._log: IO[bytes] | None = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            # Owner-only: the local Okta server prints the credentials it creates to its log.
            self._log = os.fdopen(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        # A session of its own: Ctrl-C in the terminal reaches only us, and we stop the whole group in order.
        self.popen = subprocess.Popen(
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT if self._log else None,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # only a prctl syscall: safe even after fork in a threaded parent
        )

    @property
    def pid(self) -> int:
        """The child's pid, which is also its process group id."""
        return self.popen.pid

    def alive(self) -> bool:
        """True while the child runs."""
        return self.popen.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the child's log, for error messages."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM the child's process group, wait, SIGKILL whatever is left; safe to call twice."""
        if self.alive():
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(timeout=grace)
        # The leader may be gone while a grandchild still holds the group: sweep it too.
        self._signal_group(signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None


def write_client_env(path: Path, values: dict[str, str]) -> None:
    """Write a client's KEY=VALUE settings; only the owner may read them (they hold a client secret)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.writelines(f"{key}={value}\n" for key, value in values.items())


def wait_until(what: str, ready: Callable[[], bool], *, timeout: float, process: ManagedProcess | None = None) -> None:
    """Poll ready() until it is true; fail early if process dies, with the end of its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            tail = process.log_tail()
            raise StackError(
                f"{process.name} exited with status {process.popen.returncode} before {what}"
                + (f"; end of {process.log_path}:\n{tail}" if tail else "")
            )
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.1)
    where = f" (see {process.log_path})" if process is not None and process.log_path else ""
    raise StackError(f"timed out after {timeout:.0f}s waiting for {what}{where}")

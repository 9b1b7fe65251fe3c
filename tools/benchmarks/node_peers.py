"""The Node verifiers `make bench` compares ours with: aws-jwt-verify and @okta/jwt-verifier, each in a TOKEN
authorizer written as its README shows (tools/benchmarks/node/), at the exact versions package-lock.json pins.

Node is needed by the bench only, never by the stack or the tests. Without `node` (and `npm`, to install the peers
with `npm ci` into tools/benchmarks/node/node_modules, which git ignores) the bench says what to install and skips
the Node rows only.

A peer's warm side is one long-lived Node process (node/warm.js) that awaits its handler on a chunk of tokens and
reports the time it took, measured inside Node, so the pipe between us is never timed; the bench interleaves those
chunks with ours. Its cold side is a fresh `node` running node/cold.js to the first Allow, as ours is a fresh Python.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

NODE_DIR = Path(__file__).resolve().with_name("node")
PACKAGE = NODE_DIR / "package.json"
LOCK = NODE_DIR / "package-lock.json"
# What `npm ci` installed, by the hash of the lock file it installed from: a changed lock installs again.
STAMP = NODE_DIR / "node_modules" / ".okta-m2m-bench-lock.sha256"
COLD_JS = NODE_DIR / "cold.js"
WARM_JS = NODE_DIR / "warm.js"
INSTALL_HINT = (
    "install Node.js 20 or later with npm (https://nodejs.org/, or `apt-get install nodejs npm`) and run make bench "
    "again to compare with aws-jwt-verify and @okta/jwt-verifier"
)


class NodePeer(NamedTuple):
    """A Node verifier: its npm package and the handler file (in NODE_DIR) of its TOKEN authorizer."""

    package: str
    handler: str

    @property
    def name(self) -> str:
        """The package and its pinned version, as rows name it: `aws-jwt-verify 5.2.1`."""
        return f"{self.package} {pinned_version(self.package)}"

    def cold_program(self, node: str) -> tuple[str, ...]:
        """The command of a cold start, before its arguments (token, methodArn[, "rss"])."""
        return (node, str(COLD_JS), str(NODE_DIR / self.handler))


AWS_JWT_VERIFY = NodePeer("aws-jwt-verify", "aws-jwt-verify.js")
OKTA_JWT_VERIFIER = NodePeer("@okta/jwt-verifier", "okta-jwt-verifier.js")
PEERS = (AWS_JWT_VERIFY, OKTA_JWT_VERIFIER)


def pinned_version(package: str) -> str:
    """The exact version package.json pins for a package."""
    return str(json.loads(PACKAGE.read_text())["dependencies"][package])


def _lock_hash() -> str:
    return hashlib.sha256(LOCK.read_bytes()).hexdigest()


def prepare() -> tuple[str | None, str]:
    """The path of `node` with the peers installed (`npm ci` when the lock file changed since the last install),
    or None and why the Node rows are skipped."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if path is None)
        return None, f"{missing} not found on PATH: {INSTALL_HINT}"
    if STAMP.is_file() and STAMP.read_text().strip() == _lock_hash():
        return node, ""
    print(f"npm ci in {NODE_DIR.name}/ (the Node peers, versions from package-lock.json)...", file=sys.stderr)
    command = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    done = subprocess.run(command, cwd=NODE_DIR, capture_output=True, text=True, check=False)
    if done.returncode:
        return None, f"npm ci failed (exit {done.returncode}): {done.stderr.strip()[-400:]}; {INSTALL_HINT}"
    STAMP.write_text(_lock_hash() + "\n")
    return node, ""


class WarmPeer:
    """A Node peer's warm process (node/warm.js): its handler loaded once, timing the calls it is given."""

    def __init__(self, node: str, peer: NodePeer, env: Mapping[str, str], method_arn: str) -> None:
        self.peer = peer
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  (closed in close())
        self._process = subprocess.Popen(
            [node, str(WARM_JS), str(NODE_DIR / peer.handler), method_arn],
            cwd=NODE_DIR,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )

    def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        stdin, stdout = self._process.stdin, self._process.stdout
        if stdin is None or stdout is None:
            raise RuntimeError("no pipe to the Node peer")
        stdin.write(json.dumps(command) + "\n")
        stdin.flush()
        line = stdout.readline()
        answer: dict[str, Any] = json.loads(line) if line else {"error": "exited"}
        if "error" in answer:
            self._stderr.seek(0)
            detail = self._stderr.read().decode(errors="replace")[-600:]
            raise RuntimeError(f"{self.peer.name}: {answer['error']} {detail}")
        return answer

    def __call__(self, token: str) -> str:
        """The handler's answer to one token (as a Decide; the bench times chunks with time_calls)."""
        return self.answers({"token": token})["token"]

    def time_calls(self, tokens: list[str]) -> float:
        """Seconds the handler took on these tokens in turn (each must be allowed), measured inside Node."""
        return float(self._ask({"time": tokens})["seconds"])

    def answers(self, tokens: Mapping[str, str]) -> dict[str, str]:
        """The handler's answer to each named token: Allow, Deny, Unauthorized, or `error: ...`."""
        return dict(self._ask({"refuse": dict(tokens)})["answers"])

    def close(self) -> None:
        """End the process (closing its stdin ends it) and drop its stderr."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=10)
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._stderr.close()

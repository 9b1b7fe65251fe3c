"""Records each management API request and its answer, so that tests can check both against Okta's own contract.

Off unless asked for (`serve --record FILE`, or `LocalOkta(record=True)`). Only the management API is recorded
(`/api/v1/...` and `/oauth2/v1/clients/...`): the token endpoints and DPoP are outside Okta's management contract.
Credentials never reach a record: the Authorization header keeps only its scheme, a DPoP proof only its presence,
and every `client_secret` value is replaced.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

MANAGEMENT_PREFIXES = ("/api/v1/", "/oauth2/v1/clients/")
REDACTED = "<redacted>"
# The request headers Okta's contract declares or its security schemes read; nothing else is kept.
_REQUEST_HEADERS = ("content-type", "accept")
_ANSWER_HEADERS = ("content-type", "link", "x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset")


def is_management(path: str) -> bool:
    """Whether a path belongs to Okta's management API (what the contract describes)."""
    return path.startswith(MANAGEMENT_PREFIXES)


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if k == "client_secret" and isinstance(v, str) else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return {"<not JSON>": raw[:200].decode("utf-8", errors="replace")}


class Recorder:
    """Keeps every exchange in memory and, if given a file, appends each as one JSON line (mode 0600)."""

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = []
        self._path = path
        if path is not None:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))

    def add(
        self,
        method: str,
        path: str,
        query: str,
        headers: dict[str, list[str]],
        body: bytes,
        status: int,
        answer_headers: dict[str, str],
        answer_body: Any,
    ) -> None:
        """Record one exchange (credentials left out)."""
        kept = {name: values[0] for name, values in headers.items() if name in _REQUEST_HEADERS and values}
        authorization = (headers.get("authorization") or [""])[0]
        if authorization:
            scheme = "SSWS" if authorization.startswith("SSWS") else authorization.partition(" ")[0]
            kept["authorization"] = f"{scheme} {REDACTED}"
        if headers.get("dpop"):
            kept["dpop"] = REDACTED
        lowered = {k.lower(): v for k, v in answer_headers.items()}
        item = {
            "method": method,
            "path": path,
            "query": query,
            "headers": kept,
            "body": _redact(_json(body)),
            "status": status,
            "answer_headers": {k: lowered[k] for k in _ANSWER_HEADERS if k in lowered},
            "answer": _redact(answer_body),
        }
        with self._lock:
            self._items.append(item)
            if self._path is not None:
                with self._path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(item) + "\n")

    def items(self) -> list[dict[str, Any]]:
        """Return every exchange recorded so far, oldest first."""
        with self._lock:
            return list(self._items)


def read_records(path: Path) -> list[dict[str, Any]]:
    """Return the exchanges a server recorded to a file (`serve --record FILE`)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

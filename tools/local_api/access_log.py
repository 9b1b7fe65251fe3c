"""The local API's access log: one JSON line per request, rendered from the template's AccessLogSetting.Format.

The format's ``$context`` variables are replaced by the request's values: requestId (the one the function's event
carries), requestTime (CLF, ``01/Dec/2026:23:40:00 +0000``), requestTimeEpoch (ms), httpMethod, resourcePath (the
route, e.g. ``/clients/{clientId}``; empty for a path that is no route), path (as served: no stage prefix), status,
responseLatency (ms), stage, protocol, identity.sourceIp, identity.apiKeyId (the key's id, when one was found),
authorizer.principalId and authorizer.<key> (the authorizer's context), error.responseType (the gateway response
answered, e.g. THROTTLED; empty when none). Any other variable is empty: no header, token or key value can reach the
log. A value inside a JSON string of the format is escaped for it; one outside a string is written as a JSON value
(numbers as such, an empty one as null), so every line is valid JSON. A template without an AccessLogSetting, or
whose format does not render a JSON object, gets DEFAULT_FORMAT (the same fields as template.yaml's).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

LOG = logging.getLogger("local_api.access_log")

DEFAULT_FORMAT = (
    '{"requestId":"$context.requestId","time":"$context.requestTime","epochMs":$context.requestTimeEpoch,'
    '"method":"$context.httpMethod","route":"$context.resourcePath","path":"$context.path",'
    '"status":$context.status,"latencyMs":$context.responseLatency,'
    '"clientId":"$context.authorizer.clientId","apiKeyId":"$context.identity.apiKeyId",'
    '"error":"$context.error.responseType","sourceIp":"$context.identity.sourceIp"}'
)
_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def clf_time(epoch: float) -> str:
    """API Gateway's $context.requestTime: `01/Dec/2026:23:40:00 +0000` (UTC, English month, whatever the locale)."""
    t = time.gmtime(epoch)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


@dataclass(frozen=True)
class AccessRecord:
    """What the access log may say about one request (`authorizer` is the authorizer's answer, if one ran)."""

    request_id: str
    received: float  # epoch seconds
    method: str
    resource_path: str
    path: str
    status: int
    latency_ms: int
    source_ip: str = ""
    authorizer: Mapping[str, Any] = field(default_factory=dict)
    api_key_id: str = ""
    error_type: str = ""
    stage: str = ""
    protocol: str = ""

    def variables(self) -> dict[str, Any]:
        """The $context variables this record gives values to, by name (without `$context.`)."""
        context = self.authorizer.get("context")
        values: dict[str, Any] = {f"authorizer.{k}": v for k, v in context.items()} if isinstance(context, dict) else {}
        return values | {
            "authorizer.principalId": self.authorizer.get("principalId"),
            "requestId": self.request_id,
            "requestTime": clf_time(self.received),
            "requestTimeEpoch": int(self.received * 1000),
            "httpMethod": self.method,
            "resourcePath": self.resource_path,
            "path": self.path,
            "status": self.status,
            "responseLatency": self.latency_ms,
            "stage": self.stage,
            "protocol": self.protocol,
            "identity.sourceIp": self.source_ip,
            "identity.apiKeyId": self.api_key_id,
            "error.responseType": self.error_type,
        }


@dataclass(frozen=True)
class _Slot:
    name: str
    quoted: bool  # inside a JSON string of the format


def _inside_string(text: str) -> list[bool]:
    """For each position of text, whether it is inside a JSON string (double quotes, backslash escapes)."""
    inside, escaped, states = False, False, []
    for char in text:
        states.append(inside)
        if escaped:
            escaped = False
        elif inside and char == "\\":
            escaped = True
        elif char == '"':
            inside = not inside
    return states


def _value(value: Any, quoted: bool) -> str:
    """A value for its place in the format: escaped inside a JSON string, a JSON value outside one."""
    if value is None or value == "":
        return "" if quoted else "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if quoted:
        return json.dumps(str(value), ensure_ascii=False)[1:-1]
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value), ensure_ascii=False)


class AccessLogFormat:
    """A format of $context variables, parsed once; render() gives one line."""

    def __init__(self, text: str) -> None:
        self.text = " ".join(text.splitlines())  # one line per request, whatever the template's YAML style
        inside = _inside_string(self.text)
        self._parts: list[str | _Slot] = []
        last = 0
        for match in _VARIABLE.finditer(self.text):
            self._parts += [self.text[last : match.start()], _Slot(match.group(1), inside[match.start()])]
            last = match.end()
        self._parts.append(self.text[last:])

    @classmethod
    def from_template(cls, text: str | None) -> AccessLogFormat:
        """The template's format, or DEFAULT_FORMAT when there is none or it does not render a JSON object."""
        if not text:
            return cls(DEFAULT_FORMAT)
        found = cls(text)
        sample = AccessRecord('id "1"\\', 0.0, "GET", "/", "/", 200, 1, authorizer={"context": {"clientId": "x"}})
        try:
            renders_json = isinstance(json.loads(found.render(sample.variables())), dict)
        except ValueError:
            renders_json = False
        if not renders_json:
            LOG.warning("the template's AccessLogSetting.Format is not a JSON object; the access log uses the default")
            return cls(DEFAULT_FORMAT)
        return found

    def render(self, values: Mapping[str, Any]) -> str:
        """The line for these variable values (a variable without one is empty)."""
        return "".join(
            part if isinstance(part, str) else _value(values.get(part.name), part.quoted) for part in self._parts
        )


class AccessLog:
    """Appends one line per request to a file (owner-only, created with its folder); thread-safe."""

    def __init__(self, path: str | Path, log_format: AccessLogFormat) -> None:
        self.path = Path(path)
        self.format = log_format
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file: TextIO = os.fdopen(descriptor, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, record: AccessRecord) -> None:
        """Write the record's line and flush it, so that readers see it at once."""
        line = self.format.render(record.variables())
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        """Close the file (safe to call twice)."""
        with self._lock:
            self._file.close()

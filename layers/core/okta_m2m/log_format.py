"""A lean JSON formatter for Powertools Logger, for the authorizer's hot path.

Powertools' default formatter costs about 30 us a line here, more than an RS256 verify; this one writes the same
keys (level, location, message, timestamp, appended keys such as service, extra keys, exception) for a fraction of it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import BasePowertoolsFormatter

# Attributes every LogRecord has: anything else on a record came in through `extra` (Powertools' keyword arguments).
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_ENCODER = json.JSONEncoder(
    default=str, separators=(",", ":")
)  # built once: json.dumps(...) with options builds one a call


class LeanJsonFormatter(BasePowertoolsFormatter):
    """One JSON object per line, keys as Powertools writes them."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[str, Any] = {}  # Powertools appends service, sampling_rate and Lambda context keys here
        self._local = threading.local()  # keys appended for the current thread only
        self._second = -1
        self._second_text = ""

    def append_keys(self, **additional_keys: Any) -> None:
        """Add keys to every following line."""
        self.keys.update((k, v) for k, v in additional_keys.items() if v is not None)

    def get_current_keys(self) -> dict[str, Any]:
        """The keys added to every line."""
        return self.keys

    def remove_keys(self, keys: Iterable[str]) -> None:
        """Stop adding these keys."""
        for key in keys:
            self.keys.pop(key, None)

    def clear_state(self) -> None:
        """Forget every appended key."""
        self.keys = {}

    def thread_safe_append_keys(self, **additional_keys: Any) -> None:
        """Add keys to the current thread's following lines."""
        self.thread_safe_get_current_keys().update(additional_keys)

    def thread_safe_get_current_keys(self) -> dict[str, Any]:
        """The keys added to the current thread's lines."""
        if not hasattr(self._local, "keys"):
            self._local.keys = {}
        keys: dict[str, Any] = self._local.keys
        return keys

    def thread_safe_remove_keys(self, keys: Iterable[str]) -> None:
        """Stop adding these keys in the current thread."""
        current = self.thread_safe_get_current_keys()
        for key in keys:
            current.pop(key, None)

    def thread_safe_clear_keys(self) -> None:
        """Forget the current thread's keys."""
        self._local.keys = {}

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a JSON line."""
        message = record.getMessage() if record.args else str(record.msg)
        line = self._head(record.levelname, f"{record.funcName}:{record.lineno}", message, record.created)
        # Extra keys in the order they were given (they follow the record's own attributes).
        attrs = vars(record)
        for key in attrs:
            if key not in _RECORD_ATTRS:
                line[key] = attrs[key]
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
            line["exception_name"] = record.exc_info[0].__name__ if record.exc_info[0] else ""
        return _ENCODER.encode(line)

    def render(self, level: str, location: str, message: str, created: float, fields: dict[str, Any]) -> str:
        """The line `format` writes for a record of these values with fields as its extra keys."""
        line = self._head(level, location, message, created)
        line.update(fields)
        return _ENCODER.encode(line)

    def _head(self, level: str, location: str, message: str, created: float) -> dict[str, Any]:
        second = int(created)
        if second != self._second:  # strftime once a second, not once a line
            self._second, self._second_text = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        line: dict[str, Any] = {
            "level": level,
            "location": location,
            "message": message,
            "timestamp": f"{self._second_text}.{int((created - second) * 1000):03d}Z",
            **self.keys,
        }
        thread_keys = getattr(self._local, "keys", None)
        if thread_keys:
            line.update(thread_keys)
        return line


def _sole_lean_handler(logger: logging.Logger, level: int) -> logging.StreamHandler[Any] | None:
    # The one handler a record of this level from logger reaches, if that is all there is to logging it: no filters
    # on the way, one StreamHandler with this module's formatter. Anything else gets the standard path.
    found: logging.StreamHandler[Any] | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        for handler in current.handlers:
            if found is not None or type(handler) is not logging.StreamHandler or handler.filters:
                return None
            if not isinstance(handler.formatter, LeanJsonFormatter) or level < handler.level:
                return None
            found = handler
        current = current.parent if current.propagate else None
    return found


class CallSiteLog:
    """INFO lines from one hot call site: the line `logger.info` would write, for a third of its cost (make bench).

    `Logger.info` copies its keyword arguments, walks the stack for the caller, builds a LogRecord and passes it
    down the logger tree, handler lock and formatter. Here the caller is looked up once (a call site does not move)
    and, when logging is set up as Powertools sets it up (one StreamHandler with LeanJsonFormatter, no filters),
    the formatter renders the line and the handler's stream gets it under the handler's lock. With any other set-up
    (more handlers, filters, another formatter, as tests and tools add) the record takes the standard path.
    Use one instance per call site.
    """

    __slots__ = ("_caller", "_logger")

    def __init__(self, logger: Logger) -> None:
        self._logger = logging.getLogger(logger.name)
        self._caller: tuple[str, int, str] | None = None

    def __call__(self, message: str, fields: dict[str, Any]) -> None:
        """Log message at INFO with fields as its keys."""
        std = self._logger
        if not std.isEnabledFor(logging.INFO):
            return
        caller = self._caller
        if caller is None:
            path, lineno, function, _ = std.findCaller(stacklevel=2)
            caller = self._caller = (path, lineno, function)
        handler = _sole_lean_handler(std, logging.INFO)
        if handler is None:
            record = std.makeRecord(std.name, logging.INFO, caller[0], caller[1], message, (), None, caller[2], fields)
            std.handle(record)
            return
        formatter: LeanJsonFormatter = handler.formatter  # type: ignore[assignment]
        line = formatter.render("INFO", f"{caller[2]}:{caller[1]}", message, time.time(), fields)
        with handler.lock:  # type: ignore[union-attr]
            handler.stream.write(line + handler.terminator)
            handler.stream.flush()

"""The authorizer's structured logs: Powertools Logger's JSON lines, written with the standard library alone.

The authorizer needs Powertools' line format, not Powertools: importing the package costs about 30 ms, a third of
the authorizer's cold start, and its default formatter about 30 us a line, more than an RS256 verify (make bench).
Here a service logger is set up as Powertools sets one up (one stdout handler, no propagation, level from
POWERTOOLS_LOG_LEVEL), layer modules log through children named as Powertools names them (`{service}.{module}`),
and each line carries the same keys: level, location, message, timestamp, service, appended keys, extra keys and
the exception. The proxy functions, which import Powertools anyway, keep Powertools Logger.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from _json import make_encoder
from functools import lru_cache
from typing import Any, TextIO

from okta_m2m.tokens._settings import log_settings

# Attributes every LogRecord has: anything else on a record came in through `extra` (the fields of a line).
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
# The C encoder of json.JSONEncoder(default=str, separators=(",", ":")), built once: encode() builds it again on every
# call, a third of a line's encoding. No circular reference check: log fields hold none (one raises RecursionError).
_ONE_SHOT = make_encoder(
    markers=None,
    default=str,
    encoder=json.encoder.encode_basestring_ascii,  # _encode_string
    indent=None,
    key_separator=":",
    item_separator=",",
    sort_keys=False,
    skipkeys=False,
    allow_nan=True,
)


_encode_string = json.encoder.encode_basestring_ascii  # the string encoder of _ONE_SHOT


def _encode(obj: Any) -> str:
    return "".join(_ONE_SHOT(obj, 0))


class LeanJsonFormatter(logging.Formatter):
    """One JSON object per line, keys as Powertools writes them."""

    def __init__(self, **keys: Any) -> None:
        super().__init__()
        self.keys: dict[str, Any] = {}  # service, and what the handler appends (the request id)
        self._keys_text: str | None = None  # the keys as JSON members, each after a comma: joined when first needed
        self._members: dict[str, tuple[Any, str]] = {}  # each key's value and its member, encoded
        self.append_keys(**keys)
        self._second = -1
        self._second_text = ""

    def append_keys(self, **additional_keys: Any) -> None:
        """Add keys to every following line (a None value is left out, as Powertools does)."""
        for key, value in additional_keys.items():
            self.append_key(key, value)

    def append_key(self, key: str, value: Any) -> None:
        """append_keys for one key, without building a dict of keywords (the handler sets the request id each call)."""
        if value is not None:
            self.keys[key] = value
            self._keys_text = None

    def remove_keys(self, *keys: str) -> None:
        """Stop adding these keys."""
        for key in keys:
            self.keys.pop(key, None)
        self._keys_text = None

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a JSON line."""
        message = record.getMessage() if record.args else str(record.msg)
        # Extra keys in the order they were given (they follow the record's own attributes).
        extra = {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRS}
        line = self._line(record.levelname, f"{record.funcName}:{record.lineno}", message, record.created, extra)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
            line["exception_name"] = record.exc_info[0].__name__ if record.exc_info[0] else ""
        return _encode(line)

    def render(self, level: str, location: str, message: str, created: float, fields: dict[str, Any]) -> str:
        """The line `format` writes for a record of these values with fields as its extra keys."""
        return _encode(self._line(level, location, message, created, fields))

    def render_encoded(self, head: str, created: float, fields: EncodedFields, metric: bool = False) -> str | None:
        """The line `render` writes, from the level, location and message already encoded (`head`: `{` and those
        three members) and fields encoded once, with decision_metric's fields if `metric`; None if a field is named
        as a key (`render` then puts it in the key's place)."""
        if not fields.names.isdisjoint(self.keys):
            return None
        keys = self._keys_text
        if keys is None:
            keys = self._keys_text = "".join("," + self._member(key, value) for key, value in self.keys.items())
        tail = _metric_members(created) if metric else ""
        return f'{head},"timestamp":"{self._timestamp(created)}"{keys}{fields.text}{tail}}}'

    def _member(self, key: str, value: Any) -> str:
        # One key's member, encoded again only when its value changed: the handler sets a new request id each call.
        known = self._members.get(key)
        if known is not None and known[0] is value:
            return known[1]
        if type(key) is str and type(value) is str:
            member = f"{_encode_string(key)}:{_encode_string(value)}"  # what _encode writes for them, at a fraction
        else:
            member = _encode({key: value})[1:-1]
        self._members[key] = (value, member)
        return member

    def _timestamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:  # strftime once a second, not once a line
            self._second, self._second_text = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        # The milliseconds as f"{n:03d}" writes them, at half its cost (no format spec to parse).
        return f"{self._second_text}.{str(int((created - second) * 1000)).zfill(3)}Z"

    def _line(self, level: str, location: str, message: str, created: float, fields: dict[str, Any]) -> dict[str, Any]:
        return {
            "level": level,
            "location": location,
            "message": message,
            "timestamp": self._timestamp(created),
            **self.keys,
            **fields,  # a field named as a key above takes its place, as a Powertools extra key does
        }


class EncodedFields:
    """A line's fields, JSON-encoded once: the authorizer logs the same fields (client, key, scopes, routes) for every
    token of the same client and scopes, so it encodes them once, not once a line. CallSiteLog takes it where it
    takes a dict of fields, and writes the same line."""

    __slots__ = ("fields", "names", "text")

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields
        self.names = frozenset(fields)
        members = _encode(fields)[1:-1]
        self.text = "," + members if members else ""  # each member after a comma, as it follows the keys


MAX_HEADS = 16  # encoded line heads a CallSiteLog keeps (one per message: a call site logs a few)
DECISIONS_METRIC = "AuthorizerDecisions"
DEFAULT_NAMESPACE = "OktaM2MApi"


@lru_cache(maxsize=1)
def _decisions_directive() -> tuple[list[dict[str, Any]], str]:
    """The EMF directive of the decisions metric, and its JSON (encoded once: it is the same on every line)."""
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "").strip() or DEFAULT_NAMESPACE
    metric = {"Name": DECISIONS_METRIC, "Unit": "Count"}
    directive = [{"Namespace": namespace, "Dimensions": [["service", "decision"]], "Metrics": [metric]}]
    return directive, _encode(directive)


def decision_metric(created: float) -> dict[str, Any]:
    """Fields that make a decision log line an Embedded Metric Format record: one AuthorizerDecisions count.

    Its dimensions are the line's `service` and `decision` (allow, deny, unauthorized, keys_unavailable): few
    values, so CloudWatch keeps few series; the client id stays a log field (Contributor Insights reads it)."""
    directive, _ = _decisions_directive()
    return {"_aws": {"Timestamp": int(created * 1000), "CloudWatchMetrics": directive}, DECISIONS_METRIC: 1}


def _metric_members(created: float) -> str:
    """decision_metric's fields as JSON members, each after a comma, for a fraction of encoding them."""
    _, encoded = _decisions_directive()
    return f',"_aws":{{"Timestamp":{int(created * 1000)},"CloudWatchMetrics":{encoded}}},"{DECISIONS_METRIC}":1'


def _with_decision_metric(line: str, created: float) -> str:
    """`line` (a JSON object) with decision_metric's fields spliced in."""
    return f"{line[:-1]}{_metric_members(created)}}}"


def service_logger(stream: TextIO | None = None) -> tuple[logging.Logger, LeanJsonFormatter]:
    """The function's logger and its formatter, set up once as Powertools would (stdout, no propagation)."""
    service, level = log_settings()
    logger = logging.getLogger(service)
    for handler in logger.handlers:
        if isinstance(handler.formatter, LeanJsonFormatter):
            return logger, handler.formatter  # already set up: a module imported again (tests, the local API)
    formatter = LeanJsonFormatter(service=service)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger, formatter


class FieldLogger:
    """`logger.info("message", key=value)`, as Powertools loggers take it, over a standard logger."""

    __slots__ = ("logger",)

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def _log(self, level: int, message: str, fields: dict[str, Any], exc_info: bool = False) -> None:
        if self.logger.isEnabledFor(level):
            self.logger.log(level, message, exc_info=exc_info, extra=fields, stacklevel=3)

    def debug(self, message: str, **fields: Any) -> None:
        """Log at DEBUG."""
        self._log(logging.DEBUG, message, fields)

    def info(self, message: str, **fields: Any) -> None:
        """Log at INFO."""
        self._log(logging.INFO, message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        """Log at WARNING."""
        self._log(logging.WARNING, message, fields)

    def exception(self, message: str, **fields: Any) -> None:
        """Log at ERROR with the exception being handled."""
        self._log(logging.ERROR, message, fields, exc_info=True)


def child_logger(module: str) -> FieldLogger:
    """A layer module's logger: a child of the function's service logger, named as Powertools names it."""
    return FieldLogger(logging.getLogger(f"{log_settings()[0]}.{module}"))


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

    `Logger.info` walks the stack for the caller, builds a LogRecord and passes it down the logger tree, filters,
    handler lock and formatter. Here the caller is looked up once (a call site does not move) and, when logging is
    set up as `service_logger` sets it up (one StreamHandler with LeanJsonFormatter, no filters), the formatter
    renders the line and the handler's stream gets it under the handler's lock. With any other set-up (more
    handlers, filters, another formatter, as tests and tools add) the record takes the standard path.
    Use one instance per call site.
    """

    __slots__ = ("_caller", "_heads", "_logger", "_metric")

    def __init__(self, logger: FieldLogger, *, decision_metric: bool = False) -> None:
        """decision_metric: each line also counts one authorizer decision (its `decision` field), as EMF."""
        self._logger = logger.logger
        self._caller: tuple[str, int, str, str] | None = None  # path, line, function, location
        self._metric = decision_metric
        self._heads: dict[str, str] = {}  # by message: `{` and the level, location and message members, encoded

    def __call__(self, message: str, fields: dict[str, Any] | EncodedFields) -> None:
        """Log message at INFO with fields (or fields encoded once) as its keys."""
        std = self._logger
        if not std.isEnabledFor(logging.INFO):
            return
        caller = self._caller
        if caller is None:
            path, lineno, function, _ = std.findCaller(stacklevel=2)
            caller = self._caller = (path, lineno, function, f"{function}:{lineno}")
        handler = _sole_lean_handler(std, logging.INFO)
        created = time.time()
        encoded, plain = (fields, fields.fields) if isinstance(fields, EncodedFields) else (None, fields)
        if handler is None:
            extra = {**plain, **decision_metric(created)} if self._metric else plain
            record = std.makeRecord(std.name, logging.INFO, caller[0], caller[1], message, (), None, caller[2], extra)
            std.handle(record)
            return
        formatter: LeanJsonFormatter = handler.formatter  # type: ignore[assignment]
        line = None
        if encoded is not None:
            head = self._heads.get(message)
            if head is None:
                if len(self._heads) >= MAX_HEADS:
                    self._heads.clear()
                head = self._heads[message] = _encode({"level": "INFO", "location": caller[3], "message": message})[:-1]
            line = formatter.render_encoded(head, created, encoded, self._metric)
        if line is None:
            line = formatter.render("INFO", caller[3], message, created, plain)
            if self._metric:
                line = _with_decision_metric(line, created)
        with handler.lock:  # type: ignore[union-attr]
            handler.stream.write(line + handler.terminator)
            handler.stream.flush()

"""The authorizer's log set-up writes Powertools' JSON lines with the standard library, one object a line."""

import io
import json
import logging
import re
import sys
import time
import uuid

import pytest

from okta_m2m.tokens import _log_format
from okta_m2m.tokens._log_format import (
    CallSiteLog,
    EncodedFields,
    FieldLogger,
    LeanJsonFormatter,
    child_logger,
    service_logger,
)
from okta_m2m.tokens._settings import log_settings


def make_logger(
    monkeypatch: pytest.MonkeyPatch, level: str = "INFO"
) -> tuple[FieldLogger, LeanJsonFormatter, io.StringIO]:
    # One service logger a test: a new service name each time, as service_logger sets a logger up once.
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", f"lean-{uuid.uuid4().hex}")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", level)
    log_settings.cache_clear()
    out = io.StringIO()
    logger, formatter = service_logger(out)
    return FieldLogger(logger), formatter, out


def lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_line_has_level_message_service_keys_and_extras(monkeypatch):
    logger, formatter, out = make_logger(monkeypatch)
    formatter.append_keys(function_request_id="req-1", sampling_rate=None)
    logger.info("allow", client_id="0oa1", routes=["GET/hello"])
    line_no = sys._getframe().f_lineno - 1
    (line,) = lines(out)
    assert list(line)[:4] == ["level", "location", "message", "timestamp"]
    assert line["level"] == "INFO"
    assert line["location"] == f"test_line_has_level_message_service_keys_and_extras:{line_no}"
    assert line["message"] == "allow"
    assert line["service"].startswith("lean-")
    assert line["function_request_id"] == "req-1"
    assert line["client_id"] == "0oa1"
    assert line["routes"] == ["GET/hello"]
    assert line["timestamp"].endswith("Z")
    assert "sampling_rate" not in line  # None values are left out, as Powertools does


def test_child_loggers_write_through_the_service_logger_and_its_level(monkeypatch):
    _, formatter, out = make_logger(monkeypatch, level="WARNING")
    child = child_logger("okta_m2m.example")
    assert child.logger.name == f"{formatter.keys['service']}.okta_m2m.example"  # as Powertools names children
    child.info("quiet")
    child.warning("signing key skipped", kid="k1")
    (line,) = lines(out)
    assert (line["level"], line["message"], line["kid"]) == ("WARNING", "signing key skipped", "k1")


def test_removed_keys_stop_appearing_and_a_second_set_up_reuses_the_handler(monkeypatch):
    logger, formatter, out = make_logger(monkeypatch)
    formatter.append_keys(a="1", b="2")
    formatter.remove_keys("a")
    logger.info("one")
    again, same = service_logger()
    assert same is formatter and len(again.handlers) == 1
    (first,) = lines(out)
    assert "a" not in first and first["b"] == "2"


def test_exception_is_recorded_with_its_name(monkeypatch):
    logger, _, out = make_logger(monkeypatch)
    try:
        raise KeyError("boom")
    except KeyError:
        logger.exception("failed")
    (line,) = lines(out)
    assert line["level"] == "ERROR"
    assert line["exception_name"] == "KeyError"
    assert "Traceback" in line["exception"]


def test_call_site_log_writes_the_line_logger_info_writes(monkeypatch):
    logger, formatter, out = make_logger(monkeypatch)
    log = CallSiteLog(logger)
    formatter.append_keys(function_request_id="req-2")
    fields = {"decision": "allow", "client_id": "0oa1", "routes": ["GET/hello", "GET/"]}
    logger.info("allow", **fields)
    log("allow", fields)  # the line of this call
    line_no = sys._getframe().f_lineno - 1
    standard, fast = lines(out)
    assert list(fast) == list(standard)  # same keys, same order
    assert {k: v for k, v in fast.items() if k not in ("timestamp", "location")} == {
        k: v for k, v in standard.items() if k not in ("timestamp", "location")
    }
    assert fast["location"] == f"test_call_site_log_writes_the_line_logger_info_writes:{line_no}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", fast["timestamp"])
    assert fast["timestamp"] >= standard["timestamp"]


def test_call_site_log_honours_the_level(monkeypatch):
    logger, _, out = make_logger(monkeypatch, level="WARNING")
    CallSiteLog(logger)("allow", {"decision": "allow"})
    assert out.getvalue() == ""


def test_call_site_log_takes_the_standard_path_when_more_is_set_up(monkeypatch):
    logger, _, out = make_logger(monkeypatch)
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    extra = Keep()
    logger.logger.addHandler(extra)
    try:
        log = CallSiteLog(logger)
        for _ in range(2):
            log("allow", {"decision": "allow", "client_id": "0oa1"})
    finally:
        logger.logger.removeHandler(extra)
    assert [(r.getMessage(), r.decision, r.funcName) for r in seen] == [  # type: ignore[attr-defined]
        ("allow", "allow", "test_call_site_log_takes_the_standard_path_when_more_is_set_up")
    ] * 2
    assert [line["client_id"] for line in lines(out)] == ["0oa1", "0oa1"]


def test_call_site_log_takes_the_standard_path_past_a_filter(monkeypatch):
    logger, _, out = make_logger(monkeypatch)
    logger.logger.addFilter(lambda record: record.getMessage() != "secret")
    log = CallSiteLog(logger)
    log("secret", {"a": 1})
    log("plain", {"a": 2})
    assert [line["message"] for line in lines(out)] == ["plain"]


def test_a_decision_line_is_the_same_emf_record_on_the_fast_and_the_standard_path(monkeypatch):
    logger, _, out = make_logger(monkeypatch)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Shop")
    log = CallSiteLog(logger, decision_metric=True)
    fields = {"decision": "deny", "client_id": "0oa1"}
    log("deny", fields)  # the fast path: one lean handler
    extra = logging.NullHandler()
    logger.logger.addHandler(extra)
    try:
        log("deny", fields)  # the standard path
    finally:
        logger.logger.removeHandler(extra)
    fast, standard = lines(out)
    for line in (fast, standard):
        assert line["decision"] == "deny" and line["AuthorizerDecisions"] == 1
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive == {
            "Namespace": "Shop",
            "Dimensions": [["service", "decision"]],
            "Metrics": [{"Name": "AuthorizerDecisions", "Unit": "Count"}],
        }
    assert list(fast) == list(standard)
    assert abs(fast["_aws"]["Timestamp"] - standard["_aws"]["Timestamp"]) < 5_000


class _Opaque:
    def __str__(self) -> str:
        return "opaque\u00e9"


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1, "b": [1.5, None, True, "x"], "c": ("t", 2), "d": {"e": {}}},
        {"text": 'caf\u00e9 \u2028 "quoted" \\ \n', "emoji": "\U0001f600"},
        {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "big": 10**30, "neg": -0.0},
        {"opaque": _Opaque(), "nested": [_Opaque()], "set": frozenset()},
        {"1": 1, "": "", 2: "int key", 2.5: "float key", True: "bool key", None: "None key"},
        [],
    ],
)
def test_lines_are_encoded_as_the_standard_encoder_encodes_them(value):
    from okta_m2m.tokens import _log_format as log_format

    assert log_format._encode(value) == json.JSONEncoder(default=str, separators=(",", ":")).encode(value)


@pytest.mark.parametrize("created", [1796174079.0, 1796174079.254, 1796174079.9999, 0.9999999999999999, 0.0, -0.5])
def test_the_timestamp_has_the_milliseconds_of_the_record(created):
    formatter = LeanJsonFormatter(service="s")
    second = int(created)
    expected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + f".{int((created - second) * 1000):03d}Z"
    assert json.loads(formatter.render("INFO", "f:1", "m", created, {}))["timestamp"] == expected


@pytest.mark.parametrize("metric", [False, True])
@pytest.mark.parametrize(
    "fields",
    [
        {"decision": "allow", "client_id": "0oa1", "scopes": "a b", "routes": ("GET /", "GET /hello")},
        {"text": 'caf\u00e9 "quoted" \\ \n', "n": 3, "f": 1.5, "none": None, "nested": {"a": [1, {}]}},
        {"opaque": _Opaque(), "nan": float("nan")},
        {},
    ],
)
def test_fields_encoded_once_write_the_very_line_a_dict_of_them_writes(monkeypatch, fields, metric):
    logger, formatter, out = make_logger(monkeypatch)
    monkeypatch.setattr(_log_format.time, "time", lambda: 1796174079.254)
    log = CallSiteLog(logger, decision_metric=metric)
    encoded = EncodedFields(fields)
    for request in ("req-1", "req-2", "req-2", 'req-\u00e9"3'):  # a new request id, the same, a new one to escape
        formatter.append_key("function_request_id", request)
        log("allow", fields)
        log("allow", encoded)
    formatter.append_keys(count=7, ratio=0.5)  # keys that are no strings
    log("allow", fields)
    log("allow", encoded)
    written = out.getvalue().splitlines()
    assert len(written) == 10
    for plain, fast in zip(written[::2], written[1::2], strict=True):
        assert fast == plain
    assert json.loads(written[-1])["count"] == 7


def test_a_field_named_as_a_key_takes_its_place_when_encoded_once_too(monkeypatch):
    logger, formatter, out = make_logger(monkeypatch)
    formatter.append_keys(function_request_id="req-1", tenant="kept")
    CallSiteLog(logger)("allow", EncodedFields({"function_request_id": "from the field", "a": 1}))
    (line,) = lines(out)
    assert line["function_request_id"] == "from the field" and line["tenant"] == "kept"
    assert list(line).index("function_request_id") < list(line).index("tenant")  # in the key's place

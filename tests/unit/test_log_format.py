"""The lean JSON formatter writes what Powertools' formatter would, as one JSON object a line."""

import io
import json
import logging
import re
import sys
import uuid

from aws_lambda_powertools import Logger

from okta_m2m.log_format import CallSiteLog, LeanJsonFormatter


def make_logger() -> tuple[Logger, io.StringIO]:
    # Powertools sets a logger up once per service name: a new name a test.
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger = Logger(service=f"lean-{uuid.uuid4().hex}", logger_handler=handler, logger_formatter=LeanJsonFormatter())
    return logger, out


def lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_line_has_level_message_service_keys_and_extras():
    logger, out = make_logger()
    logger.append_keys(function_request_id="req-1")
    logger.info("allow", client_id="0oa1", routes=["GET/hello"])
    (line,) = lines(out)
    assert line["level"] == "INFO"
    assert line["message"] == "allow"
    assert line["service"].startswith("lean-")
    assert line["function_request_id"] == "req-1"
    assert line["client_id"] == "0oa1"
    assert line["routes"] == ["GET/hello"]
    assert line["timestamp"].endswith("Z")
    assert "sampling_rate" not in line  # None values are left out, as Powertools does


def test_removed_and_cleared_keys_stop_appearing_and_thread_keys_are_kept_apart():
    logger, out = make_logger()
    logger.append_keys(a="1", b="2")
    logger.remove_keys(["a"])
    logger.thread_safe_append_keys(t="x")
    logger.info("one")
    logger.thread_safe_clear_keys()
    logger.info("two")
    first, second = lines(out)
    assert "a" not in first and first["b"] == "2" and first["t"] == "x"
    assert "t" not in second


def test_exception_is_recorded_with_its_name():
    logger, out = make_logger()
    try:
        raise KeyError("boom")
    except KeyError:
        logger.exception("failed")
    (line,) = lines(out)
    assert line["level"] == "ERROR"
    assert line["exception_name"] == "KeyError"
    assert "Traceback" in line["exception"]


def test_call_site_log_writes_the_line_logger_info_writes():
    logger, out = make_logger()
    log = CallSiteLog(logger)
    logger.append_keys(function_request_id="req-2")
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


def test_call_site_log_honours_the_level():
    logger, out = make_logger()
    logger.setLevel("WARNING")
    CallSiteLog(logger)("allow", {"decision": "allow"})
    assert out.getvalue() == ""


def test_call_site_log_takes_the_standard_path_when_more_is_set_up():
    logger, out = make_logger()
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    extra = Keep()
    logging.getLogger(logger.name).addHandler(extra)
    try:
        log = CallSiteLog(logger)
        for _ in range(2):
            log("allow", {"decision": "allow", "client_id": "0oa1"})
    finally:
        logging.getLogger(logger.name).removeHandler(extra)
    assert [(r.getMessage(), r.decision, r.funcName) for r in seen] == [  # type: ignore[attr-defined]
        ("allow", "allow", "test_call_site_log_takes_the_standard_path_when_more_is_set_up")
    ] * 2
    assert [line["client_id"] for line in lines(out)] == ["0oa1", "0oa1"]


def test_call_site_log_takes_the_standard_path_past_a_filter():
    logger, out = make_logger()
    logging.getLogger(logger.name).addFilter(lambda record: record.getMessage() != "secret")
    log = CallSiteLog(logger)
    log("secret", {"a": 1})
    log("plain", {"a": 2})
    assert [line["message"] for line in lines(out)] == ["plain"]

"""The lean JSON formatter writes what Powertools' formatter would, as one JSON object a line."""

import io
import json
import logging
import uuid

from aws_lambda_powertools import Logger

from okta_m2m.log_format import LeanJsonFormatter


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

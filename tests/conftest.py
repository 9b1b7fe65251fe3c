"""Shared fixtures: sample events, a Lambda context, and cache resets between tests."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load_event(name: str) -> dict[str, Any]:
    """Load events/<name>.json."""
    return json.loads((EVENTS / f"{name}.json").read_text())


@dataclass
class FakeLambdaContext:
    """The parts of LambdaContext that Powertools and our handlers read."""

    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    remaining_millis: int = 10_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def reset_caches() -> None:
    """Forget every per-container cache, as a cold start would."""
    authorizer = sys.modules.get("functions.authorizer.app")
    if authorizer is not None:
        authorizer.token_authorizer.cache_clear()
    if "aws_lambda_powertools.utilities.parameters" in sys.modules:
        sys.modules["aws_lambda_powertools.utilities.parameters"].clear_caches()
    for name in (
        "okta_m2m.tokens._settings",
        "okta_m2m.clients._settings",
        "okta_m2m.clients._secrets",
        "okta_m2m.clients._okta_client",
        "okta_m2m.clients._locks",
        "okta_m2m.tokens._log_format",
        "okta_m2m.clients._api_keys",
        "okta_m2m.tokens._fetch",
    ):
        module = sys.modules.get(name)
        for attr in dir(module) if module else ():
            clear = getattr(getattr(module, attr), "cache_clear", None)
            if callable(clear):
                clear()


@pytest.fixture(autouse=True)
def _fresh_caches():
    reset_caches()
    yield
    reset_caches()

"""Leases in a DynamoDB table: one holder at a time across every container, by conditional writes.

Okta's access policies can only be replaced whole (GET, then PUT), so two registrations enrolling their clients at
once would lose one of the two enrolments; a lease on the policy makes them take turns. A lease lapses on its own
after `seconds` (a container that dies while holding it blocks the others that long at most).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger

from okta_m2m.errors import LeaseBusyError, LeaseUnavailableError

logger = Logger(child=True)

RETRY_SECONDS = (0.05, 0.25)  # a waiting holder tries again after a random pause in this range


@lru_cache(maxsize=1)
def dynamodb() -> Any:
    """The DynamoDB client, once per container (its endpoint follows AWS_ENDPOINT_URL_DYNAMODB where set)."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 2})
    return boto3.client("dynamodb", config=config)


@contextmanager
def lease(
    table: str,
    name: str,
    *,
    seconds: float,
    wait_seconds: float,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Hold the lease `name` while the block runs; LeaseBusyError if another holder keeps it past `wait_seconds`."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = dynamodb()
    owner = str(uuid.uuid4())
    deadline = clock() + wait_seconds
    while True:
        now = clock()
        try:
            client.put_item(
                TableName=table,
                Item={"pk": {"S": name}, "owner": {"S": owner}, "expires_at": {"N": str(int(now + seconds) + 1)}},
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
            break
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                logger.error("lease unavailable", lease=name, error_type=type(exc).__name__)
                raise LeaseUnavailableError(f"lease {name}: DynamoDB refused") from None
        except BotoCoreError as exc:
            logger.error("lease unavailable", lease=name, error_type=type(exc).__name__)
            raise LeaseUnavailableError(f"lease {name}: DynamoDB unreachable") from None
        if clock() >= deadline:
            raise LeaseBusyError(f"lease {name} is held by another registration")
        sleep(random.uniform(*RETRY_SECONDS))  # noqa: S311 - jitter, not a secret
    try:
        yield
    finally:
        try:
            client.delete_item(
                TableName=table,
                Key={"pk": {"S": name}},
                ConditionExpression="#o = :owner",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except (ClientError, BotoCoreError) as exc:
            # It lapses on its own; another holder may already have it (ours lapsed while we worked).
            logger.warning("lease not released", lease=name, error_type=type(exc).__name__)
